"""The integer EXP, LOG, SQRT and NEG that TFLite Micro has no kernel for (its kernels take
float32 only), judged by LiteRT's reference kernels: int8 EXP, LOG, SQRT and 16x8 EXP, LOG
as TensorFlow's converter emits them on model inputs (every int8 / int16 input) and after
Dense layers (the operator's step judged on LiteRT's own inputs to it), written models
sweeping scales and zero points over every int8 and int16 input (int16 SQRT and the NEG
forms, which the converter does not emit), the generation-time tables checked against
LiteRT directly over many random quantizations, the refusal of the integer forms neither
TFLite Micro nor LiteRT runs, and the golden chosen for them."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from builders import convert
from conftest import check_model_bytes
from unary_models import ALL_INT8, ALL_INT16, check, check_only, lambda_model, one_op, op_names

from protobrain.compiler.ops import unary_lut
from protobrain.compiler.ops.base import LITERT_GOLDEN, TYPES
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.errors import UnsupportedError
from protobrain.run.host import compile_bytes
from protobrain.verify.reference import Reference

rid = "{0[0]}_{0[1]}".format


def _dense_model(fn_name: str):
    """Dense(16) on 8 inputs, then keras.ops.<fn> (log and sqrt of |y| + 0.1)."""
    def make():
        import keras

        fns = {"exp": keras.ops.exp,
               "log": lambda y: keras.ops.log(keras.ops.abs(y) + 0.1),
               "sqrt": lambda y: keras.ops.sqrt(keras.ops.abs(y) + 0.1)}
        x = keras.Input((8,), batch_size=1)
        return keras.Model(x, keras.layers.Lambda(fns[fn_name])(keras.layers.Dense(16)(x)))

    return make


def _integer_op(data: bytes, name: str) -> str:
    """The type of the converter's `name` operator, which must be there."""
    g = read_model_bytes(data)
    ops = [op for op in g.operators if op.name == name]
    assert ops, op_names(data)
    return g.tensors[ops[0].inputs[0]].dtype


def _assert_litert(data: bytes, *forms: str) -> None:
    reference = Reference(data)
    assert (reference.golden, reference.missing_kernels) == ("litert", list(forms))


# ---- converter output on the model input: the whole model judged by LiteRT ----------------------

# (mode, function, operator, calibration range); log and sqrt of positive inputs.
SINGLE = [("int8", "exp", "EXP", (-3.0, 3.0)), ("int8", "exp", "EXP", (-0.5, 0.5)),
          ("int8", "exp", "EXP", (-20.0, 20.0)), ("int8", "log", "LOG", (0.05, 6.0)),
          ("int8", "log", "LOG", (0.001, 0.1)), ("int8", "sqrt", "SQRT", (0.0, 6.0)),
          ("int8", "sqrt", "SQRT", (0.0, 0.01)), ("16x8", "exp", "EXP", (-3.0, 3.0)),
          ("16x8", "exp", "EXP", (-0.2, 0.2)), ("16x8", "exp", "EXP", (-30.0, 30.0)),
          ("16x8", "log", "LOG", (0.05, 6.0)), ("16x8", "log", "LOG", (0.5, 300.0))]


@pytest.mark.parametrize("mode,fn,op,data_range", SINGLE, ids=[f"{m}-{f}-{r[0]:g}_{r[1]:g}" for m, f, _, r in SINGLE])
def test_keras_on_input(mode, fn, op, data_range):
    shape = (16, 16) if mode == "int8" else (256, 256)
    data = convert(lambda_model(lambda tf: getattr(tf.math, fn), shape), [shape], mode=mode, key=f"unary-litert-{fn}",
                   data_range=data_range)
    dtype = "int8" if mode == "int8" else "int16"
    assert op_names(data) == [op] and _integer_op(data, op) == dtype
    every = ALL_INT8 if dtype == "int8" else ALL_INT16
    if op == "SQRT":  # the zero point is -128 here: every input is valid
        assert read_model_bytes(data).tensors[0].quant.zp == -128
    _assert_litert(data, f"{op} {dtype}")
    check(data, f"lr_in_{fn}_{dtype}", extra=[every], n_random=2, golden="litert")
    if dtype == "int8":
        check_model_bytes(data, f"lr_in_{fn}_{dtype}", n_random=10)


# ---- converter output after a Dense layer: the LiteRT operator judged step by step ---------------
#
# LiteRT's reference FULLY_CONNECTED rounds its requantization once (single rounding), TFLite
# Micro's twice; they differ by one on a few outputs (10 of 4,800 on one of these models),
# and protobrain computes TFLite Micro's. So the whole model cannot be judged by LiteRT bit
# for bit: the EXP / LOG / SQRT step is fed LiteRT's own input to it, and its output
# compared with LiteRT's, on every case and both kernel tiers (the Dense, ABS and ADD steps
# are judged by TFLite Micro in their own tests).

KERAS = [("int8", "exp", "EXP"), ("int8", "log", "LOG"), ("int8", "sqrt", "SQRT"),
         ("16x8", "exp", "EXP"), ("16x8", "log", "LOG")]


def _check_step(data: bytes, name: str, op_name: str, cases) -> int:
    """Every `op_name` step of the compiled model, fed LiteRT's input tensor of that step,
    must give LiteRT's output tensor; returns the values compared."""
    reference = Reference(data, preserve_all_tensors=True)
    assert reference.golden == "litert"
    compared = 0
    for tier in ("portable", "dsp"):
        compiled = compile_bytes(data, name, tier=tier)
        program, base = compiled.program, ctypes.addressof(compiled._arena().contents)
        steps = [k for k, step in enumerate(program.steps) if step.op.name == op_name]
        assert steps, [step.op.name for step in program.steps]
        for x in cases:
            theirs = reference.run_layers(x)
            for k in steps:
                (src, *_), (dst,) = program.steps[k].op.inputs, program.steps[k].op.outputs
                given = np.ascontiguousarray(theirs[src])
                ctypes.memmove(base + program.plan.offset_of(src), given.tobytes(), given.nbytes)
                compiled._run_range(k, k + 1)
                want = np.ascontiguousarray(theirs[dst])
                got = np.frombuffer(ctypes.string_at(base + program.plan.offset_of(dst), want.nbytes), want.dtype)
                bad = np.nonzero(got != want.reshape(-1))[0]
                assert bad.size == 0, (tier, given.reshape(-1)[bad[:5]], got[bad[:5]], want.reshape(-1)[bad[:5]])
                compared += want.size
    return compared


@pytest.mark.parametrize("data_range", [(-1.0, 1.0), (-4.0, 4.0)], ids=rid)
@pytest.mark.parametrize("mode,fn,op", KERAS, ids=[f"{m}-{f}" for m, f, _ in KERAS])
def test_keras_dense(mode, fn, op, data_range):
    data = convert(_dense_model(fn), [(8,)], mode=mode, key=f"unary-litert-dense-{fn}", data_range=data_range)
    dtype = _integer_op(data, op)
    assert dtype == ("int8" if mode == "int8" else "int16")
    _assert_litert(data, f"{op} {dtype}")
    info = np.iinfo(dtype)
    rng = np.random.default_rng(4)
    cases = [rng.integers(info.min, info.max, (1, 8), endpoint=True).astype(dtype) for _ in range(40)]
    cases += [np.full((1, 8), v, dtype) for v in (info.min, info.max, 0)]
    assert _check_step(data, f"lr_dense_{fn}_{dtype}", op, cases) == 2 * 16 * len(cases)


# ---- written models: scales and zero points over every input -----------------------------------

# (input scale, input zero point, output scale, output zero point); the last ones overflow
# exp (saturating to 127), put much of log below the zero point, or push sqrt past int32.
INT8_QUANT = [(0.05, 3, 0.04, -1), (0.2, -128, 1.5, -128), (0.01, 100, 0.3, 127), (8.0, -20, 0.01, 5),
              (1.0, 0, 1e-4, 0), (1000.0, -128, 1e-7, -5)]


@pytest.mark.parametrize("quant", INT8_QUANT, ids=lambda q: "_".join(f"{v:g}" for v in q))
@pytest.mark.parametrize("op", ["EXP", "LOG", "SQRT"])
def test_int8_written(op, quant):
    s_in, zp_in, s_out, zp_out = quant
    data = one_op(op, ("int8", [1, 256], s_in, zp_in), ("int8", [1, 256], s_out, zp_out))
    _assert_litert(data, f"{op} int8")
    if op == "SQRT":  # LiteRT stops with an error below the input zero point
        check_only(data, "lr_sqrt8", [np.maximum(ALL_INT8.reshape(1, 256), zp_in).astype(np.int8)])
    else:
        check(data, f"lr_{op.lower()}8", extra=[ALL_INT8.reshape(1, 256)], n_random=2, golden="litert")


# exp overflows on part of the range at the first (its table holds NaN nodes, read as 0);
# log's node at 0 takes the output range's lowest value.
INT16_SCALES = [(0.05, 0.04), (1e-3, 3e-3), (3e-4, 1e-5), (2e-5, 0.5)]


@pytest.mark.parametrize("scales", INT16_SCALES, ids=lambda s: "_".join(f"{v:g}" for v in s))
@pytest.mark.parametrize("op", ["EXP", "LOG", "SQRT"])
def test_int16_written(op, scales):
    s_in, s_out = scales
    data = one_op(op, ("int16", [256, 256], s_in, 0), ("int16", [256, 256], s_out, 0))
    _assert_litert(data, f"{op} int16")
    if op == "SQRT":
        check_only(data, "lr_sqrt16", [np.abs(ALL_INT16.astype(np.int32)).clip(0, 32767).astype(np.int16)])
    else:
        check(data, f"lr_{op.lower()}16", extra=[ALL_INT16], n_random=1, golden="litert")


NEG_CASES = [("int8", 0.05, 3), ("int8", None, 0), ("int16", 0.05, 0), ("int16", None, 0), ("int32", None, 0),
             ("int64", None, 0)]


@pytest.mark.parametrize("dtype,scale,zp", NEG_CASES, ids=[f"{t}-{'q' if s else 'plain'}" for t, s, _ in NEG_CASES])
def test_neg_written(dtype, scale, zp):
    """Plain integer negation whatever the quantization (the output's differs from the input's)."""
    info = np.iinfo(dtype)
    if dtype in ("int8", "int16"):
        x = np.arange(info.min, info.max + 1, dtype=np.int64).astype(dtype)
    else:
        edges = np.array([info.min, info.min + 1, -1, 0, 1, info.max], dtype)
        x = np.concatenate([edges, np.random.default_rng(3).integers(info.min, info.max, 250, dtype=dtype)])
    data = one_op("NEG", (dtype, [1, x.size], scale, zp), (dtype, [1, x.size], scale and scale * 2, zp and zp + 1))
    _assert_litert(data, f"NEG {dtype}")
    check(data, f"lr_neg_{dtype}", extra=[x.reshape(1, -1)], n_random=2, golden="litert")


# ---- the tables against LiteRT over many quantizations (no C involved) -------------------------


def _litert_run(data: bytes, x: np.ndarray) -> np.ndarray:
    return np.asarray(Reference(data, golden="litert").run(x.reshape(1, -1))).reshape(-1).astype(np.int64)


def _random_quant(rng, dtype: str):
    s_in, s_out = (float(np.float32(10 ** rng.uniform(-6, 2))) for _ in range(2))
    if dtype == "int16":
        return s_in, 0, s_out, 0
    return s_in, int(rng.integers(-128, 128)), s_out, int(rng.integers(-128, 128))


def _our_values(op: str, dtype: str, quant, x: np.ndarray) -> np.ndarray:
    s_in, zp_in, s_out, zp_out = quant
    xs = x.astype(np.int64)
    if op == "SQRT":
        lo, hi = (-128, 127) if dtype == "int8" else (-32768, 32767)
        return np.array([unary_lut.sqrt_q(int(q), s_in, zp_in, s_out, zp_out, lo, hi) for q in xs])
    fn = unary_lut.transform(op, s_out, zp_out, -128 if dtype == "int8" else -32768)
    if dtype == "int8":
        return np.array(unary_lut.lut_s8(fn, s_in, zp_in, s_out, zp_out))[xs + 128]
    return unary_lut.lookup_s16(unary_lut.lut_s16(fn, s_in, zp_in, s_out, zp_out), xs)


@pytest.mark.parametrize("dtype,sets", [("int8", 40), ("int16", 8)])
@pytest.mark.parametrize("op", ["EXP", "LOG", "SQRT"])
def test_tables_match_litert(op, dtype, sets):
    """Every input of `sets` random quantizations (scales 1e-6 to 100): the formulas of
    unary_lut give LiteRT's values exactly, saturations, NaN nodes and truncations included."""
    rng = np.random.default_rng({"EXP": 1, "LOG": 2, "SQRT": 3}[op] + (10 if dtype == "int16" else 0))
    info = np.iinfo(dtype)
    for _ in range(sets):
        quant = _random_quant(rng, dtype)
        x = np.arange(max(info.min, quant[1]) if op == "SQRT" else info.min, info.max + 1).astype(dtype)
        if dtype == "int16" and op == "SQRT":
            x = x[::5]
        data = one_op(op, (dtype, [x.size], quant[0], quant[1]), (dtype, [x.size], quant[2], quant[3]))
        want, got = _litert_run(data, x), _our_values(op, dtype, quant, x)
        bad = np.nonzero(want != got)[0]
        assert bad.size == 0, (quant, x[bad[:5]], want[bad[:5]], got[bad[:5]])


# ---- refusals, registry, golden -------------------------------------------------------------------


def _refused(data: bytes, match: str):
    with pytest.raises(UnsupportedError, match=match):
        build_program(read_model_bytes(data, "refused"))


@pytest.mark.parametrize("op", ["SIN", "COS", "SQUARE", "FLOOR", "CEIL", "ROUND"])
@pytest.mark.parametrize("dtype", ["int8", "int16"])
def test_refused_neither_runs(op, dtype):
    _refused(one_op(op, (dtype, [8], 0.1, 0), (dtype, [8], 0.1, 0)),
             f"{dtype} {op}: TFLite Micro's {op} kernel takes float32 only, and neither TFLite Micro nor LiteRT")


def test_refused_other_forms():
    _refused(one_op("EXP", ("int32", [8], None, 0), ("int32", [8], None, 0)),
             "int32 EXP: .*LiteRT's float32, int8, int16")
    _refused(one_op("LOG", ("int16", [8], 0.1, 0), ("int16", [8], 0.1, 3)), "int16 zero points must be 0")
    _refused(one_op("SQRT", ("int16", [8], 0.1, 2), ("int16", [8], 0.1, 0)), "int16 zero points must be 0")
    _refused(one_op("EXP", ("int8", [8], 0.1, 0), ("int16", [8], 0.1, 0)), "types int8->int16")
    _refused(one_op("LOG", ("int8", [8], None, 0), ("int8", [8], None, 0)), "has no quantization")


def test_registry():
    for op in ("EXP", "LOG", "SQRT"):
        assert TYPES[op] == ("float32", "int8", "int16") and LITERT_GOLDEN[op] == "int8, int16"
    assert TYPES["NEG"] == ("float32", "int8", "int16", "int32", "int64")
    assert LITERT_GOLDEN["NEG"] == "int8, int16, int32, int64"
    assert TYPES["SIN"] == ("float32",) and "SIN" not in LITERT_GOLDEN


def test_golden_choice():
    exp8 = one_op("EXP", ("int8", [1, 16], 0.05, 0), ("int8", [1, 16], 0.05, 0))
    with pytest.raises(RuntimeError):
        Reference(exp8, golden="tflm")
    both = one_op("LOG", ("int16", [1, 16], 0.05, 0), ("int16", [1, 16], 0.05, 0))
    assert Reference(both).missing_kernels == ["LOG int16"]
    f32 = one_op("EXP", ("float32", [1, 16], None, 0), ("float32", [1, 16], None, 0))
    assert Reference(f32).golden == "tflm"
