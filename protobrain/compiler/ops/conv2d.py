"""CONV_2D: int8 (per-tensor or per-channel weights) and 16x8 (int64, int32 or no bias).

Strides, dilations, SAME/VALID padding (or the explicit leading padding a graph pass
leaves in the options), grouped filters (filter depth < input depth) and the fused
activations that clamp. The padding and every requantization constant are computed
here the way TFLite Micro's Prepare computes them; the kernel only does integer work.
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
from protobrain.compiler.quantization import (
    activation_range,
    f32,
    out_size,
    quantize_multiplier,
    same_padding,
)

CLAMPING_ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
INT16_MIN, INT16_MAX = -(2**15), 2**15 - 1


def spatial_params(op, in_hw, filter_hw, out_hw) -> dict:
    """Strides, dilations and the leading padding of a 2-D window, as TFLite Micro derives them.

    With padding SAME/VALID the padding comes from ComputePaddingHeightWidth (half the total,
    rounded down, never negative); "EXPLICIT" is what the dilated-convolution fold leaves:
    the leading padding is given and may be zero or negative (a crop).
    """
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    dh, dw = int(o.get("dilation_h_factor", 1)), int(o.get("dilation_w_factor", 1))
    require(sh >= 1 and sw >= 1 and dh >= 1 and dw >= 1, f"stride {sh}x{sw}, dilation {dh}x{dw}")
    (ih, iw), (fh, fw), (oh, ow) = in_hw, filter_hw, out_hw
    padding = o.get("padding", "SAME")
    if padding == "EXPLICIT":
        pad_top, pad_left = int(o["pad_top"]), int(o["pad_left"])
    else:
        require(padding in ("SAME", "VALID"), f"padding {padding}")
        eh, ew = out_size(padding, ih, fh, sh, dh), out_size(padding, iw, fw, sw, dw)
        require((eh, ew) == (oh, ow), f"output {oh}x{ow}, expected {eh}x{ew} for {padding} padding")
        pad_top, pad_left = same_padding(sh, dh, ih, fh, eh), same_padding(sw, dw, iw, fw, ew)
    require(oh >= 1 and ow >= 1, f"empty output {oh}x{ow}")
    # TFLite Micro's ConvParams and DepthwiseParams hold these in int16: past it, its kernels
    # run with the wrapped values
    require(all(INT16_MIN <= v <= INT16_MAX for v in (sh, sw, dh, dw, pad_top, pad_left)),
            f"stride {sh}x{sw}, dilation {dh}x{dw}, padding {pad_top}x{pad_left} beyond int16 "
            "(TFLite Micro's kernel parameters)")
    return {"stride_h": sh, "stride_w": sw, "dilation_h": dh, "dilation_w": dw,
            "pad_top": pad_top, "pad_left": pad_left}


def nhwc_shapes(inp, flt, out) -> tuple[tuple, tuple]:
    """Input and output as NHWC. A 3-D [N, W, C] pair (what folding a dilated Conv1D leaves)
    is the [N, 1, W, C] tensor it is in memory, for a filter of height 1."""
    require(len(flt.shape) == 4, f"filter shape {flt.shape}")
    if len(inp.shape) == 3 and len(out.shape) == 3 and flt.shape[1] == 1:
        return (inp.shape[0], 1, *inp.shape[1:]), (out.shape[0], 1, *out.shape[1:])
    require(len(inp.shape) == 4 and len(out.shape) == 4, f"input {inp.shape}, output {out.shape}")
    return tuple(inp.shape), tuple(out.shape)


def quant_params(op, inp, flt, out, channels: int, axis: int) -> dict:
    """Offsets, activation clamp and requantization (per-tensor scalars or per-channel arrays).

    PopulateConvolutionQuantizationParams: each multiplier is input_scale * filter_scale /
    output_scale taken in double from the float32 scales, per-tensor included.
    """
    require(inp.quant is not None and flt.quant is not None and out.quant is not None, "missing quantization")
    require(not np.any(flt.quant.zero_point), "filter zero point is not 0")
    wide = inp.dtype == "int16"
    if wide:
        # The 16x8 reference kernels take no input or output offset.
        require(inp.quant.zp == 0 and out.quant.zp == 0, "int16 zero point is not 0")
    act = op.options.get("fused_activation_function", "NONE")
    require(act in CLAMPING_ACTIVATIONS, f"fused activation {act}")
    s_in, s_out = float(f32(inp.quant.s)), float(f32(out.quant.s))
    scales = np.asarray(flt.quant.scale, dtype=np.float32)
    fields = {"input_offset": 0 if wide else -inp.quant.zp, "output_offset": 0 if wide else out.quant.zp}
    fields["act_min"], fields["act_max"] = activation_range(act, f32(out.quant.s), out.quant.zp, out.dtype)
    if len(scales) > 1:
        require(len(scales) == channels, f"{len(scales)} filter scales for {channels} channels")
        require(flt.quant.axis == axis, f"filter quantized along axis {flt.quant.axis}")
        pairs = [quantize_multiplier(s_in * float(s) / s_out) for s in scales]
        fields.update(mult=0, shift=0, mults=const("mults", [m for m, _ in pairs], "int32_t"),
                      shifts=const("shifts", [s for _, s in pairs], "int32_t"))
    else:
        m, s = quantize_multiplier(s_in * float(scales[0]) / s_out)
        fields.update(mult=m, shift=s, mults="NULL", shifts="NULL")
    return fields


def shifts_of(fields: dict):
    """The requantization shift(s) quant_params chose: per channel, or the one per tensor."""
    return fields["shifts"].values if hasattr(fields["shifts"], "values") else [fields["shift"]]


def mults_of(fields: dict):
    """The requantization multiplier(s) quant_params chose: per channel, or the one per tensor."""
    return fields["mults"].values if hasattr(fields["mults"], "values") else [fields["mult"]]


def bias_fields(bias, channels: int, allowed: tuple[str, ...]) -> tuple[dict, str | None]:
    """The bias as an int32 or int64 const array; returns (fields, bias dtype or None)."""
    fields = {"bias": "NULL", "bias64": "NULL"}
    if bias is None:
        return fields, None
    require(bias.is_const, "non-constant bias")
    require(bias.dtype in allowed, f"bias type {bias.dtype}")
    require(bias.size == channels, f"bias of {bias.size} values for {channels} channels")
    if bias.dtype == "int64":
        fields["bias64"] = const("bias", bias.data.astype(np.int64), "int64_t")
    else:
        fields["bias"] = const("bias", bias.data.astype(np.int32), "int32_t")
    return fields, bias.dtype


@register("CONV_2D", inputs=(2, 3), types=("int8", "int16"))
def lower(op, g):
    require_types(op, g, {("int8", "int8"), ("int16", "int8")})
    ins, (out,) = tensors(op, g)
    inp, flt = ins[0], ins[1]
    bias = ins[2] if len(ins) > 2 else None
    require(flt.is_const, "non-constant filter")
    require(out.dtype == inp.dtype, f"output type {out.dtype}")
    (n, ih, iw, ic), (on, oh, ow, occ) = nhwc_shapes(inp, flt, out)
    oc, fh, fw, fc = flt.shape
    require(on == n and occ == oc, f"output shape {out.shape} for input {inp.shape}, filter {flt.shape}")
    require(fc >= 1 and ic >= fc and ic % fc == 0, f"input depth {ic} not a multiple of filter depth {fc}")
    groups = ic // fc
    require(oc % groups == 0, f"{oc} filters in {groups} groups")
    wide = inp.dtype == "int16"

    fields = {"batches": n, "in_h": ih, "in_w": iw, "in_c": ic, "out_h": oh, "out_w": ow, "out_c": oc,
              "filter_h": fh, "filter_w": fw, "filter_c": fc, "group_out_c": oc // groups}
    fields.update(spatial_params(op, (ih, iw), (fh, fw), (oh, ow)))
    fields.update(quant_params(op, inp, flt, out, oc, axis=0))
    fields["filter"] = const("filter", flt.data.astype(np.int8), "int8_t")
    b, bias_type = bias_fields(bias, oc, ("int32", "int64") if wide else ("int32",))
    fields.update(b)
    if not wide:
        require_int32_accumulator(flt.data.reshape(oc, -1), 0, fields["input_offset"],
                                  None if bias is None else bias.data, shifts_of(fields))
        function = "pb_conv_s8"
    elif bias_type == "int32":
        # TFLite Micro runs 16x8 with int32 bias on a 32-bit accumulator and requantization.
        require_int32_accumulator(flt.data.reshape(oc, -1), 0, 0, bias.data, shifts_of(fields), input_max=32768)
        function = "pb_conv_s16_b32"
    else:
        # int64 bias or none: 64-bit accumulator and requantization. (Without a bias the
        # installed TFLite Micro takes this path too; the tests pin it.)
        require_int64_accumulator(flt.data.reshape(oc, -1), None if bias is None else bias.data, mults_of(fields),
                                  shifts_of(fields))
        function = "pb_conv_s16"
    return KernelCall(
        kernel="pb_conv",
        function=function,
        struct="pb_conv_params_t",
        fields=fields,
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
        macs=n * oh * ow * oc * fh * fw * fc,
    )
