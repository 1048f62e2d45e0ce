"""QUANTIZE (float32 -> int8/int16, int8/int16 -> int8/int16) and DEQUANTIZE (-> float32).

int8 inputs become 256-entry tables (requantized integers or dequantized floats, computed
here exactly); int16 inputs and float inputs run small per-element kernels.
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler import fixedpoint as fp
from protobrain.compiler.ops.base import KernelCall, const, register, require, require_types, tensors
from protobrain.compiler.quantization import INT_RANGES, f32, quantize_multiplier

_INT8 = np.arange(-128, 128)
_SUFFIX = {"int8": "s8", "int16": "s16", "int32": "s32"}


def _per_tensor(t, what: str) -> None:
    require(t.quant is not None, f"{what} has no quantization")
    require(not t.quant.per_channel, f"per-channel {what}")


@register("QUANTIZE", types=("float32", "int8", "int16", "int32"))
def lower_quantize(op, g):
    require_types(op, g, {("float32", "int8"), ("float32", "int16"), ("int8", "int8"),
                          ("int8", "int16"), ("int16", "int8"), ("int16", "int16"), ("int16", "int32")})
    (inp,), (out,) = tensors(op, g)
    _per_tensor(out, "output")
    require(inp.size == out.size, "input and output sizes differ")
    size = inp.size
    if inp.dtype == "float32":
        return KernelCall(
            kernel="pb_quantize", function=f"pb_quantize_f32_{'s8' if out.dtype == 'int8' else 's16'}",
            struct="pb_quantize_f32_params_t",
            fields={"size": size, "scale": float(f32(out.quant.s)), "zero_point": out.quant.zp},
            inputs=[op.inputs[0]], outputs=[op.outputs[0]],
        )
    _per_tensor(inp, "input")
    # The reader checks int8/int16 scales; an int32 output's scale divides here.
    require(bool(np.isfinite(out.quant.s)) and out.quant.s > 0, f"output scale {float(out.quant.s):g}")
    mult, shift = quantize_multiplier(float(f32(inp.quant.s)) / float(f32(out.quant.s)))
    require(shift <= 30, "scale ratio too large")
    lo, hi = INT_RANGES[out.dtype]
    if inp.dtype == "int8":
        table = np.array([min(max(fp.mul_by_quantized_mult(int(q) - inp.quant.zp, mult, shift) + out.quant.zp, lo), hi)
                          for q in _INT8], np.int64)
        if out.dtype == "int8":
            return KernelCall(kernel="pb_lut", function="pb_lut_s8", struct="pb_lut_s8_params_t",
                              fields={"size": size, "table": const("table", table, "int8_t")},
                              inputs=[op.inputs[0]], outputs=[op.outputs[0]])
        return KernelCall(kernel="pb_lut", function="pb_lut_s8_s16", struct="pb_lut_s8_s16_params_t",
                          fields={"size": size, "table": const("table", table, "int16_t")},
                          inputs=[op.inputs[0]], outputs=[op.outputs[0]])
    return KernelCall(
        kernel="pb_quantize", function=f"pb_requantize_s16_{_SUFFIX[out.dtype]}",
        struct="pb_requantize_params_t",
        fields={"size": size, "input_zero_point": inp.quant.zp, "output_zero_point": out.quant.zp,
                "mult": mult, "shift": shift},
        inputs=[op.inputs[0]], outputs=[op.outputs[0]],
    )


@register("DEQUANTIZE", types=("int8", "int16", "float32"))
def lower_dequantize(op, g):
    require_types(op, g, {("int8", "float32"), ("int16", "float32")})
    (inp,), (out,) = tensors(op, g)
    _per_tensor(inp, "input")
    require(inp.size == out.size, "input and output sizes differ")
    scale, zp = f32(inp.quant.s), inp.quant.zp
    if inp.dtype == "int8":
        # The reference multiplies in double and rounds once to float.
        table = np.array([np.float32(float(scale) * (int(q) - zp)) for q in _INT8], np.float32)
        return KernelCall(kernel="pb_lut", function="pb_lut_s8_f32", struct="pb_lut_s8_f32_params_t",
                          fields={"size": inp.size, "table": const("table", table, "float")},
                          inputs=[op.inputs[0]], outputs=[op.outputs[0]])
    return KernelCall(
        kernel="pb_quantize", function="pb_dequantize_s16_f32", struct="pb_dequantize_params_t",
        fields={"size": inp.size, "scale": float(scale), "zero_point": zp},
        inputs=[op.inputs[0]], outputs=[op.outputs[0]],
    )
