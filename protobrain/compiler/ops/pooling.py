"""AVERAGE_POOL_2D and MAX_POOL_2D: int8 and int16 (16x8 models), NHWC, SAME/VALID, fused activations.

TFLite Micro pools the raw integers: input and output must share scale and zero point, so
no requantization happens; the fused activation is a clamp in the output's integers. The
average divides by the number of window taps that fall inside the input (padding is not
counted) and rounds half away from zero.
"""

from __future__ import annotations

from protobrain.compiler.ops.base import KernelCall, register, require, require_types, tensors
from protobrain.compiler.quantization import activation_range, out_size, same_padding

_KERNELS = {"AVERAGE_POOL_2D": "pb_avg_pool", "MAX_POOL_2D": "pb_max_pool"}


@register("AVERAGE_POOL_2D", "MAX_POOL_2D")
def lower(op, g):
    require_types(op, g, {("int8", "int8"), ("int16", "int16")})
    (inp, *_), (out,) = tensors(op, g)
    require(len(inp.shape) == 4 and len(out.shape) == 4, f"rank {len(inp.shape)} (NHWC expected)")
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

    act_min, act_max = activation_range(activation, out.quant.s, out.quant.zp, out.dtype)
    wide = inp.dtype == "int16"
    base = _KERNELS[op.name]
    return KernelCall(
        kernel="pb_pool",
        function=f"{base}_s16" if wide else f"{base}_s8",
        struct=f"{base}_params_t",
        fields={
            "batches": batches, "depth": depth,
            "input_h": in_h, "input_w": in_w,
            "output_h": out_h, "output_w": out_w,
            "stride_h": stride_h, "stride_w": stride_w,
            "filter_h": filter_h, "filter_w": filter_w,
            "pad_h": pad_h, "pad_w": pad_w,
            "act_min": act_min, "act_max": act_max,
        },
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
        macs=0,  # MACs count convolutions and fully connected layers only, as MLPerf Tiny does
    )
