"""MEAN over any set of axes of an input of up to 5 dimensions: int8, int16 and float32.

Integer MEAN in TFLite Micro always requantizes, even when input and output share scale
and zero point (older releases had a truncating integer-division path for that case;
current ones do not): sum the raw values in int32, subtract count * input zero point,
then apply QuantizeMultiplier(s_in / s_out) refolded to include 1/count:
    k = min(floor(log2(count)), 32, 31 + shift); mult = (mult << k) / count; shift -= k
followed by MultiplyByQuantizedMultiplier, the output zero point and a clamp.
Float sums in row-major order of the reduced elements and divides by the count.
(TFLite Micro keeps room for only 2 resolved axes; with 3 or more it still computes the
same mean, so those are accepted and tested too.)
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import KernelCall, register, require, tensors
from protobrain.compiler.quantization import f32, quantize_multiplier

MAX_DIMS = 5  # TFLite Micro's index scratch holds 5 dimensions
_FUNCS = {"int8": "pb_mean_s8", "int16": "pb_mean_s16", "float32": "pb_mean_f32"}


def _c_array(values) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def loop_groups(shape, reduced: set[int]):
    """Split a row-major shape into alternating runs of kept and reduced dimensions.

    Size-1 dimensions are dropped; each run becomes one loop (size, element stride).
    Returns (kept loops, reduced loops), each outermost first.
    """
    strides = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    runs: list[list] = []  # [is_reduced, size, stride]
    for k, n in enumerate(shape):
        if n == 1:
            continue
        red = k in reduced
        if runs and runs[-1][0] == red:
            runs[-1][1] *= n
            runs[-1][2] = strides[k]
        else:
            runs.append([red, n, strides[k]])
    kept = [(n, s) for r, n, s in runs if not r]
    red = [(n, s) for r, n, s in runs if r]
    return kept, red


def _pad3(loops):
    return [(1, 0)] * (3 - len(loops)) + loops


def refold_for_count(mult: int, shift: int, count: int) -> tuple[int, int]:
    """Fold 1/count into a (multiplier, shift) pair the way TFLite Micro's QuantizedMeanOrSum does."""
    k = count.bit_length() - 1
    k = min(k, 32, 31 + shift)
    require(k >= 0, f"output/input scale ratio too small (shift {shift})")
    return int((mult << k) // count), shift - k


def resolve_axes(inp, axis_t, out) -> tuple[list[int], int]:
    """The reduced axes (negatives resolved, duplicates dropped, as TFLite's ResolveAxis does)
    and the number of input elements reduced into each output; checks the axis tensor and the
    output's size. A scalar input reduces nothing, whatever the axes say."""
    require(axis_t is not None and axis_t.is_const, "non-constant axis")
    require(axis_t.dtype == "int32", f"axis type {axis_t.dtype}")
    require(not inp.is_const, "constant data input")
    require(min(inp.shape, default=1) >= 1, f"empty input {inp.shape}")
    rank = len(inp.shape)
    reduced: list[int] = []
    for a in (np.asarray(axis_t.data).reshape(-1).tolist() if rank else []):
        a = a + rank if a < 0 else a
        require(0 <= a < rank, f"axis {a} out of range for rank {rank}")
        if a not in reduced:
            reduced.append(a)
    count = int(np.prod([inp.shape[a] for a in reduced], dtype=np.int64)) if reduced else 1
    require(count * out.size == inp.size, f"output shape {out.shape} does not match the reduction")
    return reduced, count


def loop_fields(shape, reduced) -> dict:
    """The kept and reduced loops of a reduction as the kernels' params fields (3 of each)."""
    kept, red = loop_groups(list(shape), set(reduced))
    require(len(kept) <= 3 and len(red) <= 3, "too many loop groups")
    kept, red = _pad3(kept), _pad3(red)
    return {
        "kept": _c_array(n for n, _ in kept),
        "kept_stride": _c_array(s for _, s in kept),
        "red": _c_array(n for n, _ in red),
        "red_stride": _c_array(s for _, s in red),
    }


def quantized_sum_fields(inp, out, count: int, mean: bool) -> dict:
    """QuantizedMeanOrSum's parameters: zero points and QuantizeMultiplier(s_in / s_out),
    with 1/count folded in for MEAN (SUM keeps the plain ratio)."""
    require(inp.quant is not None and out.quant is not None, "missing quantization")
    require(not inp.quant.per_channel and not out.quant.per_channel, "per-channel quantization")
    s_in, s_out = f32(inp.quant.s), f32(out.quant.s)
    m, s = quantize_multiplier(float(s_in) / float(s_out))
    if mean:
        m, s = refold_for_count(m, s, count)
    return {"input_zp": inp.quant.zp, "output_zp": out.quant.zp, "mult": m, "shift": s}


@register("MEAN", inputs=(2, 2), types=tuple(_FUNCS))
def lower(op, g):
    (inp, axis_t), (out,) = tensors(op, g)
    require(inp.dtype in _FUNCS, f"type {inp.dtype}")
    require(out.dtype == inp.dtype, f"output type {out.dtype}")
    rank = len(inp.shape)
    require(1 <= rank <= MAX_DIMS, f"rank {rank}")
    reduced, count = resolve_axes(inp, axis_t, out)
    fields = {**loop_fields(inp.shape, reduced), "count": count,
              "input_zp": 0, "output_zp": 0, "mult": 0, "shift": 0}
    if inp.dtype != "float32":
        fields.update(quantized_sum_fields(inp, out, count, mean=True))
    return KernelCall(
        kernel="pb_mean",
        function=_FUNCS[inp.dtype],
        struct="pb_mean_params_t",
        fields=fields,
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
        macs=0,  # MACs count convolutions and fully connected layers only, as MLPerf Tiny does
    )
