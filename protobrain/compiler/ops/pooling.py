"""AVERAGE_POOL_2D and MAX_POOL_2D: int8, int16 (16x8 models) and float32; L2_POOL_2D:
float32 only (TFLite Micro has no quantized L2 pooling). NHWC, SAME/VALID, fused activations.

TFLite Micro pools the raw integers: input and output must share scale and zero point, so
no requantization happens; the fused activation is a clamp in the output's integers. The
average divides by the number of window taps that fall inside the input (padding is not
counted) and rounds half away from zero.

Float pooling clamps with min(max(x, lo), hi), lo and hi the activation's range or the
float type's finite extremes (so +-inf become +-FLT_MAX, NaN passes). The float average
sums in window order and divides by the tap count; the max ignores NaN taps (a window of
NaNs gives -FLT_MAX); L2 is sqrt(sum of squares / taps), a correctly rounded square root.
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import KernelCall, register, require, require_types, tensors
from protobrain.compiler.quantization import activation_range, out_size, same_padding

_KERNELS = {"AVERAGE_POOL_2D": "pb_avg_pool", "MAX_POOL_2D": "pb_max_pool", "L2_POOL_2D": "pb_l2_pool"}
_SUFFIX = {"int8": "s8", "int16": "s16", "float32": "f32"}
FLT_MAX = float(np.finfo(np.float32).max)
# CalculateActivationRange on floats
_FLOAT_RANGES = {"NONE": (-FLT_MAX, FLT_MAX), "RELU": (0.0, FLT_MAX), "RELU6": (0.0, 6.0),
                 "RELU_N1_TO_1": (-1.0, 1.0)}


@register("AVERAGE_POOL_2D", "MAX_POOL_2D", types=("int8", "int16", "float32"))
@register("L2_POOL_2D", types=("float32",))
def lower(op, g):
    if op.name == "L2_POOL_2D":
        require_types(op, g, {("float32", "float32")})
        # TFLite Micro reads missing options as zeros; protobrain would assume the defaults.
        require("stride_h" in op.options, "no Pool2DOptions")
    else:
        require_types(op, g, {("int8", "int8"), ("int16", "int16"), ("float32", "float32")})
    (inp, *_), (out,) = tensors(op, g)
    require(len(inp.shape) == 4 and len(out.shape) == 4, f"rank {len(inp.shape)} (NHWC expected)")
    if inp.dtype != "float32":
        require(inp.quant is not None and out.quant is not None, "missing quantization")
        # TFLite Micro's Prepare rejects pooling that would need requantization.
        require(abs(float(inp.quant.s) - float(out.quant.s)) <= 1.0e-6, "input and output scales differ")
        require(inp.quant.zp == out.quant.zp, "input and output zero points differ")

    o = op.options
    padding = o.get("padding", "SAME")
    require(padding in ("SAME", "VALID"), f"padding {padding}")
    stride_h, stride_w = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    filter_h, filter_w = int(o.get("filter_height", 1)), int(o.get("filter_width", 1))
    require(min(stride_h, stride_w, filter_h, filter_w) >= 1, "non-positive stride or filter size")
    activation = o.get("fused_activation_function", "NONE")
    require(activation in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"), f"fused activation {activation}")

    batches, in_h, in_w, depth = inp.shape
    ob, out_h, out_w, od = out.shape
    require(ob == batches and od == depth, f"output shape {out.shape} for input {inp.shape}")
    want = (out_size(padding, in_h, filter_h, stride_h, 1), out_size(padding, in_w, filter_w, stride_w, 1))
    require((out_h, out_w) == want, f"output size {out_h}x{out_w}, expected {want[0]}x{want[1]}")
    require(out_h >= 1 and out_w >= 1, "empty output")
    if padding == "SAME":
        pad_h = same_padding(stride_h, 1, in_h, filter_h, out_h)
        pad_w = same_padding(stride_w, 1, in_w, filter_w, out_w)
    else:
        pad_h = pad_w = 0
    # TFLite Micro's PoolParams hold the padding in int16: past it, its kernels run with the wrapped value
    require(max(pad_h, pad_w) < 2**15, f"padding {pad_h}x{pad_w} beyond int16 (TFLite Micro's kernel parameters)")

    if inp.dtype == "float32":
        act_min, act_max = _FLOAT_RANGES[activation]
        act = {"act_min": 0, "act_max": 0, "act_min_f": act_min, "act_max_f": act_max}
    else:
        act_min, act_max = activation_range(activation, out.quant.s, out.quant.zp, out.dtype)
        act = {"act_min": act_min, "act_max": act_max}
    base = _KERNELS[op.name]
    return KernelCall(
        kernel="pb_pool",
        function=f"{base}_{_SUFFIX[inp.dtype]}",
        struct=f"{base}_params_t",
        fields={
            "batches": batches, "depth": depth,
            "input_h": in_h, "input_w": in_w,
            "output_h": out_h, "output_w": out_w,
            "stride_h": stride_h, "stride_w": stride_w,
            "filter_h": filter_h, "filter_w": filter_w,
            "pad_h": pad_h, "pad_w": pad_w,
            **act,
        },
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
        macs=0,  # MACs count convolutions and fully connected layers only, as MLPerf Tiny does
    )
