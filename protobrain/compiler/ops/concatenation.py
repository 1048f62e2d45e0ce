"""CONCATENATION along any axis, 1 to 10 inputs, any element type TFLite Micro concatenates.

TFLite Micro never requantizes: it refuses int8 inputs whose scale or zero point differs
from the output's (the converter gives them all the output's parameters), and copies int16
inputs as they are whatever their scales (zero points must be 0). Constant inputs are
stored in one const array and copied from flash.
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const, register, require, tensors

MAX_INPUTS = 10  # TFLite Micro's limit (and the size of the params arrays)
_ELEM = {"bool": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "float32": 4}
_CTYPE = {"bool": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t",
          "float32": "float"}


def _c_array(values) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


@register("CONCATENATION", inputs=(1, MAX_INPUTS), types=tuple(_ELEM))
def lower(op, g):
    ins, (out,) = tensors(op, g)
    require(all(t is not None for t in ins), "omitted input")
    require(out.dtype in _ELEM, f"type {out.dtype}")
    require(all(t.dtype == out.dtype for t in ins), "inputs and output differ in type")
    require(1 <= len(ins) <= MAX_INPUTS, f"{len(ins)} inputs (at most {MAX_INPUTS})")
    act = op.options.get("fused_activation_function", "NONE")
    require(act == "NONE", f"fused activation {act}")
    rank = len(out.shape)
    require(rank >= 1, "scalar output")
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    require(0 <= axis < rank, f"axis {op.options.get('axis')} for rank {rank}")
    for t in ins:
        require(len(t.shape) == rank, f"input rank {len(t.shape)} differs from output rank {rank}")
        require(all(a == b for k, (a, b) in enumerate(zip(t.shape, out.shape)) if k != axis),
                f"input shape {t.shape} does not fit output {out.shape} on axis {axis}")
    require(sum(t.shape[axis] for t in ins) == out.shape[axis], "sizes along the axis do not add up")
    if out.dtype == "int8":
        require(out.quant is not None and all(t.quant is not None for t in ins), "missing quantization")
        require(all(t.quant.s == out.quant.s and t.quant.zp == out.quant.zp for t in ins),
                "int8 inputs quantized differently from the output (TFLite Micro does not requantize)")
    elif out.dtype == "int16":
        require(all(t.quant is None or t.quant.zp == 0 for t in [*ins, out]), "int16 with nonzero zero point")

    es = _ELEM[out.dtype]
    outer = int(np.prod(out.shape[:axis], dtype=np.int64))
    inner = int(np.prod(out.shape[axis + 1:], dtype=np.int64))
    copy_bytes, const_offset, const_parts, runtime = [], [], [], []
    offset = 0
    for i, t in zip(op.inputs, ins):
        copy_bytes.append(t.shape[axis] * inner * es)
        if t.is_const:
            const_offset.append(offset * es)
            flat = np.asarray(t.data).reshape(-1)
            const_parts.append(flat)
            offset += flat.size
        else:
            const_offset.append(-1)
            runtime.append(i)
    require(len(runtime) >= 1, "all inputs constant (should have been folded)")
    pad = MAX_INPUTS - len(ins)
    fields = {
        "num_inputs": len(ins),
        "outer": outer,
        "copy_bytes": _c_array(copy_bytes + [0] * pad),
        "const_offset": _c_array(const_offset + [-1] * pad),
        "const_data": const("const_inputs", np.concatenate(const_parts), _CTYPE[out.dtype])
        if const_parts else "NULL",
    }
    return KernelCall(
        kernel="pb_concat",
        function="pb_concat",
        struct="pb_concat_params_t",
        fields=fields,
        inputs=runtime,
        inputs_as_array=True,
        outputs=[op.outputs[0]],
        macs=0,
    )
