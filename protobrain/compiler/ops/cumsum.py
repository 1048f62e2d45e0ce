"""CUMSUM along one constant axis, exclusive and reverse: float32 and int8, as TFLite Micro.

Float adds in float along the axis (from its end when reversed). int8 follows TFLite
Micro's quantized path: each value (x - zp_in) is shifted left by 20 and halved with
MultiplyByQuantizedMultiplierSmallerThanOneExp (twice the input scale as the common scale),
summed in int32, and every running sum is brought to the output with
QuantizeMultiplierSmallerThanOneExp(2 * s_in / (2^20 * s_out)) plus the output zero point.
The running sum does not start at 0: TFLite Micro seeds it with the scaled -zp_in (its
input offset), so every output carries that extra term too.
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.fixedpoint import mul_by_quantized_mult
from protobrain.compiler.ops.base import KernelCall, register, require, tensors
from protobrain.compiler.quantization import quantize_multiplier_smaller_than_one_exp

LEFT_SHIFT = 20


@register("CUMSUM", inputs=(2, 2), types=("int8", "float32"))
def lower(op, g):
    (inp, axis_t), (out,) = tensors(op, g)
    require(inp.dtype in ("float32", "int8"), f"type {inp.dtype} (TFLite Micro sums float32 and int8)")
    require(out.dtype == inp.dtype, f"output type {out.dtype} differs from the input's {inp.dtype}")
    require(tuple(out.shape) == tuple(inp.shape), f"output shape {out.shape} for input {inp.shape}")
    require(not inp.is_const, "constant data input")
    require(axis_t is not None and axis_t.is_const, "non-constant axis")
    require(axis_t.dtype == "int32", f"axis type {axis_t.dtype}")
    require(axis_t.size == 1, f"{axis_t.size} axis values (one expected)")
    rank = len(inp.shape)
    require(rank >= 1, "scalar input")
    require(min(inp.shape) >= 1, f"empty input {inp.shape}")
    axis = int(np.asarray(axis_t.data).reshape(-1)[0])
    axis = axis + rank if axis < 0 else axis
    require(0 <= axis < rank, f"axis {axis} out of range for rank {rank}")
    o = op.options
    depth = inp.shape[axis]
    fields = {
        "outer": int(np.prod(inp.shape[:axis], dtype=np.int64)),
        "depth": depth,
        "inner": int(np.prod(inp.shape[axis + 1:], dtype=np.int64)),
        "exclusive": int(bool(o.get("exclusive", False))),
        "reverse": int(bool(o.get("reverse", False))),
    }
    if inp.dtype == "int8":
        require(inp.quant is not None and out.quant is not None, "missing quantization")
        require(not inp.quant.per_channel and not out.quant.per_channel, "per-channel quantization")
        s_in, s_out = float(inp.quant.s), float(out.quant.s)
        twice = 2 * s_in
        real_out = twice / ((1 << LEFT_SHIFT) * s_out)
        require(real_out < 1.0, f"output scale {s_out:g} is below 2^-19 of the input's {s_in:g} "
                                "(TFLite Micro needs a multiplier under one)")
        in_mult, in_shift = quantize_multiplier_smaller_than_one_exp(s_in / twice)
        out_mult, out_shift = quantize_multiplier_smaller_than_one_exp(real_out)
        offset = -inp.quant.zp
        seed = mul_by_quantized_mult(offset * (1 << LEFT_SHIFT), in_mult, in_shift)
        # The running sum is int32 in TFLite Micro; past it the reference overflows (undefined).
        worst = max(abs(-128 + offset), abs(127 + offset))
        peak = abs(seed) + depth * abs(mul_by_quantized_mult(worst * (1 << LEFT_SHIFT), in_mult, in_shift))
        require(peak < 2**31, f"the int32 running sum can reach {peak} over {depth} elements "
                              "(TFLite Micro's int8 CUMSUM overflows)")
        fields.update(input_offset=offset, output_zp=out.quant.zp, input_mult=in_mult, input_shift=in_shift,
                      output_mult=out_mult, output_shift=out_shift, seed=seed)
    return KernelCall(
        kernel="pb_cumsum",
        function="pb_cumsum_s8" if inp.dtype == "int8" else "pb_cumsum_f32",
        struct="pb_cumsum_params_t",
        fields=fields,
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
    )
