"""Shape and data-movement operators against TFLite Micro: RESHAPE, SQUEEZE, EXPAND_DIMS,
PAD/PADV2, CONCATENATION, MEAN, STRIDED_SLICE.

Most cases are real converter output (int8, 16x8, float). The converter never emits
SQUEEZE or EXPAND_DIMS (it rewrites both into RESHAPE), always gives concatenated inputs
the output's quantization and never gives a MEAN equal input/output quantization, so a few
small models are written directly as flatbuffers to reach those paths.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from builders import BUILDER_VERSION, cache_root, convert
from conftest import check_model_bytes

from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model


def op_names(data: bytes) -> list[str]:
    return [op.name for op in read_model_bytes(data).operators]


def keras_model(shapes, fn):
    """A model applying fn (a TF function on the input tensors) inside a Lambda layer."""

    def make():
        import tensorflow as tf

        xs = [tf.keras.Input(s, batch_size=1) for s in shapes]
        y = tf.keras.layers.Lambda(lambda t: fn(tf, *t))(xs)
        return tf.keras.Model(xs, y)

    return make


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


def run_case(fn, shapes, key, expect, mode="int8", name="m"):
    data = convert(keras_model(shapes, fn), shapes, mode=mode, key=key)
    names = op_names(data)
    assert expect in names, f"converter produced {names}, not {expect}"
    check_model_bytes(data, name, n_random=10)


# ---- RESHAPE (and squeeze/expand_dims/flatten, which the converter turns into RESHAPE) ----

RESHAPES = [
    ("rs-3d", (5, 4, 3), lambda tf, x: tf.reshape(x, (1, 20, 3)), "int8"),
    ("rs-4d", (6, 10), lambda tf, x: tf.reshape(x, (1, 2, 6, 5)), "int8"),
    ("rs-flat", (3, 4, 2), lambda tf, x: tf.reshape(x, (1, -1)), "int8"),
    ("rs-squeeze", (5, 1, 3), lambda tf, x: tf.squeeze(x, axis=2), "int8"),
    ("rs-expand", (5, 3), lambda tf, x: tf.expand_dims(x, 2), "int8"),
    ("rs-16x8", (4, 6), lambda tf, x: tf.reshape(x, (1, 3, 8)), "16x8"),
]


@pytest.mark.parametrize("key,shape,fn,mode", RESHAPES, ids=[r[0] for r in RESHAPES])
def test_reshape(key, shape, fn, mode):
    run_case(fn, [shape], key, "RESHAPE", mode=mode, name="reshape")


@pytest.mark.parametrize("mode", ["int8", "16x8"])
def test_reshape_between_dense_layers(mode):
    """Dense -> Reshape -> Dense: the view shares memory between two real kernels."""

    def make():
        import tensorflow as tf

        x = tf.keras.Input((12,), batch_size=1)
        y = tf.keras.layers.Dense(12)(x)
        y = tf.keras.layers.Reshape((3, 4))(y)
        y = tf.keras.layers.Dense(5)(y)
        return tf.keras.Model(x, tf.keras.layers.Flatten()(y))

    data = convert(make, [(12,)], mode=mode, key="rs-dense")
    assert op_names(data).count("RESHAPE") >= 1
    check_model_bytes(data, "rsdense", n_random=10)


# ---- PAD / PADV2 ----------------------------------------------------------------------------

PADS = [
    ("pad-zp2d-a", (5, 4, 3), "zp2d", ((1, 2), (0, 3)), "int8", "PAD"),
    ("pad-zp2d-b", (3, 3, 2), "zp2d", ((0, 1), (2, 0)), "int8", "PAD"),
    ("pad-zp2d-c", (4, 4, 1), "zp2d", ((1, 1), (1, 1)), "int8", "PAD"),
    ("pad-zp1d", (6, 3), "zp1d", (2, 1), "int8", "PAD"),
    ("pad-1d", (7,), "tf", [[0, 0], [3, 1]], "int8", "PAD"),
    ("pad-channels", (2, 3, 4), "tf", [[0, 0], [0, 0], [1, 0], [1, 2]], "int8", "PAD"),
    ("pad-batch", (2, 2, 3), "tf", [[1, 0], [0, 1], [2, 0], [0, 3]], "int8", "PAD"),
    ("pad-rank3", (4, 5), "tf", [[0, 0], [2, 2], [0, 1]], "int8", "PAD"),
    ("pad-5d", (2, 3, 2, 2), "tf", [[0, 0], [1, 0], [0, 1], [1, 1], [0, 2]], "int8", "PAD"),
    ("pad-zp2d-16", (5, 4, 3), "zp2d", ((2, 0), (1, 1)), "16x8", "PAD"),
    ("pad-tf-16", (3, 6), "tf", [[0, 0], [0, 2], [3, 0]], "16x8", "PAD"),
]


@pytest.mark.parametrize("key,shape,kind,pads,mode,expect", PADS, ids=[p[0] for p in PADS])
def test_pad(key, shape, kind, pads, mode, expect):
    def make():
        import tensorflow as tf

        x = tf.keras.Input(shape, batch_size=1)
        if kind == "zp2d":
            y = tf.keras.layers.ZeroPadding2D(pads)(x)
        elif kind == "zp1d":
            y = tf.keras.layers.ZeroPadding1D(pads)(x)
        else:
            y = tf.keras.layers.Lambda(lambda t: tf.pad(t, pads))(x)
        return tf.keras.Model(x, y)

    data = convert(make, [shape], mode=mode, key=key)
    assert expect in op_names(data)
    check_model_bytes(data, "pad", n_random=10)


PADV2S = [
    ("padv2-a", (5, 3), [[0, 0], [1, 2], [2, 0]], 0.5, "int8"),
    ("padv2-b", (3, 3, 2), [[0, 0], [0, 2], [1, 1], [0, 1]], -0.75, "int8"),
    ("padv2-c", (2, 2, 3), [[0, 0], [2, 0], [0, 0], [1, 1]], 1.0, "int8"),
]


@pytest.mark.parametrize("key,shape,pads,value,mode", PADV2S, ids=[p[0] for p in PADV2S])
def test_padv2(key, shape, pads, value, mode):
    run_case(lambda tf, x: tf.pad(x, pads, constant_values=value), [shape], key, "PADV2", mode=mode,
             name="padv2")


# ---- CONCATENATION --------------------------------------------------------------------------

CONCATS = [
    ("cat-last-2", [(4, 3), (4, 5)], -1, "int8"),
    ("cat-ax1-2", [(2, 3), (5, 3)], 1, "int8"),
    ("cat-ax2-2", [(3, 2, 4), (3, 5, 4)], 2, "int8"),
    ("cat-ax3-3", [(2, 2, 1), (2, 2, 3), (2, 2, 2)], 3, "int8"),
    ("cat-ax1-3", [(1, 3, 2), (2, 3, 2), (3, 3, 2)], 1, "int8"),
    ("cat-neg2-3", [(2, 3, 2), (2, 1, 2), (2, 4, 2)], -2, "int8"),
    ("cat-last-16", [(3, 2), (3, 4)], -1, "16x8"),
    ("cat-ax1-16", [(2, 2, 2), (1, 2, 2), (3, 2, 2)], 1, "16x8"),
]


@pytest.mark.parametrize("key,shapes,axis,mode", CONCATS, ids=[c[0] for c in CONCATS])
def test_concat_inputs(key, shapes, axis, mode):
    def make():
        import tensorflow as tf

        xs = [tf.keras.Input(s, batch_size=1) for s in shapes]
        return tf.keras.Model(xs, tf.keras.layers.Concatenate(axis=axis)(xs))

    data = convert(make, shapes, mode=mode, key=key)
    assert "CONCATENATION" in op_names(data)
    check_model_bytes(data, "concat", n_random=10)


@pytest.mark.parametrize("mode,branches", [("int8", 2), ("int8", 3), ("16x8", 3)])
def test_concat_dense_branches(mode, branches):
    """Dense branches of different widths (and the raw input) concatenated on the last axis."""

    def make():
        import tensorflow as tf

        x = tf.keras.Input((6,), batch_size=1)
        ys = [tf.keras.layers.Dense(2 + k, activation="relu" if k % 2 else None)(x) for k in range(branches - 1)]
        return tf.keras.Model(x, tf.keras.layers.Concatenate()([*ys, x]))

    data = convert(make, [(6,)], mode=mode, key=f"cat-dense-{branches}")
    assert "CONCATENATION" in op_names(data)
    check_model_bytes(data, "catdense", n_random=10)


def test_concat_with_constant_input():
    const = np.linspace(-1, 1, 8, dtype=np.float32).reshape(1, 4, 2)
    run_case(lambda tf, x: tf.concat([tf.constant(const), x], axis=-1), [(4, 3)], "cat-const",
             "CONCATENATION", name="catconst")


# ---- MEAN -----------------------------------------------------------------------------------

MEANS = [
    ("gap-a", (5, 4, 3), "gap", None, False, "int8"),
    ("gap-b", (7, 7, 8), "gap", None, False, "int8"),
    ("gap-c", (1, 6, 2), "gap", None, False, "int8"),
    ("gap-keep", (3, 5, 16), "gap", None, True, "int8"),
    ("gap1d", (6, 4), "gap1d", None, False, "int8"),
    ("mean-ax1-keep", (6, 4), "tf", [1], True, "int8"),
    ("mean-ax1", (5, 3, 2), "tf", [1], False, "int8"),
    ("mean-last", (3, 4, 5), "tf", [-1], False, "int8"),
    ("mean-ax2-keep", (3, 4, 5), "tf", [2], True, "int8"),
    ("mean-ax13", (3, 4, 5), "tf", [1, 3], True, "int8"),
    ("mean-ax3-big", (2, 2, 300), "tf", [3], False, "int8"),
    ("mean-ax123", (3, 4, 5), "tf", [1, 2, 3], False, "int8"),
    ("mean-all-keep", (2, 3, 4), "tf", [0, 1, 2, 3], True, "int8"),
    ("gap-16", (5, 4, 3), "gap", None, False, "16x8"),
    ("mean-last-16", (4, 6), "tf", [-1], True, "16x8"),
    ("mean-ax12-16", (3, 3, 4), "tf", [1, 2], True, "16x8"),
]


@pytest.mark.parametrize("key,shape,kind,axes,keep,mode", MEANS, ids=[m[0] for m in MEANS])
def test_mean(key, shape, kind, axes, keep, mode):
    def make():
        import tensorflow as tf

        x = tf.keras.Input(shape, batch_size=1)
        if kind == "gap":
            y = tf.keras.layers.GlobalAveragePooling2D(keepdims=keep)(x)
        elif kind == "gap1d":
            y = tf.keras.layers.GlobalAveragePooling1D()(x)
        else:
            y = tf.keras.layers.Lambda(lambda t: tf.reduce_mean(t, axis=axes, keepdims=keep))(x)
        return tf.keras.Model(x, y)

    data = convert(make, [shape], mode=mode, key=key)
    assert "MEAN" in op_names(data)
    check_model_bytes(data, "mean", n_random=10)


# ---- STRIDED_SLICE --------------------------------------------------------------------------

SLICES = [
    ("ss-step-rev", (6, 5, 4), lambda tf, x: x[:, 1:5:2, ::-1, :], "int8"),
    ("ss-shrink2", (6, 5, 4), lambda tf, x: x[:, 2, :, -1], "int8"),
    ("ss-shrink1", (6, 5), lambda tf, x: x[:, 1], "int8"),
    ("ss-masks", (6, 5, 4), lambda tf, x: tf.strided_slice(x, [0, 1, 0, 0], [1, -1, 5, 4], [1, 1, 2, 1],
                                                            begin_mask=1, end_mask=9), "int8"),
    ("ss-shrink-mask", (6, 5, 4), lambda tf, x: tf.strided_slice(x, [0, 3, 0, 1], [1, 4, 5, 3], [1, 1, 1, 1],
                                                                  shrink_axis_mask=2), "int8"),
    ("ss-ellipsis", (6, 5, 4), lambda tf, x: x[..., ::-2], "int8"),
    ("ss-ellipsis-tf", (6, 5, 4), lambda tf, x: tf.strided_slice(x, [0, 1], [0, 3], [1, 1], ellipsis_mask=1),
     "int8"),
    ("ss-newaxis", (6, 4), lambda tf, x: x[:, tf.newaxis, 1:, :], "int8"),
    ("ss-rev2d", (7, 3), lambda tf, x: x[:, ::-1], "int8"),
    ("ss-negbegin", (8, 3), lambda tf, x: x[:, -3:], "int8"),
    ("ss-negstride-bounds", (7, 6), lambda tf, x: x[:, 5:0:-2, 1:-1], "int8"),
    ("ss-channels", (3, 3, 6), lambda tf, x: x[:, :, :, 1:4], "int8"),
    ("ss-mixed", (7, 6, 7), lambda tf, x: x[:, ::3, ::2, ::-3], "int8"),
    ("ss-clamp", (6, 5), lambda tf, x: x[:, -100:100, 2:50], "int8"),
    ("ss-rev-all", (4, 3, 2), lambda tf, x: x[:, ::-1, ::-1, ::-1], "int8"),
    ("ss-rev-16", (6, 4), lambda tf, x: x[:, ::-1, 1:3], "16x8"),
    ("ss-shrink-16", (5, 4, 3), lambda tf, x: x[:, 1:4, 2, ::2], "16x8"),
]


@pytest.mark.parametrize("key,shape,fn,mode", SLICES, ids=[s[0] for s in SLICES])
def test_strided_slice(key, shape, fn, mode):
    run_case(fn, [shape], key, "STRIDED_SLICE", mode=mode, name="slice")


@pytest.mark.parametrize("mode", ["int8", "16x8"])
def test_cropping2d(mode):
    def make():
        import tensorflow as tf

        x = tf.keras.Input((7, 6, 3), batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Cropping2D(((1, 2), (2, 1)))(x))

    data = convert(make, [(7, 6, 3)], mode=mode, key="ss-crop2d")
    assert "STRIDED_SLICE" in op_names(data)
    check_model_bytes(data, "crop", n_random=10)


def test_strided_slice_5d_against_numpy():
    """x[..., 1, newaxis, 1:3] becomes RESHAPE + a 5-D STRIDED_SLICE, which TFLite Micro
    refuses (at most 4 dimensions); check the generated C against numpy slicing instead."""
    from protobrain.run.host import compile_bytes

    data = convert(keras_model([(6, 5, 4)], lambda tf, x: x[..., 1, tf.newaxis, 1:3]), [(6, 5, 4)], key="ss-5d")
    assert "STRIDED_SLICE" in op_names(data)
    compiled = compile_bytes(data, "slice5")
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.integers(-128, 127, size=(1, 6, 5, 4), endpoint=True, dtype=np.int8)
        got = compiled.run(x)
        want = x[..., 1, np.newaxis, 1:3].reshape(got.shape)
        assert got.tobytes() == want.tobytes()


# ---- float32 models (no quantization) -------------------------------------------------------

FLOATS = [
    ("f-pad", [(5, 4, 3)], lambda tf, x: tf.pad(x, [[0, 0], [1, 2], [0, 1], [2, 0]]), "PAD"),
    ("f-padv2", [(4, 3)], lambda tf, x: tf.pad(x, [[0, 0], [1, 0], [2, 1]], constant_values=-0.5), "PADV2"),
    ("f-concat", [(3, 2), (3, 5)], lambda tf, a, b: tf.concat([a, b], axis=-1), "CONCATENATION"),
    ("f-gap", [(6, 5, 7)], lambda tf, x: tf.reduce_mean(x, axis=[1, 2]), "MEAN"),
    ("f-gap-keep", [(6, 5, 7)], lambda tf, x: tf.reduce_mean(x, axis=[1, 2], keepdims=True), "MEAN"),
    ("f-mean-last", [(3, 4, 9)], lambda tf, x: tf.reduce_mean(x, axis=[-1]), "MEAN"),
    ("f-slice", [(6, 5, 4)], lambda tf, x: x[:, 1:5:2, ::-1, 1], "STRIDED_SLICE"),
]


@pytest.mark.parametrize("key,shapes,fn,expect", FLOATS, ids=[f[0] for f in FLOATS])
def test_float32(key, shapes, fn, expect):
    data = convert_float(keras_model(shapes, fn), key)
    assert expect in op_names(data)
    check_model_bytes(data, "fmodel", n_random=10)


# ---- hand-written models: what the converter never emits ------------------------------------


def tiny_model(tensors: list[dict], ops: list[tuple], inputs: list[int], outputs: list[int]) -> bytes:
    """Write a one-subgraph .tflite directly, with protobrain.compiler.writer.

    tensors: dicts with shape, dtype ("int8", ...), optional scale/zp, optional data.
    ops: (BUILTIN_NAME, input indices, output indices, OptionsTypeName or None, {field: value}).
    """

    def camel(field: str) -> str:
        return "".join(w.capitalize() for w in field.split("_"))

    written = [{**{k: v for k, v in t.items() if k != "dtype"}, "type": t["dtype"]} for t in tensors]
    return write_model(written, [(name, ins, outs, opt, {camel(f): v for f, v in (fields or {}).items()})
                                 for name, ins, outs, opt, fields in ops], inputs, outputs)


def q(shape, dtype="int8", scale=0.05, zp=0, data=None):
    return {"shape": shape, "dtype": dtype, "scale": scale, "zp": zp, "data": data}


def i32(values):
    values = np.asarray(values, dtype=np.int32)
    return {"shape": values.shape, "dtype": "int32", "data": values}


@pytest.mark.parametrize("dims,out_shape", [([2], (1, 5, 3)), ([], (5, 3)), ([-2, 0], (5, 3))])
def test_squeeze_written_directly(dims, out_shape):
    options = {"squeeze_dims": dims} if dims else {}
    data = tiny_model([q((1, 5, 1, 3)), q(out_shape)], [("SQUEEZE", [0], [1], "SqueezeOptions", options)], [0], [1])
    check_model_bytes(data, "squeeze", n_random=10)


@pytest.mark.parametrize("dtype", ["int8", "int16"])
def test_expand_dims_written_directly(dtype):
    data = tiny_model([q((1, 4, 3), dtype), i32([2]), q((1, 4, 1, 3), dtype)],
                      [("EXPAND_DIMS", [0, 1], [2], "ExpandDimsOptions", {})], [0], [2])
    check_model_bytes(data, "expand", n_random=10)


def test_concat_int16_different_scales_copies_raw():
    """TFLite Micro concatenates int16 data as it is, even when the scales differ."""
    data = tiny_model([q((1, 3, 2), "int16", 0.002), q((1, 3, 4), "int16", 0.0005), q((1, 3, 6), "int16", 0.001)],
                      [("CONCATENATION", [0, 1], [2], "ConcatenationOptions", {"axis": -1})], [0, 1], [2])
    check_model_bytes(data, "catraw", n_random=10)


def test_refuses_int8_concat_with_different_scales():
    """TFLite Micro refuses (rather than requantizes) int8 inputs with other parameters."""
    from protobrain.errors import UnsupportedError

    data = tiny_model([q((1, 3, 2), scale=0.02, zp=5), q((1, 3, 4), scale=0.1, zp=-20), q((1, 3, 6))],
                      [("CONCATENATION", [0, 1], [2], "ConcatenationOptions", {"axis": -1})], [0, 1], [2])
    with pytest.raises(UnsupportedError, match="does not requantize"):
        _lower_only(data)


MEAN_SAME = [
    ("int8", (1, 5, 4, 3), [1, 2], True, 0.05, -3),
    ("int8", (1, 3, 7), [-1], False, 0.02, 10),
    ("int8", (2, 3, 4), [0, 2], False, 0.1, 0),
    ("int16", (1, 4, 4, 2), [1, 2], False, 0.001, 0),
]


@pytest.mark.parametrize("dtype,shape,axes,keep,scale,zp", MEAN_SAME)
def test_mean_same_quantization(dtype, shape, axes, keep, scale, zp):
    """Equal input/output quantization still goes through the requantizing path (there is no
    truncating integer division in TFLite Micro any more)."""
    rank = len(shape)
    res = {a % rank for a in axes}
    out_shape = tuple(1 if k in res else n for k, n in enumerate(shape) if keep or k not in res)
    data = tiny_model([q(shape, dtype, scale, zp), i32(axes), q(out_shape, dtype, scale, zp)],
                      [("MEAN", [0, 1], [2], "ReducerOptions", {"keep_dims": keep})], [0], [2])
    check_model_bytes(data, "meansame", n_random=10)


def test_mean_requantized_3d_two_axes():
    data = tiny_model([q((2, 3, 4), scale=0.03, zp=7), i32([2, 0]), q((3,), scale=0.011, zp=-9)],
                      [("MEAN", [0, 1], [2], "ReducerOptions", {"keep_dims": False})], [0], [2])
    check_model_bytes(data, "meanq", n_random=10)


def test_pad_int16_without_constant_uses_zero():
    """PAD on int16 fills with 0 in TFLite Micro, even with a nonzero output zero point."""
    data = tiny_model([q((1, 3, 2), "int16", 0.001, 0), i32([[0, 0], [1, 2], [2, 1]]),
                       q((1, 6, 5), "int16", 0.001, 0)],
                      [("PAD", [0, 1], [2], None, {})], [0], [2])
    check_model_bytes(data, "pad16", n_random=10)


def test_padv2_int16_with_int16_constant():
    data = tiny_model([q((1, 3, 2), "int16", 0.001), i32([[0, 0], [2, 0], [1, 3]]),
                       {**q((), "int16", 0.001), "data": np.array(-1234, np.int16)},
                       q((1, 5, 6), "int16", 0.001)],
                      [("PADV2", [0, 1, 2], [3], None, {})], [0], [3])
    check_model_bytes(data, "padv216", n_random=10)


def test_strided_slice_int16_negative_everything():
    data = tiny_model([q((1, 6, 5), "int16", 0.001), i32([0, -1, 4]), i32([1, -7, -6]), i32([1, -2, -1]),
                       q((1, 3, 5), "int16", 0.001)],
                      [("STRIDED_SLICE", [0, 1, 2, 3], [4], "StridedSliceOptions", {"begin_mask": 1})], [0], [4])
    check_model_bytes(data, "ss16", n_random=10)


# ---- what is refused, and why ---------------------------------------------------------------


def _lower_only(data):
    from protobrain.compiler.program import build_program
    from protobrain.compiler.reader import read_model_bytes

    return build_program(read_model_bytes(data, "m"))


def test_refuses_16x8_padv2_with_float_constant():
    """The converter leaves a 16x8 PADV2's pad value in float32; TFLite Micro refuses that model."""
    from protobrain.errors import UnsupportedError

    data = convert(keras_model([(4, 3)], lambda tf, x: tf.pad(x, [[0, 0], [1, 1], [0, 2]], constant_values=0.25)),
                   [(4, 3)], mode="16x8", key="padv2-16")
    with pytest.raises(UnsupportedError, match="pad value type float32"):
        _lower_only(data)


def test_refuses_ellipsis_mask():
    from protobrain.errors import UnsupportedError

    data = tiny_model([q((1, 6, 5)), i32([0, 1]), i32([0, 3]), i32([1, 1]), q((1, 6, 2))],
                      [("STRIDED_SLICE", [0, 1, 2, 3], [4], "StridedSliceOptions", {"ellipsis_mask": 1})],
                      [0], [4])
    with pytest.raises(UnsupportedError, match="ellipsis_mask"):
        _lower_only(data)
