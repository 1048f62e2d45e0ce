"""ARG_MAX, ARG_MIN, CUMSUM, L2_POOL_2D and the float32 MAX_POOL_2D / AVERAGE_POOL_2D against
TFLite Micro (LiteRT's reference kernels for int64 indices, which TFLite Micro lacks).

ARG_MAX / ARG_MIN: tf.math.argmax / argmin with int64 (their default) and int32 indices,
several axes, int8 and float32 models, NaN and tie handling on hand-written models.
CUMSUM: tf.math.cumsum (the converter keeps it in float32 between DEQUANTIZE and QUANTIZE,
also in int8 models) with every exclusive / reverse pair; int8 CUMSUM, which only a
hand-written model holds, with zero points that exercise TFLite Micro's seeded sum.
Pooling: Keras MaxPooling2D / AveragePooling2D in float32 models; L2_POOL_2D (no Keras layer
makes it) hand-written, SAME / VALID, strides, fused activations, overflowing squares.
"""

import numpy as np
import pytest
from builders import convert
from conftest import assert_bit_exact, check_model_bytes
from test_op_resize_reduce import (
    N_RANDOM,
    act,
    check_litert,
    convert_float,
    i32,
    lambda_model,
    layer_model,
    op_names,
    refuses,
    tiny_model,
)

NAN, INF = float("nan"), float("inf")


def _check_tflm_with(data: bytes, name: str, extra):
    from protobrain.run.host import compile_bytes
    from protobrain.verify.reference import Reference

    reference = Reference(data)
    for tier in ("portable", "dsp"):
        assert_bit_exact(compile_bytes(data, name, tier=tier), reference, n_random=N_RANDOM, extra_inputs=extra)


# ---- ARG_MAX / ARG_MIN --------------------------------------------------------------------------

ARG_CASES = [
    # (key, input shape, fn(tf, keras, x), op)
    ("argmax-last", (4, 5, 3), lambda tf, k, x: tf.math.argmax(x, axis=-1), "ARG_MAX"),
    ("argmax-1", (4, 5, 3), lambda tf, k, x: tf.math.argmax(x, axis=1), "ARG_MAX"),
    ("argmax-2-i32", (4, 5, 3), lambda tf, k, x: tf.math.argmax(x, axis=2, output_type=tf.int32), "ARG_MAX"),
    ("argmax-neg-i32", (6, 7), lambda tf, k, x: tf.math.argmax(x, axis=-1, output_type=tf.int32), "ARG_MAX"),
    ("argmin-neg2", (4, 5, 3), lambda tf, k, x: tf.math.argmin(x, axis=-2), "ARG_MIN"),
    ("argmin-last-i32", (4, 5, 3), lambda tf, k, x: tf.math.argmin(x, axis=-1, output_type=tf.int32), "ARG_MIN"),
    ("argmin-0-i32", (9,), lambda tf, k, x: tf.math.argmin(x, axis=1, output_type=tf.int32), "ARG_MIN"),
]


@pytest.mark.parametrize("mode", ["int8", "float"])
@pytest.mark.parametrize("key,shape,fn,op", ARG_CASES, ids=[c[0] for c in ARG_CASES])
def test_argminmax(key, shape, fn, op, mode):
    make = lambda_model([shape], fn)
    data = convert_float(make, f"arg-{key}") if mode == "float" else convert(make, [shape], key=f"arg-{key}")
    from protobrain.compiler.reader import read_model_bytes

    g = read_model_bytes(data)
    assert [o.name for o in g.operators] == [op]
    out_type = g.tensors[g.operators[0].outputs[0]].dtype
    assert out_type == ("int32" if key.endswith("i32") else "int64")
    if out_type == "int64":
        check_litert(data, "arg")  # TFLite Micro writes int32 indices only
    else:
        check_model_bytes(data, "arg", n_random=N_RANDOM)


def _arg_model(op, dtype, in_shape, axis, out_type, axis_type="int32"):
    out_shape = tuple(d for k, d in enumerate(in_shape) if k != axis % len(in_shape))
    axis_t = {"shape": (1,), "dtype": axis_type, "data": np.asarray([axis], axis_type)}
    opts = "ArgMaxOptions" if op == "ARG_MAX" else "ArgMinOptions"
    enum = {"int32": 2, "int64": 4}[out_type]
    return tiny_model([act(in_shape, dtype), axis_t, {"shape": out_shape, "dtype": out_type}],
                      [(op, [0, 1], [2], opts, {"output_type": enum})], [0], [2])


ARG_ROWS = np.array([[NAN, 1.0, 3.0, 3.0, -1.0], [2.0, NAN, 5.0, NAN, 5.0], [NAN, NAN, NAN, NAN, NAN],
                     [-INF, -INF, INF, -0.0, 0.0], [0.0, -0.0, 0.0, -0.0, 0.0], [1.0, 1.0, 1.0, 1.0, NAN]],
                    np.float32)


@pytest.mark.parametrize("op", ["ARG_MAX", "ARG_MIN"])
def test_arg_float_nan_and_ties_tflm(op):
    """TFLite Micro's plain comparison: a leading NaN is never replaced."""
    _check_tflm_with(_arg_model(op, "float32", (6, 5), 1, "int32"), "argnan", [ARG_ROWS])


@pytest.mark.parametrize("op", ["ARG_MAX", "ARG_MIN"])
def test_arg_float_nan_and_ties_litert(op):
    """LiteRT's reference comparison: NaN is the least (ARG_MAX) or greatest (ARG_MIN) value.
    Its vectorized path for a last axis of 4 or more orders NaNs its own way (that depends on
    the host's SIMD), so NaNs are tested along a leading axis and a last axis of 3."""
    check_litert(_arg_model(op, "float32", (5, 6), 0, "int64"), "argnan", extra_inputs=[ARG_ROWS.T.copy()])
    check_litert(_arg_model(op, "float32", (6, 3), 1, "int64"), "argnan3", extra_inputs=[ARG_ROWS[:, 1:4].copy()])


@pytest.mark.parametrize("op", ["ARG_MAX", "ARG_MIN"])
@pytest.mark.parametrize("out_type", ["int32", "int64"])
@pytest.mark.parametrize("in_shape,axis", [((3, 4, 2), 0), ((3, 4, 2), -3), ((11,), 0), ((2, 3, 2, 5, 2), 3),
                                           ((3, 37), -1)])  # 37: LiteRT's vectorized int8 path
def test_arg_written_axes(op, out_type, in_shape, axis):
    data = _arg_model(op, "int8", in_shape, axis, out_type)
    (check_litert if out_type == "int64" else check_model_bytes)(data, "argw")


def test_arg_int64_axis_for_litert_only():
    check_litert(_arg_model("ARG_MAX", "int8", (3, 4), 1, "int64", axis_type="int64"), "argax")
    refuses(_arg_model("ARG_MAX", "int8", (3, 4), 1, "int32", axis_type="int64"), "axis type int64")


def test_arg_reads_the_first_of_several_axis_values():
    """TFLite Micro takes the first value of a longer axis tensor; LiteRT refuses one."""
    def model(out_type, enum):
        axis_t = {"shape": (2,), "dtype": "int32", "data": np.asarray([1, 0], np.int32)}
        return tiny_model([act((3, 4)), axis_t, {"shape": (3,), "dtype": out_type}],
                          [("ARG_MAX", [0, 1], [2], "ArgMaxOptions", {"output_type": enum})], [0], [2])

    check_model_bytes(model("int32", 2), "arg2ax", n_random=N_RANDOM)
    refuses(model("int64", 4), "2 axis values")


def test_arg_refusals():
    refuses(_arg_model("ARG_MAX", "int16", (3, 4), 1, "int32"), "type int16")
    refuses(_arg_model("ARG_MIN", "int32", (3, 4), 1, "int32"), "type int32")
    refuses(_arg_model("ARG_MAX", "int8", (3, 4), 2, "int32"), "out of range")
    bad_out = tiny_model([act((3, 4)), i32([1]), {"shape": (3,), "dtype": "int16", "scale": 1.0, "zp": 0}],
                         [("ARG_MAX", [0, 1], [2], "ArgMaxOptions", {"output_type": 2})], [0], [2])
    refuses(bad_out, "output type int16")


# ---- CUMSUM ---------------------------------------------------------------------------------------

CUMSUM_CASES = [
    # (key, input shape, axis, exclusive, reverse)
    ("inc", (4, 5, 3), 1, False, False),
    ("exc", (4, 5, 3), 1, True, False),
    ("rev", (4, 5, 3), -1, False, True),
    ("exc-rev", (4, 5, 3), 2, True, True),
    ("exc-rev-last", (6, 7), -1, True, True),
    ("vector", (6,), 1, False, True),
]


@pytest.mark.parametrize("mode", ["int8", "float"])
@pytest.mark.parametrize("key,shape,axis,exclusive,reverse", CUMSUM_CASES, ids=[c[0] for c in CUMSUM_CASES])
def test_cumsum_keras(key, shape, axis, exclusive, reverse, mode):
    make = lambda_model([shape], lambda tf, k, x: tf.math.cumsum(x, axis=axis, exclusive=exclusive, reverse=reverse))
    data = convert_float(make, f"cumsum-{key}") if mode == "float" else convert(make, [shape], key=f"cumsum-{key}")
    ops = op_names(data)
    assert "CUMSUM" in ops, ops  # int8 models keep it in float between DEQUANTIZE and QUANTIZE
    check_model_bytes(data, "cumsum", n_random=N_RANDOM)


def _cumsum_model(dtype, shape, axis, exclusive, reverse, zp_in=0, zp_out=0, scale_in=0.05, scale_out=0.3):
    return tiny_model([act(shape, dtype, scale_in, zp_in), i32([axis]), act(shape, dtype, scale_out, zp_out)],
                      [("CUMSUM", [0, 1], [2], "CumsumOptions", {"exclusive": exclusive, "reverse": reverse})],
                      [0], [2])


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("shape,axis,zp_in,zp_out,scale_out", [
    ((3, 7, 2), 1, 0, 0, 0.3),
    ((3, 7, 2), -1, -5, 12, 0.1),
    ((15, 2), 0, 100, -20, 0.5),  # the longest axis a zero point of 100 lets through
    ((2, 3, 4), 2, -128, 0, 0.05),  # the seeded sum dominates
])
def test_cumsum_int8_written(shape, axis, zp_in, zp_out, scale_out, exclusive, reverse):
    """TFLite Micro's int8 path, including its running sum seeded with the scaled -zp."""
    check_model_bytes(_cumsum_model("int8", shape, axis, exclusive, reverse, zp_in, zp_out, scale_out=scale_out),
                      "cumsum8", n_random=N_RANDOM)


def test_cumsum_float_written_specials():
    data = _cumsum_model("float32", (3, 4), 1, False, True)
    rows = np.array([[1e38, 1e38, -1e38, 1.0], [NAN, 1.0, 2.0, 3.0], [INF, -INF, 0.0, -0.0]], np.float32)
    _check_tflm_with(data, "cumsumf", [rows])


def test_cumsum_refusals():
    refuses(_cumsum_model("int8", (40, 2), 0, False, False, zp_in=100), "running sum can reach")
    refuses(_cumsum_model("int16", (4, 2), 0, False, False), "type int16")
    refuses(_cumsum_model("int8", (4, 2), 0, False, False, scale_in=1.0, scale_out=1e-7), "multiplier under one")
    refuses(_cumsum_model("int8", (4, 2), 2, False, False), "out of range")


# ---- float pooling and L2_POOL_2D ---------------------------------------------------------------------

FLOAT_POOLS = [
    # (kind, input HWC, pool, strides, padding, activation)
    ("max", (7, 7, 3), 2, 2, "valid", None),
    ("max", (7, 7, 3), 3, 2, "same", None),
    ("max", (9, 5, 2), (2, 3), (1, 2), "same", "relu"),
    ("avg", (7, 7, 3), 2, 2, "valid", None),
    ("avg", (7, 7, 3), 3, 2, "same", None),
    ("avg", (9, 5, 2), (3, 2), 1, "same", "relu6"),
    ("avg", (2, 2, 3), 3, 1, "same", None),  # a window larger than the input
]


@pytest.mark.parametrize("kind,shape,pool,strides,padding,activation", FLOAT_POOLS)
def test_float_pooling(kind, shape, pool, strides, padding, activation):
    def make_layer(k):
        layer = (k.layers.MaxPooling2D if kind == "max" else k.layers.AveragePooling2D)(pool, strides, padding)
        if activation is None:
            return layer
        return lambda x: k.layers.ReLU(6.0 if activation == "relu6" else None)(layer(x))

    key = f"fpool-{kind}-{shape}-{pool}-{strides}-{padding}-{activation}"
    data = convert_float(layer_model(shape, make_layer), key)
    from protobrain.compiler.reader import read_model_bytes

    (op,) = read_model_bytes(data).operators  # the converter fuses the ReLU into the pool
    assert op.name == ("MAX_POOL_2D" if kind == "max" else "AVERAGE_POOL_2D")
    assert op.options["fused_activation_function"] == {None: "NONE", "relu": "RELU", "relu6": "RELU6"}[activation]
    extra = [np.where(np.arange(int(np.prod(shape))).reshape(shape) % 5 == 0, v, 0.5).astype(np.float32)
             for v in (NAN, INF, -INF)]
    _check_tflm_with(data, "fpool", extra)


_ACTIVATIONS = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}


def _pool_model(op, dtype, in_shape, out_hw, filt, stride, padding, activation="NONE"):
    out_shape = (in_shape[0], *out_hw, in_shape[3])
    return tiny_model([act(in_shape, dtype), act(out_shape, dtype)],
                      [(op, [0], [1], "Pool2DOptions",
                        {"padding": {"SAME": 0, "VALID": 1}[padding], "stride_w": stride[1], "stride_h": stride[0],
                         "filter_width": filt[1], "filter_height": filt[0],
                         "fused_activation_function": _ACTIVATIONS[activation]})],
                      [0], [1])


L2_CASES = [
    # (input NHWC, output HW, filter, stride, padding, activation)
    ((1, 6, 6, 3), (3, 3), (2, 2), (2, 2), "VALID", "NONE"),
    ((1, 7, 7, 2), (4, 4), (3, 3), (2, 2), "SAME", "NONE"),
    ((2, 5, 9, 1), (5, 5), (2, 3), (1, 2), "SAME", "RELU"),
    ((1, 7, 5, 4), (3, 2), (3, 2), (2, 2), "VALID", "RELU6"),
    ((1, 4, 4, 2), (4, 4), (3, 3), (1, 1), "SAME", "RELU_N1_TO_1"),
    ((1, 3, 3, 1), (1, 1), (3, 3), (3, 3), "VALID", "NONE"),
]


@pytest.mark.parametrize("case", range(len(L2_CASES)))
def test_l2_pool(case):
    in_shape, out_hw, filt, stride, padding, activation = L2_CASES[case]
    data = _pool_model("L2_POOL_2D", "float32", in_shape, out_hw, filt, stride, padding, activation)
    size = int(np.prod(in_shape))
    extra = [np.full(in_shape, 3e19, np.float32),  # squares overflow to inf, clamped to FLT_MAX
             np.where(np.arange(size).reshape(in_shape) % 7 == 0, NAN, 1e-20).astype(np.float32),  # subnormal squares
             np.linspace(-40, 40, size, dtype=np.float32).reshape(in_shape)]
    _check_tflm_with(data, "l2pool", extra)


def test_pool_refusals():
    refuses(_pool_model("L2_POOL_2D", "int8", (1, 4, 4, 1), (2, 2), (2, 2), (2, 2), "VALID"), "types int8")
    refuses(_pool_model("L2_POOL_2D", "float32", (1, 4, 4, 1), (3, 3), (2, 2), (2, 2), "VALID"), "output size")
    no_options = tiny_model([act((1, 4, 4, 1), "float32"), act((1, 2, 2, 1), "float32")],
                            [("L2_POOL_2D", [0], [1], None, {})], [0], [1])
    refuses(no_options, "no Pool2DOptions")
    refuses(_pool_model("MAX_POOL_2D", "int32", (1, 4, 4, 1), (2, 2), (2, 2), (2, 2), "VALID"), "types int32")
