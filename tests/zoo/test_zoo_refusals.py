"""Zoo models TFLite Micro cannot run meaningfully are refused with one line that says what
to do (tests/helpers/zoo.py REFUSED)."""

import pytest
from zoo import REFUSED

from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.errors import UnsupportedError


@pytest.mark.parametrize("model,reason", REFUSED, ids=[m.name for m, _ in REFUSED])
def test_zoo_refusal(model, reason):
    with pytest.raises(UnsupportedError, match=reason) as e:
        build_program(read_model_bytes(model.tflite(), model.name))
    assert "\n" not in str(e.value)
