"""MINIMUM, MAXIMUM, SQUARED_DIFFERENCE, DIV, FLOOR_DIV, FLOOR_MOD, PRELU, ADD_N and the
int32 / float32 ADD, SUB, MUL against TFLite Micro.

Converter models (int8 and, where the converter quantizes the operator to 16x8, 16x8):
two activation inputs, broadcasting in either operand or both, constant operands, fused
activations; float32 models for the float forms. Written models (protobrain's .tflite
writer) for what the converter never emits: int32 and float32 arithmetic with every fused
activation, int16 PRELU, int8 ADD_N, DIV's extreme multipliers, the audio preprocessor's
int32 tail. Refusals for what TFLite Micro refuses or cannot compute.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from builders import BUILDER_VERSION, cache_root, convert
from conftest import SHARED_MODELS, check_model_bytes

from protobrain.compiler.ops.base import Unsupported
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model
from protobrain.errors import UnsupportedError
from protobrain.verify.reference import Reference

ACTIVATIONS = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3, "TANH": 4}


def op_names(data: bytes) -> set[str]:
    return {op.name for op in read_model_bytes(data).operators}


def check(data: bytes, expect: str, name: str = "binary", n_random: int = 10):
    """The model has the operator, TFLite Micro (not a fallback) runs it, and the generated
    C matches it byte for byte."""
    assert expect in op_names(data), f"expected {expect}, the model has {sorted(op_names(data))}"
    assert getattr(Reference(data), "golden", "tflm") == "tflm"
    check_model_bytes(data, name, n_random=n_random)


def convert_float(make_model, key: str) -> bytes:
    """A float32 model (no quantization at all), cached like builders.convert."""
    digest = hashlib.sha256(f"{BUILDER_VERSION}|float|{key}".encode()).hexdigest()[:20]
    path = cache_root() / f"{digest}.tflite"
    if path.exists():
        return path.read_bytes()
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    data = tf.lite.TFLiteConverter.from_keras_model(make_model()).convert()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data


def lambda_model(shapes, fn):
    """A Keras model applying fn(tf, keras, *inputs) in a Lambda layer."""

    def make():
        import keras
        import tensorflow as tf

        xs = [tf.keras.Input(s, batch_size=1) for s in shapes]
        return tf.keras.Model(xs, tf.keras.layers.Lambda(lambda t: fn(tf, keras, *t))(xs))

    return make


def convert_two(make, shapes, mode, key, data_range=(-1.0, 1.0)):
    """The converted model may list its inputs in another order than the Keras model, and the
    representative dataset is positional: if calibration trips over that, feed the other order."""
    try:
        return convert(make, shapes, mode=mode, key=key, data_range=data_range)
    except Exception:
        if len(shapes) < 2 or shapes[0] == shapes[1]:
            raise
        return convert(make, shapes[::-1], mode=mode, key=key + "-swapped", data_range=data_range)


def t(shape, dtype, scale=None, zp=0, data=None) -> dict:
    """A tensor for write_model; int8/int16 get a scale unless one is given."""
    d = {"shape": list(shape), "type": dtype}
    if scale is None and dtype in ("int8", "int16"):
        scale = 0.05
    if scale is not None:
        d.update(scale=scale, zp=zp)
    if data is not None:
        d["data"] = np.asarray(data)
    return d


def binary_model(name, a, b, out, options=None, fields=None) -> bytes:
    """One operator on tensors a, b (dicts from t()); constant ones carry data."""
    ins = [k for k, x in enumerate((a, b)) if x.get("data") is None]
    return write_model([a, b, out], [(name, [0, 1], [2], options, fields or {})], ins, [2])


def refused(data: bytes, text: str):
    with pytest.raises(UnsupportedError, match=text):
        build_program(read_model_bytes(data))


# ---- converter models: int8 and 16x8 -----------------------------------------------------

PAIRS = [((4, 3, 5), (4, 3, 5)), ((4, 3, 5), (1, 3, 5)), ((4, 3, 5), (4, 3, 1)), ((4, 1, 5), (1, 3, 1)),
         ((1, 3, 1), (4, 3, 5))]
MIN_MAX = {
    "minimum": lambda tf, keras, a, b: keras.ops.minimum(a, b),
    "maximum": lambda tf, keras, a, b: keras.ops.maximum(a, b),
    "sqdiff": lambda tf, keras, a, b: tf.math.squared_difference(a, b),
}
MIN_MAX_OP = {"minimum": "MINIMUM", "maximum": "MAXIMUM", "sqdiff": "SQUARED_DIFFERENCE"}


@pytest.mark.parametrize("mode", ["int8", "16x8"])
@pytest.mark.parametrize("sa,sb", PAIRS, ids=["same", "b-rows", "b-last", "both", "a-broadcast"])
@pytest.mark.parametrize("kind", sorted(MIN_MAX))
def test_two_inputs(kind, sa, sb, mode):
    data = convert_two(lambda_model([sa, sb], MIN_MAX[kind]), [sa, sb], mode, f"bin-{kind}-{sa}-{sb}",
                       data_range=(-2.0, 2.0))
    check(data, MIN_MAX_OP[kind])


CONSTANT_CASES = {
    "max-scalar": ("MAXIMUM", lambda tf, keras, x: keras.ops.maximum(x, 0.25)),
    "min-vector": ("MINIMUM", lambda tf, keras, x: keras.ops.minimum(x, tf.constant(np.linspace(-1, 1, 5, dtype=np.float32)))),
    "clip-minmax": ("MINIMUM", lambda tf, keras, x: keras.ops.minimum(keras.ops.maximum(x, -0.5), 0.75)),
    "sqdiff-const": ("SQUARED_DIFFERENCE", lambda tf, keras, x: tf.math.squared_difference(x, tf.constant(
        np.linspace(-0.5, 0.5, 5, dtype=np.float32)))),
}


@pytest.mark.parametrize("mode", ["int8", "16x8"])
@pytest.mark.parametrize("kind", sorted(CONSTANT_CASES))
def test_constant_operand(kind, mode):
    op, fn = CONSTANT_CASES[kind]
    data = convert(lambda_model([(3, 4, 5)], fn), [(3, 4, 5)], mode=mode, key=f"bin-const-{kind}")
    check(data, op)


@pytest.mark.parametrize("shared_axes,shape", [
    ([1, 2], (5, 4, 3)),   # one alpha per channel
    (None, (5, 4, 3)),     # one alpha per element
    ([1, 2, 3], (5, 4, 3)),  # one alpha in all
    ([1], (6, 4)),         # a sequence, alpha per feature
    ([2], (5, 4, 3)),      # alpha broadcast along the width
])
def test_prelu(shared_axes, shape):
    """The converter quantizes PRELU to int8 only (16x8: written models below)."""

    def make():
        import tensorflow as tf

        x = tf.keras.Input(shape, batch_size=1)
        init = tf.keras.initializers.RandomUniform(-0.6, 0.6, seed=1)
        return tf.keras.Model(x, tf.keras.layers.PReLU(alpha_initializer=init, shared_axes=shared_axes)(x))

    data = convert(make, [shape], key=f"bin-prelu-{shared_axes}-{shape}", data_range=(-2.0, 1.0))
    check(data, "PRELU")


@pytest.mark.parametrize("sb,act", [((4, 5), None), ((1, 5), None), ((4, 5), "relu"), ((4, 1), "relu6")])
def test_div_int8(sb, act):
    """int8 DIV of two activations; a divisor at its zero point included (the random and
    edge inputs hit it), where TFLite Micro computes with a zero reciprocal input."""

    def fn(tf, keras, a, b):
        y = tf.math.divide(a, b)
        return tf.nn.relu(y) if act == "relu" else tf.nn.relu6(y) if act == "relu6" else y

    data = convert_two(lambda_model([(4, 5), sb], fn), [(4, 5), sb], "int8", f"bin-div-{sb}-{act}")
    check(data, "DIV")


def test_add_n_float_inside_int8_model():
    """The converter keeps ADD_N in float32 between DEQUANTIZE and QUANTIZE."""
    data = convert(lambda_model([(3, 4)] * 3, lambda tf, keras, a, b, c: tf.math.add_n([a, b, c])),
                   [(3, 4)] * 3, key="bin-addn")
    check(data, "ADD_N")


# ---- float32 converter models ----------------------------------------------------------

FLOAT_CASES = [
    ("f-min", [(3, 4), (1, 4)], lambda tf, keras, a, b: keras.ops.minimum(a, b), "MINIMUM"),
    ("f-max", [(3, 4)], lambda tf, keras, a: keras.ops.maximum(a, -0.3), "MAXIMUM"),
    ("f-sqdiff", [(3, 4), (3, 1)], lambda tf, keras, a, b: tf.math.squared_difference(a, b), "SQUARED_DIFFERENCE"),
    ("f-div", [(3, 4), (3, 4)], lambda tf, keras, a, b: a / b, "DIV"),
    ("f-floordiv", [(3, 4)], lambda tf, keras, a: tf.math.floordiv(a, tf.constant([0.3, -0.7, 1.0, -2.5])), "FLOOR_DIV"),
    ("f-floormod", [(3, 4), (1, 4)], lambda tf, keras, a, b: tf.math.floormod(a, b), "FLOOR_MOD"),
    ("f-floormod-c", [(3, 4)], lambda tf, keras, a: tf.math.floormod(a, tf.constant([0.3, -0.7, 1.0, -0.25])), "FLOOR_MOD"),
    ("f-add", [(3, 4), (1, 4)], lambda tf, keras, a, b: tf.nn.relu(a + b), "ADD"),
    ("f-sub", [(3, 4), (3, 1)], lambda tf, keras, a, b: a - b, "SUB"),
    ("f-mul", [(3, 4), (3, 4)], lambda tf, keras, a, b: tf.nn.relu6(a * b), "MUL"),
    ("f-addn", [(2, 3)] * 4, lambda tf, keras, a, b, c, d: tf.math.add_n([a, b, c, d]), "ADD_N"),
]


@pytest.mark.parametrize("key,shapes,fn,expect", FLOAT_CASES, ids=[c[0] for c in FLOAT_CASES])
def test_float32(key, shapes, fn, expect):
    check(convert_float(lambda_model(shapes, fn), f"bin-{key}"), expect)


def test_prelu_float32():
    def make():
        import tensorflow as tf

        x = tf.keras.Input((4, 3), batch_size=1)
        init = tf.keras.initializers.RandomUniform(-0.6, 0.6, seed=2)
        return tf.keras.Model(x, tf.keras.layers.PReLU(alpha_initializer=init, shared_axes=[1])(x))

    check(convert_float(make, "bin-f-prelu"), "PRELU")


# ---- written models: int32 and float32 arithmetic ---------------------------------------

OPTIONS = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions", "DIV": "DivOptions"}


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
@pytest.mark.parametrize("name", ["ADD", "SUB", "MUL", "DIV"])
@pytest.mark.parametrize("dtype", ["int32", "float32"])
def test_plain_arithmetic(dtype, name, act):
    """int32 (wrapping; its ADD ignores the fused activation, as TFLite Micro does) and
    float32 (infinities clamped to the activation's bounds). int32 DIV divides by a
    constant here (TFLite Micro traps on a zero divisor)."""
    if dtype == "int32" and name == "DIV":
        divisor = t((5,), dtype, data=np.array([3, -7, 1000, -2, 65536], np.int32))
        data = binary_model(name, t((2, 3, 5), dtype), divisor, t((2, 3, 5), dtype), OPTIONS[name],
                            {"FusedActivationFunction": ACTIVATIONS[act]})
    else:
        data = binary_model(name, t((2, 3, 5), dtype), t((3, 1), dtype), t((2, 3, 5), dtype), OPTIONS[name],
                            {"FusedActivationFunction": ACTIVATIONS[act]})
    check(data, name)


@pytest.mark.parametrize("sign", [1, -1])
def test_div_int32_run_time_divisor(sign):
    """A run-time int32 divisor kept away from 0 (MAXIMUM with 1, or MINIMUM with -2) so
    that TFLite Micro does not trap; INT32_MIN / -1 never arises either."""
    bound = t((), "int32", data=np.array(1 if sign > 0 else -2, np.int32))
    tensors = [t((4, 6), "int32"), t((1, 6), "int32"), bound, t((1, 6), "int32"), t((4, 6), "int32")]
    ops = [("MAXIMUM" if sign > 0 else "MINIMUM", [1, 2], [3], None, {}),
           ("DIV", [0, 3], [4], "DivOptions", {"FusedActivationFunction": 0})]
    check(write_model(tensors, ops, [0, 1], [4]), "DIV")


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "float32"])
@pytest.mark.parametrize("name", ["MINIMUM", "MAXIMUM"])
def test_min_max_types(name, dtype):
    check(binary_model(name, t((2, 1, 4), dtype), t((3, 1), dtype), t((2, 3, 4), dtype)), name)


@pytest.mark.parametrize("dtype", ["int32", "float32"])
def test_squared_difference_plain(dtype):
    check(binary_model("SQUARED_DIFFERENCE", t((2, 3, 4), dtype), t((4,), dtype), t((2, 3, 4), dtype)),
          "SQUARED_DIFFERENCE")


@pytest.mark.parametrize("scales,zps", [
    ((0.05, 0.02, 0.01), (3, -5, -100)),
    ((0.2, 0.2, 0.5), (0, 0, -128)),
    ((0.003, 0.04, 0.002), (127, -128, 0)),
])
def test_squared_difference_int8_written(scales, zps):
    (s1, s2, so), (z1, z2, zo) = scales, zps
    check(binary_model("SQUARED_DIFFERENCE", t((2, 3, 4), "int8", s1, z1), t((4,), "int8", s2, z2),
                       t((2, 3, 4), "int8", so, zo)), "SQUARED_DIFFERENCE")


def test_squared_difference_int16_written():
    check(binary_model("SQUARED_DIFFERENCE", t((2, 3, 4), "int16", 5e-4), t((3, 1), "int16", 2e-4),
                       t((2, 3, 4), "int16", 1e-5)), "SQUARED_DIFFERENCE")


@pytest.mark.parametrize("scales,zps,alpha_shape", [
    ((5e-4, 0.01, 3e-4), (0, -5, 0), (1, 1, 5)),
    ((1e-4, 0.02, 2e-4), (0, 7, 0), (3, 4, 5)),
    ((2e-3, 0.003, 1e-3), (0, 0, 0), ()),
])
def test_prelu_int16_written(scales, zps, alpha_shape):
    """16x8 PRELU: int16 input and output, int8 alpha (TFLite Micro's only int16 form)."""
    (si, sa, so), (zi, za, zo) = scales, zps
    alpha = t(alpha_shape, "int8", sa, za, data=np.random.default_rng(3).integers(-128, 128, alpha_shape).astype(np.int8))
    check(binary_model("PRELU", t((1, 3, 4, 5), "int16", si, zi), alpha, t((1, 3, 4, 5), "int16", so, zo)), "PRELU")


def test_prelu_int8_run_time_alpha():
    check(binary_model("PRELU", t((2, 3, 4), "int8", 0.05, 3), t((3, 1), "int8", 0.01, -20),
                       t((2, 3, 4), "int8", 0.03, -10)), "PRELU")


@pytest.mark.parametrize("scales,zps", [
    ((0.001, 0.1, 0.2), (3, -2, 1)),    # many quotients exactly halfway
    ((0.007, 0.07, 0.1), (2, 2, 2)),
    ((0.5, 0.001, 0.9), (0, 0, 0)),     # a large multiplier
    ((1e-5, 0.9, 0.9), (3, -2, 1)),     # a tiny one: shifts past 31 bits
    ((0.05, 0.05, 0.05), (-128, 127, 0)),
])
def test_div_int8_written(scales, zps):
    """Every int8 pair once: the divisor's zero point, halfway quotients, large and small
    multipliers (the reference's right shift then exceeds 31 bits)."""
    (s1, s2, so), (z1, z2, zo) = scales, zps
    a = np.repeat(np.arange(-128, 128), 256).astype(np.int8)
    b = np.tile(np.arange(-128, 128), 256).astype(np.int8)
    data = binary_model("DIV", t((256 * 256,), "int8", s1, z1), t((256 * 256,), "int8", s2, z2),
                        t((256 * 256,), "int8", so, zo), "DivOptions", {"FusedActivationFunction": 0})
    assert "DIV" in op_names(data)
    from protobrain.run.host import compile_bytes

    got = compile_bytes(data, "div8").run(a, b)
    want = Reference(data, arena_size=1 << 20).run(a, b)
    assert got.tobytes() == want.reshape(got.shape).tobytes()


@pytest.mark.parametrize("count,const_at,scale_in,zp_in,scale_out,zp_out", [
    (2, None, 0.05, 3, 0.1, -4),
    (3, 1, 0.02, -128, 0.05, 10),
    (5, None, 0.1, 127, 0.3, 0),
    (15, 7, 0.01, -128, 0.2, -1),  # the most inputs whose int32 sum cannot overflow at any zero point
])
def test_add_n_int8(count, const_at, scale_in, zp_in, scale_out, zp_out):
    """int8 ADD_N (the converter keeps it float): inputs of one scale, one of them constant."""
    rng = np.random.default_rng(count)
    tensors = [t((2, 3), "int8", scale_in, zp_in,
                 data=rng.integers(-128, 128, (2, 3)).astype(np.int8) if k == const_at else None) for k in range(count)]
    tensors.append(t((2, 3), "int8", scale_out, zp_out))
    ins = [k for k in range(count) if k != const_at]
    data = write_model(tensors, [("ADD_N", list(range(count)), [count], None, {})], ins, [count])
    check(data, "ADD_N")


def test_add_n_float32_constant_input():
    tensors = [t((4,), "float32"), t((4,), "float32", data=np.array([0.5, -1.25, 3.0, 0.0], np.float32)),
               t((4,), "float32"), t((4,), "float32")]
    check(write_model(tensors, [("ADD_N", [0, 1, 2], [3], None, {})], [0, 2], [3]), "ADD_N")


def test_audio_preprocessor_int32_tail():
    """The int32 arithmetic closing the audio preprocessor (MUL, ADD, DIV, ADD, MINIMUM,
    MAXIMUM with its scalar constants and options), on its own."""
    path = SHARED_MODELS / "audio_preprocessor_int8.tflite"
    if not path.exists():
        pytest.skip(f"{path} not found")
    g = read_model_bytes(path.read_bytes())
    tail = [op for op in g.operators if op.name in ("MUL", "ADD", "DIV", "MINIMUM", "MAXIMUM")]
    assert [op.name for op in tail] == ["MUL", "ADD", "DIV", "ADD", "MINIMUM", "MAXIMUM"]
    tensors = [t(g.tensors[tail[0].inputs[0]].shape, "int32")]
    ops = []
    for op in tail:
        a, c = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]]
        assert a.dtype == c.dtype == g.tensors[op.outputs[0]].dtype == "int32" and c.is_const
        tensors.append(t(c.shape, "int32", data=c.data))
        tensors.append(t(g.tensors[op.outputs[0]].shape, "int32"))
        opts = OPTIONS.get(op.name)
        fields = {"FusedActivationFunction": ACTIVATIONS[op.options["fused_activation_function"]]} if opts else {}
        ops.append((op.name, [len(tensors) - 3, len(tensors) - 2], [len(tensors) - 1], opts, fields))
    data = write_model(tensors, ops, [0], [len(tensors) - 1])
    check(data, "DIV", n_random=20)


# ---- refusals ----------------------------------------------------------------------------


def test_refuses_int16_div():
    refused(binary_model("DIV", t((4,), "int16"), t((4,), "int16"), t((4,), "int16"), "DivOptions",
                         {"FusedActivationFunction": 0}), "types int16")


def test_refuses_div_multiplier_out_of_range():
    refused(binary_model("DIV", t((4,), "int8", 1e-9), t((4,), "int8", 0.5), t((4,), "int8", 0.5), "DivOptions",
                         {"FusedActivationFunction": 0}), "out of DIV's range")


def test_refuses_quantized_int32_add():
    refused(binary_model("ADD", t((4,), "int32", 0.5), t((4,), "int32"), t((4,), "int32"), "AddOptions",
                         {"FusedActivationFunction": 0}), "quantized int32 ADD")


def test_refuses_int16_squared_difference_with_zero_point():
    refused(binary_model("SQUARED_DIFFERENCE", t((4,), "int16", 1e-3, 5), t((4,), "int16", 1e-3), t((4,), "int16", 1e-3)),
            "non-zero zero point")


def test_refuses_floor_div_by_constant_zero():
    refused(binary_model("FLOOR_DIV", t((4,), "float32"), t((4,), "float32", data=np.array([1, 0, 2, 3], np.float32)),
                         t((4,), "float32")), "constant divisor holds 0")


def test_refuses_int8_floor_mod():
    refused(binary_model("FLOOR_MOD", t((4,), "int8"), t((4,), "int8"), t((4,), "int8")), "types int8")


def test_refuses_prelu_int16_alpha():
    refused(binary_model("PRELU", t((4,), "int16"), t((4,), "int16"), t((4,), "int16")), "types int16,int16")


def test_refuses_float_prelu_beyond_4d():
    refused(binary_model("PRELU", t((1, 2, 2, 2, 3), "float32"), t((3,), "float32"), t((1, 2, 2, 2, 3), "float32")),
            "more than 4 dimensions")


def test_refuses_add_n_of_mixed_scales():
    tensors = [t((4,), "int8", 0.05), t((4,), "int8", 0.06), t((4,), "int8", 0.1)]
    refused(write_model(tensors, [("ADD_N", [0, 1], [2], None, {})], [0, 1], [2]), "different scales")


def test_refuses_add_n_overflowing_int32():
    tensors = [t((4,), "int8", 0.05, -128)] * 16 + [t((4,), "int8", 0.5)]
    refused(write_model(tensors, [("ADD_N", list(range(16)), [16], None, {})], list(range(16)), [16]), "overflow")


def test_refuses_min_max_of_mixed_types():
    refused(binary_model("MAXIMUM", t((4,), "int8"), t((4,), "int16"), t((4,), "int8")), "types int8,int16")


def test_refuses_non_finite_float_constant():
    inf = t((2,), "float32", data=np.array([1.0, np.inf], np.float32))
    refused(binary_model("MINIMUM", t((2,), "float32"), inf, t((2,), "float32")), "inf or NaN")


def test_refuses_shapes_that_do_not_broadcast():
    refused(binary_model("MINIMUM", t((3, 4), "float32"), t((2, 1), "float32"), t((3, 4), "float32")),
            "do not broadcast")


def test_lowering_refuses_every_operand_constant():
    from protobrain.compiler.ops import REGISTRY

    c = np.ones((4,), np.float32)
    data = write_model([t((4,), "float32", data=c), t((4,), "float32", data=c), t((4,), "float32")],
                       [("MAXIMUM", [0, 1], [2], None, {})], [], [2])
    g = read_model_bytes(data)
    with pytest.raises(Unsupported, match="every operand is constant"):
        REGISTRY["MAXIMUM"](g.operators[0], g)
