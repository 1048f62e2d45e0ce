"""FULLY_CONNECTED: int8 or 16x8, per-tensor or per-channel weights, optional bias."""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import (
    KernelCall,
    const,
    register,
    require,
    require_int32_accumulator,
    require_int64_accumulator,
    require_types,
    tensors,
)
from protobrain.compiler.quantization import activation_range, f32, quantize_multiplier


@register("FULLY_CONNECTED", inputs=(2, 3), types=("int8", "int16"))
def lower(op, g):
    require_types(op, g, {("int8", "int8"), ("int16", "int8")})
    (inp, flt, *rest), (out,) = tensors(op, g)
    bias = rest[0] if rest else None
    require(flt.is_const, "non-constant weights")
    require(op.options.get("weights_format", 0) == 0, "shuffled weights format")
    require(out.dtype == inp.dtype, f"output type {out.dtype}")
    require(inp.quant is not None and flt.quant is not None and out.quant is not None, "missing quantization")
    require(len(flt.shape) == 2 and flt.shape[1] >= 1, f"weights shape {flt.shape} (expects [outputs, depth])")
    out_depth, depth = flt.shape
    require(inp.size % depth == 0, f"input size {inp.size} not a multiple of {depth}")
    # TFLite Micro takes the batches and the depth from the output shape: they must agree.
    require(len(out.shape) >= 1 and out.shape[-1] == out_depth and out.size == inp.size // depth * out_depth,
            f"output shape {out.shape} for input {inp.shape} and weights {flt.shape}")
    if flt.quant.per_channel:
        # One scale per output channel (the kernel reads one multiplier per output).
        require(len(flt.quant.scale) == out_depth and flt.quant.axis == 0,
                f"{len(flt.quant.scale)} weight scales along axis {flt.quant.axis} for {out_depth} outputs")
    elif bias is not None:
        # GetQuantizedConvolutionMultipler: the bias scale must be close to input * weight scale.
        product = float(f32(inp.quant.s)) * float(f32(flt.quant.s))
        bias_scale = float(f32(bias.quant.s)) if bias.quant is not None else 0.0
        require(abs(product - bias_scale) / float(f32(out.quant.s)) <= 0.02,
                f"bias scale {bias_scale:g} far from input * weight scale {product:g}")
    if bias is not None:
        require(bias.size == out_depth, f"bias of {bias.size} values for {out_depth} outputs")
    wide = inp.dtype == "int16"

    s_in, s_out = f32(inp.quant.s), f32(out.quant.s)
    fields = {
        "batches": inp.size // depth,
        "accum_depth": depth,
        "output_depth": out_depth,
        "input_offset": -inp.quant.zp,
        "filter_offset": -int(flt.quant.zero_point[0]),
        "output_offset": out.quant.zp,
        "filter": const("filter", flt.data, "int8_t"),
    }
    # One (multiplier, shift) per channel, from the double product of the scales, as
    # TFLite Micro computes it (a float32 product first is off by one on ad01_int8).
    pairs = [quantize_multiplier(float(s_in) * float(s) / float(s_out)) for s in flt.quant.scale]
    if flt.quant.per_channel:
        fields.update(mult=0, shift=0, mults=const("mults", [m for m, _ in pairs], "int32_t"),
                      shifts=const("shifts", [s for _, s in pairs], "int32_t"))
    else:
        fields.update(mult=pairs[0][0], shift=pairs[0][1], mults="NULL", shifts="NULL")
    fields["act_min"], fields["act_max"] = activation_range(
        op.options.get("fused_activation_function", "NONE"), s_out, out.quant.zp, out.dtype)
    fields["bias"] = fields["bias64"] = "NULL"
    if bias is not None:
        require(bias.is_const and bias.dtype in ("int32", "int64"), f"bias type {bias.dtype}")
        if wide:
            fields["bias64"] = const("bias", bias.data.astype(np.int64), "int64_t")
        else:
            require(bias.dtype == "int32", "int64 bias with int8 activations")
            fields["bias"] = const("bias", bias.data, "int32_t")
    if not wide:
        require_int32_accumulator(flt.data, fields["filter_offset"], fields["input_offset"],
                                  None if bias is None else bias.data, [s for _, s in pairs])
    else:
        require_int64_accumulator(flt.data.astype(np.int64) + fields["filter_offset"],
                                  None if bias is None else bias.data, [m for m, _ in pairs], [s for _, s in pairs])
    return KernelCall(
        kernel="pb_fully_connected",
        function="pb_fully_connected_s16" if wide else "pb_fully_connected_s8",
        struct="pb_fully_connected_params_t",
        fields=fields,
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
        macs=inp.size // depth * depth * out_depth,
    )
