"""One-input operators in forms TensorFlow's converter does not produce, written directly
(compiler/writer.py) and judged by TFLite Micro (LiteRT for GELU): every CAST type pair,
ZEROS_LIKE, int16 ABS with and without quantization, RSQRT at chosen scales, HARD_SWISH,
ELU, GELU, LOG_SOFTMAX and L2_NORMALIZATION parameter sweeps, float32 activations, and
the refusals of what TFLite Micro refuses. Scales are chosen where they tell apart the
reference's double and float32 ways of computing a multiplier."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from tflite.TensorType import TensorType
from unary_models import ALL_INT8, ALL_INT16, check, check_only, float_probes, one_op, op_names

from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.errors import UnsupportedError
from protobrain.resources import kernels_dir
from protobrain.verify.reference import Reference

N = 4096
L2 = ("L2NormOptions", {"FusedActivationFunction": 0})


def _refused(data: bytes, match: str):
    with pytest.raises(UnsupportedError, match=match):
        build_program(read_model_bytes(data, "refused"))


# ---- CAST: every pair TFLite Micro converts ------------------------------------------------

CAST_TYPES = ["int8", "int16", "int32", "uint32", "float32", "bool"]


def _cast_inputs(dtype: str) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    if dtype == "float32":
        return [x.reshape(1, N) for x in float_probes(N)]
    if dtype == "bool":
        return [rng.integers(0, 2, (1, N)).astype(np.bool_)]
    info = np.iinfo(dtype)
    edges = np.array([info.min, info.max, 0, 1, -1, 127, 128, -128, -129, 255, 256, 32767, 32768, -32769,
                      65535, 65536, 2**24 + 1, 2**31 - 1, 2**31, -(2**31)], np.int64)
    edges = edges[(edges >= info.min) & (edges <= info.max)]
    mixed = rng.integers(info.min, info.max, N, endpoint=True, dtype=np.int64)
    mixed[: len(edges)] = edges
    return [mixed.astype(dtype).reshape(1, N)]


@pytest.mark.parametrize("to", CAST_TYPES)
@pytest.mark.parametrize("frm", CAST_TYPES)
def test_cast(frm, to):
    data = one_op("CAST", (frm, [1, N], None, 0), (to, [1, N], None, 0), "CastOptions",
                  {"InDataType": getattr(TensorType, frm.upper()), "OutDataType": getattr(TensorType, to.upper())})
    assert op_names(data) == ["CAST"]
    check(data, f"cast_{frm}_{to}", extra=_cast_inputs(frm), n_random=3)


def test_cast_ignores_quantization():
    data = one_op("CAST", ("int16", [1, N], 0.1, 0), ("int32", [1, N], None, 0))
    check(data, "cast_q", extra=[np.resize(ALL_INT16, (1, N))], n_random=3)


def test_cast_to_uint8_refused():
    _refused(one_op("CAST", ("int8", [1, 8], None, 0), ("uint8", [1, 8], None, 0)), "CAST int8->uint8")


# ---- ZEROS_LIKE ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype,scale,zp", [("int8", 0.1, 5), ("int32", None, 0), ("int64", None, 0),
                                            ("float32", None, 0)])
def test_zeros_like(dtype, scale, zp):
    data = one_op("ZEROS_LIKE", (dtype, [2, 33], scale, zp), (dtype, [2, 33], scale, zp))
    check(data, f"zeros_{dtype}", n_random=3)


def test_zeros_like_int16_refused():
    _refused(one_op("ZEROS_LIKE", ("int16", [4], 0.1, 0), ("int16", [4], 0.1, 0)), "takes int8, int32, int64, float32")


# ---- ABS -----------------------------------------------------------------------------------

ABS8 = [(0.05, 3, 0.05, 3), (0.05, 3, 0.03, -10), (0.02, -128, 0.1, 127), (0.5, 100, 0.004, -128)]


@pytest.mark.parametrize("s_in,zp_in,s_out,zp_out", ABS8)
def test_abs_int8(s_in, zp_in, s_out, zp_out):
    data = one_op("ABS", ("int8", [1, 16, 16], s_in, zp_in), ("int8", [1, 16, 16], s_out, zp_out))
    check(data, "abs8", extra=[ALL_INT8], n_random=2)


# Same scale (no rescale), and scales whose double and float32 ratios round apart.
ABS16 = [(0.001, 0.001), (0.0010559497168287635, 0.007960262708365917), (0.00042040020343847573, 0.0007025106460787356),
         (0.01, 0.0003)]


@pytest.mark.parametrize("s_in,s_out", ABS16)
def test_abs_int16(s_in, s_out):
    data = one_op("ABS", ("int16", [1, 256, 256], s_in, 0), ("int16", [1, 256, 256], s_out, 0))
    check(data, "abs16", extra=[ALL_INT16], n_random=1)


def test_abs_int16_plain_integers():
    """Without quantization the reference takes |x| of the integers (|-32768| wraps)."""
    data = one_op("ABS", ("int16", [1, 256, 256], None, 0), ("int16", [1, 256, 256], None, 0))
    check(data, "abs16p", extra=[ALL_INT16], n_random=1)


def test_abs_int16_zero_point_refused():
    _refused(one_op("ABS", ("int16", [8], 0.1, 3), ("int16", [8], 0.1, 0)), "zero points must be 0")


# ---- RSQRT (the reference refuses inputs below the zero point: only valid ones are fed) -------


@pytest.mark.parametrize("s_in,zp_in,s_out,zp_out", [(0.05, 3, 0.03, -10), (0.002, -128, 0.2, -128),
                                                     (0.7, 0, 0.01, 5), (0.01, -20, 0.9, -128)])
def test_rsqrt_int8(s_in, zp_in, s_out, zp_out):
    data = one_op("RSQRT", ("int8", [1, 128], s_in, zp_in), ("int8", [1, 128], s_out, zp_out))
    valid = np.arange(zp_in, 128)
    check_only(data, "rsqrt8", [np.resize(valid, 128).astype(np.int8).reshape(1, 128)])


@pytest.mark.parametrize("s_in,s_out", [(0.001, 0.002), (0.0027712597511708736, 1.8868953702622093e-05),
                                        (0.00010911437857430428, 0.00034134843735955656), (0.3, 0.0001)])
def test_rsqrt_int16(s_in, s_out):
    data = one_op("RSQRT", ("int16", [128, 256], s_in, 0), ("int16", [128, 256], s_out, 0))
    check_only(data, "rsqrt16", [np.arange(0, 32768, dtype=np.int16).reshape(128, 256)])


def test_rsqrt_int16_zero_point_refused():
    _refused(one_op("RSQRT", ("int16", [8], 0.1, 0), ("int16", [8], 0.1, 4)), "zero points must be 0")


# ---- HARD_SWISH, ELU, GELU (int8 tables) -----------------------------------------------------

# Input scales on both sides of the relu-ish multiplier's unit exponent, output scales up to
# 2^20 times the input's (the reference's 16-bit rounding shift by 16 and more).
HARD_SWISH8 = [(0.05, 3, 0.03, -10), (0.002, -100, 0.002, -128), (0.2, 0, 0.05, -100), (0.6, 20, 0.09, 0),
               (0.001, 0, 100.0, 0), (0.01, 5, 300.0, -3), (0.03, -7, 1.0 / 4096, -128), (3.0, 0, 0.5, -20)]


@pytest.mark.parametrize("s_in,zp_in,s_out,zp_out", HARD_SWISH8)
def test_hard_swish_int8(s_in, zp_in, s_out, zp_out):
    data = one_op("HARD_SWISH", ("int8", [1, 16, 16], s_in, zp_in), ("int8", [1, 16, 16], s_out, zp_out))
    check(data, "hswish8", extra=[ALL_INT8], n_random=2)


def test_hard_swish_output_scale_too_small_refused():
    _refused(one_op("HARD_SWISH", ("int8", [8], 1.0, 0), ("int8", [8], 0.001, 0)), "output scale")


LUT8 = [(0.05, 3, 0.03, -10), (0.2, -128, 0.01, 0), (0.002, 50, 0.5, 127), (1.5, 0, 0.06, -128)]


@pytest.mark.parametrize("s_in,zp_in,s_out,zp_out", LUT8)
def test_elu_int8(s_in, zp_in, s_out, zp_out):
    data = one_op("ELU", ("int8", [1, 16, 16], s_in, zp_in), ("int8", [1, 16, 16], s_out, zp_out))
    check(data, "elu8", extra=[ALL_INT8], n_random=2)


@pytest.mark.parametrize("approximate", [False, True])
@pytest.mark.parametrize("s_in,zp_in,s_out,zp_out", LUT8)
def test_gelu_int8(s_in, zp_in, s_out, zp_out, approximate):
    data = one_op("GELU", ("int8", [1, 16, 16], s_in, zp_in), ("int8", [1, 16, 16], s_out, zp_out),
                  "GeluOptions", {"Approximate": approximate})
    check(data, "gelu8", extra=[ALL_INT8], n_random=2, golden="litert")


# ---- LOG_SOFTMAX, L2_NORMALIZATION ---------------------------------------------------------------


@pytest.mark.parametrize("s_in,zp_in", [(0.05, 3), (0.5, -128), (4.0, 0), (0.001, 10), (2.0 ** -20, 0)])
@pytest.mark.parametrize("shape", [[4, 64], [2, 3, 300]], ids=["4x64", "2x3x300"])
def test_log_softmax_int8(shape, s_in, zp_in):
    data = one_op("LOG_SOFTMAX", ("int8", shape, s_in, zp_in), ("int8", shape, 1 / 16, 127))
    rng = np.random.default_rng(3)
    peaky = rng.integers(-128, -100, shape).astype(np.int8)
    peaky[..., ::7] = 127
    check(data, "lsm8", extra=[np.resize(ALL_INT8, shape), peaky], n_random=10)


def test_log_softmax_int8_refusals():
    _refused(one_op("LOG_SOFTMAX", ("int8", [2, 8], 0.05, 0), ("int8", [2, 8], 1 / 256, -128)), "scale 1/16")
    _refused(one_op("LOG_SOFTMAX", ("int8", [2, 8], 2.0 ** -27, 0), ("int8", [2, 8], 1 / 16, 127)), "too small")
    _refused(one_op("LOG_SOFTMAX", ("int8", [1, 4096], 0.05, 0), ("int8", [1, 4096], 1 / 16, 127)), "depth 4096")


@pytest.mark.parametrize("shape", [[4, 64], [2, 3, 257], [1, 1, 1, 1]], ids=["4x64", "2x3x257", "1"])
def test_log_softmax_float32(shape):
    data = one_op("LOG_SOFTMAX", ("float32", shape, None, 0), ("float32", shape, None, 0))
    size = int(np.prod(shape))
    probes = [x.reshape(shape) for x in float_probes(size)]
    check(data, "lsmf", extra=probes + [np.full(shape, -np.inf, np.float32)], n_random=5)


@pytest.mark.parametrize("zp", [0, -128, 127, 31])
@pytest.mark.parametrize("shape", [[4, 64], [3, 1000], [2, 2, 2, 3]], ids=["4x64", "3x1000", "2x2x2x3"])
def test_l2_normalization_int8(shape, zp):
    data = one_op("L2_NORMALIZATION", ("int8", shape, 0.05, zp), ("int8", shape, 1 / 128, 0), *L2)
    at_zero = np.full(shape, zp, np.int8)  # all-zero rows take the reference's 1/sqrt(0) branch
    one_off = at_zero.copy()
    one_off[..., 0] = np.int8(zp + 1 if zp < 127 else zp - 1)
    check(data, "l2n8", extra=[np.resize(ALL_INT8, shape), at_zero, one_off], n_random=10)


def test_l2_normalization_refusals():
    relu = ("L2NormOptions", {"FusedActivationFunction": 1})
    _refused(one_op("L2_NORMALIZATION", ("int8", [2, 8], 0.05, 0), ("int8", [2, 8], 1 / 128, 0), *relu), "RELU")
    _refused(one_op("L2_NORMALIZATION", ("int16", [2, 8], 0.05, 0), ("int16", [2, 8], 1 / 128, 0), *L2), "takes float32, int8")
    _refused(one_op("L2_NORMALIZATION", ("int8", [1, 1, 1, 2, 8], 0.05, 0), ("int8", [1, 1, 1, 2, 8], 1 / 128, 0), *L2),
             "5 dimensions")


@pytest.mark.parametrize("shape", [[4, 64], [2, 3, 257]], ids=["4x64", "2x3x257"])
def test_l2_normalization_float32(shape):
    data = one_op("L2_NORMALIZATION", ("float32", shape, None, 0), ("float32", shape, None, 0), *L2)
    size = int(np.prod(shape))
    tiny = np.full(shape, 1e-9, np.float32)  # the norm falls below the 1e-6 floor
    check(data, "l2nf", extra=[x.reshape(shape) for x in float_probes(size)] + [tiny, np.zeros(shape, np.float32)],
          n_random=5)


# ---- float32 forms written directly -------------------------------------------------------------

FLOAT_WRITTEN = ["ABS", "NEG", "SQUARE", "SQRT", "RSQRT", "EXP", "LOG", "FLOOR", "CEIL", "ROUND", "COS", "SIN",
                 "ELU", "HARD_SWISH", "RELU", "RELU6", "LOGISTIC", "TANH"]


@pytest.mark.parametrize("op", FLOAT_WRITTEN)
def test_float32_written(op):
    data = one_op(op, ("float32", [1, N], None, 0), ("float32", [1, N], None, 0))
    check(data, f"f_{op.lower()}", extra=[x.reshape(1, N) for x in float_probes(N, seed=11)], n_random=3)


@pytest.mark.parametrize("alpha", [0.2, -0.5, 1.7, 0.0])
def test_leaky_relu_float32(alpha):
    data = one_op("LEAKY_RELU", ("float32", [1, N], None, 0), ("float32", [1, N], None, 0), "LeakyReluOptions",
                  {"Alpha": alpha})
    check(data, "f_leaky", extra=[x.reshape(1, N) for x in float_probes(N)], n_random=3)


# ---- what TFLite Micro has no kernel for: refused with the reason --------------------------------

REFUSED = [("COS", "int8"), ("SQUARE", "int8"), ("SIN", "int16"), ("ROUND", "int16"), ("FLOOR", "int8"),
           ("ELU", "int16"), ("HARD_SWISH", "int16"), ("LOG_SOFTMAX", "int16"), ("ABS", "int32"),
           ("RSQRT", "int32"), ("GELU", "int16")]


@pytest.mark.parametrize("op,dtype", REFUSED)
def test_refused_types(op, dtype):
    opts = ("GeluOptions", {"Approximate": False}) if op == "GELU" else (None, None)
    data = one_op(op, (dtype, [8], 0.1, 0), (dtype, [8], 0.1, 0), *opts)
    _refused(data, f"{op} \\({dtype}->{dtype}: {dtype} {op}: .*(TFLite Micro|LiteRT)")


def test_relu_int32_refused():
    _refused(one_op("RELU", ("int32", [8], None, 0), ("int32", [8], None, 0)), "types int32,int32")


# ---- the golden chosen ------------------------------------------------------------------------


def test_golden_choice():
    gelu = one_op("GELU", ("int8", [1, 16], 0.05, 0), ("int8", [1, 16], 0.05, 0), "GeluOptions", {"Approximate": False})
    auto = Reference(gelu)
    assert (auto.golden, auto.missing_kernels) == ("litert", ["GELU"])
    with pytest.raises(RuntimeError):
        Reference(gelu, golden="tflm")
    abs8 = one_op("ABS", ("int8", [1, 256], 0.05, 3), ("int8", [1, 256], 0.03, -10))
    assert Reference(abs8).golden == "tflm"
    litert = Reference(abs8, golden="litert")
    assert litert.golden == "litert" and litert.arena_bytes() is None
    x = ALL_INT8.reshape(1, 256)
    np.testing.assert_array_equal(litert.run(x), Reference(abs8).run(x))
    with pytest.raises(ValueError, match="golden"):
        Reference(abs8, golden="tf")


# ---- the kernels for Cortex-M ----------------------------------------------------------------


@pytest.mark.parametrize("cpu", ["cortex-m0plus", "cortex-m4", "cortex-m55"])
def test_kernels_compile_and_link_for_cortex_m(cpu, tmp_path):
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    portable = kernels_dir() / "portable"
    main = tmp_path / "main.c"
    main.write_text('#include "pb_unary.h"\n#include "pb_unary_f32.h"\nstatic float x[4], y[4];\n'
                    "int main(void) { const pb_unary_f32_params_t p = {4}; pb_exp_f32(&p, x, y);"
                    " pb_log_f32(&p, x, y); pb_sin_f32(&p, x, y); pb_elu_f32(&p, x, y); return (int)y[0]; }\n")
    fpu = ["-mfloat-abi=hard"] if cpu != "cortex-m0plus" else []
    cmd = [cc, f"-mcpu={cpu}", "-mthumb", *fpu, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror",
           "-ffunction-sections", "-Wl,--gc-sections", "--specs=nano.specs", "--specs=nosys.specs",
           "-I", str(portable), "-I", str(kernels_dir()), "-o", str(tmp_path / "a.elf"), str(main),
           str(portable / "pb_unary.c"), str(portable / "pb_unary_f32.c"), "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
