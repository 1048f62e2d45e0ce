"""MINIMUM, MAXIMUM, SQUARED_DIFFERENCE, DIV, FLOOR_DIV, FLOOR_MOD, PRELU and ADD_N, for
the types TFLite Micro has kernels for, with N-D broadcasting (ADD_N: same shapes).

- MINIMUM, MAXIMUM: int8, int16, int32, int64, float32; the raw values are compared (TFLite
  Micro does not requantize; the converter gives the inputs and output one scale).
- SQUARED_DIFFERENCE: int8 (inputs widened by 2^7 to twice the larger input scale, the
  difference squared, rescaled by that scale squared over 2^14 and the output scale), int16
  (no widening, zero points 0), int32 (wrapping), float32.
- DIV: int8 (the divisor's fixed-point reciprocal, as TFLite Micro computes it), int32
  (truncating), float32, with the fused activation.
- FLOOR_DIV, FLOOR_MOD: float32 (TFLite Micro has no other kernel).
- PRELU: int8, int16 with int8 alpha (two multipliers, for x >= 0 and for x * alpha),
  float32.
- ADD_N: int8 (inputs of one scale, each widened by 2^20 and halved; TFLite Micro starts
  the sum at the zero point's own term, and so does this) and float32.

Every parameter is computed here as TFLite Micro's Prepare does; the kernels are in
templates/kernels/portable/pb_binary.c.
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.fixedpoint import mul_by_quantized_mult
from protobrain.compiler.ir import DTYPES
from protobrain.compiler.ops.base import KernelCall, const, register, require, require_types, tensors
from protobrain.compiler.ops.elementwise import (
    SUFFIX,
    broadcast_call,
    plain_activation,
    smaller_than_one,
)
from protobrain.compiler.quantization import INT_RANGES, activation_range, f32, quantize_multiplier

_QUANT_ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
ADD_N_MAX_INPUTS = 16  # PB_ADD_N_MAX_INPUTS in pb_binary.h


def _same(*types: str) -> set[tuple[str, ...]]:
    return {(t, t, t) for t in types}


def _quantized(*ts) -> None:
    for t in ts:
        require(t.quant is not None, "missing quantization")
        require(not t.quant.per_channel, "per-channel quantized operand")


def _function(op, dtype: str) -> str:
    return f"pb_binary_{op.name.lower()}_{SUFFIX[dtype]}"


def _type_range(dtype: str) -> dict:
    lo, hi = INT_RANGES[dtype]
    return {"act_min": lo, "act_max": hi}


@register("MINIMUM", "MAXIMUM", inputs=(2, 2), types=("int8", "int16", "int32", "int64", "float32"))
def lower_min_max(op, g):
    require_types(op, g, _same("int8", "int16", "int32", "int64", "float32"))
    out = g.tensors[op.outputs[0]]
    return broadcast_call(op, g, _function(op, out.dtype), {})


@register("SQUARED_DIFFERENCE", inputs=(2, 2), types=("int8", "int16", "int32", "float32"))
def lower_squared_difference(op, g):
    require_types(op, g, _same("int8", "int16", "int32", "float32"))
    (in1, in2), (out,) = tensors(op, g)
    fields = {}
    if out.dtype in ("int8", "int16"):
        _quantized(in1, in2, out)
        wide = out.dtype == "int16"
        if wide:
            require(in1.quant.zp == 0 and in2.quant.zp == 0 and out.quant.zp == 0,
                    "int16 SQUARED_DIFFERENCE with a non-zero zero point")
        left_shift = 0 if wide else 7
        s1, s2, so = f32(in1.quant.s), f32(in2.quant.s), f32(out.quant.s)
        twice_max = 2.0 * float(max(s1, s2))
        # (1 << 2 * left_shift) * output scale is a float32 product: exact, a power of two.
        real_out = twice_max * twice_max / float(f32(1 << (2 * left_shift)) * so)
        m1, sh1 = smaller_than_one(float(s1) / twice_max, "input 1")
        m2, sh2 = smaller_than_one(float(s2) / twice_max, "input 2")
        mo, sho = quantize_multiplier(real_out)
        fields = {"input1_offset": -in1.quant.zp, "input2_offset": -in2.quant.zp, "output_offset": out.quant.zp,
                  "left_shift": left_shift, "input1_mult": m1, "input1_shift": sh1, "input2_mult": m2,
                  "input2_shift": sh2, "output_mult": mo, "output_shift": sho, **_type_range(out.dtype)}
    return broadcast_call(op, g, _function(op, out.dtype), fields)


@register("DIV", inputs=(2, 2), types=("int8", "int32", "float32"))
def lower_div(op, g):
    require_types(op, g, _same("int8", "int32", "float32"))
    (in1, in2), (out,) = tensors(op, g)
    activation = op.options.get("fused_activation_function", "NONE")
    if out.dtype == "int8":
        _quantized(in1, in2, out)
        require(activation in _QUANT_ACTIVATIONS, f"fused activation {activation}")
        # The ratio in double from the float32 scales, as the reference computes it.
        real = float(in1.quant.s) / (float(in2.quant.s) * float(out.quant.s))
        m, shift = quantize_multiplier(real)
        # Per element the reference shifts right by headroom + reciprocal shift - shift,
        # 22 - shift to 38 - shift: kept within the 0..63 the kernel reproduces.
        require(-25 <= shift <= 22, f"output multiplier {real:.6g} out of DIV's range (2^-25 to 2^22)")
        lo, hi = activation_range(activation, f32(out.quant.s), out.quant.zp, "int8")
        fields = {"input1_offset": -in1.quant.zp, "input2_offset": -in2.quant.zp, "output_offset": out.quant.zp,
                  "output_mult": m, "output_shift": shift, "act_min": lo, "act_max": hi}
    else:
        if out.dtype == "int32":
            require(in1.quant is None and in2.quant is None, "quantized int32 DIV")
        fields = plain_activation(activation, out.dtype)
    return broadcast_call(op, g, _function(op, out.dtype), fields)


@register("FLOOR_DIV", "FLOOR_MOD", inputs=(2, 2), types=("float32",))
def lower_floor(op, g):
    require_types(op, g, _same("float32"))
    (_, divisor), _ = tensors(op, g)
    if op.name == "FLOOR_DIV" and divisor.is_const:
        # TFLite Micro fails the inference on a zero divisor; a constant one never runs.
        require(bool(np.all(np.asarray(divisor.data) != 0)), "a constant divisor holds 0")
    return broadcast_call(op, g, _function(op, "float32"), {})


@register("PRELU", inputs=(2, 2), types=("int8", "int16", "float32"))
def lower_prelu(op, g):
    require_types(op, g, {("int8", "int8", "int8"), ("int16", "int8", "int16"), ("float32", "float32", "float32")})
    (inp, alpha), (out,) = tensors(op, g)
    fields = {}
    if out.dtype == "float32":
        # The float kernel indexes through 4-D shapes only.
        require(max(len(inp.shape), len(alpha.shape), len(out.shape)) <= 4, "float32 PRELU over more than 4 dimensions")
    else:
        _quantized(inp, alpha, out)
        si, sa, so = float(inp.quant.s), float(alpha.quant.s), float(out.quant.s)
        m1, sh1 = quantize_multiplier(si / so)
        m2, sh2 = quantize_multiplier(si * sa / so)
        fields = {"input1_offset": -inp.quant.zp, "input2_offset": -alpha.quant.zp, "output_offset": out.quant.zp,
                  "output_mult": m1, "output_shift": sh1, "output2_mult": m2, "output2_shift": sh2,
                  **_type_range(out.dtype)}
    return broadcast_call(op, g, _function(op, out.dtype), fields)


@register("ADD_N", inputs=(2, ADD_N_MAX_INPUTS), types=("int8", "float32"))
def lower_add_n(op, g):
    ins, (out,) = tensors(op, g)
    require(all(t is not None for t in ins), "an omitted input (TFLite Micro gets none to add)")
    require(out.dtype in ("int8", "float32"), f"type {out.dtype}")
    first = ins[0]
    for t in ins:
        require(t.dtype == out.dtype, "types " + ",".join(t.dtype for t in ins) + f"->{out.dtype}")
        require(tuple(t.shape) == tuple(first.shape), "inputs of different shapes")
    require(first.size == out.size, f"output of {out.size} elements for inputs of {first.size}")
    require(any(not t.is_const for t in ins), "every input is constant")
    fields = {"size": out.size, "count": len(ins)}
    if out.dtype == "int8":
        _quantized(*ins, out)
        for t in ins[1:]:
            require(t.quant.zp == first.quant.zp and f32(t.quant.s) == f32(first.quant.s),
                    "int8 inputs of different scales or zero points")
        left_shift = 20
        twice = 2.0 * float(f32(first.quant.s))
        im, ish = smaller_than_one(float(f32(first.quant.s)) / twice, "input")
        om, osh = smaller_than_one(twice / (float(1 << left_shift) * float(f32(out.quant.s))), "output")
        # The int32 sum must not overflow: the start term and count inputs at their largest.
        zp = first.quant.zp
        term = max(abs(mul_by_quantized_mult((x - zp) << left_shift, im, ish)) for x in (-128, 127))
        start = abs(mul_by_quantized_mult(-zp << left_shift, im, ish))
        require(start + len(ins) * term < 2**31, f"{len(ins)} int8 inputs overflow the int32 sum")
        fields.update(input_offset=-zp, output_offset=out.quant.zp, left_shift=left_shift, input_mult=im,
                      input_shift=ish, output_mult=om, output_shift=osh, act_min=-128, act_max=127)
    offsets, blocks, at = [], [], 0
    for t in ins:
        if t.is_const:
            offsets.append(at)
            blocks.append(np.asarray(t.data).astype(DTYPES[t.dtype]).reshape(-1))
            at += t.size
        else:
            offsets.append(-1)
    offsets += [-1] * (ADD_N_MAX_INPUTS - len(offsets))
    fields["const_offset"] = "{" + ", ".join(map(str, offsets)) + "}"
    fields["const_data"] = "NULL"
    if blocks:
        values = np.concatenate(blocks)
        if out.dtype == "float32":
            require(bool(np.all(np.isfinite(values))), "a constant input holds inf or NaN")
        fields["const_data"] = const("inputs", values, "int8_t" if out.dtype == "int8" else "float")
    return KernelCall(
        kernel="pb_binary",
        function=_function(op, out.dtype),
        struct="pb_add_n_params_t",
        fields=fields,
        inputs=[i for i, t in zip(op.inputs, ins) if not t.is_const],
        outputs=[op.outputs[0]],
        inputs_as_array=True,
    )
