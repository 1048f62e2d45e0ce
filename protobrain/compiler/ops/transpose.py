"""Permutations of elements, each one box of pb_move: TRANSPOSE (up to 6-D), REVERSE_V2,
BROADCAST_TO, DEPTH_TO_SPACE and SPACE_TO_DEPTH.

Element types are those TFLite Micro's kernels take; the bytes move unchanged (a
quantized tensor keeps its input's values, as TFLite Micro copies them).
"""

from __future__ import annotations

from protobrain.compiler.ops.base import register, require, tensors
from protobrain.compiler.ops.move import OUT0, const_ints, copy_box, move_call, require_types, strides


def _same_type(inp, out) -> None:
    require(inp.dtype == out.dtype, f"input type {inp.dtype} differs from output type {out.dtype}")


@register("TRANSPOSE", inputs=(2, 2), types=("int8", "int16", "float32"), litert_golden="6-D (numpy)")
def lower_transpose(op, g):
    (inp, perm_t), (out,) = tensors(op, g)
    require_types(inp, ("int8", "int16", "float32"))
    _same_type(inp, out)
    rank = len(inp.shape)
    require(1 <= rank <= 6, f"rank {rank} (1 to 6)")
    perm = const_ints(perm_t, "perm", ("int32",))
    require(sorted(perm) == list(range(rank)), f"perm {perm} is not a permutation of {rank} axes")
    shape = [inp.shape[p] for p in perm]
    require(tuple(shape) == tuple(out.shape), f"output shape {out.shape}, perm gives {tuple(shape)}")
    s = strides(inp.shape)
    return move_call(inp.dtype, [copy_box(0, OUT0, shape, [s[p] for p in perm])], [op.inputs[0]], op.outputs)


@register("REVERSE_V2", inputs=(2, 2), types=("int8", "uint8", "int16", "int32", "int64", "float32", "bool"))
def lower_reverse(op, g):
    (inp, axis_t), (out,) = tensors(op, g)
    require_types(inp, ("int8", "uint8", "int16", "int32", "int64", "float32", "bool"))
    _same_type(inp, out)
    rank = len(inp.shape)
    require(1 <= rank <= 6, f"rank {rank} (1 to 6)")
    require(tuple(out.shape) == tuple(inp.shape), f"output shape {out.shape} differs from {inp.shape}")
    axes = sorted(a + rank if a < 0 else a for a in const_ints(axis_t, "axis", ("int32",)))
    require(len(axes) <= rank and all(0 <= a < rank for a in axes), f"axes {axes} out of range")
    require(all(b == a + 1 for a, b in zip(axes, axes[1:])), f"axes {axes} are not contiguous (TFLite Micro)")
    s = strides(inp.shape)
    step = [-s[k] if k in axes else s[k] for k in range(rank)]
    base = sum((inp.shape[k] - 1) * s[k] for k in axes if inp.shape[k] > 0)
    return move_call(inp.dtype, [copy_box(0, OUT0, inp.shape, step, base)], [op.inputs[0]], op.outputs)


@register("BROADCAST_TO", inputs=(2, 2), types=("int8", "uint8", "int16", "int32", "int64", "float32", "bool"))
def lower_broadcast_to(op, g):
    (inp, shape_t), (out,) = tensors(op, g)
    require_types(inp, ("int8", "uint8", "int16", "int32", "int64", "float32", "bool"))
    _same_type(inp, out)
    shape = const_ints(shape_t, "shape")
    rank, irank = len(out.shape), len(inp.shape)
    require(rank <= 5 and irank <= rank, f"ranks {irank} -> {rank} (at most 5)")
    require(tuple(shape) == tuple(out.shape), f"shape {shape} differs from the output's {out.shape}")
    lead = rank - irank
    require(all(inp.shape[k] in (1, out.shape[lead + k]) for k in range(irank)),
            f"{inp.shape} does not broadcast to {out.shape}")
    s = strides(inp.shape)
    step = [0] * lead + [0 if inp.shape[k] == 1 else s[k] for k in range(irank)]
    return move_call(inp.dtype, [copy_box(0, OUT0, out.shape, step)], [op.inputs[0]], op.outputs)


def _block(op, inp, out) -> int:
    require_types(inp, ("int8", "float32"))
    _same_type(inp, out)
    require(len(inp.shape) == 4 and len(out.shape) == 4, f"ranks {len(inp.shape)} -> {len(out.shape)} (4-D only)")
    b = int(op.options.get("block_size", 0))
    require(b > 0, f"block_size {b}")
    return b


@register("DEPTH_TO_SPACE", types=("int8", "float32"))
def lower_depth_to_space(op, g):
    (inp,), (out,) = tensors(op, g)
    b = _block(op, inp, out)
    n, h, w, c = inp.shape
    require(c % (b * b) == 0, f"{c} channels do not split into {b}x{b} blocks")
    co = c // (b * b)
    require(tuple(out.shape) == (n, h * b, w * b, co), f"output shape {out.shape}")
    # Output (n, y, dy, x, dx, c) reads input (n, y, x, (dy * b + dx) * co + c).
    step = [h * w * c, w * c, b * co, c, co, 1]
    return move_call(inp.dtype, [copy_box(0, OUT0, [n, h, b, w, b, co], step)], [op.inputs[0]], op.outputs)


@register("SPACE_TO_DEPTH", types=("int8", "float32"))
def lower_space_to_depth(op, g):
    (inp,), (out,) = tensors(op, g)
    b = _block(op, inp, out)
    n, h, w, c = inp.shape
    require(h % b == 0 and w % b == 0, f"{h}x{w} does not split into {b}x{b} blocks")
    require(tuple(out.shape) == (n, h // b, w // b, c * b * b), f"output shape {out.shape}")
    # Output (n, y, x, dy, dx, c) reads input (n, y * b + dy, x * b + dx, c).
    step = [h * w * c, b * w * c, b * c, w * c, c, 1]
    return move_call(inp.dtype, [copy_box(0, OUT0, [n, h // b, w // b, b, b, c], step)], [op.inputs[0]], op.outputs)

