"""TILE against its golden: LiteRT's reference kernel, since TFLite Micro has no TILE kernel
(the reference falls back to LiteRT by itself, and each test asserts that it did).

Keras U-Net-like models with UpSampling2D(interpolation="nearest") (RESHAPE + TILE per
spatial axis) in int8, 16x8 and float32; hand-written models for every element type with
int32 and int64 multiples, ranks 1 to 8 (past pb_move's six loops the copy is cut into
several boxes), zero and unit multiples; refusals.

BROADCAST_ARGS (its run-time kernel is in pb_tile) against TFLite Micro: int32 and int64
shapes at run time or one constant, on given shape pairs only (shapes that do not broadcast
abort TFLite Micro), int64 dimensions past 32 bits.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from builders import BUILDER_VERSION, cache_root, convert
from conftest import RecordedReference, assert_bit_exact

from protobrain.compiler.ops.tile import tile_boxes
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model
from protobrain.errors import UnsupportedError
from protobrain.run.host import compile_bytes
from protobrain.verify.reference import Reference

N_RANDOM = 6


def op_names(data: bytes) -> list[str]:
    return [op.name for op in read_model_bytes(data).operators]


def check_litert(data: bytes, name: str, extra=()) -> int:
    """Both kernel tiers against the reference, which must have fallen back to LiteRT for TILE."""
    ref = Reference(data)
    assert ref.golden == "litert" and ref.missing_kernels == ["TILE"]
    reference = RecordedReference(ref)
    cases = 0
    for tier in ("portable", "dsp"):
        cases = assert_bit_exact(compile_bytes(data, name, tier=tier), reference, n_random=N_RANDOM,
                                 extra_inputs=extra)
    return cases


def convert_float(make_model, key: str) -> bytes:
    digest = hashlib.sha256(f"{BUILDER_VERSION}|float|{key}".encode()).hexdigest()[:20]
    path = cache_root() / f"{digest}.tflite"
    if path.exists():
        return path.read_bytes()
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    data = tf.lite.TFLiteConverter.from_keras_model(make_model()).convert()
    path.with_suffix(".tmp").write_bytes(data)
    path.with_suffix(".tmp").replace(path)
    return data


# ---- Keras UpSampling2D -------------------------------------------------------------------


def unet(size=(2, 2), shape=(8, 8, 3), conv=True):
    """A small U-Net: two conv levels, max-pool down, UpSampling2D (nearest) up, a skip
    concatenation and a 1x1 head. conv=False: the same skeleton without convolutions (the
    float32 form, whose convolutions are not what this file tests)."""

    def make():
        import tensorflow as tf

        L = tf.keras.layers
        x = tf.keras.Input(shape, batch_size=1)
        e1 = L.Conv2D(4, 3, padding="same", activation="relu")(x) if conv else L.Activation("relu")(x)
        d = L.MaxPooling2D(size)(e1)
        d = L.Conv2D(6, 3, padding="same", activation="relu")(d) if conv else L.Activation("tanh")(d)
        u = L.UpSampling2D(size, interpolation="nearest")(d)
        y = L.Concatenate()([u, e1])
        if not conv:
            return tf.keras.Model(x, L.Add()([y, L.Concatenate()([x, x])]))
        y = L.Conv2D(4, 3, padding="same", activation="relu")(y)
        return tf.keras.Model(x, L.Conv2D(2, 1)(y))

    return make


@pytest.mark.parametrize("mode", ["int8", "16x8", "float"])
@pytest.mark.parametrize("size", [(2, 2), (2, 3), (1, 2)])
def test_unet_upsampling(mode, size):
    shape = (2 * size[0] * 2, 3 * size[1], 3)
    key = f"tile-unet-{size}-{shape}"
    if mode == "float":
        data = convert_float(unet(size, shape, conv=False), key + "-noconv")
    else:
        data = convert(unet(size, shape), [shape], mode=mode, key=key)
    names = op_names(data)
    # One TILE per axis that is upsampled (an axis of 1 needs no TILE).
    assert names.count("TILE") == sum(1 for s in size if s > 1), names
    check_litert(data, f"unet_{mode}_{size[0]}x{size[1]}")


def test_upsampling_alone_16x8_edges():
    """UpSampling2D right at the int16 input: the extremes copy unchanged."""

    def make():
        import tensorflow as tf

        x = tf.keras.Input((3, 5, 2), batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.UpSampling2D((3, 2), interpolation="nearest")(x))

    data = convert(make, [(3, 5, 2)], mode="16x8", key="tile-up-alone")
    assert op_names(data).count("TILE") == 2
    ramp = np.arange(-32768, 32768, 2185, dtype=np.int16)[:30].reshape(1, 3, 5, 2)
    check_litert(data, "up16", extra=[ramp])


# ---- hand-written: types, ranks, multiples ------------------------------------------------

QUANTIZED = ("int8", "uint8", "int16")


def tile_model(dtype, in_shape, multiples, mult_dtype="int32", out_shape=None, const=True, out_dtype=None) -> bytes:
    q = {"scale": 0.1, "zp": 1} if dtype in QUANTIZED else {}
    out_shape = out_shape if out_shape is not None else [d * m for d, m in zip(in_shape, multiples)]
    mult = {"shape": [len(multiples)], "type": mult_dtype}
    if const:
        mult["data"] = np.asarray(multiples, mult_dtype)
    tensors = [{"shape": list(in_shape), "type": dtype, **q}, mult,
               {"shape": list(out_shape), "type": out_dtype or dtype, **q}]
    inputs = [0] if const else [0, 1]
    return write_model(tensors, [("TILE", [0, 1], [2], None, {})], inputs, [2])


TYPES = ["int8", "uint8", "int16", "int32", "int64", "float32", "bool"]


@pytest.mark.parametrize("dtype", TYPES)
@pytest.mark.parametrize("mult_dtype", ["int32", "int64"])
def test_types(dtype, mult_dtype):
    data = tile_model(dtype, (2, 3, 4), (2, 1, 3), mult_dtype)
    assert op_names(data) == ["TILE"]
    check_litert(data, f"tile_{dtype}_{mult_dtype}")


SHAPES = [
    ((5,), (3,)),
    ((4,), (1,)),  # a plain copy
    ((3, 1), (1, 4)),
    ((1, 2, 1, 3), (2, 1, 3, 1)),
    ((2, 3), (0, 2)),  # an empty output
    ((2, 2, 2, 2, 2), (2, 1, 2, 1, 2)),
    ((2, 1, 2, 1, 2, 2), (1, 3, 1, 2, 2, 1)),
    ((2, 2, 2, 2, 2, 2), (2, 2, 2, 2, 2, 2)),  # twelve loops: cut into several boxes
    ((1, 2, 1, 2, 1, 2, 1, 2), (2, 1, 2, 1, 2, 1, 2, 1)),  # rank 8
]


@pytest.mark.parametrize("case", range(len(SHAPES)))
def test_shapes(case):
    in_shape, multiples = SHAPES[case]
    for dtype in ("int8", "float32"):
        data = tile_model(dtype, in_shape, multiples)
        check_litert(data, f"tile_shape{case}_{dtype}")


def test_boxes_are_cut_past_six_loops():
    """The copy of a 2^6 tile of a 2^6 input needs 12 loops: cut, the boxes write every
    output element exactly once."""
    shape, mult = [2] * 6, [2] * 6
    boxes = tile_boxes(shape, mult)
    assert len(boxes) > 1
    x = np.arange(64).reshape(shape)
    out = np.full(4096, -1)
    for b in boxes:
        m = b.merged()
        for idx in np.ndindex(*m.count):
            out[m.dst_base + np.dot(idx, m.dst_step)] = x.reshape(-1)[m.src_base + np.dot(idx, m.src_step)]
    assert np.array_equal(out.reshape([4] * 6), np.tile(x, mult))


def test_upsampling_is_few_boxes():
    """UpSampling2D's TILE is one box whose inner loop is a whole pixel's channels."""
    (box,) = tile_boxes([1, 4, 1, 5, 3], [1, 1, 2, 1, 1])
    m = box.merged()
    assert m.count[-1] == 15 and m.src_step[-1] == 1 and m.dst_step[-1] == 1


# ---- refusals ---------------------------------------------------------------------------


def refused(data: bytes, reason: str) -> None:
    with pytest.raises(UnsupportedError, match=reason):
        build_program(read_model_bytes(data, "m"))


def test_refusals():
    refused(tile_model("int8", (2, 3), (2, 1), const=False), "non-constant multiples")
    refused(tile_model("int8", (2, 3), (2, -1), out_shape=[4, 3]), "negative multiples")
    refused(tile_model("int8", (2, 3), (2, 2), out_shape=[4, 3]), r"output shape \(4, 3\)")
    refused(tile_model("int8", (2, 3), (2, 2, 1), out_shape=[4, 6]), "3 multiples for an input of rank 2")
    refused(tile_model("int8", (2, 3), (2, 1), out_dtype="int16"), "differs from output type")
    refused(tile_model("int8", (2, 3), (2, 1), mult_dtype="int16"), "multiples type int16")
    refused(tile_model("float32", (1,) * 9, (2,) * 9), "rank 9")


# ---- BROADCAST_ARGS (kernel in pb_tile; TFLite Micro's kernel is the golden) --------------


def broadcast_args_model(dtype, size_a, size_b, size_out, const_a=None, const_b=None, out_dtype=None) -> bytes:
    tensors = [{"shape": [size_a], "type": dtype}, {"shape": [size_b], "type": dtype},
               {"shape": [size_out], "type": out_dtype or dtype}]
    for k, c in ((0, const_a), (1, const_b)):
        if c is not None:
            tensors[k]["data"] = np.asarray(c, dtype)
    inputs = [k for k, c in ((0, const_a), (1, const_b)) if c is None]
    return write_model(tensors, [("BROADCAST_ARGS", [0, 1], [2], None, {})], inputs, [2])


def check_cases(data: bytes, name: str, cases) -> None:
    """Both tiers against TFLite Micro on the given cases only: shapes that do not
    broadcast abort TFLite Micro's process, so no random inputs."""
    from protobrain.verify.compare import compare

    ref = Reference(data)
    assert ref.golden == "tflm"
    reference = RecordedReference(ref)
    for tier in ("portable", "dsp"):
        result = compare(compile_bytes(data, name, tier=tier).run, reference, cases, name)
        assert result.ok, f"{tier}: {result.mismatches[0]}"
        assert result.cases == len(cases)


BIG = 2**32 + 3  # an int64 dimension TFLite Micro reads as 3 (its low 32 bits)
PAIRS = [  # (a, b): every dimension equal, or one of them 1
    ([2, 1, 3], [4, 1]),
    ([1], [5, 6, 7]),
    ([5, 6, 7], [1]),
    ([1, 1], [1, 1]),
    ([0, 4], [1, 4]),
    ([3, 1, 0], [1]),
    ([-1, 2], [1, 2]),
    ([1, 7], [-3, 1]),
]


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_broadcast_args_runtime_shapes(dtype):
    for size_a, size_b in ((3, 2), (1, 3), (3, 1), (2, 2)):
        cases = [(np.asarray(a, dtype), np.asarray(b, dtype)) for a, b in PAIRS
                 if len(a) == size_a and len(b) == size_b]
        if dtype == "int64" and (size_a, size_b) == (2, 2):
            cases += [(np.asarray([BIG, 1], dtype), np.asarray([3, 2**32 + 1], dtype)),
                      (np.asarray([2**33, -(2**32) + 5], dtype), np.asarray([1, 5], dtype))]
        assert cases
        for size_out in {max(size_a, size_b), max(size_a, size_b) + 2, 1}:
            data = broadcast_args_model(dtype, size_a, size_b, size_out)
            assert op_names(data) == ["BROADCAST_ARGS"]
            check_cases(data, f"bargs_{dtype}_{size_a}{size_b}{size_out}", cases)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_broadcast_args_one_constant_shape(dtype):
    a_const = broadcast_args_model(dtype, 2, 3, 3, const_a=[4, 1])
    check_cases(a_const, "bargs_ca", [(np.asarray(b, dtype),) for b in ([1, 1, 1], [9, 1, 1], [2, 4, 7], [5, 4, 0])])
    b_const = broadcast_args_model(dtype, 3, 2, 3, const_b=[1, 6])
    check_cases(b_const, "bargs_cb", [(np.asarray(a, dtype),) for a in ([1, 1, 1], [2, 3, 6], [8, 7, 1], [0, 0, 1])])


def test_broadcast_args_constant_shapes_are_folded():
    program = build_program(read_model_bytes(broadcast_args_model("int32", 2, 3, 3, [4, 1], [2, 1, 5]), "m"))
    assert not any(getattr(s.call, "function", "").startswith("pb_broadcast_args") for s in program.steps)


def test_broadcast_args_refusals():
    refused(broadcast_args_model("int16", 2, 2, 2), "type int16")
    refused(broadcast_args_model("int32", 2, 2, 2, out_dtype="int64"), "differ")
    refused(broadcast_args_model("int32", 2, 2, 2, [-1, 2], [3, 2]), "both shapes constant")
    two_d = write_model([{"shape": [1, 2], "type": "int32"}, {"shape": [2], "type": "int32"}, {"shape": [2], "type": "int32"}],
                        [("BROADCAST_ARGS", [0, 1], [2], None, {})], [0, 1], [2])
    refused(two_d, "first shape of rank 2")
