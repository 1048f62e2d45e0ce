"""RESHAPE, SQUEEZE, EXPAND_DIMS: pure views, so the output shares the input's memory.
SHAPE, FILL and CONSTANT: values known before run time, written by pb_move.

TFLite Micro implements the views as a copy of the bytes (or nothing at all when the
buffers coincide); the element order never changes, so no code runs here at all.
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import Alias, register, require, tensors
from protobrain.compiler.ops.move import CONST, OUT0, Box, Constants, const_ints, move_call, require_types


_VIEW_TYPES = ("int8", "uint8", "int16", "int32", "int64", "float32", "bool")  # a view moves no bytes


@register("RESHAPE", inputs=(1, 2), types=_VIEW_TYPES)
@register("SQUEEZE", types=_VIEW_TYPES)
@register("EXPAND_DIMS", inputs=(2, 2), types=("int8", "int16", "float32"))
def lower(op, g):
    ins, outs = tensors(op, g)
    require(len(outs) == 1 and ins and ins[0] is not None, "expects one data input and one output")
    inp, out = ins[0], outs[0]
    require(not inp.is_const, "constant data input (should have been folded by the converter)")
    require(inp.dtype == out.dtype, f"input type {inp.dtype} differs from output type {out.dtype}")
    require(inp.size == out.size, f"element count changes: {inp.shape} -> {out.shape}")
    if op.name == "SQUEEZE":
        dims = [d + len(inp.shape) if d < 0 else d for d in op.options.get("squeeze_dims", []) or []]
        require(all(0 <= d < len(inp.shape) and inp.shape[d] == 1 for d in dims),
                f"squeeze_dims {dims} do not name size-1 dimensions of {inp.shape}")
        # TFLite Micro's Prepare: at most 8 dimensions, and each kept one no larger than the
        # output's dimension in its place (it aborts otherwise)
        kept = [n for k, n in enumerate(inp.shape) if (k not in dims if dims else n != 1)]
        require(len(inp.shape) <= 8 and len(kept) <= len(out.shape)
                and all(o >= n for o, n in zip(out.shape, kept)), f"output shape {out.shape} for {inp.shape}")
    if op.name == "EXPAND_DIMS":  # as TFLite Micro's Prepare and Eval check it
        require(inp.dtype in ("int8", "int16", "float32"), f"type {inp.dtype} (TFLite Micro has int8, int16, float32)")
        axis_t = g.tensors[op.inputs[1]]
        require(axis_t.is_const and axis_t.dtype == "int32" and len(axis_t.shape) <= 1 and axis_t.size >= 1,
                "the axis must be one constant int32")
        axis = int(np.asarray(axis_t.data).reshape(-1)[0])
        axis = axis + len(inp.shape) + 1 if axis < 0 else axis
        require(0 <= axis <= len(inp.shape), f"axis {axis} for rank {len(inp.shape)}")
        want = tuple(inp.shape[:axis]) + (1,) + tuple(inp.shape[axis:])
        require(tuple(out.shape) == want, f"output shape {tuple(out.shape)}, expects {want}")
    return Alias(output=op.outputs[0], input=op.inputs[0])


# ---- operators writing values known at generation time ----------------------------------
# The constant-folding pass (compiler/fold.py) computes these wherever it can; what reaches
# lowering is a graph output that became a constant (CONSTANT, the pass's own operator),
# or an operator the pass left alone.


def _write_constant(values, out):
    constants = Constants(out.dtype)
    base = constants.add(values)
    box = Box(CONST, OUT0, [out.size], [1], [1], base, 0)
    return move_call(out.dtype, [box], [], [out.index], constants)


@register("CONSTANT", types=("int8", "int16", "int32", "int64", "float32", "bool"))
def lower_constant(op, g):
    """A graph output whose value the folding pass computed: written from flash each run."""
    (value,), (out,) = tensors(op, g)
    require(value is not None and value.is_const, "CONSTANT reads a constant tensor")
    require(value.dtype == out.dtype and value.size == out.size, f"{value.dtype}{value.shape} -> {out.dtype}{out.shape}")
    return _write_constant(value.data, out)


@register("SHAPE", types=("int32",))
def lower_shape(op, g):
    (inp,), (out,) = tensors(op, g)
    require(out.dtype == "int32", f"output type {out.dtype} (TFLite Micro writes int32 only)")
    require(out.shape == (len(inp.shape),), f"output shape {out.shape} for a rank-{len(inp.shape)} input")
    return _write_constant(np.asarray(inp.shape, np.int32), out)


@register("FILL", inputs=(2, 2), types=("int8", "int32", "float32"))
def lower_fill(op, g):
    (dims_t, value), (out,) = tensors(op, g)
    require_types(value, ("int8", "int32", "float32"), "value type")
    require(value.shape == (), f"value shape {value.shape} (a scalar)")
    require(out.dtype == value.dtype, f"output type {out.dtype}")
    dims = const_ints(dims_t, "dims", ("int8", "int16", "int32", "int64"))
    require(tuple(dims) == tuple(out.shape), f"dims {dims} differ from the output's {out.shape}")
    if value.is_const:  # one element in flash, repeated (a value too large to fold)
        constants = Constants(out.dtype)
        base = constants.add([value.data])
        return move_call(out.dtype, [Box(CONST, OUT0, [out.size], [0], [1], base)], [], [out.index], constants)
    return move_call(out.dtype, [Box(0, OUT0, [out.size], [0], [1])], [value.index], [out.index])
