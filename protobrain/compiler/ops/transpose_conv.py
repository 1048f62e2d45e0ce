"""TRANSPOSE_CONV: int8 (per-tensor or per-channel weights, int32 bias or none) and 16x8
(int64 or int16 bias, or none), NHWC, strides, SAME/VALID padding, fused activations that
clamp.

Inputs as TFLite has them: the output shape (read by nobody: TFLite Micro takes the output
tensor's shape), the filter [out_c][filter_h][filter_w][in_c], the input, the bias.
Each input pixel scatters filter_h x filter_w x out_c products into the output; the kernel
gathers them instead, output by output, which sums the same integers (the lowering refuses
parameters for which the int8 sum could leave int32, undefined in the reference too).
The padding comes from the output's size, as TFLite Micro's Prepare computes it.
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
    tensors,
)
from protobrain.compiler.ops.conv2d import INT16_MAX, INT16_MIN, mults_of, quant_params, shifts_of


def _c_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, as C's."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _out_size(padding: str, image: int, filt: int, stride: int) -> int | None:
    """ComputeOutSizeChecked for dilation 1; None where it fails (a negative size)."""
    value = _c_div(image + stride - 1, stride) if padding == "SAME" else _c_div(image + stride - filt, stride)
    return None if value < 0 else value


def transpose_padding(padding: str, stride_hw, out_hw, filter_hw) -> tuple[int, int]:
    """(pad_top, pad_left): the leading padding of the convolution this operator transposes,
    computed from the output's size as a convolution's from its input's. Where TFLite
    Micro's size check fails (VALID with a filter larger than the output) both stay 0."""
    sizes = [_out_size(padding, o, f, s) for o, f, s in zip(out_hw, filter_hw, stride_hw)]
    if any(v is None for v in sizes):
        return 0, 0
    pads = [max((v - 1) * s + f - o, 0) // 2 for v, s, f, o in zip(sizes, stride_hw, filter_hw, out_hw)]
    return pads[0], pads[1]


def landing_taps(in_size: int, out_size: int, filt: int, stride: int, pad: int) -> int:
    """How many (input, tap) pairs of one axis land inside the output."""
    i = np.arange(in_size)[:, None] * stride - pad + np.arange(filt)[None, :]
    return int(np.count_nonzero((i >= 0) & (i < out_size)))


@register("TRANSPOSE_CONV", inputs=(3, 4), types=("int8", "int16"))
def lower(op, g):
    ins, (out,) = tensors(op, g)
    flt, inp = ins[1], ins[2]
    bias = ins[3] if len(ins) > 3 else None
    require(inp.dtype in ("int8", "int16") and flt.dtype == "int8",
            f"types input {inp.dtype}, filter {flt.dtype} (int8 or 16x8)")
    require(out.dtype == inp.dtype, f"output type {out.dtype}")
    require(flt.is_const, "non-constant filter")
    require(bool(op.options), "no TransposeConvOptions (TFLite Micro would read stride 0)")
    require(len(inp.shape) == 4 and len(flt.shape) == 4 and len(out.shape) == 4,
            f"input {inp.shape}, filter {flt.shape}, output {out.shape} (expects 4-D)")
    n, ih, iw, ic = inp.shape
    oc, fh, fw, fc = flt.shape
    on, oh, ow, occ = out.shape
    require(fc == ic and on == n and occ == oc,
            f"input {inp.shape}, filter {flt.shape} and output {out.shape} disagree")
    require(min(n, ih, iw, ic, oh, ow, oc, fh, fw) >= 1, "an empty dimension")
    o = op.options
    sh, sw = int(o.get("stride_h", 0)), int(o.get("stride_w", 0))
    padding = o.get("padding", "SAME")
    require(sh >= 1 and sw >= 1, f"stride {sh}x{sw}")
    require(padding in ("SAME", "VALID"), f"padding {padding}")
    pad_top, pad_left = transpose_padding(padding, (sh, sw), (oh, ow), (fh, fw))
    require(all(INT16_MIN <= v <= INT16_MAX for v in (sh, sw, pad_top, pad_left)),
            f"stride {sh}x{sw}, padding {pad_top}x{pad_left} beyond int16 (TFLite Micro's kernel parameters)")
    wide = inp.dtype == "int16"

    fields = {"batches": n, "in_h": ih, "in_w": iw, "in_c": ic, "out_h": oh, "out_w": ow, "out_c": oc,
              "filter_h": fh, "filter_w": fw, "stride_h": sh, "stride_w": sw,
              "pad_top": pad_top, "pad_left": pad_left}
    fields.update(quant_params(op, inp, flt, out, oc, axis=0))
    fields["filter"] = const("filter", flt.data.astype(np.int8), "int8_t")
    fields["bias"] = fields["bias64"] = "NULL"
    if bias is not None:
        require(bias.is_const, "non-constant bias")
        require(bias.size == oc, f"bias of {bias.size} values for {oc} channels")
        if wide:
            # int16 bias is widened to int64 as TFLite Micro does; int32 it would read as int64
            require(bias.dtype in ("int64", "int16"), f"bias type {bias.dtype} with int16 activations")
            fields["bias64"] = const("bias", bias.data.astype(np.int64), "int64_t")
        else:
            require(bias.dtype == "int32", f"bias type {bias.dtype} with int8 activations")
            fields["bias"] = const("bias", bias.data.astype(np.int32), "int32_t")
    if not wide:
        require_int32_accumulator(flt.data.reshape(oc, -1), 0, fields["input_offset"],
                                  None if bias is None else bias.data, shifts_of(fields))
    else:
        require_int64_accumulator(flt.data.reshape(oc, -1), None if bias is None else bias.data, mults_of(fields),
                                  shifts_of(fields))
    taps = landing_taps(ih, oh, fh, sh, pad_top) * landing_taps(iw, ow, fw, sw, pad_left)
    return KernelCall(
        kernel="pb_transpose_conv",
        function="pb_transpose_conv_s16" if wide else "pb_transpose_conv_s8",
        struct="pb_transpose_conv_params_t",
        fields=fields,
        inputs=[op.inputs[2]],
        outputs=[op.outputs[0]],
        macs=n * taps * ic * oc,
    )
