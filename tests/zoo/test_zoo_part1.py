"""Zoo models, part 2 of 3 (tests/helpers/zoo.py lists them all): converted with
TensorFlow's own converter, compiled, and checked bit-exact against TFLite Micro on the
host with the portable kernels and the DSP tier's C form, over consecutive invocations."""

import pytest
from _zoo_case import check_zoo_model
from zoo import ZOO

PART = [m for k, m in enumerate(ZOO) if k % 3 == 1]


@pytest.mark.parametrize("model", PART, ids=[m.name for m in PART])
def test_zoo_model(model):
    check_zoo_model(model)
