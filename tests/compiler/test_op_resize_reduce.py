"""RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR, REDUCE_MAX, REDUCE_MIN, SUM, REDUCE_ALL / ANY
against TFLite Micro (and LiteRT's reference kernels where TFLite Micro has none).

Resize: Keras Resizing and UpSampling2D (bilinear), the v1 resize ops for align_corners and
the plain (neither option) forms, up- and downscales, odd sizes, sizes of 1, int8, 16x8
(nearest in TFLite Micro, bilinear int16 in LiteRT) and float32 models; hand-written models
for the cases the converter never makes (a size-1 output with align_corners).
Reduce: GlobalMaxPooling1D/2D, keras.ops.max/min/sum over one axis, several, negative and
all axes, keep_dims both ways, int8 / 16x8 / float32; hand-written models for duplicate
axes, unsorted axes, rank 5 and the bool reductions; refusals where TFLite refuses.
"""

import hashlib

import numpy as np
import pytest
from builders import BUILDER_VERSION, cache_root, convert
from conftest import RecordedReference, assert_bit_exact, check_model_bytes

from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model

N_RANDOM = 10


# ---- helpers (shared with test_op_argmax_cumsum_pool.py) ------------------------------------


def op_names(data: bytes) -> list[str]:
    return [op.name for op in read_model_bytes(data).operators]


def lambda_model(shapes, fn):
    """A Keras model applying fn(tf, keras, *inputs) in a Lambda layer."""

    def make():
        import keras
        import tensorflow as tf

        xs = [tf.keras.Input(s, batch_size=1) for s in shapes]
        y = tf.keras.layers.Lambda(lambda t: fn(tf, keras, *t))(xs)
        return tf.keras.Model(xs, y)

    return make


def layer_model(shape, make_layer):
    """A Keras model of one layer, make_layer(keras)."""

    def make():
        import keras
        import tensorflow as tf

        x = tf.keras.Input(shape, batch_size=1)
        return tf.keras.Model(x, make_layer(keras)(x))

    return make


def convert_float(make_model, key: str) -> bytes:
    """A float32 model (no quantization), cached on disk like builders.convert."""
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


class LiteRTReference:
    """LiteRT's reference kernels (BUILTIN_REF), the golden where TFLite Micro has no kernel."""

    def __init__(self, data: bytes):
        from ai_edge_litert import interpreter as litert

        self.interp = litert.Interpreter(model_content=data,
                                         experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
        self.interp.allocate_tensors()

    def run(self, *xs):
        for d, x in zip(self.interp.get_input_details(), xs):
            self.interp.set_tensor(d["index"], np.asarray(x).reshape(d["shape"]))
        self.interp.invoke()
        outs = [self.interp.get_tensor(d["index"]) for d in self.interp.get_output_details()]
        return outs[0] if len(outs) == 1 else outs


def check_litert(data: bytes, name: str, extra_inputs=()):
    """check_model_bytes with LiteRT's reference kernels as the golden (portable and DSP tiers)."""
    from protobrain.run.host import compile_bytes

    reference = RecordedReference(LiteRTReference(data))
    for tier in ("portable", "dsp"):
        assert_bit_exact(compile_bytes(data, name, tier=tier), reference, n_random=N_RANDOM,
                         extra_inputs=extra_inputs)


def check_with_cases(data: bytes, name: str, cases, litert: bool = False):
    """Both tiers against the golden on the given input cases only (types test_inputs lacks, bool)."""
    from protobrain.run.host import compile_bytes
    from protobrain.verify.compare import compare
    from protobrain.verify.reference import Reference

    reference = RecordedReference(LiteRTReference(data) if litert else Reference(data))
    for tier in ("portable", "dsp"):
        compiled = compile_bytes(data, name, tier=tier)
        result = compare(compiled.run, reference, cases, name)
        assert result.ok, f"{tier}: {result.mismatches[0]}"
        assert result.cases == len(cases)


def tiny_model(tensors: list[dict], ops: list[tuple], inputs: list[int], outputs: list[int]) -> bytes:
    """write_model with snake_case option fields: ops are (NAME, ins, outs, OptionsType, {field: value})."""

    def camel(field: str) -> str:
        return "".join(w.capitalize() for w in field.split("_"))

    written = [{**{k: v for k, v in t.items() if k != "dtype"}, "type": t["dtype"]} for t in tensors]
    return write_model(written, [(name, ins, outs, opt, {camel(f): v for f, v in (fields or {}).items()})
                                 for name, ins, outs, opt, fields in ops], inputs, outputs)


def act(shape, dtype="int8", scale=0.05, zp=0):
    """An activation tensor (quantized unless float32 or bool)."""
    if dtype in ("float32", "bool", "int32", "int64"):
        return {"shape": shape, "dtype": dtype}
    return {"shape": shape, "dtype": dtype, "scale": scale, "zp": zp}


def i32(values):
    values = np.asarray(values, dtype=np.int32)
    return {"shape": values.shape, "dtype": "int32", "data": values}


def lower_only(data: bytes):
    from protobrain.compiler.program import build_program

    return build_program(read_model_bytes(data, "m"))


def refuses(data: bytes, match: str):
    from protobrain.errors import UnsupportedError

    with pytest.raises(UnsupportedError, match=match):
        lower_only(data)


# ---- RESIZE -----------------------------------------------------------------------------------

RESIZE_KERAS = [
    # (key, input HWC, layer maker, op)
    ("up2-bil", (4, 5, 3), lambda k: k.layers.UpSampling2D(2, interpolation="bilinear"), "RESIZE_BILINEAR"),
    ("up3x2-bil", (3, 4, 2), lambda k: k.layers.UpSampling2D((3, 2), interpolation="bilinear"), "RESIZE_BILINEAR"),
    ("rs-bil-up", (4, 5, 3), lambda k: k.layers.Resizing(7, 9), "RESIZE_BILINEAR"),
    ("rs-bil-down", (9, 8, 2), lambda k: k.layers.Resizing(4, 3), "RESIZE_BILINEAR"),
    ("rs-bil-one", (5, 6, 2), lambda k: k.layers.Resizing(1, 6), "RESIZE_BILINEAR"),
    ("rs-nn-up", (4, 5, 3), lambda k: k.layers.Resizing(7, 9, interpolation="nearest"), "RESIZE_NEAREST_NEIGHBOR"),
    ("rs-nn-down", (9, 8, 2), lambda k: k.layers.Resizing(4, 3, interpolation="nearest"), "RESIZE_NEAREST_NEIGHBOR"),
    ("rs-nn-one", (5, 6, 2), lambda k: k.layers.Resizing(6, 1, interpolation="nearest"), "RESIZE_NEAREST_NEIGHBOR"),
]

RESIZE_V1 = [
    # (key, input HWC, (out h, out w), bilinear?, align_corners, half_pixel_centers)
    ("v1-bil-ac", (4, 5, 3), (7, 9), True, True, False),
    ("v1-bil-plain", (4, 5, 3), (7, 9), True, False, False),
    ("v1-bil-ac-down", (9, 7, 2), (4, 3), True, True, False),
    ("v1-bil-plain-down", (9, 7, 2), (5, 2), True, False, False),
    ("v1-bil-ac-one", (4, 5, 1), (1, 3), True, True, False),
    ("v1-nn-ac", (4, 5, 3), (7, 9), False, True, False),
    ("v1-nn-plain", (4, 5, 3), (7, 9), False, False, False),
    ("v1-nn-half", (4, 5, 3), (7, 9), False, False, True),
    ("v1-nn-ac-down", (9, 7, 2), (4, 3), False, True, False),
    ("v1-nn-plain-down", (9, 7, 2), (5, 2), False, False, False),
    ("v1-nn-ac-one", (4, 5, 1), (3, 1), False, True, False),
]


def _v1_resize(size, bilinear, align, half):
    def fn(tf, keras, x):
        if bilinear:
            return tf.compat.v1.image.resize_bilinear(x, size, align_corners=align, half_pixel_centers=half)
        return tf.compat.v1.image.resize_nearest_neighbor(x, size, align_corners=align, half_pixel_centers=half)

    return fn


def _resize_mode_check(data, op, mode, name):
    if mode == "16x8" and op == "RESIZE_BILINEAR":
        check_litert(data, name)  # TFLite Micro has no int16 bilinear kernel
    else:
        check_model_bytes(data, name, n_random=N_RANDOM)


@pytest.mark.parametrize("mode", ["int8", "16x8", "float"])
@pytest.mark.parametrize("key,shape,make_layer,op", RESIZE_KERAS, ids=[c[0] for c in RESIZE_KERAS])
def test_resize_keras_layers(key, shape, make_layer, op, mode):
    make = layer_model(shape, make_layer)
    data = convert_float(make, f"resize-{key}") if mode == "float" else \
        convert(make, [shape], mode=mode, key=f"resize-{key}")
    assert op_names(data) == [op]
    _resize_mode_check(data, op, mode, "resize")


@pytest.mark.parametrize("mode", ["int8", "16x8", "float"])
@pytest.mark.parametrize("key,shape,size,bilinear,align,half", RESIZE_V1, ids=[c[0] for c in RESIZE_V1])
def test_resize_options(key, shape, size, bilinear, align, half, mode):
    make = lambda_model([shape], _v1_resize(size, bilinear, align, half))
    data = convert_float(make, f"resize-{key}") if mode == "float" else \
        convert(make, [shape], mode=mode, key=f"resize-{key}")
    op = "RESIZE_BILINEAR" if bilinear else "RESIZE_NEAREST_NEIGHBOR"
    g = read_model_bytes(data)
    assert [o.name for o in g.operators] == [op]
    options = g.operators[0].options
    assert (options["align_corners"], options["half_pixel_centers"]) == (align, half)
    _resize_mode_check(data, op, mode, "resizeopt")


def _resize_model(op, dtype, in_shape, size, align=False, half=False, scale_out=0.05, zp_out=0):
    opts = "ResizeBilinearOptions" if op == "RESIZE_BILINEAR" else "ResizeNearestNeighborOptions"
    out_shape = (in_shape[0], size[0], size[1], in_shape[3])
    return tiny_model([act(in_shape, dtype), i32(size), act(out_shape, dtype, scale_out, zp_out)],
                      [(op, [0, 1], [2], opts, {"align_corners": align, "half_pixel_centers": half})], [0], [2])


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("half", [False, True])
def test_bilinear_written_shapes(dtype, half):
    """Batches of 2, a 1x1 input, and a 1-row output, which the converter does not make."""
    for k, (shape, size) in enumerate([((2, 3, 4, 3), (5, 7)), ((1, 1, 1, 4), (3, 2)), ((2, 5, 4, 1), (1, 9))]):
        data = _resize_model("RESIZE_BILINEAR", dtype, shape, size, half=half)
        check_model_bytes(data, f"bilw{k}", n_random=N_RANDOM)


@pytest.mark.parametrize("dtype", ["int8", "int16", "float32"])
def test_nearest_copies_raw_values_across_scales(dtype):
    """Nearest neighbour copies elements as they are, even when the output's scale differs."""
    data = _resize_model("RESIZE_NEAREST_NEIGHBOR", dtype, (2, 3, 5, 2), (6, 4), align=True,
                         scale_out=0.2, zp_out=7)
    check_model_bytes(data, "nnraw", n_random=N_RANDOM)


def test_resize_refusals():
    refuses(_resize_model("RESIZE_BILINEAR", "int8", (1, 3, 3, 1), (5, 5), align=True, half=True),
            "half_pixel_centers with align_corners")
    # The rounded-up fixed-point scale makes TFLite read past the input.
    refuses(_resize_model("RESIZE_BILINEAR", "int8", (1, 3, 1, 1), (2000, 1)), "reads past the input")
    refuses(_resize_model("RESIZE_BILINEAR", "int32", (1, 3, 3, 1), (5, 5)), "type int32")
    refuses(_resize_model("RESIZE_NEAREST_NEIGHBOR", "int32", (1, 3, 3, 1), (5, 5)), "type int32")
    bad_size = tiny_model([act((1, 3, 3, 1)), i32([5, 5]), act((1, 4, 5, 1))],
                          [("RESIZE_BILINEAR", [0, 1], [2], "ResizeBilinearOptions", {})], [0], [2])
    refuses(bad_size, "output shape")


# ---- REDUCE_MAX / REDUCE_MIN / SUM --------------------------------------------------------------

REDUCE_KERAS = [
    # (key, input shape, fn(tf, keras, x), op)
    ("max-1", (4, 5, 3), lambda tf, k, x: k.ops.max(x, axis=1), "REDUCE_MAX"),
    ("max-neg-keep", (4, 5, 3), lambda tf, k, x: k.ops.max(x, axis=-1, keepdims=True), "REDUCE_MAX"),
    ("max-02", (4, 5, 3), lambda tf, k, x: k.ops.max(x, axis=(1, 3)), "REDUCE_MAX"),
    ("max-all", (4, 5, 3), lambda tf, k, x: k.ops.max(x), "REDUCE_MAX"),
    ("min-1", (4, 5, 3), lambda tf, k, x: k.ops.min(x, axis=2), "REDUCE_MIN"),
    ("min-neg-keep", (4, 5, 3), lambda tf, k, x: k.ops.min(x, axis=(-1, -3), keepdims=True), "REDUCE_MIN"),
    ("min-all-keep", (6, 7), lambda tf, k, x: k.ops.min(x, keepdims=True), "REDUCE_MIN"),
    ("sum-1", (4, 5, 3), lambda tf, k, x: k.ops.sum(x, axis=1), "SUM"),
    ("sum-neg-keep", (4, 5, 3), lambda tf, k, x: k.ops.sum(x, axis=-1, keepdims=True), "SUM"),
    ("sum-12", (4, 5, 3), lambda tf, k, x: k.ops.sum(x, axis=(1, 2)), "SUM"),
    ("sum-13-keep", (4, 5, 3), lambda tf, k, x: k.ops.sum(x, axis=(1, 3), keepdims=True), "SUM"),
    ("sum-long", (64, 2), lambda tf, k, x: k.ops.sum(x, axis=1), "SUM"),
]


@pytest.mark.parametrize("mode", ["int8", "16x8", "float"])
@pytest.mark.parametrize("key,shape,fn,op", REDUCE_KERAS, ids=[c[0] for c in REDUCE_KERAS])
def test_reduce_keras_ops(key, shape, fn, op, mode):
    make = lambda_model([shape], fn)
    data = convert_float(make, f"reduce-{key}") if mode == "float" else \
        convert(make, [shape], mode=mode, key=f"reduce-{key}")
    assert op_names(data) == [op]
    if mode == "16x8" and op != "SUM":
        check_litert(data, "reduce")  # TFLite Micro has no int16 REDUCE_MAX / REDUCE_MIN
    else:
        check_model_bytes(data, "reduce", n_random=N_RANDOM)


@pytest.mark.parametrize("mode", ["int8", "16x8", "float"])
@pytest.mark.parametrize("kind", ["1d", "2d", "2d-keep"])
def test_global_max_pooling(kind, mode):
    shape = (9, 4) if kind == "1d" else (5, 6, 3)

    def make_layer(k):
        if kind == "1d":
            return k.layers.GlobalMaxPooling1D()
        return k.layers.GlobalMaxPooling2D(keepdims=kind == "2d-keep")

    make = layer_model(shape, make_layer)
    data = convert_float(make, f"gmax-{kind}") if mode == "float" else \
        convert(make, [shape], mode=mode, key=f"gmax-{kind}")
    assert op_names(data) == ["REDUCE_MAX"]
    if mode == "16x8":
        check_litert(data, "gmax")
    else:
        check_model_bytes(data, "gmax", n_random=N_RANDOM)


def _reduce_model(op, dtype, in_shape, axes, out_shape, keep=False, scale_out=0.05, zp_out=0, zp_in=0):
    return tiny_model([act(in_shape, dtype, zp=zp_in), i32(axes), act(out_shape, dtype, scale_out, zp_out)],
                      [(op, [0, 1], [2], "ReducerOptions", {"keep_dims": keep})], [0], [2])


WRITTEN = [
    # (input shape, axes, output shape, keep_dims)
    ((2, 3, 4), [1, -2], (2, 4), False),  # the same axis twice
    ((2, 3, 4), [2, 0], (3,), False),  # axes out of order
    ((2, 3, 4, 2, 3), [0, 2, 4], (1, 3, 1, 2, 1), True),  # rank 5, three reduced groups
    ((2, 3, 4, 2, 3), [1, 3], (2, 4, 3), False),
    ((7,), [0], (), False),  # to a scalar
]


@pytest.mark.parametrize("op", ["REDUCE_MAX", "REDUCE_MIN", "SUM"])
@pytest.mark.parametrize("dtype", ["int8", "int16", "float32"])
@pytest.mark.parametrize("case", range(len(WRITTEN)))
def test_reduce_written_axes(op, dtype, case):
    in_shape, axes, out_shape, keep = WRITTEN[case]
    scale_out, zp = (0.2, 3) if op == "SUM" else (0.05, 0)
    data = _reduce_model(op, dtype, in_shape, axes, out_shape, keep, scale_out=scale_out, zp_out=zp, zp_in=zp)
    if dtype == "int16" and op != "SUM":
        check_litert(data, "reducew")
    else:
        check_model_bytes(data, "reducew", n_random=N_RANDOM)


def test_float_max_min_nan_and_infinity():
    """NaN never wins a float MAX / MIN (a row of NaNs gives the start value), infinities do."""
    nan, inf = float("nan"), float("inf")
    rows = np.array([[nan, 1.0, -2.0, nan], [nan, nan, nan, nan], [-inf, -inf, -inf, -inf], [0.0, -0.0, inf, 3.0],
                     [-0.0, 0.0, -inf, -1.0]], np.float32)
    for op in ("REDUCE_MAX", "REDUCE_MIN", "SUM"):
        data = _reduce_model(op, "float32", (5, 4), [1], (5,))
        from protobrain.run.host import compile_bytes
        from protobrain.verify.reference import Reference

        assert_bit_exact(compile_bytes(data, "fnan"), Reference(data), n_random=2, extra_inputs=[rows])


BOOL_OPS = ["REDUCE_ALL", "REDUCE_ANY"]


def _tflm_registers(op: str) -> bool:
    """Whether TFLite Micro itself runs a bool reduction (no fallback to another golden)."""
    from tflite_micro.python.tflite_micro import runtime

    try:
        runtime.Interpreter.from_bytes(_reduce_model(op, "bool", (2, 3), [1], (2,)))
    except Exception:  # the interpreter names no error type for an unregistered operator
        return False
    return True


@pytest.mark.parametrize("op", BOOL_OPS)
@pytest.mark.parametrize("case", range(len(WRITTEN)))
def test_bool_reductions(op, case):
    in_shape, axes, out_shape, keep = WRITTEN[case]
    data = _reduce_model(op, "bool", in_shape, axes, out_shape, keep)
    rng = np.random.default_rng(case)
    cases = [(rng.random(in_shape) < p,) for p in (0.2, 0.5, 0.8, 0.95)]
    cases += [(np.zeros(in_shape, bool),), (np.ones(in_shape, bool),)]
    check_with_cases(data, "reduceb", cases, litert=not _tflm_registers(op))


def test_reduce_all_is_tflm_and_any_is_litert():
    """Which golden the bool reductions use: TFLite Micro registers REDUCE_ALL only."""
    assert _tflm_registers("REDUCE_ALL")
    assert not _tflm_registers("REDUCE_ANY")


def test_reduce_refusals():
    # MAX / MIN compare raw integers: TFLite refuses other output quantization
    refuses(_reduce_model("REDUCE_MAX", "int8", (2, 3), [1], (2,), scale_out=0.1), "quantization differ")
    refuses(_reduce_model("REDUCE_MIN", "int16", (2, 3), [1], (2,), zp_out=4), "quantization differ")
    refuses(_reduce_model("REDUCE_MAX", "int32", (2, 3), [1], (2,)), "type int32")
    refuses(_reduce_model("SUM", "int32", (2, 3), [1], (2,)), "type int32")
    refuses(_reduce_model("REDUCE_ALL", "int8", (2, 3), [1], (2,)), "type int8")
    refuses(_reduce_model("SUM", "int8", (2, 3), [5], (2,)), "axis 5 out of range")
    refuses(_reduce_model("SUM", "int8", (2, 3), [1], (3,)), "does not match the reduction")
    non_const_axis = tiny_model([act((2, 3)), {"shape": (1,), "dtype": "int32"}, act((2,))],
                                [("SUM", [0, 1], [2], "ReducerOptions", {"keep_dims": False})], [0, 1], [2])
    refuses(non_const_axis, "non-constant axis")
