"""BATCH_MATMUL: int8 (int32 accumulator) and int16 (int64 accumulator, zero points 0),
adj_x / adj_y, ranks 2 to 5 with broadcasting batch dimensions, either operand constant.

out[..., i, j] = sum_k (lhs[..., i, k] - lhs_zp) * (rhs[..., k, j] - rhs_zp), requantized
per tensor with the multiplier TFLite Micro's Prepare takes (the float32 product of the
operands' scales over the output scale); no fused activation.

An int8 operator whose right operand is one constant matrix for every batch (what the
converter leaves of a matmul by a constant, an attention projection) and whose left
operand is not transposed is a FULLY_CONNECTED layer: it lowers to that kernel, the
constant transposed into its [outputs][depth] weights with its zero point folded in (when
they stay int8), and the fast tiers accelerate it. A constant operand otherwise is a const
array laid out depth-contiguous.
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const, register, require, tensors
from protobrain.compiler.quantization import INT_RANGES, f32, quantize_multiplier

BATCH_DIMS = 3  # TFLite Micro's reference extends both shapes to rank 5


def _array(values) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def _extended(shape, rank: int) -> list[int]:
    return [1] * (rank - len(shape)) + [int(d) for d in shape]


def _batch_steps(shape5: list[int]) -> list[int]:
    """Element step of each of the three batch dimensions (0 where it broadcasts)."""
    return [0 if shape5[d] == 1 else int(np.prod(shape5[d + 1:])) for d in range(BATCH_DIMS)]


def _xmax(offset: int) -> int:
    return max(abs(-128 + offset), abs(127 + offset))


def _matrices(t, depth_last: bool) -> np.ndarray:
    """A constant operand as [matrices][rows or cols][depth] int64; depth_last: whether
    the depth is its stored last dimension."""
    m = t.data.astype(np.int64).reshape(-1, *t.shape[-2:])
    return m if depth_last else m.transpose(0, 2, 1)


def accumulator_peak(lhs, rhs, lo: int, ro: int, depth: int, adj_x: bool, adj_y: bool) -> int:
    """The largest |int8 accumulator| any input reaches: exact over a constant operand's
    rows or columns, else depth times the largest product."""
    if rhs.is_const:
        return int(np.abs(_matrices(rhs, adj_y) + ro).sum(axis=-1).max()) * _xmax(lo)
    if lhs.is_const:
        return int(np.abs(_matrices(lhs, not adj_x) + lo).sum(axis=-1).max()) * _xmax(ro)
    return depth * _xmax(lo) * _xmax(ro)


def _fully_connected(op, lhs, rhs, depth: int, cols: int, adj_y: bool, fields: dict) -> KernelCall | None:
    """The FULLY_CONNECTED form of an int8 matmul by one constant matrix, its zero point
    folded into the [cols][depth] weights; None where they would leave int8 (the kernel
    that takes the offset as it goes, which the fast tiers also have, computes it)."""
    w = rhs.data.astype(np.int64).reshape(rhs.shape[-2:])
    w = (w if adj_y else w.T) + fields["rhs_offset"]
    if w.min() < -128 or w.max() > 127:
        return None
    rows = lhs.size // depth
    fc = {"batches": rows, "accum_depth": depth, "output_depth": cols, "input_offset": fields["lhs_offset"],
          "filter_offset": 0, "output_offset": fields["output_offset"], "filter": const("filter", w, "int8_t"),
          "mult": fields["mult"], "shift": fields["shift"], "mults": "NULL", "shifts": "NULL",
          "act_min": fields["act_min"], "act_max": fields["act_max"], "bias": "NULL", "bias64": "NULL"}
    return KernelCall(kernel="pb_fully_connected", function="pb_fully_connected_s8",
                      struct="pb_fully_connected_params_t", fields=fc, inputs=[op.inputs[0]],
                      outputs=[op.outputs[0]], macs=rows * depth * cols)


@register("BATCH_MATMUL", inputs=(2, 2), types=("int8", "int16"))
def lower(op, g):
    (lhs, rhs), (out,) = tensors(op, g)
    require(lhs.dtype in ("int8", "int16"), f"type {lhs.dtype} (int8 or int16)")
    require(rhs.dtype == lhs.dtype and out.dtype == lhs.dtype,
            f"types {lhs.dtype}, {rhs.dtype} -> {out.dtype} (all one type)")
    require(not (lhs.is_const and rhs.is_const), "both operands constant (fold it in the converter)")
    require(2 <= len(lhs.shape) <= 5 and 2 <= len(rhs.shape) <= 5,
            f"ranks {len(lhs.shape)} and {len(rhs.shape)} (2 to 5)")
    for t, what in ((lhs, "left"), (rhs, "right"), (out, "output")):
        require(t.quant is not None, f"{what} operand not quantized")
        require(not t.quant.per_channel, f"{what} operand quantized per channel (TFLite Micro reads one scale)")
    wide = lhs.dtype == "int16"
    if wide:
        require(lhs.quant.zp == 0 and rhs.quant.zp == 0 and out.quant.zp == 0, "int16 zero point is not 0")
    adj_x, adj_y = bool(op.options.get("adj_x", False)), bool(op.options.get("adj_y", False))
    rank = max(len(lhs.shape), len(rhs.shape))
    l5, r5 = _extended(lhs.shape, 5), _extended(rhs.shape, 5)
    for a, b in zip(l5[:BATCH_DIMS], r5[:BATCH_DIMS]):
        require(a == b or a == 1 or b == 1, f"batch dimensions of {lhs.shape} and {rhs.shape} do not broadcast")
    batch = [max(a, b) for a, b in zip(l5[:BATCH_DIMS], r5[:BATCH_DIMS])]
    rows, depth = (l5[4], l5[3]) if adj_x else (l5[3], l5[4])
    rdepth, cols = (r5[4], r5[3]) if adj_y else (r5[3], r5[4])
    require(depth == rdepth, f"depths {depth} and {rdepth} differ ({lhs.shape} x {rhs.shape})")
    require(min(rows, cols, depth) >= 1, f"an empty matrix ({lhs.shape} x {rhs.shape})")
    require(len(out.shape) >= rank and out.size == int(np.prod(batch)) * rows * cols,
            f"output shape {out.shape} for {lhs.shape} x {rhs.shape}")

    real = float(f32(f32(lhs.quant.s) * f32(rhs.quant.s))) / float(f32(out.quant.s))
    mult, shift = quantize_multiplier(real)
    lo, ro = -lhs.quant.zp, -rhs.quant.zp
    fields = {"batch": _array(batch), "lhs_step": _array(_batch_steps(l5)), "rhs_step": _array(_batch_steps(r5)),
              "rows": rows, "cols": cols, "depth": depth,
              "lhs_row_step": 1 if adj_x else depth, "lhs_depth_step": rows if adj_x else 1,
              "rhs_depth_step": 1 if adj_y else cols, "rhs_col_step": depth if adj_y else 1,
              "lhs_offset": lo, "rhs_offset": ro, "output_offset": out.quant.zp, "mult": mult, "shift": shift,
              "lhs_data": "NULL", "rhs_data": "NULL"}
    fields["act_min"], fields["act_max"] = INT_RANGES[out.dtype]
    if not wide:
        peak = accumulator_peak(lhs, rhs, lo, ro, depth, adj_x, adj_y)
        require((peak << max(shift, 0)) + 128 < 2**31,
                f"the int32 accumulator can reach {peak << max(shift, 0)} (depth, zero points and scales overflow it)")
        if rhs.is_const and not adj_x and all(d == 1 for d in r5[:BATCH_DIMS]):
            fc = _fully_connected(op, lhs, rhs, depth, cols, adj_y, fields)
            if fc is not None:
                return fc
    ctype = "int16_t" if wide else "int8_t"
    suffix = "s16" if wide else "s8"
    inputs = [op.inputs[0], op.inputs[1]]
    function = f"pb_batch_matmul_{suffix}"
    if rhs.is_const:
        # [matrices][cols][depth]: each column's depth contiguous
        fields["rhs_data"] = const("rhs", _matrices(rhs, adj_y), ctype)
        fields.update(rhs_depth_step=1, rhs_col_step=depth)
        inputs, function = [op.inputs[0]], f"pb_batch_matmul_{suffix}_const_rhs"
    elif lhs.is_const:
        fields["lhs_data"] = const("lhs", _matrices(lhs, not adj_x), ctype)
        fields.update(lhs_row_step=depth, lhs_depth_step=1)
        inputs, function = [op.inputs[1]], f"pb_batch_matmul_{suffix}_const_lhs"
    return KernelCall(kernel="pb_batch_matmul", function=function, struct="pb_batch_matmul_params_t",
                      fields=fields, inputs=inputs, outputs=[op.outputs[0]],
                      macs=int(np.prod(batch)) * rows * cols * depth)
