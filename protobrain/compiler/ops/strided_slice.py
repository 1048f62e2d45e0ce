"""STRIDED_SLICE with constant begin/end/strides, up to 5 dimensions, any element size;
SLICE and DYNAMIC_UPDATE_SLICE (start indices known at run time or not) as pb_move boxes.

Begin and end are resolved per axis as TFLite Micro's Eval does: a negative index counts
from the end, then it is clamped to [0, n] (positive stride) or [-1, n-1] (negative
stride), then begin_mask/end_mask override it; a shrunk axis takes exactly one element.
TFLite Micro ignores ellipsis_mask, new_axis_mask and offset (the converter rewrites the
first two into RESHAPEs), so those are refused rather than silently reinterpreted.
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const, register, require, tensors
from protobrain.compiler.ops.move import (CONST, OUT0, Box, Constants, const_ints, copy_box, move_call, move_fields,
                                           require_types, strides)

MAX_DIMS = 5
_ELEM = {"bool": 1, "int8": 1, "uint8": 1, "int16": 2, "int32": 4, "float32": 4, "int64": 8}


def _c_array(values) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def _clamp(v: int, lo: int, hi: int) -> int:
    return hi if v > hi else lo if v < lo else v


def resolve_axis(n: int, begin: int, end: int, stride: int, begin_masked: bool,
                 end_masked: bool, shrink: bool) -> tuple[int, int]:
    """(start, stop) of one axis, exactly as TFLite Micro computes them at run time."""
    start = begin + n if begin < 0 else begin
    start = _clamp(start, 0, n) if stride > 0 else _clamp(start, -1, n - 1)
    if begin_masked:
        start = 0 if stride > 0 else n - 1
    if shrink:
        return start, (start if start >= n else start + 1)
    stop = end + n if end < 0 else end
    stop = _clamp(stop, 0, n) if stride > 0 else _clamp(stop, -1, n - 1)
    if end_masked:
        stop = n if stride > 0 else -1
    return start, stop


def iterations(start: int, stop: int, stride: int) -> int:
    if stride > 0:
        return max(0, (stop - start + stride - 1) // stride)
    return max(0, (start - stop - stride - 1) // -stride)


def slice_loops(shape, starts, counts, strides):
    """Base element offset and merged (count, element step) loops, outermost first."""
    elem_strides = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        elem_strides[k] = elem_strides[k + 1] * shape[k + 1]
    base = sum(s * e for s, e in zip(starts, elem_strides))
    loops: list[tuple[int, int]] = []
    for c, st, e in zip(counts, strides, elem_strides):
        if c == 1:
            continue  # contributes only to the base offset
        loops.append((c, st * e))
    merged: list[tuple[int, int]] = []
    for c, step in reversed(loops):
        if merged and step == merged[0][0] * merged[0][1]:
            merged[0] = (c * merged[0][0], merged[0][1])
        else:
            merged.insert(0, (c, step))
    return base, merged


@register("STRIDED_SLICE", inputs=(4, 4), types=("int8", "int16", "int32", "float32", "bool"))
def lower(op, g):
    ins, (out,) = tensors(op, g)
    require(len(ins) == 4, f"{len(ins)} inputs")
    inp, begin_t, end_t, strides_t = ins
    require(inp.dtype in _ELEM, f"type {inp.dtype}")
    require(out.dtype == inp.dtype, f"output type {out.dtype}")
    require(not inp.is_const, "constant data input")
    require(all(t is not None and t.is_const for t in (begin_t, end_t, strides_t)),
            "non-constant begin/end/strides")
    o = op.options
    require(not o.get("ellipsis_mask", 0), "ellipsis_mask (TFLite Micro ignores it)")
    require(not o.get("new_axis_mask", 0), "new_axis_mask (TFLite Micro ignores it)")
    require(not o.get("offset", False), "offset=true (TFLite Micro ignores it)")
    rank = len(inp.shape)
    require(1 <= rank <= MAX_DIMS, f"rank {rank}")
    begin = np.asarray(begin_t.data).reshape(-1).astype(np.int64).tolist()
    end = np.asarray(end_t.data).reshape(-1).astype(np.int64).tolist()
    strides = np.asarray(strides_t.data).reshape(-1).astype(np.int64).tolist()
    require(len(begin) == len(end) == len(strides) == rank, "begin/end/strides length differs from the rank")
    require(all(s != 0 for s in strides), "zero stride")
    bm, em, sm = (int(o.get(k, 0)) for k in ("begin_mask", "end_mask", "shrink_axis_mask"))

    starts, counts = [], []
    for k, n in enumerate(inp.shape):
        start, stop = resolve_axis(n, begin[k], end[k], strides[k], bool(bm >> k & 1),
                                   bool(em >> k & 1), bool(sm >> k & 1))
        starts.append(start)
        counts.append(iterations(start, stop, strides[k]))
    require(int(np.prod(counts, dtype=np.int64)) == out.size,
            f"slice of {counts} elements does not fill output {out.shape}")
    kept = [c for k, c in enumerate(counts) if not sm >> k & 1]
    require(tuple(kept) == tuple(out.shape), f"output shape {out.shape}, slice gives {tuple(kept)}")

    base, loops = slice_loops(inp.shape, starts, counts, strides)
    if out.size == 0:
        base, loops = 0, [(0, 1)]
    loops = [(1, 0)] * (MAX_DIMS - len(loops)) + loops
    return KernelCall(
        kernel="pb_slice",
        function="pb_strided_slice",
        struct="pb_slice_params_t",
        fields={
            "elem_size": _ELEM[inp.dtype],
            "base": base,
            "count": _c_array(c for c, _ in loops),
            "step": _c_array(s for _, s in loops),
        },
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
        macs=0,
    )


# ---- SLICE and DYNAMIC_UPDATE_SLICE (pb_move) -------------------------------------------


@register("SLICE", inputs=(3, 3), types=("int8", "int16", "int32", "float32", "bool"))
def lower_slice(op, g):
    (inp, begin_t, size_t), (out,) = tensors(op, g)
    require_types(inp, ("int8", "int16", "int32", "float32", "bool"))
    require(out.dtype == inp.dtype, f"output type {out.dtype}")
    rank = len(inp.shape)
    require(1 <= rank <= MAX_DIMS, f"rank {rank} (1 to {MAX_DIMS})")
    require(begin_t is not None and size_t is not None and begin_t.dtype == size_t.dtype,
            "begin and size types differ")
    begin, size = const_ints(begin_t, "begin"), const_ints(size_t, "size")
    require(len(begin) == len(size) == rank, f"begin {begin} and size {size} for rank {rank}")
    stop = [n if s == -1 else b + s for n, b, s in zip(inp.shape, begin, size)]
    require(all(0 <= b <= e <= n for b, e, n in zip(begin, stop, inp.shape)),
            f"begin {begin} and size {size} leave {inp.shape}")
    counts = [e - b for b, e in zip(begin, stop)]
    require(tuple(counts) == tuple(out.shape), f"output shape {out.shape}, the slice gives {tuple(counts)}")
    s = strides(inp.shape)
    base = sum(b * k for b, k in zip(begin, s))
    return move_call(inp.dtype, [copy_box(0, OUT0, counts, s, base)], [op.inputs[0]], op.outputs)


@register("DYNAMIC_UPDATE_SLICE", inputs=(3, 3), types=("int8", "int16", "int32", "float32"))
def lower_dynamic_update_slice(op, g):
    (operand, update, index), (out,) = tensors(op, g)
    require_types(operand, ("int8", "int16", "int32", "float32"), "operand type")
    require(update.dtype == operand.dtype and out.dtype == operand.dtype,
            f"types {operand.dtype}, {update.dtype} -> {out.dtype}")
    require(index.dtype in ("int32", "int64"), f"start indices type {index.dtype}")
    rank = len(operand.shape)
    require(1 <= rank <= 6 and index.shape == (rank,) and len(update.shape) == rank,
            f"operand {operand.shape}, update {update.shape}, indices {index.shape}")
    require(all(u <= n for u, n in zip(update.shape, operand.shape)), f"update {update.shape} exceeds {operand.shape}")
    require(tuple(out.shape) == tuple(operand.shape), f"output shape {out.shape}")
    so = strides(operand.shape)
    limit = [n - u for n, u in zip(operand.shape, update.shape)]
    inputs, constants = [], Constants(operand.dtype)

    def source(t):
        if t.is_const:
            return CONST, constants.add(t.data)
        inputs.append(t.index)
        return len(inputs) - 1, 0

    boxes = []
    if operand.size != update.size:
        src, base = source(operand)
        boxes.append(copy_box(src, OUT0, operand.shape, strides(operand.shape), base))
    src, base = source(update)
    if index.is_const:  # start clamped to [0, operand - update] as TFLite Micro does
        start = sum(min(max(0, int(v)), m) * k for v, m, k in zip(np.asarray(index.data).reshape(-1), limit, so))
        boxes.append(Box(src, OUT0, list(update.shape), strides(update.shape), so, base, start))
        return move_call(operand.dtype, boxes, inputs, op.outputs, constants)
    boxes.append(Box(src, OUT0, list(update.shape), strides(update.shape), so, base, 0))
    fields = {f"move.{k}": v for k, v in move_fields(operand.dtype, boxes, constants).items()}
    inputs.append(index.index)
    fields.update({"index": len(inputs) - 1, "index_size": 8 if index.dtype == "int64" else 4, "rank": rank,
                   "limit": const("limit", np.asarray(limit, np.int32), "int32_t"),
                   "stride": const("stride", np.asarray(so, np.int32), "int32_t")})
    return KernelCall(kernel="pb_move", function="pb_update_slice", struct="pb_update_slice_params_t",
                      fields=fields, inputs=inputs, outputs=list(op.outputs), inputs_as_array=True,
                      outputs_as_array=True)
