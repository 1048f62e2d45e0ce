"""BATCH_MATMUL (int8) on the fast tiers: the products of two activations (attention's
scores and weighted values), or of an activation and a constant that is not one matrix
for every batch. (One constant matrix for every batch lowers to FULLY_CONNECTED in
ops/batch_matmul.py and takes the tiers' matrix multiply.)

Both operands change at run time, so nothing folds into the weights; per output batch the
kernels gather a block of the right operand's columns into scratch with their depth
contiguous, then each pair of the left operand's rows, and multiply them:

- DSP (dsp/pb_batch_matmul.c): values widened to int16 with their offsets added
  (|x - zero_point| <= 255), SMLAD on the pairs, two rows by two columns per step;
- Helium (mve/pb_batch_matmul.c): raw int8 rows, VMLADAVA (16 products per instruction),
  two rows by four columns per step; the offsets enter through the rows' and columns' sums
  (sum (l + lo)(r + ro) = sum l r + ro sum l + lo sum r + depth lo ro), all in wrapping
  int32 arithmetic, exact because the total fits (the lowering's accumulator check).

Requantization is per tensor, with the tier's quant words (FAST when the accumulator's
bound allows it, else TFLite's arithmetic step by step).
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import KernelCall
from protobrain.compiler.ops.base import const as const_array
from protobrain.compiler.ops.tiers import mve as fast_mve
from protobrain.compiler.ops.tiers.common import quant_words, values

FUNCTIONS = ("pb_batch_matmul_s8", "pb_batch_matmul_s8_const_rhs", "pb_batch_matmul_s8_const_lhs")
COLUMN_BYTES = 4096  # scratch for one block of gathered columns (at least one block of 2 or 4)
_GEOMETRY = ("batch", "lhs_step", "rhs_step", "rows", "cols", "depth", "lhs_row_step", "lhs_depth_step",
             "rhs_depth_step", "rhs_col_step", "lhs_offset", "rhs_offset", "output_offset", "act_min", "act_max",
             "lhs_data", "rhs_data")


def _xmax(offset: int) -> int:
    return max(abs(-128 + offset), abs(127 + offset))


def accumulator_peak(f: dict) -> int:
    """The largest |accumulator| (as the lowering bounds it): over a constant operand's
    rows or columns ([matrices][rows or cols][depth] as the call holds it), else depth
    times the largest product."""
    depth, lo, ro = f["depth"], f["lhs_offset"], f["rhs_offset"]
    rhs, lhs = values(f["rhs_data"]), values(f["lhs_data"])
    if rhs is not None:
        return int(np.abs(rhs.astype(np.int64).reshape(-1, depth) + ro).sum(axis=1).max()) * _xmax(lo)
    if lhs is not None:
        return int(np.abs(lhs.astype(np.int64).reshape(-1, depth) + lo).sum(axis=1).max()) * _xmax(ro)
    return depth * _xmax(lo) * _xmax(ro)


def _column_block(cols: int, row_bytes: int, step: int) -> int:
    """Columns gathered at once: all of them when they fit COLUMN_BYTES, else as many as
    do, a multiple of `step` (and at least one step)."""
    every = -(-cols // step) * step
    fit = max(step, COLUMN_BYTES // row_bytes // step * step)
    return min(every, fit)


def _dsp(call: KernelCall) -> KernelCall:
    f = call.fields
    q, mode = quant_words(np.zeros(1, np.int64), np.array([f["mult"]]), np.array([f["shift"]]),
                          [accumulator_peak(f)], f["output_offset"], 1)
    dp = f["depth"] + f["depth"] % 2
    fields = {k: f[k] for k in _GEOMETRY}
    fields.update(depth_pad=dp, col_block=_column_block(f["cols"], 2 * dp, 2), requant=mode,
                  quant=const_array("quant", q.reshape(-1), "int32_t"))
    function = call.function.replace("pb_batch_matmul_s8", "pb_fast_bmm_s8")
    return KernelCall("pb_batch_matmul", function, "pb_fast_bmm_params_t", fields, list(call.inputs),
                      list(call.outputs), macs=call.macs, scratch_bytes=pb_fast_bmm_s8_scratch_bytes(fields),
                      tier="dsp")


def pb_fast_bmm_s8_scratch_bytes(p: dict) -> int:
    """pb_fast_bmm_s8's scratch (dsp/pb_batch_matmul.c) for its pb_fast_bmm_params_t fields
    p: col_block gathered columns and two rows, each depth_pad values widened to int16."""
    return 2 * p["depth_pad"] * (p["col_block"] + 2)


def _mve(call: KernelCall) -> KernelCall:
    f = call.fields
    groups, mode = fast_mve.quant_groups(np.zeros(4, np.int64), np.full(4, f["mult"], np.int64),
                                         np.full(4, f["shift"], np.int64))
    dp = -(-f["depth"] // fast_mve.DEPTH_BLOCK) * fast_mve.DEPTH_BLOCK
    fields = {k: f[k] for k in _GEOMETRY}
    fields.update(depth_pad=dp, col_block=_column_block(f["cols"], dp + 4, 4), requant=mode,
                  quant=const_array("quant", groups.reshape(-1), "int32_t"))
    function = call.function.replace("pb_batch_matmul_s8", "pb_fast_mve_bmm_s8")
    return KernelCall("pb_batch_matmul", function, "pb_fast_mve_bmm_params_t", fields, list(call.inputs),
                      list(call.outputs), macs=call.macs, scratch_bytes=pb_fast_mve_bmm_s8_scratch_bytes(fields),
                      tier="mve")


def pb_fast_mve_bmm_s8_scratch_bytes(p: dict) -> int:
    """pb_fast_mve_bmm_s8's scratch (mve/pb_batch_matmul.c) for its pb_fast_mve_bmm_params_t
    fields p: col_block gathered columns of depth_pad bytes and their sums (int32), then
    two rows of depth_pad bytes."""
    return p["col_block"] * (p["depth_pad"] + 4) + 2 * p["depth_pad"]


def accelerate(call: KernelCall, tier: str) -> KernelCall | None:
    """The tier's call for an int8 BATCH_MATMUL kernel call, or None (int16 stays portable)."""
    if call.function not in FUNCTIONS or tier not in ("dsp", "mve"):
        return None
    return _dsp(call) if tier == "dsp" else _mve(call)
