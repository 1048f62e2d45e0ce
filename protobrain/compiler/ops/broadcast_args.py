"""BROADCAST_ARGS: the shape two shapes broadcast to, for shapes known only at run time
(constant shapes are computed at generation time by the constant folder).

As TFLite Micro does: the output's dimensions are filled from the last, dimension i (from
the end) of each shape taken as 1 past its first dimension and read as a C int (an int64
dimension keeps its low 32 bits); a 1 takes the other shape's dimension, else the first
shape's. Two dimensions that differ with neither 1 stop TFLite Micro (a failed check
aborts the program); the kernel writes the first shape's dimension there.
"""

from __future__ import annotations

from protobrain.compiler.ops.base import KernelCall, const, register, require, tensors

_CTYPE = {"int32": "int32_t", "int64": "int64_t"}


@register("BROADCAST_ARGS", inputs=(2, 2), types=("int32", "int64"))
def lower(op, g):
    (a, b), (out,) = tensors(op, g)
    require(a.dtype in _CTYPE, f"type {a.dtype} (TFLite Micro has int32 and int64 shapes)")
    require(b.dtype == a.dtype and out.dtype == a.dtype, f"types {a.dtype}, {b.dtype} -> {out.dtype} differ")
    for t, what in ((a, "first shape"), (b, "second shape"), (out, "output")):
        require(len(t.shape) == 1, f"{what} of rank {len(t.shape)}, expects a vector")
    require(not (a.is_const and b.is_const),
            "both shapes constant, but not computable at generation time (negative dimensions)")
    fields = {"size_a": a.shape[0], "size_b": b.shape[0], "size_out": out.shape[0]}
    inputs = []
    for key, t, k in (("a", a, 0), ("b", b, 1)):
        if t.is_const:
            fields[f"input_{key}"] = -1
            fields[f"const_{key}"] = const(key, t.data, _CTYPE[t.dtype])
        else:
            fields[f"input_{key}"] = len(inputs)
            fields[f"const_{key}"] = "NULL"
            inputs.append(op.inputs[k])
    return KernelCall(
        kernel="pb_tile",
        function=f"pb_broadcast_args_s{32 if a.dtype == 'int32' else 64}",
        struct="pb_broadcast_args_params_t",
        fields=fields,
        inputs=inputs,
        outputs=[op.outputs[0]],
        inputs_as_array=True,
    )
