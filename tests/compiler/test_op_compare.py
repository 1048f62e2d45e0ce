"""EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, LOGICAL_AND, LOGICAL_OR,
LOGICAL_NOT and SELECT_V2 against TFLite Micro.

Converter models: int8 comparisons feeding SELECT_V2 (tf.where with operands of different
shapes; same-shape operands give SELECT, which TFLite Micro has no kernel for), logical
operators between comparisons, float32 models. Written models for every comparison x type
(int8 at different scales and zero points, int32, int64, float32, bool), LOGICAL_NOT, and
SELECT_V2 of int16 and float32 with constant operands. Refusals for what TFLite Micro
refuses or computes from unset parameters.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import convert
from test_op_binary import check, convert_float, convert_two, lambda_model, op_names, refused, t

from protobrain.compiler.writer import write_model

COMPARE = ["EQUAL", "NOT_EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL"]
TF_COMPARE = {
    "EQUAL": lambda tf, a, b: tf.math.equal(a, b),
    "NOT_EQUAL": lambda tf, a, b: tf.math.not_equal(a, b),
    "GREATER": lambda tf, a, b: tf.math.greater(a, b),
    "GREATER_EQUAL": lambda tf, a, b: tf.math.greater_equal(a, b),
    "LESS": lambda tf, a, b: tf.math.less(a, b),
    "LESS_EQUAL": lambda tf, a, b: tf.math.less_equal(a, b),
}


def model(tensors: list[dict], ops: list[tuple], outputs: list[int]) -> bytes:
    """Graph inputs: the tensors without data that no operator writes."""
    written = {o for _, _, outs, _, _ in ops for o in outs}
    ins = [k for k, x in enumerate(tensors) if x.get("data") is None and k not in written]
    return write_model(tensors, ops, ins, outputs)


# ---- converter models -------------------------------------------------------------------


@pytest.mark.parametrize("sb", [(1, 5), (4, 1)], ids=["b-row", "b-column"])
@pytest.mark.parametrize("name", COMPARE)
def test_compare_then_select_int8(name, sb):
    """tf.where(a OP b, a, b) over broadcast shapes: the comparison and SELECT_V2. The
    converter keeps int8 NOT_EQUAL in float32 (between DEQUANTIZE ops)."""
    fn = TF_COMPARE[name]
    data = convert_two(lambda_model([(4, 5), sb], lambda tf, keras, a, b: tf.where(fn(tf, a, b), a, b)),
                       [(4, 5), sb], "int8", f"cmp-{name}-{sb}")
    check(data, name, "cmp")
    assert "SELECT_V2" in op_names(data)


@pytest.mark.parametrize("kind", ["and", "or"])
def test_logical_between_comparisons(kind):
    def fn(tf, keras, a, b):
        op = tf.logical_and if kind == "and" else tf.logical_or
        return tf.where(op(a > 0.25, b < -0.25), a, b)

    data = convert_two(lambda_model([(4, 5), (1, 5)], fn), [(4, 5), (1, 5)], "int8", f"cmp-logical-{kind}")
    check(data, f"LOGICAL_{kind.upper()}", "logic")
    assert {"GREATER", "LESS", "SELECT_V2"} <= op_names(data)


def test_select_v2_constant_branch():
    data = convert(lambda_model([(4, 5)], lambda tf, keras, a: tf.where(a > 0.2, a, 0.0)), [(4, 5)],
                   key="cmp-select-const")
    check(data, "SELECT_V2", "select")


FLOAT_CASES = [
    ("f-greater", lambda tf, keras, a, b: tf.where(a > b, a, b)),
    ("f-equal", lambda tf, keras, a, b: tf.where(tf.math.equal(a, b), a, -b)),
    ("f-not-equal", lambda tf, keras, a, b: tf.where(tf.math.not_equal(a, b), a, -b)),
    ("f-less-equal", lambda tf, keras, a, b: tf.where(a <= b, a, b)),
    ("f-logical-not", lambda tf, keras, a, b: tf.where(tf.logical_not(tf.logical_or(a > 0.5, b > 0.5)), a, b)),
]


@pytest.mark.parametrize("key,fn", FLOAT_CASES, ids=[c[0] for c in FLOAT_CASES])
def test_float32_models(key, fn):
    data = convert_float(lambda_model([(3, 4), (1, 4)], fn), f"cmp-{key}")
    assert "SELECT_V2" in op_names(data)
    check(data, "SELECT_V2", "fcmp")


# ---- written models -----------------------------------------------------------------------


def compare_model(name, a: dict, b: dict, out_shape) -> bytes:
    return model([a, b, t(out_shape, "bool")], [(name, [0, 1], [2], None, {})], [2])


TYPES = {name: ["int8", "int32", "int64", "float32"] + (["bool"] if name in ("EQUAL", "NOT_EQUAL") else [])
         for name in COMPARE}


@pytest.mark.parametrize("name,dtype", [(n, d) for n in COMPARE for d in TYPES[n]])
def test_compare_types(name, dtype):
    a, b = t((2, 3, 4), dtype, 0.05, 3), t((3, 1), dtype, 0.02, -7)
    check(compare_model(name, a, b, (2, 3, 4)), name, "cmp")


@pytest.mark.parametrize("scales,zps", [((0.05, 0.05), (0, 0)), ((0.1, 0.0125), (-128, 127)), ((0.9, 0.001), (5, -5))])
@pytest.mark.parametrize("name", COMPARE)
def test_compare_int8_scales(name, scales, zps):
    """int8 inputs at different scales and zero points, every pair of values once."""
    a = np.repeat(np.arange(-128, 128), 256).astype(np.int8)
    b = np.tile(np.arange(-128, 128), 256).astype(np.int8)
    data = compare_model(name, t((a.size,), "int8", scales[0], zps[0]), t((b.size,), "int8", scales[1], zps[1]),
                         (a.size,))
    assert name in op_names(data)
    from protobrain.run.host import compile_bytes
    from protobrain.verify.reference import Reference

    got = compile_bytes(data, "cmp8").run(a, b)
    want = Reference(data, arena_size=1 << 20).run(a, b)
    assert got.tobytes() == want.reshape(got.shape).astype(bool).tobytes()


def test_compare_constant_operand():
    c = t((4,), "int32", data=np.array([0, -1, 2**31 - 1, -(2**31)], np.int32))
    check(compare_model("LESS_EQUAL", t((3, 4), "int32"), c, (3, 4)), "LESS_EQUAL", "cmp")


@pytest.mark.parametrize("name", ["LOGICAL_AND", "LOGICAL_OR"])
@pytest.mark.parametrize("sa,sb", [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (3, 1)), ((1, 4), (3, 1))])
def test_logical_binary(name, sa, sb):
    out = np.broadcast_shapes(sa, sb)
    check(model([t(sa, "bool"), t(sb, "bool"), t(out, "bool")], [(name, [0, 1], [2], None, {})], [2]), name, "logic")


def test_logical_with_constant_operand():
    c = t((4,), "bool", data=np.array([True, False, True, False]))
    check(model([t((3, 4), "bool"), c, t((3, 4), "bool")], [("LOGICAL_AND", [0, 1], [2], None, {})], [2]),
          "LOGICAL_AND", "logic")


def test_logical_not():
    check(model([t((2, 3, 4), "bool"), t((2, 3, 4), "bool")], [("LOGICAL_NOT", [0], [1], None, {})], [1]),
          "LOGICAL_NOT", "logic")


def test_logical_chain_from_float_comparisons():
    """Comparisons make the bools: GREATER, LESS, LOGICAL_OR, LOGICAL_NOT, EQUAL on bools."""
    tensors = [t((3, 4), "float32"), t((1, 4), "float32"), t((3, 4), "bool"), t((3, 4), "bool"), t((3, 4), "bool"),
               t((3, 4), "bool"), t((3, 4), "bool")]
    ops = [("GREATER", [0, 1], [2], None, {}), ("LESS", [0, 1], [3], None, {}), ("LOGICAL_OR", [2, 3], [4], None, {}),
           ("LOGICAL_NOT", [4], [5], None, {}), ("NOT_EQUAL", [5, 2], [6], None, {})]
    check(model(tensors, ops, [6]), "LOGICAL_NOT", "logic")


SELECT_SHAPES = [
    ((2, 3, 4), (2, 3, 4), (2, 3, 4)),
    ((3, 1), (2, 3, 4), (4,)),
    ((), (2, 3, 4), (2, 3, 4)),
    ((2, 1, 4), (1, 3, 1), (2, 3, 4)),
    ((1, 1, 1, 1, 5), (2, 3, 1, 1, 1), (1, 3, 4, 1, 5)),  # 5-D, all three broadcast
]


@pytest.mark.parametrize("shapes", SELECT_SHAPES, ids=["same", "mixed", "scalar-cond", "cond-x", "5d"])
@pytest.mark.parametrize("dtype", ["int8", "int16", "float32"])
def test_select_v2(dtype, shapes):
    sc, sx, sy = shapes
    out = np.broadcast_shapes(sc, sx, sy)
    tensors = [t(sc, "bool"), t(sx, dtype), t(sy, dtype), t(out, dtype)]
    check(model(tensors, [("SELECT_V2", [0, 1, 2], [3], None, {})], [3]), "SELECT_V2", "select")


@pytest.mark.parametrize("constant", ["condition", "x", "y"])
def test_select_v2_constant_operand(constant):
    rng = np.random.default_rng(0)
    cond = t((3, 1), "bool", data=np.array([[True], [False], [True]]) if constant == "condition" else None)
    x = t((3, 4), "int16", 1e-3, data=rng.integers(-32768, 32768, (3, 4)).astype(np.int16) if constant == "x" else None)
    y = t((4,), "int16", 1e-3, data=rng.integers(-32768, 32768, (4,)).astype(np.int16) if constant == "y" else None)
    check(model([cond, x, y, t((3, 4), "int16", 1e-3)], [("SELECT_V2", [0, 1, 2], [3], None, {})], [3]),
          "SELECT_V2", "select")


# ---- refusals ----------------------------------------------------------------------------


def test_refuses_int16_greater():
    refused(compare_model("GREATER", t((4,), "int16"), t((4,), "int16"), (4,)), "parameters it never sets")


@pytest.mark.parametrize("name", ["EQUAL", "LESS"])
def test_refuses_int16_comparisons(name):
    refused(compare_model(name, t((4,), "int16"), t((4,), "int16"), (4,)), "types int16")


def test_refuses_bool_ordering():
    refused(compare_model("GREATER_EQUAL", t((4,), "bool"), t((4,), "bool"), (4,)), "types bool")


def test_refuses_int8_comparison_with_scale_of_one_or_more():
    refused(compare_model("LESS", t((4,), "int8", 1.5), t((4,), "int8", 0.5), (4,)), "TFLite Micro aborts")


def test_refuses_select_of_int32():
    tensors = [t((4,), "bool"), t((4,), "int32"), t((4,), "int32"), t((4,), "int32")]
    refused(model(tensors, [("SELECT_V2", [0, 1, 2], [3], None, {})], [3]), "types bool,int32")


def test_refuses_logical_and_of_int8():
    refused(model([t((4,), "int8"), t((4,), "int8"), t((4,), "bool")], [("LOGICAL_AND", [0, 1], [2], None, {})], [2]),
            "types int8")
