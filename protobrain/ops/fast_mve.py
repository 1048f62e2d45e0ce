"""The Helium (MVE) tier (Cortex-M55): CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D laid
out for templates/kernels/pb_fast_mve.c, 16 int8 MACs per VMLADAVA."""

from __future__ import annotations

import numpy as np

from .base import KernelCall, const
from .fast_common import depthwise_parts, depthwise_supported, matmul, matmul_fields, pack_words, wrap32

DEPTH_BLOCK = 16  # depth padded to this (zero weights), so inner loops have no tail
DW_CHANNELS = 8  # depthwise channels per step


def _matmul(call: KernelCall) -> KernelCall | None:
    mm = matmul(call)
    if mm is None:
        return None
    dp = -(-mm.depth // DEPTH_BLOCK) * DEPTH_BLOCK
    ocp = mm.out_c + mm.out_c % 2
    w = np.zeros((ocp, dp), np.int8)
    w[:mm.out_c, :mm.depth] = mm.w2d
    fields = matmul_fields(call, mm, dp)
    fields.update(wide_weights=0, weights=const("weights", pack_words(w), "int32_t"))
    # two int8 im2col rows, then two int32 accumulators per channel
    return KernelCall("pb_fast_mve", "pb_fast_mve_mm_s8", "pb_fast_mm_params_t", fields, call.inputs,
                      call.outputs, macs=call.macs, scratch_bytes=2 * dp + 8 * ocp)


def _depthwise(call: KernelCall) -> KernelCall | None:
    if not depthwise_supported(call, DW_CHANNELS):
        return None
    w, bias, q, _, fields = depthwise_parts(call)
    c = w.shape[1]
    # taps a border cuts are skipped, so those pixels start from the plain bias
    quant = np.concatenate([q.reshape(-1), wrap32(bias)])
    fields.update(weights=const("weights", pack_words(w), "int32_t"), quant=const("quant", quant, "int32_t"))
    return KernelCall("pb_fast_mve", "pb_fast_mve_dw_s8", "pb_fast_dw_params_t", fields, call.inputs,
                      call.outputs, macs=call.macs, scratch_bytes=4 * c)  # one pixel's int32 accumulators


def accelerate(call: KernelCall) -> KernelCall | None:
    """The MVE tier's call, or None where it does not apply."""
    if call.function == "pb_depthwise_conv_s8":
        return _depthwise(call)
    return _matmul(call)
