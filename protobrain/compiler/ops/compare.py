"""EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL: a bool output, with N-D
broadcasting, for the input types TFLite Micro has kernels for.

- EQUAL, NOT_EQUAL: bool, int8, int32, int64, float32.
- GREATER, GREATER_EQUAL, LESS, LESS_EQUAL: int8, int32, int64, float32.

int8 inputs are compared at their own scales: each becomes (x - zero point) * 2^8 times its
scale, the scale taken as a Q0.31 multiplier (so it must be below 1: TFLite Micro aborts
otherwise). The other types compare the raw values. Kernels: templates/kernels/portable/
pb_compare.c, over pb_binary's loop nest (elementwise.broadcast_call).
"""

from __future__ import annotations

from protobrain.compiler.ops.base import register, require, require_types, tensors
from protobrain.compiler.ops.elementwise import SUFFIX, broadcast_call, smaller_than_one
from protobrain.compiler.quantization import f32

_EQUALITY = ("EQUAL", "NOT_EQUAL")
_ORDER = ("GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL")
LEFT_SHIFT = 8  # TFLite Micro's int8 comparisons widen by 2^8


@register(*_EQUALITY, inputs=(2, 2), types=("bool", "int8", "int32", "int64", "float32"))
@register(*_ORDER, inputs=(2, 2), types=("int8", "int32", "int64", "float32"))
def lower(op, g):
    (in1, in2), (out,) = tensors(op, g)
    if in1.dtype == "int16" and op.name == "GREATER":
        # Its int16 kernel compares with scaling parameters Prepare only sets for int8.
        require(False, "int16 GREATER: TFLite Micro's kernel reads scaling parameters it never sets")
    types = ("bool", "int8", "int32", "int64", "float32") if op.name in _EQUALITY else ("int8", "int32", "int64", "float32")
    require_types(op, g, {(t, t, "bool") for t in types})
    fields = {}
    if in1.dtype == "int8":
        for k, t in enumerate((in1, in2), 1):
            require(t.quant is not None, "missing quantization")
            require(not t.quant.per_channel, "per-channel quantized operand")
            m, s = smaller_than_one(float(f32(t.quant.s)), f"input {k} scale (TFLite Micro aborts on >= 1)")
            fields.update({f"input{k}_offset": -t.quant.zp, f"input{k}_mult": m, f"input{k}_shift": s})
        fields["left_shift"] = LEFT_SHIFT
    return broadcast_call(op, g, f"pb_compare_{op.name.lower()}_{SUFFIX[in1.dtype]}", fields, kernel="pb_compare")
