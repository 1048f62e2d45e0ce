"""LOGICAL_AND, LOGICAL_OR (bool, N-D broadcasting), LOGICAL_NOT (bool) and SELECT_V2
(a bool condition choosing between x and y of int8, int16 or float32, all three operands
broadcast to the output; the values are copied as they are, TFLite Micro does not
requantize). SELECT (v1), which the converter emits for tf.where on operands of one shape,
takes no broadcasting: the condition has the operands' shape, or is a vector choosing
whole slices along the first dimension. TFLite Micro registers no SELECT kernel: its golden
is LiteRT's reference kernel. Kernels: templates/kernels/
portable/pb_compare.c, over pb_binary's loop nest (elementwise.broadcast_call).
"""

from __future__ import annotations

from protobrain.compiler.ops.base import register, require, require_types, tensors
from protobrain.compiler.ops.elementwise import SUFFIX, broadcast_call


@register("LOGICAL_AND", "LOGICAL_OR", inputs=(2, 2), types=("bool",))
def lower_and_or(op, g):
    require_types(op, g, {("bool", "bool", "bool")})
    return broadcast_call(op, g, f"pb_{op.name.lower()}", {}, kernel="pb_compare")


@register("LOGICAL_NOT", types=("bool",))
def lower_not(op, g):
    require_types(op, g, {("bool", "bool")})
    (inp,), (out,) = tensors(op, g)
    require(inp.size == out.size, f"output of {out.size} elements for an input of {inp.size}")
    return broadcast_call(op, g, "pb_logical_not", {}, kernel="pb_compare")


@register("SELECT_V2", inputs=(3, 3), types=("int8", "int16", "float32"))
def lower_select(op, g):
    require_types(op, g, {("bool", t, t, t) for t in ("int8", "int16", "float32")})
    out = g.tensors[op.outputs[0]]
    return broadcast_call(op, g, f"pb_select_v2_{SUFFIX[out.dtype]}", {}, kernel="pb_compare")


@register("SELECT", inputs=(3, 3), types=("int8", "int16", "float32"), litert_golden="int8, int16, float32")
def lower_select_v1(op, g):
    require_types(op, g, {("bool", t, t, t) for t in ("int8", "int16", "float32")})
    (cond, x, y), (out,) = tensors(op, g)
    require(x.shape == y.shape == out.shape, f"operands {x.shape}, {y.shape} and output {out.shape} differ "
                                             "(SELECT does not broadcast)")
    if cond.shape == x.shape:
        cond_shape = cond.shape
    else:
        require(len(cond.shape) == 1 and len(x.shape) > 1 and cond.shape[0] == x.shape[0],
                f"condition {cond.shape} is neither the operands' shape {x.shape} nor a vector of their first dimension")
        cond_shape = (cond.shape[0],) + (1,) * (len(x.shape) - 1)
    return broadcast_call(op, g, f"pb_select_v2_{SUFFIX[out.dtype]}", {}, kernel="pb_compare",
                          shapes=[cond_shape, x.shape, y.shape])
