"""ELU, HARD_SWISH, GELU, LOG_SOFTMAX, L2_NORMALIZATION.

- int8 ELU and GELU: the reference builds a 256-entry table in float32 at Prepare time
  (dequantize, expf(x) - 1 or 0.5 x erfc(-x/sqrt 2) / the tanh form, requantize); the same
  table is built here step by step with the host's C math functions (unary_common).
  TFLite Micro has no GELU kernel: GELU is checked against LiteRT's reference kernels.
- int8 HARD_SWISH: the reference's int16 fixed-point arithmetic (two 16-bit multipliers,
  saturating shifts, a rounding and a truncating doubling high multiply) evaluated here on
  all 256 inputs into a table, int16 wrap-arounds included.
- int8 LOG_SOFTMAX: per row in C (pb_unary): exp of the scaled differences to the row
  maximum (a 256-entry Q12.19 table), their sum, its fixed-point log (Q5.26), and the
  output in steps of 1/16 from 127 down; output scale 16/256 and zero point 127 required.
- int8 L2_NORMALIZATION: per row in C: the int32 sum of squares, its fixed-point 1/sqrt
  (Newton-Raphson, as RSQRT), outputs in steps of 1/128 (the output's own quantization is
  not applied, as in the reference).
- float32 forms of all but GELU: pb_unary_f32 (expm1f, expf, logf, sqrtf in the reference's
  order of operations; see unary_math on the C library). LiteRT's float32 GELU uses Eigen's
  own erfc/tanh approximations, which are not reproduced: it is refused.
"""

from __future__ import annotations

import math

import numpy as np

from protobrain.compiler import fixedpoint as fp
from protobrain.compiler.ops.base import KernelCall, const, register, require
from protobrain.compiler.ops.unary_common import (F32, INT8, f32_call, libm_f32, lut_s8, per_tensor_quant,
                                                  populate_lut_s8, same_shape_io)
from protobrain.compiler.quantization import OutOfRange, f32, quantize_multiplier


def _io8(op, g):
    inp, out = same_shape_io(op, g)
    require(inp.dtype == out.dtype, f"types {inp.dtype}->{out.dtype}")
    return inp, out


# ---- ELU -------------------------------------------------------------------------------------


@register("ELU", types=("int8", "float32"))
def lower_elu(op, g):
    inp, out = _io8(op, g)
    require(inp.dtype in ("float32", "int8"), f"{inp.dtype} ELU: TFLite Micro's ELU takes float32, int8")
    if inp.dtype == "float32":
        return f32_call(op, g, "pb_elu_f32")
    per_tensor_quant(inp, out)
    expf = libm_f32("expf")

    def elu(x):
        return F32(expf(x) - F32(1.0)) if x < 0 else x

    return lut_s8(op, populate_lut_s8(elu, inp.quant.s, inp.quant.zp, out.quant.s, out.quant.zp), inp.size)


# ---- GELU (LiteRT) ---------------------------------------------------------------------------


@register("GELU", types=("int8",), litert_golden="int8")
def lower_gelu(op, g):
    inp, out = _io8(op, g)
    require(inp.dtype != "float32", "float32 GELU: LiteRT computes it with Eigen's approximations of erfc and "
                                    "tanh, which protobrain does not reproduce (TFLite Micro has no GELU)")
    require(inp.dtype == "int8", f"{inp.dtype} GELU: neither TFLite Micro nor LiteRT has a kernel for it "
                                 "(LiteRT's takes float32, int8, uint8)")
    per_tensor_quant(inp, out)
    if op.options.get("approximate", False):
        tanhf = libm_f32("tanhf")
        k = F32(2.0 / math.sqrt(math.pi) * math.sqrt(0.5))

        def gelu(x):
            cube = F32(F32(F32(F32(0.044715) * x) * x) * x)
            return F32(F32(F32(0.5) * x) * F32(F32(1.0) + tanhf(F32(k * F32(x + cube)))))
    else:
        erfcf = libm_f32("erfcf")
        minus_sqrt_half = F32(-math.sqrt(0.5))

        def gelu(x):
            return F32(F32(F32(0.5) * x) * erfcf(F32(x * minus_sqrt_half)))

    return lut_s8(op, populate_lut_s8(gelu, inp.quant.s, inp.quant.zp, out.quant.s, out.quant.zp), inp.size)


# ---- HARD_SWISH ------------------------------------------------------------------------------


def _s16(x: int) -> int:
    x &= 0xFFFF
    return x - 0x10000 if x & 0x8000 else x


def _srdhm16(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul on int16."""
    if a == b == -32768:
        return 32767
    ab = a * b
    nudge = (1 << 14) if ab >= 0 else 1 - (1 << 14)
    return _s16(fp._trunc_div(ab + nudge, 1 << 15))


def _sdhm16(a: int, b: int) -> int:
    """SaturatingDoublingHighMul on int16: the product halved, truncated toward zero."""
    if a == b == -32768:
        return 32767
    return _s16(fp._trunc_div(a * b, 1 << 15))


def _rdpot16(x: int, exponent: int) -> int:
    """RoundingDivideByPOT on int16: the mask is (1 << exponent) - 1 cut to 16 bits."""
    mask = _s16((1 << exponent) - 1)
    remainder = _s16(x & mask)
    threshold = _s16((mask >> 1) + (1 if x < 0 else 0))
    return _s16((x >> exponent) + (1 if remainder > threshold else 0))


def _sat_shl16(x: int, amount: int) -> int:
    return max(-32768, min(32767, x * (1 << amount)))


def _int16_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier, then DownScaleInt32ToInt16Multiplier (rounded, capped at 32767)."""
    m, e = fp.quantize_multiplier_unclamped(real)
    require(0 <= m, f"negative multiplier {real}")
    return (32767 if m >= (1 << 31) - 1 - (1 << 15) else (m + (1 << 15)) >> 16), e


@register("HARD_SWISH", types=("int8", "float32"))
def lower_hard_swish(op, g):
    inp, out = _io8(op, g)
    require(inp.dtype in ("float32", "int8"), f"{inp.dtype} HARD_SWISH: TFLite Micro's HARD_SWISH takes float32, int8")
    if inp.dtype == "float32":
        return f32_call(op, g, "pb_hard_swish_f32")
    per_tensor_quant(inp, out)
    hires_scale = F32(F32(1.0 / 128.0) * f32(inp.quant.s))
    out_mult, out_exp = _int16_multiplier(float(hires_scale) / float(f32(out.quant.s)))
    require(out_exp <= 0, f"output scale {float(out.quant.s):g} too small for the input scale {float(inp.quant.s):g}")
    relu_mult, relu_exp = _int16_multiplier(float(hires_scale) / float(F32(3.0 / 32768.0)))
    require(-31 <= relu_exp <= 31 and out_exp >= -31, f"input scale {float(inp.quant.s):g} out of range")
    zp_in, zp_out = inp.quant.zp, out.quant.zp
    table = []
    for q in INT8:
        hires = _s16(_s16(int(q) - zp_in) * 128)
        preshift = _srdhm16(hires, out_mult)
        reluish = hires
        if relu_exp > 0:
            reluish = _sat_shl16(reluish, relu_exp - 1)
        reluish = _srdhm16(reluish, relu_mult)
        if relu_exp > 0:
            reluish = _sat_shl16(reluish, 1)
        if relu_exp < 0:
            reluish = _rdpot16(reluish, -relu_exp)
        reluish = _s16((reluish + (1 << 15)) >> 1)
        v = _s16(_rdpot16(_sdhm16(reluish, preshift), -out_exp) + zp_out)
        table.append(min(max(v, -128), 127))
    return lut_s8(op, table, inp.size)


# ---- LOG_SOFTMAX -----------------------------------------------------------------------------

_Q5 = 5  # integer bits of the scaled differences (Q5.26)


def _rows(op, g):
    inp, out = _io8(op, g)
    require(len(inp.shape) >= 1 and tuple(inp.shape) == tuple(out.shape),
            f"input shape {inp.shape} differs from output shape {out.shape}")
    depth = int(inp.shape[-1])
    return inp, out, (inp.size // depth if depth else 0), depth


@register("LOG_SOFTMAX", types=("int8", "float32"))
def lower_log_softmax(op, g):
    inp, out, outer, depth = _rows(op, g)
    require(inp.dtype in ("float32", "int8"), f"{inp.dtype} LOG_SOFTMAX: TFLite Micro's LOG_SOFTMAX takes float32, int8")
    if inp.dtype == "float32":
        return KernelCall(kernel="pb_unary_f32", function="pb_log_softmax_f32", struct="pb_rows_f32_params_t",
                          fields={"outer": outer, "depth": depth}, inputs=[op.inputs[0]], outputs=[op.outputs[0]])
    per_tensor_quant(inp, out)
    require(f32(out.quant.s) == F32(16.0 / 256.0) and out.quant.zp == 127,
            f"int8 output must be scale 1/16, zero point 127 (has {float(out.quant.s):g}, {out.quant.zp})")
    require(depth < 4096, f"depth {depth} too large for the fixed-point sum of exps")
    # PreprocessLogSoftmaxScalingExp with beta 1: the input scale into Q5.26, a multiplier > 1.
    real = min(float(f32(inp.quant.s)) * float(1 << (31 - _Q5)), float((1 << 31) - 1))
    require(real > 1.0, f"input scale {float(inp.quant.s):g} too small for the reference (below 2^-26)")
    mult, left_shift = fp.quantize_multiplier_unclamped(real)
    require(0 <= left_shift <= 30, f"input scale {float(inp.quant.s):g} too large")
    reverse = (1 << (31 - left_shift)) / float(mult)
    require(0.0 < reverse < 1.0, f"input scale {float(inp.quant.s):g} out of range")
    try:
        rev_mult, rev_shift = quantize_multiplier(reverse)
    except OutOfRange as e:
        require(False, str(e))
    diff_min = -fp.input_radius(_Q5, left_shift)
    diff_q5, exp_q12 = [], []
    for k in range(256):
        d = fp.mul_by_quantized_mult(-k, mult, left_shift)
        diff_q5.append(d)
        exp_q12.append(fp.rdpot(fp.exp_on_negative_values(d, _Q5), 12) if -k >= diff_min else 0)
    return KernelCall(
        kernel="pb_unary", function="pb_log_softmax_s8", struct="pb_log_softmax_s8_params_t",
        fields={"outer": outer, "depth": depth, "diff_min": diff_min, "reverse_multiplier": rev_mult,
                "reverse_shift": rev_shift, "diff_q5": const("diff_q5", np.array(diff_q5, np.int64), "int32_t"),
                "exp_q12": const("exp_q12", np.array(exp_q12, np.int64), "int32_t")},
        inputs=[op.inputs[0]], outputs=[op.outputs[0]],
    )


# ---- L2_NORMALIZATION ------------------------------------------------------------------------


@register("L2_NORMALIZATION", types=("int8", "float32"))
def lower_l2_normalization(op, g):
    inp, out, outer, depth = _rows(op, g)
    require(inp.dtype in ("float32", "int8"),
            f"{inp.dtype} L2_NORMALIZATION: TFLite Micro's L2_NORMALIZATION takes float32, int8")
    require(len(inp.shape) <= 4, f"{len(inp.shape)} dimensions (TFLite Micro takes at most 4)")
    act = op.options.get("fused_activation_function", "NONE")
    require(act == "NONE", f"fused activation {act} (TFLite Micro supports none)")
    if inp.dtype == "float32":
        return KernelCall(kernel="pb_unary_f32", function="pb_l2norm_f32", struct="pb_rows_f32_params_t",
                          fields={"outer": outer, "depth": depth}, inputs=[op.inputs[0]], outputs=[op.outputs[0]])
    per_tensor_quant(inp)
    zp = inp.quant.zp
    worst = max(abs(-128 - zp), abs(127 - zp)) ** 2 * depth
    require(worst < 2**31, f"depth {depth} overflows the reference's int32 sum of squares")
    return KernelCall(
        kernel="pb_unary", function="pb_l2norm_s8", struct="pb_l2norm_s8_params_t",
        fields={"outer": outer, "depth": depth, "input_offset": zp},
        inputs=[op.inputs[0]], outputs=[op.outputs[0]],
    )

