"""One-input operators from TensorFlow's converter against TFLite Micro (LiteRT for GELU):
ABS, NEG, SQUARE, SQRT, RSQRT, EXP, LOG, FLOOR, CEIL, ROUND, COS, SIN, ELU, HARD_SWISH,
GELU, LOG_SOFTMAX, L2_NORMALIZATION, CAST and the float32 RELU, RELU6, LOGISTIC, TANH and
LEAKY_RELU.

int8 models are checked on all 256 input values at several input ranges, 16x8 models on
all 65536 int16 values, float32 models on special values (NaN, infinities, signed zeros,
halves, subnormals, huge values) besides random ones. Every test asserts the converter
produced the operator it is about. What the converter emits but neither TFLite Micro nor
LiteRT can run (int16 GELU; float32 GELU) must be refused with the reason.
Hand-written models (types and parameters the converter does not produce) are in
test_op_unary_written.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import convert
from unary_models import ALL_INT8, ALL_INT16, check, convert_float, float_probes, lambda_model, op_names

from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.errors import UnsupportedError

RANGES = [(-3.0, 3.0), (-0.5, 0.5), (-20.0, 20.0), (0.0, 6.0)]
rid = "{0[0]}_{0[1]}".format

# name: (function of tf giving the Lambda body, the operator it must produce)
INT8_OPS = {
    "abs": (lambda tf: tf.abs, "ABS"),
    "rsqrt": (lambda tf: (lambda x: tf.math.rsqrt(tf.abs(x) + 0.1)), "RSQRT"),
    "hard_swish": (lambda tf: (lambda x: x * tf.nn.relu6(x + 3.0) / 6.0), "HARD_SWISH"),
    "hard_silu": (lambda tf: tf.keras.activations.hard_silu, "HARD_SWISH"),
    "log_softmax": (lambda tf: tf.nn.log_softmax, "LOG_SOFTMAX"),
    "l2_normalize": (lambda tf: (lambda x: tf.math.l2_normalize(x, axis=-1)), "L2_NORMALIZATION"),
    # The converter keeps these in float32 between DEQUANTIZE and QUANTIZE.
    "elu": (lambda tf: tf.nn.elu, "ELU"),
    "neg": (lambda tf: tf.negative, "NEG"),
    "square": (lambda tf: tf.square, "SQUARE"),
    "floor": (lambda tf: tf.floor, "FLOOR"),
    "ceil": (lambda tf: tf.math.ceil, "CEIL"),
    "round": (lambda tf: tf.round, "ROUND"),
    "cos": (lambda tf: tf.cos, "COS"),
    "sin": (lambda tf: tf.sin, "SIN"),
}


def _int8(name: str, data_range, shape=(16, 16)) -> bytes:
    fn, op = INT8_OPS[name]
    data = convert(lambda_model(fn, shape), [shape], key=f"unary8-{name}", data_range=data_range)
    assert op in op_names(data), op_names(data)
    return data


@pytest.mark.parametrize("data_range", RANGES, ids=rid)
@pytest.mark.parametrize("name", list(INT8_OPS))
def test_int8_every_input(name, data_range):
    check(_int8(name, data_range), f"u8_{name}", extra=[ALL_INT8], n_random=3)


@pytest.mark.parametrize("shape", [(2,), (37,), (3, 10), (2, 3, 129)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", ["log_softmax", "l2_normalize"])
def test_int8_rows(name, shape):
    """Row lengths from 2 to 129; rows with one large value among small ones."""
    data = _int8(name, (-8.0, 8.0), shape)
    rng = np.random.default_rng(5)
    peaky = rng.integers(-128, -90, size=(1, *shape)).astype(np.int8)
    peaky.reshape(-1)[:: max(1, shape[-1] // 2)] = 127
    check(data, f"u8_rows_{name}", extra=[peaky], n_random=20)


# ---- 16x8 -----------------------------------------------------------------------------------

INT16_OPS = {
    "abs": (lambda tf: tf.abs, "ABS"),
    "rsqrt": (lambda tf: (lambda x: tf.math.rsqrt(tf.abs(x) + 0.1)), "RSQRT"),
}


@pytest.mark.parametrize("data_range", [(-3.0, 3.0), (-0.2, 0.2), (-300.0, 300.0)], ids=rid)
@pytest.mark.parametrize("name", list(INT16_OPS))
def test_int16_every_input(name, data_range):
    fn, op = INT16_OPS[name]
    data = convert(lambda_model(fn, (256, 256)), [(256, 256)], mode="16x8", key=f"unary16-{name}",
                   data_range=data_range)
    assert op in op_names(data), op_names(data)
    check(data, f"u16_{name}", extra=[ALL_INT16], n_random=1)


# ---- GELU: LiteRT's reference kernels are the golden --------------------------------------------


@pytest.mark.parametrize("data_range", RANGES, ids=rid)
@pytest.mark.parametrize("approximate", [False, True], ids=["erf", "tanh"])
def test_int8_gelu_against_litert(approximate, data_range):
    data = convert(lambda_model(lambda tf: (lambda x: tf.nn.gelu(x, approximate=approximate)), (16, 16)),
                   [(16, 16)], key=f"unary8-gelu-{approximate}", data_range=data_range)
    (op,) = read_model_bytes(data).operators
    assert op.name == "GELU" and op.options["approximate"] == approximate
    reference = check(data, "u8_gelu", extra=[ALL_INT8], n_random=3, golden="litert")
    assert reference.missing_kernels == ["GELU"]


# ---- float32 models ------------------------------------------------------------------------------

FLOAT_OPS = {
    "abs": (lambda tf: tf.abs, "ABS"),
    "neg": (lambda tf: tf.negative, "NEG"),
    "square": (lambda tf: tf.square, "SQUARE"),
    "sqrt": (lambda tf: tf.sqrt, "SQRT"),
    "rsqrt": (lambda tf: tf.math.rsqrt, "RSQRT"),
    "exp": (lambda tf: tf.exp, "EXP"),
    "log": (lambda tf: tf.math.log, "LOG"),
    "floor": (lambda tf: tf.floor, "FLOOR"),
    "ceil": (lambda tf: tf.math.ceil, "CEIL"),
    "round": (lambda tf: tf.round, "ROUND"),
    "cos": (lambda tf: tf.cos, "COS"),
    "sin": (lambda tf: tf.sin, "SIN"),
    "elu": (lambda tf: tf.nn.elu, "ELU"),
    "hard_silu": (lambda tf: tf.keras.activations.hard_silu, "HARD_SWISH"),
    "log_softmax": (lambda tf: tf.nn.log_softmax, "LOG_SOFTMAX"),
    "l2_normalize": (lambda tf: (lambda x: tf.math.l2_normalize(x, axis=-1)), "L2_NORMALIZATION"),
    "relu": (lambda tf: tf.nn.relu, "RELU"),
    "relu6": (lambda tf: tf.nn.relu6, "RELU6"),
    "sigmoid": (lambda tf: tf.sigmoid, "LOGISTIC"),
    "tanh": (lambda tf: tf.tanh, "TANH"),
    "leaky_relu": (lambda tf: (lambda x: tf.nn.leaky_relu(x, alpha=0.3)), "LEAKY_RELU"),
    "cast_int8": (lambda tf: (lambda x: tf.cast(tf.cast(x, tf.int8), tf.float32)), "CAST"),
    "cast_int32": (lambda tf: (lambda x: tf.cast(tf.cast(x, tf.int32), tf.float32)), "CAST"),
    "cast_bool": (lambda tf: (lambda x: tf.cast(tf.cast(x, tf.bool), tf.float32)), "CAST"),
}


@pytest.mark.parametrize("name", list(FLOAT_OPS))
def test_float32(name):
    fn, op = FLOAT_OPS[name]
    shape = (6, 64)
    data = convert_float(lambda_model(fn, shape), shape, key=f"unaryf-{name}")
    g = read_model_bytes(data)
    assert op in op_names(data) and g.tensors[g.inputs[0]].dtype == "float32", op_names(data)
    probes = [x.reshape(1, *shape) for x in float_probes(int(np.prod(shape)))]
    check(data, f"uf_{name}", extra=probes, n_random=5)


# ---- what the converter emits that TFLite Micro cannot run: refused ----------------------------

# (int8 EXP, LOG, SQRT and 16x8 EXP, LOG run as LiteRT runs them: test_op_unary_litert.py.)
REFUSED = [
    ("16x8", "gelu", lambda tf: tf.nn.gelu, "GELU", "neither TFLite Micro nor LiteRT"),
]


@pytest.mark.parametrize("mode,name,fn,op,reason", REFUSED, ids=[f"{m}-{n}" for m, n, *_ in REFUSED])
def test_refused_converter_output(mode, name, fn, op, reason):
    data = convert(lambda_model(fn, (4, 8)), [(4, 8)], mode=mode, key=f"unary-refused-{name}", data_range=(-3.0, 3.0))
    assert op in op_names(data), op_names(data)
    with pytest.raises(UnsupportedError, match=f"{op} .*{reason}"):
        build_program(read_model_bytes(data, "refused"))


def test_float32_gelu_refused():
    data = convert_float(lambda_model(lambda tf: tf.nn.gelu, (8,)), (8,), key="unaryf-gelu")
    assert op_names(data) == ["GELU"]
    with pytest.raises(UnsupportedError, match="Eigen"):
        build_program(read_model_bytes(data, "gelu"))
