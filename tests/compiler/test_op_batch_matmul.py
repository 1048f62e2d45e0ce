"""BATCH_MATMUL against TFLite Micro: attention-like products of two activations and
matmuls by a constant (converted by TF 2.21 from Keras models), int8 and 16x8, and
hand-written models for the sweep the converter does not reach: adj_x / adj_y, every
broadcast of the batch dimensions from rank 2 to 5, zero points, a constant left operand,
int16. check_model_bytes runs the portable kernels and the DSP tier's C form."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from builders import convert
from conftest import check_model_bytes

from protobrain.compiler.ops import REGISTRY, Unsupported
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model

N_RANDOM = 8


def _ops(data) -> list[str]:
    return [op.name for op in read_model_bytes(data).operators]


def _bmm_ops(data):
    g = read_model_bytes(data)
    return g, [op for op in g.operators if op.name == "BATCH_MATMUL"]


# ---- converter models -----------------------------------------------------------------------


def _matmul_layer(transpose_a=False, transpose_b=False, const=None):
    import tensorflow as tf

    class MatMul(tf.keras.layers.Layer):
        def call(self, a, b=None):
            return tf.linalg.matmul(a, b if const is None else tf.constant(const),
                                    transpose_a=transpose_a, transpose_b=transpose_b)

    return MatMul()


def attention_scores(mode="int8", adj=(False, True)):
    """q k^T of two Dense projections of one sequence of 6 (and the other transpositions,
    with widths that make the product defined): both operands activations."""
    widths = {(False, True): (8, 8), (True, False): (8, 8), (False, False): (6, 8), (True, True): (8, 6)}[adj]

    def make():
        import tensorflow as tf

        x = tf.keras.Input((6, 8), batch_size=1)
        q = tf.keras.layers.Dense(widths[0])(x)
        k = tf.keras.layers.Dense(widths[1])(x)
        return tf.keras.Model(x, _matmul_layer(*adj)(q, k))

    return convert(make, [(6, 8)], mode=mode, key=f"bmm-attn-{adj}")


def const_rhs_model(lhs_shape, rhs_shape, mode="int8", transpose_b=False):
    rng = np.random.default_rng(3)
    w = rng.uniform(-1, 1, rhs_shape).astype(np.float32)

    def make():
        import tensorflow as tf

        x = tf.keras.Input(lhs_shape, batch_size=1)
        return tf.keras.Model(x, _matmul_layer(transpose_b=transpose_b, const=w)(x))

    return convert(make, [lhs_shape], mode=mode, key=f"bmm-const-{lhs_shape}-{rhs_shape}-{transpose_b}")


@pytest.mark.parametrize("mode", ["int8", "16x8"])
@pytest.mark.parametrize("adj", [(False, True), (True, False), (False, False), (True, True)])
def test_attention_scores(mode, adj):
    data = attention_scores(mode, adj)
    g, ops = _bmm_ops(data)
    assert len(ops) == 1
    assert (ops[0].options["adj_x"], ops[0].options["adj_y"]) == adj
    assert g.tensors[ops[0].inputs[0]].dtype == ("int16" if mode == "16x8" else "int8")
    check_model_bytes(data, "attn", n_random=N_RANDOM)


@pytest.mark.parametrize("mode", ["int8", "16x8"])
def test_multi_head_attention(mode):
    """keras.layers.MultiHeadAttention: two BATCH_MATMULs per call (scores, weighted values)
    between TRANSPOSEs and a SOFTMAX."""
    def make():
        import tensorflow as tf

        x = tf.keras.Input((6, 8), batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.MultiHeadAttention(2, 4)(x, x))

    data = convert(make, [(6, 8)], mode=mode, key="bmm-mha")
    names = _ops(data)
    assert names.count("BATCH_MATMUL") == 2, names
    missing = sorted({n for n in names if n not in REGISTRY})
    if missing:
        pytest.skip(f"the model also needs {', '.join(missing)}")
    check_model_bytes(data, "mha", n_random=N_RANDOM)


@pytest.mark.parametrize("mode", ["int8", "16x8"])
@pytest.mark.parametrize("lhs_shape,rhs_shape,transpose_b", [
    ((2, 6, 8), (2, 8, 5), False),   # one constant matrix per batch
    ((2, 6, 8), (2, 5, 8), True),
    ((3, 4, 8), (1, 8, 6), False),   # a constant broadcast over the batches
])
def test_matmul_by_constant(mode, lhs_shape, rhs_shape, transpose_b):
    data = const_rhs_model(lhs_shape, rhs_shape, mode, transpose_b)
    g, ops = _bmm_ops(data)
    if not ops:
        pytest.skip(f"the converter made {_ops(data)} of it")
    assert g.tensors[ops[0].inputs[1]].is_const
    check_model_bytes(data, "bmm_const", n_random=N_RANDOM)


def test_dense_on_3d_is_fully_connected():
    """Keras Dense on a 3-D input becomes FULLY_CONNECTED (keep_num_dims) in the converter,
    not BATCH_MATMUL: nothing for this operator to do, but the model runs."""
    def make():
        import tensorflow as tf

        x = tf.keras.Input((6, 8), batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Dense(5)(x))

    data = convert(make, [(6, 8)], key="bmm-dense3d")
    assert _ops(data) == ["FULLY_CONNECTED"]
    check_model_bytes(data, "dense3d", n_random=N_RANDOM)


# ---- hand-written models ----------------------------------------------------------------------


def bmm_model(lhs_shape, rhs_shape, *, adj_x=False, adj_y=False, dtype="int8", lhs_zp=5, rhs_zp=-7, out_zp=3,
              const=None, seed=0, scales=(0.05, 0.04, 0.3)):
    """BATCH_MATMUL of the given shapes; const: "lhs" or "rhs" makes that operand constant."""
    rng = np.random.default_rng(seed)
    lo, hi = (-128, 128) if dtype == "int8" else (-32768, 32768)
    if dtype == "int16":
        lhs_zp = rhs_zp = out_zp = 0
        scales = (scales[0] / 256, scales[1] / 256, scales[2] / 256)
    l5 = [1] * (5 - len(lhs_shape)) + list(lhs_shape)
    r5 = [1] * (5 - len(rhs_shape)) + list(rhs_shape)
    batch = [max(a, b) for a, b in zip(l5[:3], r5[:3])]
    rows = l5[4] if adj_x else l5[3]
    cols = r5[3] if adj_y else r5[4]
    out_shape = batch[3 - (max(len(lhs_shape), len(rhs_shape)) - 2):] + [rows, cols]
    npt = np.int8 if dtype == "int8" else np.int16
    tensors = [
        {"shape": list(lhs_shape), "type": dtype, "scale": scales[0], "zp": lhs_zp},
        {"shape": list(rhs_shape), "type": dtype, "scale": scales[1], "zp": rhs_zp},
        {"shape": out_shape, "type": dtype, "scale": scales[2], "zp": out_zp},
    ]
    inputs = [0, 1]
    if const is not None:
        k = 0 if const == "lhs" else 1
        tensors[k]["data"] = rng.integers(lo, hi, tensors[k]["shape"]).astype(npt)
        inputs = [1 - k]
    ops = [("BATCH_MATMUL", [0, 1], [2], "BatchMatMulOptions", {"AdjX": adj_x, "AdjY": adj_y})]
    return write_model(tensors, ops, inputs, [2])


BROADCASTS = [
    ((4, 5), (5, 3)),                      # plain matrices
    ((2, 4, 5), (2, 5, 3)),                # batch against batch
    ((2, 4, 5), (5, 3)),                   # rank 3 x rank 2
    ((4, 5), (3, 5, 2)),                   # rank 2 x rank 3
    ((2, 1, 4, 5), (1, 3, 5, 2)),          # both broadcast, rank 4
    ((3, 1, 4, 5), (1, 5, 2)),             # rank 4 x rank 3 with a 1
    ((2, 1, 3, 3, 5), (1, 2, 1, 5, 4)),    # rank 5
    ((1, 2, 2, 3, 5), (2, 1, 2, 5, 3)),
]


@pytest.mark.parametrize("adj_x,adj_y", list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("shapes", BROADCASTS, ids=lambda s: f"{s[0]}x{s[1]}".replace(" ", ""))
def test_broadcast_and_adjoint(shapes, adj_x, adj_y):
    lhs, rhs = list(shapes[0]), list(shapes[1])
    if adj_x:
        lhs[-2:] = lhs[-1], lhs[-2]
    if adj_y:
        rhs[-2:] = rhs[-1], rhs[-2]
    check_model_bytes(bmm_model(lhs, rhs, adj_x=adj_x, adj_y=adj_y), "bmm", n_random=4)


@pytest.mark.parametrize("kw", [
    dict(dtype="int16"), dict(dtype="int16", adj_x=True), dict(dtype="int16", adj_y=True, const="rhs"),
    dict(dtype="int16", const="lhs", adj_x=True),
    dict(const="rhs"), dict(const="rhs", adj_y=True), dict(const="rhs", adj_x=True),
    dict(const="lhs"), dict(const="lhs", adj_x=True, adj_y=True),
    dict(lhs_zp=-128, rhs_zp=127, out_zp=-128), dict(lhs_zp=0, rhs_zp=0, out_zp=0, scales=(0.5, 0.5, 0.01)),
    dict(const="rhs", rhs_zp=100),  # the zero point does not fold into int8 weights
], ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()).replace(" ", ""))
def test_types_zero_points_constants(kw):
    for shapes in (((3, 4, 6), (3, 6, 5)), ((2, 3, 7), (7, 4))):
        lhs, rhs = list(shapes[0]), list(shapes[1])
        if kw.get("adj_x"):
            lhs[-2:] = lhs[-1], lhs[-2]
        if kw.get("adj_y"):
            rhs[-2:] = rhs[-1], rhs[-2]
        check_model_bytes(bmm_model(lhs, rhs, **kw), "bmm", n_random=4)


def test_constant_rhs_lowers_to_fully_connected():
    """One constant matrix for every batch, left operand not transposed: FULLY_CONNECTED,
    its zero point folded into the weights when they stay int8 (the fast tiers need that);
    else the batch matmul kernel, which the fast tiers have too."""
    g = read_model_bytes(bmm_model((2, 3, 7), (7, 4), const="rhs"))
    call = REGISTRY["BATCH_MATMUL"](g.operators[0], g)
    assert call.function == "pb_fully_connected_s8" and call.fields["filter_offset"] == 0
    assert call.fields["batches"] == 6 and call.fields["output_depth"] == 4
    assert build_program(g, tier="dsp").steps[0].call.function == "pb_fast_mm_s8"
    g = read_model_bytes(bmm_model((2, 3, 7), (7, 4), const="rhs", rhs_zp=100))
    assert REGISTRY["BATCH_MATMUL"](g.operators[0], g).function == "pb_batch_matmul_s8_const_rhs"
    assert build_program(g, tier="dsp").steps[0].call.function == "pb_fast_bmm_s8_const_rhs"
    g = read_model_bytes(bmm_model((2, 3, 7), (2, 7, 4), const="rhs"))
    assert REGISTRY["BATCH_MATMUL"](g.operators[0], g).function == "pb_batch_matmul_s8_const_rhs"


def _lower(data):
    g = read_model_bytes(data)
    return REGISTRY["BATCH_MATMUL"](g.operators[0], g)


def test_refusals():
    with pytest.raises(Unsupported, match="accumulator"):
        _lower(bmm_model((1, 40000), (40000, 1), lhs_zp=-128, rhs_zp=-128))
    with pytest.raises(Unsupported, match="do not broadcast"):
        _lower(bmm_model((2, 4, 5), (3, 5, 2)))
    with pytest.raises(Unsupported, match="depths"):
        _lower(bmm_model((4, 5), (6, 2)))


def _dsp_function(data) -> str:
    return build_program(read_model_bytes(data), tier="dsp").steps[0].call.function


@pytest.mark.parametrize("kw", [dict(), dict(adj_x=True, adj_y=True), dict(const="rhs"), dict(const="lhs")],
                         ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()) or "activations")
def test_dsp_tier_takes_int8_and_gathers_column_blocks(kw, monkeypatch):
    """int8 runs the DSP tier's kernel (its C form here), also when the columns do not fit
    one gathered block: 9 columns in blocks of 2, the last one odd; int16 stays portable."""
    from protobrain.compiler.ops.tiers import batch_matmul as fast_bmm

    lhs, rhs = [2, 5, 10], [2, 10, 9]
    if kw.get("adj_x"):
        lhs[-2:] = lhs[-1], lhs[-2]
    if kw.get("adj_y"):
        rhs[-2:] = rhs[-1], rhs[-2]
    data = bmm_model(lhs, rhs, **kw)
    assert _dsp_function(data) == "pb_fast_bmm_s8" + {"rhs": "_const_rhs", "lhs": "_const_lhs"}.get(kw.get("const"), "")
    monkeypatch.setattr(fast_bmm, "COLUMN_BYTES", 64)
    call = build_program(read_model_bytes(data), tier="dsp").steps[0].call
    assert call.fields["col_block"] == 2 and call.scratch_bytes == 2 * 10 * 4
    check_model_bytes(data, "bmm_blocks", n_random=4)
    assert _dsp_function(bmm_model(lhs, rhs, dtype="int16", **kw)).startswith("pb_batch_matmul_s16")


def test_more_refusals():
    """What TFLite Micro refuses or would compute from a scale it does not have."""
    with pytest.raises(Unsupported, match="all one type"):
        _lower(write_model([{"shape": [2, 3], "type": "int8", "scale": 0.1, "zp": 0},
                            {"shape": [3, 2], "type": "int16", "scale": 0.1, "zp": 0},
                            {"shape": [2, 2], "type": "int8", "scale": 0.1, "zp": 0}],
                           [("BATCH_MATMUL", [0, 1], [2], "BatchMatMulOptions", {"AdjX": False, "AdjY": False})],
                           [0, 1], [2]))
    with pytest.raises(Unsupported, match="per channel"):
        _lower(write_model([{"shape": [2, 3], "type": "int8", "scale": 0.1, "zp": 0},
                            {"shape": [3, 2], "type": "int8", "scale": [0.1, 0.2], "zp": 0, "axis": 1,
                             "data": np.ones((3, 2), np.int8)},
                            {"shape": [2, 2], "type": "int8", "scale": 0.1, "zp": 0}],
                           [("BATCH_MATMUL", [0, 1], [2], "BatchMatMulOptions", {"AdjX": False, "AdjY": False})],
                           [0], [2]))
    with pytest.raises(Unsupported, match="int16 zero point"):
        _lower(write_model([{"shape": [2, 3], "type": "int16", "scale": 0.1, "zp": 1},
                            {"shape": [3, 2], "type": "int16", "scale": 0.1, "zp": 0},
                            {"shape": [2, 2], "type": "int16", "scale": 0.1, "zp": 0}],
                           [("BATCH_MATMUL", [0, 1], [2], "BatchMatMulOptions", {"AdjX": False, "AdjY": False})],
                           [0, 1], [2]))
