"""Data movement with indices or blocks, against TFLite Micro: GATHER, GATHER_ND,
EMBEDDING_LOOKUP, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND (as kernels, where passes.py does not
fold them into a dilated convolution), FILL, DYNAMIC_UPDATE_SLICE and SHAPE.

Index inputs known only at run time are fed valid indices (TFLite Micro reads past the
table or stops on others). int16 SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND have no TFLite
Micro kernel: LiteRT's reference kernels are the golden there.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import convert
from conftest import check_model_bytes
from test_op_move import c, check_cases, converted, litert, lower, op_names, randoms, run_case, t

from protobrain.compiler.program import lower_graph
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model
from protobrain.errors import UnsupportedError

N = 8


# ---- GATHER, GATHER_ND, EMBEDDING_LOOKUP ---------------------------------------------------

GATHERS = [
    ("ga-ax1", [(5, 3)], lambda tf, x: tf.gather(x, [4, 0, 0, 2], axis=1), "int8", "GATHER"),
    ("ga-last", [(5, 3)], lambda tf, x: tf.gather(x, [[2, 1], [0, 2]], axis=2), "int8", "GATHER"),
    ("ga-f", [(4, 6)], lambda tf, x: tf.gather(x, [5, 1, 3], axis=-1), "float", "GATHER"),
    ("gnd-a", [(4, 3)], lambda tf, x: tf.gather_nd(x, [[[0, 3], [0, 1]], [[0, 0], [0, 2]]]), "int8", "GATHER_ND"),
    ("gnd-b", [(4, 3, 2)], lambda tf, x: tf.gather_nd(x, [[0, 1, 2, 1], [0, 3, 0, 0]]), "int8", "GATHER_ND"),
    ("gnd-f", [(4, 3)], lambda tf, x: tf.gather_nd(x, [[0, 2], [0, 3]]), "float", "GATHER_ND"),
]


@pytest.mark.parametrize("key,shapes,fn,mode,expect", GATHERS, ids=[c[0] for c in GATHERS])
def test_gather_constant_indices(key, shapes, fn, mode, expect):
    run_case(key, shapes, fn, mode, expect)


def _index_cases(table_shape, dtype, index_shape, limit, n=6, seed=1):
    rng = np.random.default_rng(seed)
    tables = randoms(table_shape, dtype, n, seed)
    return [(x, rng.integers(0, limit, size=index_shape).astype(np.int32)) for x in tables]


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("axis,batch_dims", [(0, 0), (1, 0), (2, 0), (1, 1), (2, 1), (-1, -1)])
def test_gather_runtime_indices(dtype, axis, batch_dims):
    table, index = (2, 5, 4), (2, 3)
    rank = 3
    a, b = axis % rank, batch_dims % 2
    out = (*table[:a], *index[b:], *table[a + 1:])
    data = write_model([t(table, dtype), t(index, "int32"), t(out, dtype)],
                       [("GATHER", [0, 1], [2], "GatherOptions", {"Axis": axis, "BatchDims": batch_dims})], [0, 1], [2])
    check_cases(data, "gar", _index_cases(table, dtype, index, table[a]))


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_gather_constant_table(dtype):
    """An embedding: the table in flash, the token ids at run time."""
    table = randoms((6, 4), dtype, 1)[0]
    const = {**t((6, 4), dtype), "data": table}
    data = write_model([const, t((5,), "int32"), t((5, 4), dtype)],
                       [("GATHER", [0, 1], [2], "GatherOptions", {"Axis": 0})], [1], [2])
    assert "pb_gather" in lower(data).steps[0].call.function
    rng = np.random.default_rng(2)
    check_cases(data, "gac", [(rng.integers(0, 6, size=5).astype(np.int32),) for _ in range(6)])


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("index_shape", [(3, 2), (2, 2, 1), (4, 3)])
def test_gather_nd_runtime_indices(dtype, index_shape):
    table = (3, 4, 2)
    nd = index_shape[-1]
    out = (*index_shape[:-1], *table[nd:])
    data = write_model([t(table, dtype), t(index_shape, "int32"), t(out, dtype)],
                       [("GATHER_ND", [0, 1], [2], None, {})], [0, 1], [2])
    rng = np.random.default_rng(3)
    cases = [(x, np.stack([rng.integers(0, table[j], size=index_shape[:-1]) for j in range(nd)], -1).astype(np.int32))
             for x in randoms(table, dtype, 6)]
    # TFLite Micro checks the flat position only: an index past its own axis still reads.
    cases.append((cases[0][0], np.full(index_shape, 0, np.int32)))
    if nd >= 2:
        over = np.zeros(index_shape, np.int32)
        over[..., 1] = 5  # row 1, column 1 of a 3x4 table
        cases.append((cases[1][0], over))
    check_cases(data, "gnd", cases)


def test_gather_out_of_range_rows_are_zero():
    """TFLite Micro reads past the table for such an index; protobrain writes zeros."""
    from protobrain.run.host import compile_bytes

    data = write_model([t((4, 3)), t((3,), "int32"), t((3, 3))],
                       [("GATHER", [0, 1], [2], "GatherOptions", {"Axis": 0})], [0, 1], [2])
    x = np.arange(12, dtype=np.int8).reshape(4, 3) + 1
    got = compile_bytes(data, "gaz").run(x, np.array([1, 4, -1], np.int32))
    assert got.tolist() == [[4, 5, 6], [0, 0, 0], [0, 0, 0]]


EMBEDDINGS = [("float32", "float32", 0.0), ("int8", "int8", 0.0), ("int8", "float32", 0.0)]


@pytest.mark.parametrize("table_type,out_type,_", EMBEDDINGS)
@pytest.mark.parametrize("const_table", [False, True])
def test_embedding_lookup(table_type, out_type, _, const_table):
    """int8 rows into float32 are the hybrid lookup: each value times the table's scale."""
    rows = randoms((5, 2, 3), table_type, 1, seed=4)[0]
    table = {**t((5, 2, 3), table_type, scale=0.037, zp=0), "data": rows if const_table else None}
    out = t((4, 2, 3), out_type, scale=0.037, zp=0)
    data = write_model([t((4,), "int32"), table, out], [("EMBEDDING_LOOKUP", [0, 1], [2], None, {})],
                       [0] if const_table else [0, 1], [2])
    assert "EMBEDDING_LOOKUP" in op_names(data)
    rng = np.random.default_rng(5)
    ids = [rng.integers(0, 5, size=4).astype(np.int32) for _ in range(5)]
    cases = [(i,) for i in ids] if const_table else [(i, x) for i, x in zip(ids, randoms((5, 2, 3), table_type, 5))]
    check_cases(data, "emb", cases)


# ---- SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND ------------------------------------------------


def _gated_block(padding):
    def make():
        import tensorflow as tf

        x = tf.keras.Input((16, 4), batch_size=1)
        f = tf.keras.layers.Conv1D(6, 2, dilation_rate=2, padding=padding, activation="tanh")(x)
        g = tf.keras.layers.Conv1D(6, 2, dilation_rate=2, padding=padding, activation="sigmoid")(x)
        y = tf.keras.layers.Multiply()([f, g])
        return tf.keras.Model(x, tf.keras.layers.Conv1D(4, 1)(y))

    return make


def test_gated_wavenet_block():
    """Two dilated convolutions read one SPACE_TO_BATCH_ND: no dilated fold, both kernels run.
    The causal block pads with a PAD before it, so the space-to-batch pads nothing."""
    data = convert(_gated_block("causal"), [(16, 4)], key="mv-gated-causal")
    names = op_names(data)
    assert names.count("SPACE_TO_BATCH_ND") == 1 and names.count("BATCH_TO_SPACE_ND") == 2, names
    steps = [s.op.name for s in lower(data).steps]
    assert "SPACE_TO_BATCH_ND" in steps and steps.count("BATCH_TO_SPACE_ND") == 2
    check_model_bytes(data, "gated", n_random=N)


@pytest.mark.parametrize("mode", ["int8", "16x8"])
def test_gated_wavenet_block_padded_against_litert(mode):
    """With "same" padding the SPACE_TO_BATCH_ND pads: TFLite Micro pads with whatever its
    arena held there, LiteRT's reference (and protobrain) with the zero point."""
    data = convert(_gated_block("same"), [(16, 4)], mode=mode, key="mv-gated-same")
    g = read_model_bytes(data)
    s2b = [op for op in g.operators if op.name == "SPACE_TO_BATCH_ND"]
    assert len(s2b) == 1 and g.tensors[s2b[0].inputs[2]].data.tolist() == [[1, 1]]
    dtype = "int8" if mode == "int8" else "int16"
    check_cases(data, "gated", [(x,) for x in randoms((1, 16, 4), dtype, 12)], golden=litert(data))


SPACES = [
    ("s2b-pad", [(5, 6, 3)], lambda tf, x: tf.space_to_batch_nd(x, [2, 3], [[1, 0], [2, 1]]), "SPACE_TO_BATCH_ND"),
    ("s2b-nopad", [(4, 6, 2)], lambda tf, x: tf.space_to_batch_nd(x, [2, 2], [[0, 0], [0, 0]]), "SPACE_TO_BATCH_ND"),
    ("s2b-1d", [(7, 3)], lambda tf, x: tf.space_to_batch_nd(x, [3], [[1, 1]]), "SPACE_TO_BATCH_ND"),
    ("b2s-crop", [(4, 3, 2)], lambda tf, x: tf.batch_to_space(tf.reshape(x, (4, 2, 3, 1)), [2, 2], [[1, 0], [0, 2]]),
     "BATCH_TO_SPACE_ND"),
    ("b2s-1d", [(6, 2)], lambda tf, x: tf.batch_to_space(tf.reshape(x, (3, 2, 2)), [3], [[2, 1]]),
     "BATCH_TO_SPACE_ND"),
]


def _pads(data: bytes) -> bool:
    g = read_model_bytes(data)
    return any(op.name == "SPACE_TO_BATCH_ND" and np.any(g.tensors[op.inputs[2]].data) for op in g.operators)


@pytest.mark.parametrize("mode", ["int8", "float", "16x8"])
@pytest.mark.parametrize("key,shapes,fn,expect", SPACES, ids=[c[0] for c in SPACES])
def test_space_batch(key, shapes, fn, expect, mode):
    """TFLite Micro where it is deterministic; LiteRT's reference for int16 (no TFLite Micro
    kernel) and for padded space-to-batch (TFLite Micro pads with an unset parameter)."""
    data = converted(f"{key}-{mode}", shapes, fn, mode)
    assert expect in op_names(data)
    if mode != "16x8" and not _pads(data):
        check_model_bytes(data, "sb", n_random=N)
        return
    g = read_model_bytes(data)
    t_in = g.tensors[g.inputs[0]]
    check_cases(data, "sb", [(x,) for x in randoms(t_in.shape, t_in.dtype, 10)], golden=litert(data))


def test_space_to_batch_pads_with_the_zero_point():
    data = write_model([t((1, 3, 3, 2), zp=5), c([2, 2]), c([[1, 0], [1, 0]]), t((4, 2, 2, 2), zp=5)],
                       [("SPACE_TO_BATCH_ND", [0, 1, 2], [3], None, {})], [0], [3])
    x = np.arange(18, dtype=np.int8).reshape(1, 3, 3, 2)
    check_cases(data, "s2bzp", [(x,)] + [(r,) for r in randoms((1, 3, 3, 2), "int8", 4)], golden=litert(data))
    from protobrain.run.host import compile_bytes

    assert compile_bytes(data, "s2bzp").run(x).reshape(4, 8)[0].tolist() == [5, 5, 5, 5, 5, 5, 8, 9]


# ---- FILL, DYNAMIC_UPDATE_SLICE, SHAPE ------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int8", "int32", "float32"])
def test_fill_with_runtime_value(dtype):
    data = write_model([c([2, 3, 4]), t((), dtype), t((2, 3, 4), dtype)], [("FILL", [0, 1], [2], None, {})], [1], [2])
    check_cases(data, "fill", [(x,) for x in randoms((), dtype)])


def test_fill_int8_from_a_converted_model():
    data = convert(lambda: _fill_model(), [(3,)], key="mv-fill")
    assert "FILL" in op_names(data)
    check_model_bytes(data, "fillk", n_random=N)


def _fill_model():
    import tensorflow as tf

    x = tf.keras.Input((3,), batch_size=1)
    y = tf.keras.layers.Lambda(lambda v: tf.fill((1, 2, 5), v[0, 1]) + tf.reduce_sum(v) * 0)(x)
    return tf.keras.Model(x, y)


DUS = [("int8", "int32"), ("int16", "int64"), ("int32", "int32"), ("float32", "int64")]


@pytest.mark.parametrize("dtype,index_type", DUS)
def test_dynamic_update_slice_runtime_start(dtype, index_type):
    data = write_model([t((4, 5, 3), dtype), t((2, 3, 3), dtype), t((3,), index_type), t((4, 5, 3), dtype)],
                       [("DYNAMIC_UPDATE_SLICE", [0, 1, 2], [3], None, {})], [0, 1, 2], [3])
    starts = [[0, 0, 0], [2, 2, 0], [1, 3, 0], [-5, 9, 2], [3, -1, -7], [100, 100, 100]]
    cases = [(a, b, np.asarray(s, index_type)) for a, b, s in
             zip(randoms((4, 5, 3), dtype), randoms((2, 3, 3), dtype, seed=7), starts)]
    check_cases(data, "dus", cases)


@pytest.mark.parametrize("const_operand", [False, True])
def test_dynamic_update_slice_constant_start(const_operand):
    """Constant start indices: plain boxes (start clamped as TFLite Micro clamps it); a
    constant operand (a zero buffer, say) comes from flash."""
    operand = {**t((3, 4), "float32"), "data": np.arange(12, dtype=np.float32).reshape(3, 4) if const_operand else None}
    data = write_model([operand, t((2, 2), "float32"), c([2, -3]), t((3, 4), "float32")],
                       [("DYNAMIC_UPDATE_SLICE", [0, 1, 2], [3], None, {})], [1] if const_operand else [0, 1], [3])
    assert lower(data).steps[0].call.function == "pb_move"
    check_model_bytes(data, "dusc", n_random=N)


def test_dynamic_update_slice_whole_operand():
    data = write_model([t((2, 3)), t((2, 3)), t((2,), "int32"), t((2, 3))],
                       [("DYNAMIC_UPDATE_SLICE", [0, 1, 2], [3], None, {})], [0, 1, 2], [3])
    a, b = randoms((2, 3), "int8", 2)
    check_cases(data, "dusw", [(a, b, np.array([1, 1], np.int32)), (b, a, np.array([0, -4], np.int32))])


def test_shape_when_not_folded(monkeypatch):
    """Lowered without the folding pass, SHAPE writes the input's static shape from flash."""
    from protobrain.compiler import passes

    data = write_model([t((1, 3, 5)), t((3,), "int32")], [("SHAPE", [0], [1], "ShapeOptions", {"OutType": 2})],
                       [0], [1])
    monkeypatch.setattr(passes, "PASSES", [])
    steps = lower(data).steps
    assert [(s.op.name, s.call.function) for s in steps] == [("SHAPE", "pb_move_const")]
    assert steps[0].call.fields["data"].values.tolist() == [1, 3, 5]
    check_cases(data, "shape", [(np.zeros((1, 3, 5), np.int8),)])


INDEX_REFUSALS = [
    ("GATHER", [t((4, 3), "int16"), c([1]), t((1, 3), "int16")], [0, 1], [2], "GatherOptions", {"Axis": 0},
     "type int16"),
    ("GATHER", [t((4, 3)), c([1], "int64"), t((1, 3))], [0, 1], [2], "GatherOptions", {"Axis": 0},
     "positions type int64"),
    ("GATHER", [t((4, 3)), c([1]), t((1, 3))], [0, 1], [2], "GatherOptions", {"Axis": 2}, "axis 2"),
    ("GATHER_ND", [t((4, 3)), c([[1, 2, 0]]), t((1,))], [0, 1], [2], None, {}, "index depth 3"),
    ("GATHER", [t((4, 3)), c([1, 3]), t((4, 2))], [0, 1], [2], "GatherOptions", {"Axis": 1}, "outside the table"),
    ("GATHER_ND", [t((4, 3)), c([[3, 3]]), t((1,))], [0, 1], [2], None, {}, "outside the table"),
    ("EMBEDDING_LOOKUP", [c([-1]), {**t((4, 3)), "data": np.zeros((4, 3), np.int8)}, t((1, 3))], [0, 1], [2], None, {},
     "outside the table"),
    ("EMBEDDING_LOOKUP", [t((2,), "int32"), t((4, 3), "int8", zp=3), t((2, 3), "float32")], [0, 1], [2], None, {},
     "zero point 0"),
    ("SPACE_TO_BATCH_ND", [t((1, 3, 3, 2)), c([2, 2]), c([[0, 0], [0, 0]]), t((4, 1, 1, 2))], [0, 1, 2], [3], None, {},
     "not a multiple"),
    ("SPACE_TO_BATCH_ND", [t((1, 4, 4, 2)), t((2,), "int32"), c([[0, 0], [0, 0]]), t((4, 2, 2, 2))], [0, 1, 2], [3],
     None, {}, "non-constant block shape"),
    ("SPACE_TO_BATCH_ND", [t((1, 4, 4, 2), "int16", zp=3), c([2, 2]), c([[0, 0], [0, 0]]), t((4, 2, 2, 2), "int16", zp=3)],
     [0, 1, 2], [3], None, {}, "int16 zero point 3"),
    ("BATCH_TO_SPACE_ND", [t((3, 2, 2, 1)), c([2, 2]), c([[0, 0], [0, 0]]), t((1, 4, 4, 1))], [0, 1, 2], [3], None,
     {}, "not a multiple"),
    ("BATCH_TO_SPACE_ND", [t((4, 2, 2, 1), "int32"), c([2, 2]), c([[0, 0], [0, 0]]), t((1, 4, 4, 1), "int32")],
     [0, 1, 2], [3], None, {}, "type int32"),
    ("FILL", [c([2]), t((), "int16"), t((2,), "int16")], [0, 1], [2], None, {}, "value type int16"),
    ("DYNAMIC_UPDATE_SLICE", [t((2, 3)), t((3, 3)), t((2,), "int32"), t((2, 3))], [0, 1, 2], [3], None, {},
     "exceeds"),
    ("SHAPE", [t((2, 3)), t((2,), "int64")], [0], [1], "ShapeOptions", {"OutType": 4}, "int32 only"),
]


@pytest.mark.parametrize("op,tensors,ins,outs,opt,fields,match", INDEX_REFUSALS,
                         ids=[f"{r[0]}-{r[-1]}".replace(" ", "-") for r in INDEX_REFUSALS])
def test_refusals(op, tensors, ins, outs, opt, fields, match):
    data = write_model(tensors, [(op, ins, outs, opt, fields)], [k for k in ins if tensors[k].get("data") is None],
                       outs)
    g = read_model_bytes(data, "m")
    with pytest.raises(UnsupportedError, match=match):
        lower_graph(g)  # the lowering alone (folding would compute the SHAPE)
