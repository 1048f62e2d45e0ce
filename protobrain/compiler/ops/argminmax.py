"""ARG_MAX and ARG_MIN along one constant axis: float32 and int8 inputs, int32 or int64 indices.

The first extreme wins: a later element replaces the running one only when strictly
greater (ARG_MAX) or smaller (ARG_MIN), compared raw (no dequantization).

- int32 indices: TFLite Micro's kernel. Its float comparison is the plain `>` / `<`, so a
  NaN never replaces anything and nothing replaces a leading NaN.
- int64 indices (tf.math.argmax's default): TFLite Micro has no kernel; LiteRT is the
  golden. Its reference comparison treats NaN as the least element for ARG_MAX and the
  greatest for ARG_MIN: a NaN never replaces anything, anything replaces a leading NaN.
  (Along a last axis of 4 or more LiteRT takes a vectorized path whose NaN order depends on
  the host's SIMD; on numbers it agrees, and protobrain keeps the reference order.)
"""

from __future__ import annotations

import numpy as np
from tflite.TensorType import TensorType

from protobrain.compiler.ops.base import KernelCall, register, require, tensors

_SUFFIX = {"float32": "f32", "int8": "s8"}
_OUT = {"int32": "i32", "int64": "i64"}
_TENSOR_TYPES = {v for k, v in vars(TensorType).items() if not k.startswith("_")}


@register("ARG_MAX", "ARG_MIN", inputs=(2, 2), types=("int8", "float32"), litert_golden="int64 indices")
def lower(op, g):
    (inp, axis_t), (out,) = tensors(op, g)
    require(inp.dtype in _SUFFIX, f"type {inp.dtype} (TFLite Micro takes float32 and int8)")
    require(out.dtype in _OUT, f"output type {out.dtype}")
    # TFLite Micro's options parser converts output_type to a tensor type (the kernel then
    # writes the output tensor's type): a value that names none is refused.
    output_type = op.options.get("output_type", 2)
    require(output_type in _TENSOR_TYPES, f"output_type {output_type} is not a tensor type")
    require(not inp.is_const, "constant data input")
    require(axis_t is not None and axis_t.is_const, "non-constant axis")
    # TFLite Micro reads an int32 axis only; LiteRT (the int64 golden) reads int64 too.
    axis_types = ("int32",) if out.dtype == "int32" else ("int32", "int64")
    require(axis_t.dtype in axis_types, f"axis type {axis_t.dtype}")
    # TFLite Micro reads the first axis value; LiteRT wants exactly one.
    require(axis_t.size == 1 or (axis_t.size > 1 and out.dtype == "int32"), f"{axis_t.size} axis values")
    rank = len(inp.shape)
    require(rank >= 1, "scalar input")
    axis = int(np.asarray(axis_t.data).reshape(-1)[0])
    axis = axis + rank if axis < 0 else axis
    require(0 <= axis < rank, f"axis {axis} out of range for rank {rank}")
    require(min(inp.shape) >= 1, f"empty input {inp.shape}")
    want = tuple(inp.shape[:axis]) + tuple(inp.shape[axis + 1:])
    require(tuple(out.shape) == want, f"output shape {out.shape}, expected {want}")
    outer = int(np.prod(inp.shape[:axis], dtype=np.int64))
    inner = int(np.prod(inp.shape[axis + 1:], dtype=np.int64))
    kind = "max" if op.name == "ARG_MAX" else "min"
    return KernelCall(
        kernel="pb_argminmax",
        function=f"pb_arg_{kind}_{_SUFFIX[inp.dtype]}_{_OUT[out.dtype]}",
        struct="pb_argminmax_params_t",
        fields={"outer": outer, "axis_size": inp.shape[axis], "inner": inner},
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
    )
