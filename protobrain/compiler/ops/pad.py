"""PAD and PADV2: constant padding of up to 5 dimensions, any element type TFLite Micro pads.

The pad value follows TFLite Micro exactly: PAD fills int8 tensors with the output zero
point but int16/int32/float tensors with 0; PADV2 fills with its constant input as stored
(for int8 that constant must carry the output's scale and zero point).
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import KernelCall, register, require, tensors

MAX_DIMS = 5
_ELEM = {"int8": 1, "int16": 2, "int32": 4, "float32": 4}


def merge_padding(in_shape, pads):
    """Fold every unpadded dimension into its outer neighbour (rows stay contiguous).

    Returns a list of (input size, left pad, right pad), outermost first.
    """
    dims = [(int(n), int(lo), int(hi)) for n, (lo, hi) in zip(in_shape, pads)]
    merged: list[tuple[int, int, int]] = []
    for n, lo, hi in reversed(dims):
        if merged and merged[0][1] == 0 and merged[0][2] == 0:
            inner = merged[0][0]
            merged[0] = (n * inner, lo * inner, hi * inner)
        else:
            merged.insert(0, (n, lo, hi))
    return merged


def c_array(values) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def pad_value_bits(value, dtype: str) -> int:
    """The pad value as the int32 the kernel stores (float: its IEEE bit pattern)."""
    if dtype == "float32":
        return int(np.array([value], dtype=np.float32).view(np.int32)[0])
    return int(value)


@register("PAD", "PADV2", inputs=(2, 3), types=tuple(_ELEM))
def lower(op, g):
    ins, (out,) = tensors(op, g)
    inp, paddings = ins[0], ins[1]
    require(inp.dtype in _ELEM, f"type {inp.dtype}")
    require(out.dtype == inp.dtype, f"output type {out.dtype}")
    require(not inp.is_const, "constant data input")
    require(paddings is not None and paddings.is_const, "non-constant paddings")
    rank = len(inp.shape)
    require(1 <= rank <= MAX_DIMS, f"rank {rank}")
    require(paddings.dtype in ("int32", "int64"), f"paddings type {paddings.dtype}")
    require(np.asarray(paddings.data).size == 2 * rank, f"paddings of shape {paddings.shape} for rank {rank}")
    pads = np.asarray(paddings.data).reshape(-1, 2).tolist()
    require(all(lo >= 0 and hi >= 0 for lo, hi in pads), "negative padding")
    expect = tuple(n + lo + hi for n, (lo, hi) in zip(inp.shape, pads))
    require(tuple(out.shape) == expect, f"output shape {out.shape}, expected {expect}")

    constant = ins[2] if len(ins) > 2 else None
    if constant is not None:
        require(constant.is_const, "non-constant pad value")
        require(constant.dtype == inp.dtype, f"pad value type {constant.dtype}")
        require(np.asarray(constant.data).size == 1, "pad value is not a scalar")
        if inp.dtype == "int8":
            require(constant.quant is not None and out.quant is not None
                    and constant.quant.zp == out.quant.zp and constant.quant.s == out.quant.s,
                    "pad value quantized differently from the output")
        value = np.asarray(constant.data).reshape(-1)[0]
    elif inp.dtype == "int8":
        require(out.quant is not None, "missing output quantization")
        value = out.quant.zp
    else:
        value = 0  # TFLite Micro pads int16/int32/float with 0, not the zero point

    dims = merge_padding(inp.shape, pads)
    dims = [(1, 0, 0)] * (MAX_DIMS - len(dims)) + dims
    return KernelCall(
        kernel="pb_pad",
        function="pb_pad",
        struct="pb_pad_params_t",
        fields={
            "elem_size": _ELEM[inp.dtype],
            "in_dims": c_array(n for n, _, _ in dims),
            "left": c_array(lo for _, lo, _ in dims),
            "right": c_array(hi for _, _, hi in dims),
            "pad_value": pad_value_bits(value, inp.dtype),
        },
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
        macs=0,
    )
