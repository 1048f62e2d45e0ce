"""The DSP tier (Cortex-M4/M7/M33): CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D laid out
for templates/kernels/pb_fast.c, SXTB16 + SMLAD on int16 pairs. The same kernels compile to
plain C with identical results on any other target (pb_simd.h)."""

from __future__ import annotations

import numpy as np

from .base import KernelCall, const
from .fast_common import (REQUANT_FAST, depthwise_parts, depthwise_supported, matmul, matmul_fields, pack_words,
                          wrap32)

DEPTH_BLOCK = 8  # depth padded to this (zero weights), so inner loops have no tail
FEW_CHANNELS, SINGLE_ROW_SCRATCH = 8, 1024  # single rows stay portable past this scratch
DW_CHANNELS = 4  # depthwise channels per step


def _mm_weights(w2d: np.ndarray, wide: bool) -> tuple[np.ndarray, int]:
    """[out_c][depth] weights (int8, or int16 when wide) in the kernel's block order."""
    oc, depth = w2d.shape
    dp = -(-depth // DEPTH_BLOCK) * DEPTH_BLOCK
    ocp = oc + (oc % 2)
    w = np.zeros((ocp, dp), np.int16 if wide else np.int8)
    w[:oc, :depth] = w2d
    w = w.reshape(ocp // 2, 2, dp // 4, 4).transpose(0, 2, 1, 3)  # [pair][block of 4][2 channels][4]
    if not wide:
        return pack_words(w), dp
    # int16 pairs in SXTB16 order, (w0, w2) then (w1, w3), so the kernel needs no widening
    v = w.astype(np.int64)
    return wrap32(np.stack([(v[..., 0] & 0xFFFF) | (v[..., 2] << 16),
                            (v[..., 1] & 0xFFFF) | (v[..., 3] << 16)], axis=-1)).reshape(-1), dp


def _matmul(call: KernelCall, wide: bool) -> KernelCall | None:
    mm = matmul(call, skip_dead=True)
    if mm is None:
        return None
    fields = matmul_fields(call, mm, DEPTH_BLOCK * -(-mm.depth // DEPTH_BLOCK))
    w2d = mm.w2d
    if wide and fields["requant"] == REQUANT_FAST:
        # int16 weights hold 2 * w, and the bias is doubled too: the accumulator is then
        # 2 * acc, the operand of the rounded high multiply, with no shift per output (the
        # FAST bound keeps 2 * acc within int32)
        w2d = w2d.astype(np.int16) * 2
        q = np.asarray(fields["quant"].values, np.int64).reshape(-1, 4)
        q[:, 0] = wrap32(2 * q[:, 0])
        fields["quant"] = const("quant", q.reshape(-1), "int32_t")
    words, dp = _mm_weights(w2d, wide)
    fields.update(wide_weights=int(wide), weights=const("weights", words, "int32_t"))
    # two im2col rows widened to int16 (4 bytes per depth value), and the int8 row they are
    # widened from when the taps do not split into blocks of 4 (in_c not a multiple of 4)
    scratch = 4 * dp + (dp if mm.geometry["in_c"] % 4 else 0)
    if mm.geometry["rows"] == 1 and mm.out_c <= FEW_CHANNELS and scratch > SINGLE_ROW_SCRATCH:
        # one row read by a few channel pairs: its widened copy would cost more RAM than
        # the multiply saves time (micro_speech's 4000 x 4 FULLY_CONNECTED: 16 KB)
        return None
    return KernelCall("pb_fast", "pb_fast_mm_s8", "pb_fast_mm_params_t", fields, call.inputs, call.outputs,
                      macs=call.macs, scratch_bytes=scratch)


def _depthwise(call: KernelCall) -> KernelCall | None:
    if not depthwise_supported(call, DW_CHANNELS):
        return None
    w, _, q, mode, fields = depthwise_parts(call)
    taps, c = w.shape
    w = w.astype(np.int64)
    if mode == REQUANT_FAST:  # doubled weights and bias, as for wide matrix-multiply weights
        w = 2 * w
        q[:, 0] = wrap32(2 * q[:, 0])
    # per group of 4 channels, per tap: int16 pairs (w0, w2), (w1, w3); padding taps read
    # a zero-point row, so every pixel starts from the folded bias
    g = w.reshape(taps, c // 4, 4).transpose(1, 0, 2)
    lo, hi = g[..., [0, 1]], g[..., [2, 3]]
    words = wrap32((lo & 0xFFFF) | (hi << 16)).reshape(-1)
    del fields["input_offset"]  # folded into bias' and the zero-point row
    fields.update(weights=const("weights", words, "int32_t"), quant=const("quant", q.reshape(-1), "int32_t"))
    return KernelCall("pb_fast_dw", "pb_fast_dw_s8", "pb_fast_dw_params_t", fields, call.inputs, call.outputs,
                      macs=call.macs)  # no scratch: the accumulators stay in registers


def accelerate(call: KernelCall, wide: bool) -> KernelCall | None:
    """The DSP tier's call, or None where it does not apply."""
    if call.function == "pb_depthwise_conv_s8":
        return _depthwise(call)
    return _matmul(call, wide)
