"""LOGISTIC, TANH, RELU, RELU6, LEAKY_RELU.

int8: the whole function of one int8 input is a 256-entry table computed here, with the
reference's integer arithmetic reproduced exactly (fixedpoint.py); the kernel only looks up.
int16: run-time integer kernels (pb_activation), parameters computed here as Prepare does.
float32: pb_unary_f32, the reference's expressions in single precision (LOGISTIC: 1 or
expf(x) beyond its cut-offs, else 1 / (1 + expf(-x)); TANH: tanhf), as exact as the
target's C library (see unary_math).
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler import fixedpoint as fp
from protobrain.compiler.ops.base import KernelCall, const, register, require, require_types, tensors
from protobrain.compiler.ops.unary_common import f32_call
from protobrain.compiler.quantization import f32, quantize_multiplier, round_half_away

_INT8 = np.arange(-128, 128)
_FLOAT = ("float32", "float32")


def _is_float(op, g) -> bool:
    return tensors(op, g)[0][0].dtype == "float32"


def _lut_s8(op, values, size: int) -> KernelCall:
    table = np.clip(np.asarray(values, np.int64), -128, 127).astype(np.int8)
    return KernelCall(
        kernel="pb_lut", function="pb_lut_s8", struct="pb_lut_s8_params_t",
        fields={"size": size, "table": const("table", table, "int8_t")},
        inputs=[op.inputs[0]], outputs=[op.outputs[0]],
    )


def _io(op, g):
    (inp, *_), (out,) = tensors(op, g)
    require(inp.quant is not None and out.quant is not None, "missing quantization")
    require(not inp.quant.per_channel and not out.quant.per_channel, "per-channel activation tensor")
    require(inp.size == out.size, "input and output sizes differ")
    return inp, out


# ---- LOGISTIC / TANH ---------------------------------------------------------------------


def _sigmoid_like_s8(op, g, is_tanh: bool) -> KernelCall:
    inp, out = _io(op, g)
    if not is_tanh:
        require(out.quant.zp == -128, f"int8 LOGISTIC output zero point {out.quant.zp} (must be -128)")
    # Input rescaled to Q4.27 through a frexp'd multiplier; beyond the radius it saturates.
    mult, shift = fp.frexp_multiplier(float(f32(inp.quant.s)) * float(1 << 27))
    require(0 < mult < (1 << 31) and shift >= 0, f"input scale {inp.quant.s} out of range")
    radius = fp.input_radius(4, shift)
    zp = inp.quant.zp
    table = []
    for q in _INT8:
        x = int(q) - zp
        if x <= -radius:
            table.append(-128)
        elif x >= radius:
            table.append(127)
        else:
            a = fp.mul_by_quantized_mult(x, mult, shift)
            if is_tanh:
                table.append(fp.rdpot(fp.tanh(a, 4), 24))
            else:
                table.append(fp.rdpot(fp.logistic(a, 4), 23) - 128)
    return _lut_s8(op, table, inp.size)


def _sigmoid_like_s16(op, g, is_tanh: bool) -> KernelCall:
    inp, out = _io(op, g)
    require(inp.quant.zp == 0 and out.quant.zp == 0, "int16 zero points must be 0")
    pot, log2_in = fp.checked_log2(inp.quant.s)
    shift = 12 + log2_in
    pot = pot and (shift in (0, 1) if is_tanh else shift == 0)
    if pot:
        mult = 3 << shift
        shift = 0
    else:
        # Rescale to 1/(3 * 4096) per step, with as many fraction bits as fit in 15.
        m = float(f32(inp.quant.s)) * 4096.0 * 3.0
        shift = 0
        while m <= 32767.0 / 2.0 and shift <= 30:
            shift += 1
            m *= 2.0
        mult = int(m)
    require(0 <= mult <= 32767 and shift >= 0, f"input scale {inp.quant.s} out of range")
    ok, log2_out = fp.checked_log2(out.quant.s)
    require(ok and log2_out == -15, f"output scale {out.quant.s} (must be 2^-15)")
    return KernelCall(
        kernel="pb_activation",
        function="pb_tanh_s16" if is_tanh else "pb_logistic_s16",
        struct="pb_sigmoid_s16_params_t",
        fields={"size": inp.size, "multiplier": mult, "shift": shift,
                "table": const("sigmoid", fp.sigmoid_table_uint16(), "uint16_t")},
        inputs=[op.inputs[0]], outputs=[op.outputs[0]],
    )


@register("LOGISTIC", types=("int8", "int16", "float32"))
def lower_logistic(op, g):
    require_types(op, g, {("int8", "int8"), ("int16", "int16"), _FLOAT})
    if _is_float(op, g):
        return f32_call(op, g, "pb_logistic_f32")
    if tensors(op, g)[0][0].dtype == "int8":
        return _sigmoid_like_s8(op, g, is_tanh=False)
    return _sigmoid_like_s16(op, g, is_tanh=False)


@register("TANH", types=("int8", "int16", "float32"))
def lower_tanh(op, g):
    require_types(op, g, {("int8", "int8"), ("int16", "int16"), _FLOAT})
    if _is_float(op, g):
        return f32_call(op, g, "pb_tanh_f32")
    if tensors(op, g)[0][0].dtype == "int8":
        return _sigmoid_like_s8(op, g, is_tanh=True)
    return _sigmoid_like_s16(op, g, is_tanh=True)


# ---- RELU / RELU6 ------------------------------------------------------------------------


@register("RELU", types=("int8", "int16", "float32"))
def lower_relu(op, g):
    require_types(op, g, {("int8", "int8"), ("int16", "int16"), _FLOAT})
    if _is_float(op, g):
        return f32_call(op, g, "pb_relu_f32")
    inp, out = _io(op, g)
    lo, hi = (-128, 127) if inp.dtype == "int8" else (-32768, 32767)
    if inp.dtype == "int16":
        require(inp.quant.zp == 0 and out.quant.zp == 0, "int16 zero points must be 0")
    mult, shift = quantize_multiplier(float(f32(inp.quant.s)) / float(f32(out.quant.s)))
    # act_min: zero in the output's integers; 0 / scale rounds to 0.
    act_min, act_max = max(lo, out.quant.zp), hi
    if inp.dtype == "int8":
        table = [min(max(out.quant.zp + fp.mul_by_quantized_mult(int(q) - inp.quant.zp, mult, shift),
                         act_min), act_max) for q in _INT8]
        return _lut_s8(op, table, inp.size)
    return KernelCall(
        kernel="pb_activation", function="pb_relu_s16", struct="pb_relu_s16_params_t",
        fields={"size": inp.size, "input_offset": inp.quant.zp, "output_offset": out.quant.zp,
                "mult": mult, "shift": shift, "act_min": act_min, "act_max": act_max},
        inputs=[op.inputs[0]], outputs=[op.outputs[0]],
    )


@register("RELU6", types=("int8", "int16", "float32"))
def lower_relu6(op, g):
    require_types(op, g, {("int8", "int8"), ("int16", "int16"), _FLOAT})
    if _is_float(op, g):
        return f32_call(op, g, "pb_relu6_f32")
    inp, out = _io(op, g)
    lo, hi = (-128, 127) if inp.dtype == "int8" else (-32768, 32767)
    # The reference clamps in the input's integers to [zero, six] and copies: the output
    # tensor's own scale and zero point are not applied, even when they differ.
    zero = inp.quant.zp
    with np.errstate(over="ignore"):  # a scale so small that 6 / scale is infinite is refused just below
        six_q = float(f32(6.0) / f32(inp.quant.s))
    six = min(max(round_half_away(six_q) + zero, lo), hi)
    if inp.dtype == "int8":
        table = [six if q > six else (zero if q < zero else int(q)) for q in _INT8]
        return _lut_s8(op, table, inp.size)
    return KernelCall(
        kernel="pb_activation", function="pb_clamp_s16", struct="pb_clamp_s16_params_t",
        fields={"size": inp.size, "lo": zero, "hi": six},
        inputs=[op.inputs[0]], outputs=[op.outputs[0]],
    )


# ---- LEAKY_RELU --------------------------------------------------------------------------


@register("LEAKY_RELU", types=("int8", "int16", "float32"))
def lower_leaky_relu(op, g):
    require_types(op, g, {("int8", "int8"), ("int16", "int16"), _FLOAT})
    if _is_float(op, g):
        alpha = f32(op.options.get("alpha", 0.2))
        require(bool(np.isfinite(alpha)), f"alpha {alpha} is not finite")
        return f32_call(op, g, "pb_leaky_relu_f32", {"alpha": float(alpha)}, struct="pb_leaky_relu_f32_params_t")
    inp, out = _io(op, g)
    alpha = f32(op.options.get("alpha", 0.2))
    s_in, s_out = f32(inp.quant.s), f32(out.quant.s)
    # Both multipliers are taken in double from the float32 scales and alpha.
    m_alpha, sh_alpha = quantize_multiplier(float(s_in) * float(alpha) / float(s_out))
    m_id, sh_id = quantize_multiplier(float(s_in) / float(s_out))
    negative = m_alpha < 0
    m_alpha_abs = -m_alpha if negative else m_alpha
    if inp.dtype == "int8":
        table = []
        for q in _INT8:
            x = int(q) - inp.quant.zp
            if x >= 0:
                v = out.quant.zp + fp.mul_by_quantized_mult(x, m_id, sh_id)
            else:
                s = fp.mul_by_quantized_mult(x, m_alpha_abs, sh_alpha)
                v = out.quant.zp + (-s if negative else s)
            table.append(v)
        return _lut_s8(op, table, inp.size)
    return KernelCall(
        kernel="pb_activation", function="pb_leaky_relu_s16", struct="pb_leaky_relu_s16_params_t",
        fields={"size": inp.size, "input_offset": inp.quant.zp, "output_offset": out.quant.zp,
                "mult_identity": m_id, "shift_identity": sh_id,
                "mult_alpha": m_alpha_abs, "shift_alpha": sh_alpha, "alpha_negative": int(negative)},
        inputs=[op.inputs[0]], outputs=[op.outputs[0]],
    )
