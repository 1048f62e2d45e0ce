"""SELECT (v1): the condition has the operands' shape or is a vector over their first
dimension. TFLite Micro has no SELECT kernel; the golden is LiteRT's reference kernel."""

import pytest
from conftest import check_model_bytes

from protobrain.compiler.ops.base import Unsupported
from protobrain.compiler.ops.logical import lower_select_v1
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model
from protobrain.verify.reference import Reference

_Q = {"int8": {"scale": 0.05, "zp": -4}, "int16": {"scale": 0.002, "zp": 0}, "float32": {}}


def _select(dtype: str, shape, cond_shape) -> bytes:
    q = _Q[dtype]
    tensors = [{"shape": list(cond_shape), "type": "bool", "name": "condition"},
               {"shape": list(shape), "type": dtype, **q, "name": "x"},
               {"shape": list(shape), "type": dtype, **q, "name": "y"},
               {"shape": list(shape), "type": dtype, **q, "name": "out"}]
    return write_model(tensors, [("SELECT", [0, 1, 2], [3], "SelectOptions", {})], [0, 1, 2], [3])


CASES = [((2, 3, 4), (2, 3, 4)), ((5, 6), (5,)), ((3, 2, 2, 2), (3,)), ((7,), (7,))]


@pytest.mark.parametrize("dtype", ["int8", "int16", "float32"])
@pytest.mark.parametrize("shape,cond_shape", CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_select_matches_litert(dtype, shape, cond_shape):
    data = _select(dtype, shape, cond_shape)
    assert Reference(data).golden == "litert", "TFLite Micro gained a SELECT kernel: make it the golden"
    name = f"select_{dtype}_{len(shape)}_{len(cond_shape)}"
    check_model_bytes(data, name, n_random=6)


def test_select_refuses_broadcasting():
    g = read_model_bytes(_select("int8", (4, 3), (3,)))
    with pytest.raises(Unsupported, match="neither the operands' shape"):
        lower_select_v1(g.operators[0], g)
