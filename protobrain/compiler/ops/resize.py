"""RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR on NHWC tensors, align_corners and
half_pixel_centers as TFLite Micro computes them.

Where each output row and column reads from depends only on the shapes, so it is worked
out here, in the arithmetic TFLite uses (float32 for the nearest source and the float
bilinear weights, 10-bit fixed point for the integer bilinear weights), and the kernels
get tables: source rows and columns, and weights.

- NEAREST: float32, int8, int16; a copy of raw elements (no requantization, whatever the
  scales say, as TFLite Micro does).
- BILINEAR float32: v00*(1-dy)*(1-dx) + v10*dy*(1-dx) + v01*(1-dy)*dx + v11*dy*dx + 0.
- BILINEAR int8 (TFLite Micro) and int16 (TFLite Micro has no kernel; LiteRT's reference is
  the golden): raw values times 10-bit weights summed in 20 bits, rounded half away from
  zero, again without requantization.
"""

from __future__ import annotations

import math

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const, register, require, tensors
from protobrain.compiler.quantization import f32

_SUFFIX = {"float32": "f32", "int8": "s8", "int16": "s16"}
_NEAREST_TYPES = ("float32", "int8", "int16")
_BILINEAR_TYPES = ("float32", "int8", "int16")


def _trunc_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _float_scale(in_size: int, out_size: int, align_corners: bool) -> np.float32:
    if align_corners and out_size > 1:
        return f32(in_size - 1) / f32(out_size - 1)
    return f32(in_size) / f32(out_size)


def nearest_sources(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> list[int]:
    """The input index each output index copies, in float32 as TFLite's GetNearestNeighbor."""
    scale = _float_scale(in_size, out_size, align_corners)
    offset = f32(0.5) if half_pixel else f32(0.0)
    out = []
    for i in range(out_size):
        x = (f32(i) + offset) * scale
        # TfLiteRound on a float: halves away from zero
        v = int(math.floor(abs(float(x)) + 0.5)) * (1 if x >= 0 else -1) if align_corners else int(np.floor(x))
        v = min(v, in_size - 1)
        if half_pixel:
            v = max(0, v)
        out.append(v)
    return out


def bilinear_float_taps(in_size: int, out_size: int, align_corners: bool, half_pixel: bool):
    """Per output index: lower and upper source index, the weight of the upper one (d) and of
    the lower one (1 - d), all in float32 as TFLite's ComputeInterpolationValues."""
    scale = _float_scale(in_size, out_size, align_corners)
    lo, hi, d, one_minus_d = [], [], [], []
    for i in range(out_size):
        v = (f32(i) + f32(0.5)) * scale - f32(0.5) if half_pixel else f32(i) * scale
        l0 = max(int(np.floor(v)), 0)
        l1 = min(int(np.ceil(v)), in_size - 1)
        w = v - f32(l0)
        lo.append(l0)
        hi.append(l1)
        d.append(w)
        one_minus_d.append(f32(1.0) - w)
    return lo, hi, np.asarray(d, np.float32), np.asarray(one_minus_d, np.float32)


def bilinear_integer_taps(in_size: int, out_size: int, align_corners: bool, half_pixel: bool):
    """Per output index: lower and upper source index and the 10-bit position past the lower
    one, as TFLite's ComputeInterpolationValuesInteger (C integer division)."""
    if align_corners and out_size > 1:
        scale = _trunc_div((1 << 10) * (in_size - 1) + (out_size - 1) // 2, out_size - 1)
    else:
        scale = _trunc_div((1 << 10) * in_size + out_size // 2, out_size)
    lo, hi, frac = [], [], []
    for i in range(out_size):
        v = i * scale + _trunc_div(scale, 2) - (1 << 9) if half_pixel else i * scale
        l0 = max(_trunc_div(v, 1 << 10), 0)
        l1 = min(_trunc_div(v + (1 << 10) - 1, 1 << 10), in_size - 1)
        lo.append(l0)
        hi.append(l1)
        frac.append(v - (1 << 10) * l0)
    return lo, hi, frac


def _check(op, g, allowed):
    (inp, size_t), (out,) = tensors(op, g)
    require(inp.dtype in allowed, f"type {inp.dtype} (TFLite resizes {', '.join(allowed)})")
    require(out.dtype == inp.dtype, f"output type {out.dtype} differs from the input's {inp.dtype}")
    require(not inp.is_const, "constant data input")
    require(len(inp.shape) == 4 and len(out.shape) == 4, f"rank {len(inp.shape)} (NHWC expected)")
    require(size_t is not None and size_t.is_const, "non-constant size tensor")
    require(size_t.dtype == "int32", f"size type {size_t.dtype}")
    require(len(size_t.shape) == 1 and size_t.size == 2, f"size tensor shape {size_t.shape}")
    out_h, out_w = (int(v) for v in np.asarray(size_t.data).reshape(-1))
    b, in_h, in_w, c = inp.shape
    require(min(inp.shape) >= 1, f"empty input {inp.shape}")
    require(tuple(out.shape) == (b, out_h, out_w, c), f"output shape {out.shape} for size {out_h}x{out_w}")
    require(out_h >= 1 and out_w >= 1, f"size {out_h}x{out_w}")
    o = op.options
    align, half = bool(o.get("align_corners", False)), bool(o.get("half_pixel_centers", False))
    return inp, out, (b, in_h, in_w, c, out_h, out_w), align, half


def _shape_fields(dims) -> dict:
    b, in_h, in_w, c, out_h, out_w = dims
    return {"batches": b, "depth": c, "input_h": in_h, "input_w": in_w, "output_h": out_h, "output_w": out_w}


@register("RESIZE_NEAREST_NEIGHBOR", inputs=(2, 2), types=_NEAREST_TYPES)
def lower_nearest(op, g):
    inp, out, dims, align, half = _check(op, g, _NEAREST_TYPES)
    _, in_h, in_w, _, out_h, out_w = dims
    rows = nearest_sources(in_h, out_h, align, half)
    cols = nearest_sources(in_w, out_w, align, half)
    return KernelCall(
        kernel="pb_resize",
        function="pb_resize_nearest",
        struct="pb_resize_nearest_params_t",
        fields={**_shape_fields(dims), "elem_bytes": np.dtype(inp.dtype).itemsize,
                "src_y": const("src_y", rows, "int32_t"), "src_x": const("src_x", cols, "int32_t")},
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
    )


@register("RESIZE_BILINEAR", inputs=(2, 2), types=_BILINEAR_TYPES, litert_golden="int16")
def lower_bilinear(op, g):
    inp, out, dims, align, half = _check(op, g, _BILINEAR_TYPES)
    require(not (align and half), "half_pixel_centers with align_corners (TFLite refuses the pair)")
    _, in_h, in_w, _, out_h, out_w = dims
    fields = _shape_fields(dims)
    if inp.dtype == "float32":
        y0, y1, dy, dy1 = bilinear_float_taps(in_h, out_h, align, half)
        x0, x1, dx, dx1 = bilinear_float_taps(in_w, out_w, align, half)
        fields.update(wy=const("wy", dy, "float"), wy1=const("wy1", dy1, "float"),
                      wx=const("wx", dx, "float"), wx1=const("wx1", dx1, "float"))
    else:
        y0, y1, fy = bilinear_integer_taps(in_h, out_h, align, half)
        x0, x1, fx = bilinear_integer_taps(in_w, out_w, align, half)
        fields.update(fy=const("fy", fy, "int32_t"), fx=const("fx", fx, "int32_t"))
    # The fixed-point scale rounds up: on large upscales the lower source can pass the last
    # row, and TFLite then reads past its input. Refuse rather than read out of bounds.
    require(max(y0) <= in_h - 1 and max(x0) <= in_w - 1,
            f"resize {in_h}x{in_w} -> {out_h}x{out_w} reads past the input in TFLite's fixed-point arithmetic")
    fields.update(y0=const("y0", y0, "int32_t"), y1=const("y1", y1, "int32_t"),
                  x0=const("x0", x0, "int32_t"), x1=const("x1", x1, "int32_t"))
    return KernelCall(
        kernel="pb_resize",
        function=f"pb_resize_bilinear_{_SUFFIX[inp.dtype]}",
        struct="pb_resize_bilinear_params_t",
        fields=fields,
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
    )
