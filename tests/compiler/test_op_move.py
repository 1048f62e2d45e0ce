"""Data-movement operators (pb_move) against TFLite Micro: TRANSPOSE, SLICE, SPLIT, SPLIT_V,
PACK, UNPACK, BROADCAST_TO, DEPTH_TO_SPACE, SPACE_TO_DEPTH, MIRROR_PAD, REVERSE_V2.

Real converter output where the converter writes the operator (int8, 16x8 and float32),
hand-written models (compiler.writer) for the types and options it never writes. Each case
asserts the operator is in the model. Gathers, space-to-batch and the rest: test_op_move_index.py.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from builders import BUILDER_VERSION, cache_root, convert
from conftest import check_model_bytes

from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model
from protobrain.errors import UnsupportedError
from protobrain.run.host import compile_bytes
from protobrain.verify.reference import Reference

N = 8  # random inputs per case, besides the three edge inputs


def op_names(data: bytes) -> list[str]:
    return [op.name for op in read_model_bytes(data).operators]


def lambda_model(shapes, fn, n_out=1):
    def make():
        import tensorflow as tf

        xs = [tf.keras.Input(s, batch_size=1) for s in shapes]
        ys = tf.keras.layers.Lambda(lambda t: fn(tf, *t))(xs)
        return tf.keras.Model(xs, ys)

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
    path.with_suffix(".tmp").write_bytes(data)
    path.with_suffix(".tmp").replace(path)
    return data


def converted(key, shapes, fn, mode):
    if mode == "float":
        return convert_float(lambda_model(shapes, fn), key)
    return convert(lambda_model(shapes, fn), shapes, mode=mode, key=key)


def run_case(key, shapes, fn, mode, expect):
    data = converted(key, shapes, fn, mode)
    assert expect in op_names(data), f"the converter wrote {op_names(data)}, not {expect}"
    check_model_bytes(data, key.replace("-", "_"), n_random=N)


def t(shape, dtype="int8", scale=0.05, zp=0, data=None):
    quant = {"scale": scale, "zp": zp} if dtype in ("int8", "int16") else {}
    return {"shape": tuple(shape), "type": dtype, "data": data, **quant}


def c(values, dtype="int32"):
    a = np.asarray(values, dtype={"int32": np.int32, "int64": np.int64}[dtype])
    return {"shape": a.shape, "type": dtype, "data": a}


def lower(data: bytes):
    return build_program(read_model_bytes(data, "m"))


def check_cases(data: bytes, name: str, cases, golden=None):
    """Given input cases (tuples of arrays), every output byte against TFLite Micro, or
    against `golden(*xs)` (LiteRT, numpy) where TFLite Micro has no kernel."""
    compiled = compile_bytes(data, name)
    reference = Reference(data) if golden is None else None
    for xs in cases:
        got = compiled.run(*xs)
        want = reference.run(*xs) if golden is None else golden(*xs)
        got, want = (got, want) if isinstance(got, list) else ([got], [want])
        assert len(got) == len(want)
        for k, (a, b) in enumerate(zip(got, want)):
            b = np.asarray(b)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), f"output {k}: {a} vs {b}"


def litert(data: bytes):
    """LiteRT's reference kernels, for operators TFLite Micro has no kernel for."""
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_content=data,
                                 experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()

    def run(*xs):
        for d, x in zip(interp.get_input_details(), xs):
            interp.set_tensor(d["index"], x)
        interp.invoke()
        outs = [interp.get_tensor(d["index"]) for d in interp.get_output_details()]
        return outs[0] if len(outs) == 1 else outs

    return run


def randoms(shape, dtype, n=6, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return [rng.integers(0, 2, size=shape).astype(np.bool_) for _ in range(n)]
    if dtype == "float32":
        return [rng.uniform(-2, 2, size=shape).astype(np.float32) for _ in range(n)]
    info = np.iinfo(dtype)
    return [rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype) for _ in range(n)]


# ---- TRANSPOSE ------------------------------------------------------------------------------

TRANSPOSES = [
    ("tr-permute", [(4, 5, 3)], lambda tf, x: tf.transpose(x, [0, 2, 1, 3]), "int8"),
    ("tr-chlast", [(4, 5, 3)], lambda tf, x: tf.transpose(x, [0, 3, 1, 2]), "int8"),
    ("tr-2d", [(7, 3)], lambda tf, x: tf.transpose(x, [0, 2, 1]), "int8"),
    ("tr-5d", [(2, 3, 2, 4)], lambda tf, x: tf.transpose(x, [0, 4, 2, 1, 3]), "int8"),
    ("tr-16", [(4, 5, 3)], lambda tf, x: tf.transpose(x, [0, 3, 2, 1]), "16x8"),
    ("tr-5d-16", [(2, 3, 2, 4)], lambda tf, x: tf.transpose(x, [0, 3, 1, 4, 2]), "16x8"),
    ("tr-f", [(4, 5, 3)], lambda tf, x: tf.transpose(x, [0, 2, 3, 1]), "float"),
]


@pytest.mark.parametrize("key,shapes,fn,mode", TRANSPOSES, ids=[c[0] for c in TRANSPOSES])
def test_transpose(key, shapes, fn, mode):
    run_case(key, shapes, fn, mode, "TRANSPOSE")


@pytest.mark.parametrize("dtype", ["int8", "int16", "float32"])
def test_transpose_6d_against_numpy(dtype):
    """TFLite Micro transposes up to 5-D; 6-D is checked against numpy's transpose."""
    shape, perm = (2, 1, 3, 2, 2, 3), [5, 2, 0, 4, 1, 3]
    out = tuple(shape[p] for p in perm)
    data = write_model([t(shape, dtype), c(perm), t(out, dtype)], [("TRANSPOSE", [0, 1], [2], None, {})], [0], [2])
    check_cases(data, "tr6", [(x,) for x in randoms(shape, dtype)], golden=lambda x: np.transpose(x, perm))


# ---- SLICE ----------------------------------------------------------------------------------

SLICES = [
    ("sl-a", [(6, 5, 4)], lambda tf, x: tf.slice(x, [0, 1, 2, 1], [1, 3, -1, 2]), "int8"),
    ("sl-b", [(6, 5)], lambda tf, x: tf.slice(x, [0, 4, 0], [1, 2, 5]), "int8"),
    ("sl-16", [(6, 5, 4)], lambda tf, x: tf.slice(x, [0, 2, 0, 1], [1, -1, 3, 3]), "16x8"),
    ("sl-f", [(6, 5, 4)], lambda tf, x: tf.slice(x, [0, 1, 1, 0], [1, 4, 2, 4]), "float"),
]


@pytest.mark.parametrize("key,shapes,fn,mode", SLICES, ids=[c[0] for c in SLICES])
def test_slice(key, shapes, fn, mode):
    run_case(key, shapes, fn, mode, "SLICE")


@pytest.mark.parametrize("dtype,index", [("int32", "int32"), ("bool", "int64"), ("int8", "int64")])
def test_slice_written_directly(dtype, index):
    data = write_model([t((2, 5, 3), dtype), c([1, 1, 0], index), c([1, 3, -1], index), t((1, 3, 3), dtype)],
                       [("SLICE", [0, 1, 2], [3], None, {})], [0], [3])
    check_cases(data, "slw", [(x,) for x in randoms((2, 5, 3), dtype)])


@pytest.mark.parametrize("dtype", ["int32", "bool"])
def test_strided_slice_of_int32_and_bool(dtype):
    data = write_model([t((3, 6), dtype), c([2, 5]), c([-4, 0]), c([-1, -2]), t((3, 3), dtype)],
                       [("STRIDED_SLICE", [0, 1, 2, 3], [4], "StridedSliceOptions", {})], [0], [4])
    check_cases(data, "ssb", [(x,) for x in randoms((3, 6), dtype)])


# ---- SPLIT and SPLIT_V ---------------------------------------------------------------------

SPLITS = [
    ("sp-last", [(4, 6)], lambda tf, x: tf.split(x, 3, axis=-1), "int8", "SPLIT"),
    ("sp-ax1", [(4, 3, 2)], lambda tf, x: tf.split(x, 2, axis=1), "int8", "SPLIT"),
    ("sp-16", [(4, 6)], lambda tf, x: tf.split(x, 2, axis=2), "16x8", "SPLIT"),
    ("sp-f", [(6, 2)], lambda tf, x: tf.split(x, 3, axis=1), "float", "SPLIT"),
    ("spv-a", [(4, 6)], lambda tf, x: tf.split(x, [1, 3, 2], axis=-1), "int8", "SPLIT_V"),
    ("spv-b", [(5, 3, 2)], lambda tf, x: tf.split(x, [3, -1], axis=1), "int8", "SPLIT_V"),
    ("spv-16", [(4, 6)], lambda tf, x: tf.split(x, [4, 2], axis=2), "16x8", "SPLIT_V"),
    ("spv-f", [(7, 2)], lambda tf, x: tf.split(x, [2, 5], axis=1), "float", "SPLIT_V"),
]


@pytest.mark.parametrize("key,shapes,fn,mode,expect", SPLITS, ids=[c[0] for c in SPLITS])
def test_split(key, shapes, fn, mode, expect):
    run_case(key, shapes, fn, mode, expect)


def test_split_int32_written_directly():
    data = write_model([c(-1), t((2, 6), "int32"), t((2, 3), "int32"), t((2, 3), "int32")],
                       [("SPLIT", [0, 1], [2, 3], "SplitOptions", {"NumSplits": 2})], [1], [2, 3])
    check_model_bytes(data, "sp32", n_random=N)
    data = write_model([t((5, 2), "int32"), c([1, -1, 2]), c(0), t((1, 2), "int32"), t((2, 2), "int32"),
                        t((2, 2), "int32")], [("SPLIT_V", [0, 1, 2], [3, 4, 5], "SplitVOptions", {"NumSplits": 3})],
                       [0], [3, 4, 5])
    check_model_bytes(data, "spv32", n_random=N)


# ---- PACK and UNPACK ------------------------------------------------------------------------

PACKS = [
    ("pk-ax1", [(4, 3), (4, 3)], lambda tf, a, b: tf.stack([a, b], axis=1), "int8", "PACK"),
    ("pk-last", [(4, 3), (4, 3), (4, 3)], lambda tf, a, b, d: tf.stack([a, b, d], axis=-1), "int8", "PACK"),
    ("pk-16", [(2, 3), (2, 3)], lambda tf, a, b: tf.stack([a, b], axis=2), "16x8", "PACK"),
    ("pk-f", [(5,), (5,)], lambda tf, a, b: tf.stack([a, b], axis=1), "float", "PACK"),
    ("up-ax1", [(3, 4)], lambda tf, x: tf.unstack(x, axis=1), "int8", "UNPACK"),
    ("up-last", [(3, 4, 2)], lambda tf, x: tf.unstack(x, axis=-1), "int8", "UNPACK"),
    ("up-16", [(3, 4)], lambda tf, x: tf.unstack(x, axis=2), "16x8", "UNPACK"),
    ("up-f", [(3, 4)], lambda tf, x: tf.unstack(x, axis=1), "float", "UNPACK"),
]


@pytest.mark.parametrize("key,shapes,fn,mode,expect", PACKS, ids=[c[0] for c in PACKS])
def test_pack_unpack(key, shapes, fn, mode, expect):
    run_case(key, shapes, fn, mode, expect)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_pack_with_a_constant_input(dtype):
    """A constant among the packed values comes from flash."""
    const = {"shape": (2, 3), "type": dtype, "data": np.arange(6).reshape(2, 3).astype(dtype)}
    data = write_model([t((2, 3), dtype), const, t((2, 3), dtype), t((2, 3, 3), dtype)],
                       [("PACK", [0, 1, 2], [3], "PackOptions", {"ValuesCount": 3, "Axis": 2})], [0, 2], [3])
    check_model_bytes(data, "pkc", n_random=N)


def test_unpack_int32_written_directly():
    data = write_model([t((2, 3, 2), "int32"), t((2, 2), "int32"), t((2, 2), "int32"), t((2, 2), "int32")],
                       [("UNPACK", [0], [1, 2, 3], "UnpackOptions", {"Num": 3, "Axis": 1})], [0], [1, 2, 3])
    check_model_bytes(data, "up32", n_random=N)


# ---- BROADCAST_TO, DEPTH_TO_SPACE, SPACE_TO_DEPTH, MIRROR_PAD, REVERSE_V2 ------------------

BROADCASTS = [
    ("bt-a", [(1, 4, 1)], lambda tf, x: tf.broadcast_to(x, (1, 3, 4, 5)), "int8"),
    ("bt-b", [(3,)], lambda tf, x: tf.broadcast_to(x, (2, 4, 3)), "int8"),
    ("bt-16", [(1, 4, 1)], lambda tf, x: tf.broadcast_to(x, (2, 3, 4, 2)), "16x8"),
    ("bt-f", [(2, 1)], lambda tf, x: tf.broadcast_to(x, (3, 1, 2, 4)), "float"),
]


@pytest.mark.parametrize("key,shapes,fn,mode", BROADCASTS, ids=[c[0] for c in BROADCASTS])
def test_broadcast_to(key, shapes, fn, mode):
    run_case(key, shapes, fn, mode, "BROADCAST_TO")


@pytest.mark.parametrize("dtype", ["int32", "bool"])
def test_broadcast_to_written_directly(dtype):
    data = write_model([t((1, 3, 1), dtype), c([2, 2, 3, 4], "int64"), t((2, 2, 3, 4), dtype)],
                       [("BROADCAST_TO", [0, 1], [2], None, {})], [0], [2])
    check_cases(data, "btw", [(x,) for x in randoms((1, 3, 1), dtype)])


BLOCKS = [
    ("d2s-2", [(3, 4, 8)], lambda tf, x: tf.nn.depth_to_space(x, 2), "int8", "DEPTH_TO_SPACE"),
    ("d2s-3", [(2, 3, 18)], lambda tf, x: tf.nn.depth_to_space(x, 3), "int8", "DEPTH_TO_SPACE"),
    ("d2s-f", [(3, 2, 12)], lambda tf, x: tf.nn.depth_to_space(x, 2), "float", "DEPTH_TO_SPACE"),
    ("s2d-2", [(4, 6, 3)], lambda tf, x: tf.nn.space_to_depth(x, 2), "int8", "SPACE_TO_DEPTH"),
    ("s2d-3", [(6, 3, 2)], lambda tf, x: tf.nn.space_to_depth(x, 3), "int8", "SPACE_TO_DEPTH"),
    ("s2d-f", [(4, 4, 5)], lambda tf, x: tf.nn.space_to_depth(x, 2), "float", "SPACE_TO_DEPTH"),
]


@pytest.mark.parametrize("key,shapes,fn,mode,expect", BLOCKS, ids=[c[0] for c in BLOCKS])
def test_depth_space(key, shapes, fn, mode, expect):
    run_case(key, shapes, fn, mode, expect)


MIRRORS = [
    ("mp-reflect", [(5, 4, 3)], lambda tf, x: tf.pad(x, [[0, 0], [2, 1], [3, 0], [0, 0]], "REFLECT"), "int8"),
    ("mp-symmetric", [(5, 4, 3)], lambda tf, x: tf.pad(x, [[0, 0], [2, 5], [1, 4], [0, 0]], "SYMMETRIC"), "int8"),
    ("mp-1d", [(7, 2)], lambda tf, x: tf.pad(x, [[0, 0], [3, 6], [0, 0]], "REFLECT"), "int8"),
    ("mp-channels", [(3, 4)], lambda tf, x: tf.pad(x, [[0, 0], [1, 1], [2, 3]], "SYMMETRIC"), "int8"),
    ("mp-f", [(4, 5, 2)], lambda tf, x: tf.pad(x, [[0, 0], [3, 3], [2, 4], [1, 1]], "REFLECT"), "float"),
    ("mp-f-sym", [(4, 5, 2)], lambda tf, x: tf.pad(x, [[0, 0], [4, 0], [0, 5], [2, 0]], "SYMMETRIC"), "float"),
]


@pytest.mark.parametrize("key,shapes,fn,mode", MIRRORS, ids=[c[0] for c in MIRRORS])
def test_mirror_pad(key, shapes, fn, mode):
    run_case(key, shapes, fn, mode, "MIRROR_PAD")


REVERSES = [
    ("rv-1", [(5, 4, 3)], lambda tf, x: tf.reverse(x, [1]), "int8"),
    ("rv-12", [(5, 4, 3)], lambda tf, x: tf.reverse(x, [1, 2]), "int8"),
    ("rv-last", [(5, 4)], lambda tf, x: tf.reverse(x, [-1]), "int8"),
    ("rv-16", [(5, 4, 3)], lambda tf, x: tf.reverse(x, [2, 3]), "16x8"),
    ("rv-f", [(5, 4, 3)], lambda tf, x: tf.reverse(x, [3]), "float"),
]


@pytest.mark.parametrize("key,shapes,fn,mode", REVERSES, ids=[c[0] for c in REVERSES])
def test_reverse(key, shapes, fn, mode):
    run_case(key, shapes, fn, mode, "REVERSE_V2")


@pytest.mark.parametrize("dtype,axes", [("int32", [0]), ("int64", [1, 2]), ("bool", [-1, -2])])
def test_reverse_written_directly(dtype, axes):
    data = write_model([t((3, 4, 2), dtype), c(axes), t((3, 4, 2), dtype)], [("REVERSE_V2", [0, 1], [2], None, {})],
                       [0], [2])
    check_cases(data, "rvw", [(x,) for x in randoms((3, 4, 2), dtype)])


# ---- what TFLite Micro refuses, refused the same way -----------------------------------------


REFUSALS = [
    ("TRANSPOSE", [t((2, 3), "int32"), c([1, 0]), t((3, 2), "int32")], [0, 1], [2], None, {}, "type int32"),
    ("TRANSPOSE", [t((2, 3)), c([1, 1]), t((3, 2))], [0, 1], [2], None, {}, "not a permutation"),
    ("REVERSE_V2", [t((2, 3, 2)), c([0, 2]), t((2, 3, 2))], [0, 1], [2], None, {}, "not contiguous"),
    ("DEPTH_TO_SPACE", [t((1, 2, 2, 8), "int16"), t((1, 4, 4, 2), "int16")], [0], [1], "DepthToSpaceOptions",
     {"BlockSize": 2}, "type int16"),
    ("SPACE_TO_DEPTH", [t((1, 4, 4, 2)), t((1, 2, 2, 8))], [0], [1], "SpaceToDepthOptions", {"BlockSize": 0},
     "block_size 0"),
    ("MIRROR_PAD", [t((1, 3, 2)), c([[0, 0], [3, 0], [0, 0]]), t((1, 6, 2))], [0, 1], [2], "MirrorPadOptions",
     {"Mode": 0}, "exceed"),
    ("MIRROR_PAD", [t((1, 3, 2), "int16"), c([[0, 0], [1, 0], [0, 0]]), t((1, 4, 2), "int16")], [0, 1], [2],
     "MirrorPadOptions", {"Mode": 1}, "type int16"),
    ("UNPACK", [t((2, 3)), t((2,)), t((2,))], [0], [1, 2], "UnpackOptions", {"Num": 2, "Axis": 1}, "num 2"),
    ("PACK", [t((2,)), t((2,)), t((2, 2))], [0, 1], [2], "PackOptions", {"ValuesCount": 0, "Axis": 0},
     "values_count 0"),
    ("SPLIT", [c(0), t((5, 2)), t((2, 2)), t((2, 2))], [0, 1], [2, 3], "SplitOptions", {"NumSplits": 2},
     "does not split"),
    ("SPLIT", [t((4, 2)), t((4, 2)), t((2, 2)), t((2, 2))], [0, 1], [2, 3], "SplitOptions", {"NumSplits": 2},
     "non-constant axis"),
    ("BROADCAST_TO", [t((2, 3)), c([2, 3, 3]), t((2, 3, 3))], [0, 1], [2], None, {}, "does not broadcast"),
    ("SLICE", [t((2, 5)), c([0, 3]), c([2, 3]), t((2, 3))], [0, 1, 2], [3], None, {}, "leave"),
]


@pytest.mark.parametrize("op,tensors,ins,outs,opt,fields,match", REFUSALS,
                         ids=[f"{r[0]}-{r[-1] or 'ok'}".replace(" ", "-") for r in REFUSALS])
def test_refusals(op, tensors, ins, outs, opt, fields, match):
    graph_inputs = [k for k in ins if tensors[k].get("data") is None]
    data = write_model(tensors, [(op, ins, outs, opt, fields)], graph_inputs, outs)
    with pytest.raises(UnsupportedError, match=match):
        lower(data)
