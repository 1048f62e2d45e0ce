"""The DSP tier (Cortex-M4/M7/M33): CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D laid out
for templates/kernels/pb_fast.c, SXTB16 + SMLAD on int16 pairs. The same kernels compile to
plain C with identical results on any other target (pb_simd.h)."""

from __future__ import annotations

import numpy as np

from .base import KernelCall, const
from .fast_common import depthwise_parts, depthwise_supported, matmul, matmul_fields, pack_words, wrap32

DEPTH_BLOCK = 8  # depth padded to this (zero weights), so inner loops have no tail
DW_CHANNELS = 4  # depthwise channels per step


def _mm_weights(w2d: np.ndarray, wide: bool) -> tuple[np.ndarray, int]:
    oc, depth = w2d.shape
    dp = -(-depth // DEPTH_BLOCK) * DEPTH_BLOCK
    ocp = oc + (oc % 2)
    w = np.zeros((ocp, dp), np.int8)
    w[:oc, :depth] = w2d
    w = w.reshape(ocp // 2, 2, dp // 4, 4).transpose(0, 2, 1, 3)  # [pair][block of 4][2 channels][4]
    if not wide:
        return pack_words(w), dp
    # int16 pairs in SXTB16 order, (w0, w2) then (w1, w3), so the kernel needs no widening
    v = w.astype(np.int64)
    return wrap32(np.stack([(v[..., 0] & 0xFFFF) | (v[..., 2] << 16),
                            (v[..., 1] & 0xFFFF) | (v[..., 3] << 16)], axis=-1)).reshape(-1), dp


def _matmul(call: KernelCall, wide: bool) -> KernelCall | None:
    mm = matmul(call)
    if mm is None:
        return None
    words, dp = _mm_weights(mm.w2d, wide)
    fields = matmul_fields(call, mm, dp)
    fields.update(wide_weights=int(wide), weights=const("weights", words, "int32_t"))
    ocp = mm.out_c + mm.out_c % 2
    # two im2col rows widened to int16 (4 bytes per depth), one int8 row, then two int32
    # accumulators per channel
    return KernelCall("pb_fast", "pb_fast_mm_s8", "pb_fast_mm_params_t", fields, call.inputs, call.outputs,
                      macs=call.macs, scratch_bytes=5 * dp + 8 * ocp)


def _depthwise(call: KernelCall) -> KernelCall | None:
    if not depthwise_supported(call, DW_CHANNELS):
        return None
    w, _, q, _, fields = depthwise_parts(call)
    taps, c = w.shape
    # per group of 4 channels, per tap: int16 pairs (w0, w2), (w1, w3); padding taps read
    # a zero-point row, so every pixel starts from the folded bias
    g = w.astype(np.int64).reshape(taps, c // 4, 4).transpose(1, 0, 2)
    lo, hi = g[..., [0, 1]], g[..., [2, 3]]
    words = wrap32((lo & 0xFFFF) | (hi << 16)).reshape(-1)
    fields.update(weights=const("weights", words, "int32_t"), quant=const("quant", q.reshape(-1), "int32_t"))
    return KernelCall("pb_fast", "pb_fast_dw_s8", "pb_fast_dw_params_t", fields, call.inputs, call.outputs,
                      macs=call.macs, scratch_bytes=4 * c)  # one pixel's int32 accumulators


def accelerate(call: KernelCall, wide: bool) -> KernelCall | None:
    """The DSP tier's call, or None where it does not apply."""
    if call.function == "pb_depthwise_conv_s8":
        return _depthwise(call)
    return _matmul(call, wide)
