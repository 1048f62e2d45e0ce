"""SPLIT, SPLIT_V, UNPACK (one input, several outputs) and PACK (several inputs, one
output): one pb_move box per output or input, each a block of the outer x inner layout
around the split axis, as TFLite Micro copies them.
"""

from __future__ import annotations

import math

from protobrain.compiler.ops.base import register, require, tensors
from protobrain.compiler.ops.move import CONST, Box, Constants, const_ints, move_call, out_buffer, require_types

_SPLIT_TYPES = ("int8", "int16", "int32", "float32")


def _axis(value: int, rank: int, what: str = "axis") -> int:
    axis = value + rank if value < 0 else value
    require(0 <= axis < rank, f"{what} {value} out of range for rank {rank}")
    return axis


def _pieces(op, g, inp, outs, axis: int, sizes: list[int]):
    """Output k takes `sizes[k]` slices of the axis, in order."""
    require(sum(sizes) == inp.shape[axis], f"splits {sizes} do not add up to {inp.shape[axis]}")
    outer = math.prod(inp.shape[:axis])
    inner = math.prod(inp.shape[axis + 1:])
    boxes, offset = [], 0
    for k, (t, n) in enumerate(zip(outs, sizes)):
        require(t.dtype == inp.dtype, f"output {k} type {t.dtype}")
        want = (*inp.shape[:axis], n, *inp.shape[axis + 1:])
        require(tuple(t.shape) == want, f"output {k} shape {t.shape}, the split gives {want}")
        boxes.append(Box(0, out_buffer(k), [outer, n * inner], [inp.shape[axis] * inner, 1], [n * inner, 1],
                         offset * inner, 0))
        offset += n
    return move_call(inp.dtype, boxes, [op.inputs[1] if op.name == "SPLIT" else op.inputs[0]], op.outputs)


@register("SPLIT", inputs=(2, 2), outputs=(1, 1024), types=_SPLIT_TYPES)
def lower_split(op, g):
    (axis_t, inp), outs = tensors(op, g)
    require_types(inp, _SPLIT_TYPES)
    axis = _axis(const_ints(axis_t, "axis", ("int32",))[0], len(inp.shape))
    n = len(outs)
    require(inp.shape[axis] % n == 0, f"axis size {inp.shape[axis]} does not split into {n}")
    return _pieces(op, g, inp, outs, axis, [inp.shape[axis] // n] * n)


@register("SPLIT_V", inputs=(3, 3), outputs=(1, 1024), types=_SPLIT_TYPES)
def lower_split_v(op, g):
    (inp, sizes_t, axis_t), outs = tensors(op, g)
    require_types(inp, _SPLIT_TYPES)
    axis = _axis(const_ints(axis_t, "axis", ("int32",))[0], len(inp.shape))
    # TFLite Micro takes each output's own size along the axis (the converter's size_splits,
    # with any -1 already resolved in the output shapes).
    sizes = [int(t.shape[axis]) if len(t.shape) > axis else -1 for t in outs]
    require(all(s >= 0 for s in sizes), "an output has fewer dimensions than the input")
    if sizes_t is not None and sizes_t.is_const:
        given = const_ints(sizes_t, "size_splits")
        require(len(given) == len(outs), f"{len(given)} size_splits for {len(outs)} outputs")
        require(all(a == b or a == -1 for a, b in zip(given, sizes)), f"size_splits {given} differ from outputs {sizes}")
    return _pieces(op, g, inp, outs, axis, sizes)


@register("UNPACK", outputs=(1, 1024), types=("int8", "int16", "int32", "float32"))
def lower_unpack(op, g):
    (inp,), outs = tensors(op, g)
    require_types(inp, ("int8", "int16", "int32", "float32"))
    rank = len(inp.shape)
    axis = _axis(int(op.options.get("axis", 0)), rank)
    num = int(op.options.get("num", 0))
    require(num == len(outs) == inp.shape[axis], f"num {num}, {len(outs)} outputs, axis size {inp.shape[axis]}")
    outer = math.prod(inp.shape[:axis])
    inner = math.prod(inp.shape[axis + 1:])
    boxes = []
    for k, t in enumerate(outs):
        require(t.dtype == inp.dtype, f"output {k} type {t.dtype}")
        require(t.size == outer * inner, f"output {k} shape {t.shape}")
        boxes.append(Box(0, out_buffer(k), [outer, inner], [num * inner, 1], [inner, 1], k * inner, 0))
    return move_call(inp.dtype, boxes, [op.inputs[0]], op.outputs)


@register("PACK", inputs=(1, 1024), types=("int8", "int16", "int32", "int64", "float32"))
def lower_pack(op, g):
    ins, (out,) = tensors(op, g)
    require(all(t is not None for t in ins), "an omitted input (TFLite Micro gets none to pack)")
    require_types(out, ("int8", "int16", "int32", "int64", "float32"))
    rank = len(out.shape)
    axis = _axis(int(op.options.get("axis", 0)), rank)
    n = int(op.options.get("values_count", 0))
    require(n == len(ins) == out.shape[axis], f"values_count {n}, {len(ins)} inputs, axis size {out.shape[axis]}")
    outer = math.prod(out.shape[:axis])
    inner = math.prod(out.shape[axis + 1:])
    boxes, inputs, constants = [], [], None
    for k, t in enumerate(ins):
        require(t.dtype == out.dtype, f"input {k} type {t.dtype}")
        require(t.size == outer * inner, f"input {k} shape {t.shape}")
        dst = dict(dst_step=[n * inner, 1], dst_base=k * inner)
        if t.is_const:
            constants = constants or Constants(out.dtype)
            boxes.append(Box(CONST, out_buffer(0), [outer, inner], [inner, 1], src_base=constants.add(t.data), **dst))
        else:
            boxes.append(Box(len(inputs), out_buffer(0), [outer, inner], [inner, 1], **dst))
            inputs.append(t.index)
    return move_call(out.dtype, boxes, inputs, op.outputs, constants)
