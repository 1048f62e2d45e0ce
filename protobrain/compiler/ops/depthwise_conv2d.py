"""DEPTHWISE_CONV_2D: int8 (per-tensor or per-channel weights) and 16x8 (int64 bias).

Depth multiplier, strides, dilations, SAME/VALID (or explicit) padding and the fused
activations that clamp; parameters computed as TFLite Micro's Prepare computes them.
"""

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
from protobrain.compiler.ops.conv2d import (
    INT16_MAX,
    bias_fields,
    mults_of,
    nhwc_shapes,
    quant_params,
    shifts_of,
    spatial_params,
)


@register("DEPTHWISE_CONV_2D", inputs=(2, 3), types=("int8", "int16"))
def lower(op, g):
    require_types(op, g, {("int8", "int8"), ("int16", "int8")})
    ins, (out,) = tensors(op, g)
    inp, flt = ins[0], ins[1]
    bias = ins[2] if len(ins) > 2 else None
    require(flt.is_const, "non-constant filter")
    require(bias is not None, "omitted bias (TFLite Micro's depthwise Prepare crashes without one)")
    require(out.dtype == inp.dtype, f"output type {out.dtype}")
    (n, ih, iw, ic), (on, oh, ow, occ) = nhwc_shapes(inp, flt, out)
    one, fh, fw, oc = flt.shape
    dm = int(op.options.get("depth_multiplier", 1))
    require(one == 1, f"filter shape {flt.shape}")
    require(on == n and occ == oc, f"output shape {out.shape} for input {inp.shape}, filter {flt.shape}")
    # The reference kernel walks input channels times the depth_multiplier option.
    require(dm >= 1 and ic * dm == oc, f"depth multiplier {dm} with {ic} input and {oc} output channels")
    require(dm <= INT16_MAX, f"depth multiplier {dm} beyond int16 (TFLite Micro's DepthwiseParams)")
    wide = inp.dtype == "int16"

    fields = {"batches": n, "in_h": ih, "in_w": iw, "in_c": ic, "out_h": oh, "out_w": ow,
              "depth_multiplier": dm, "filter_h": fh, "filter_w": fw}
    fields.update(spatial_params(op, (ih, iw), (fh, fw), (oh, ow)))
    fields.update(quant_params(op, inp, flt, out, oc, axis=3))
    fields["filter"] = const("filter", flt.data.astype(np.int8), "int8_t")
    # 16x8 depthwise reads its bias as int64 whatever its declared type: accept only int64.
    b, _ = bias_fields(bias, oc, ("int64",) if wide else ("int32",))
    fields.update(b)
    if not wide:
        require_int32_accumulator(flt.data.reshape(-1, oc).T, 0, fields["input_offset"], bias.data,
                                  shifts_of(fields))
    else:
        require_int64_accumulator(flt.data.reshape(-1, oc).T, None if bias is None else bias.data, mults_of(fields),
                                  shifts_of(fields))
    return KernelCall(
        kernel="pb_depthwise_conv",
        function="pb_depthwise_conv_s16" if wide else "pb_depthwise_conv_s8",
        struct="pb_depthwise_conv_params_t",
        fields=fields,
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
        macs=n * oh * ow * oc * fh * fw,
    )
