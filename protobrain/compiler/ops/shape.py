"""RESHAPE, SQUEEZE, EXPAND_DIMS: pure views, so the output shares the input's memory.

TFLite Micro implements all three as a copy of the bytes (or nothing at all when the
buffers coincide); the element order never changes, so no code runs here at all.
"""

from __future__ import annotations

from protobrain.compiler.ops.base import Alias, register, require, tensors


@register("RESHAPE", inputs=(1, 2))
@register("SQUEEZE")
@register("EXPAND_DIMS", inputs=(2, 2))
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
    return Alias(output=op.outputs[0], input=op.inputs[0])
