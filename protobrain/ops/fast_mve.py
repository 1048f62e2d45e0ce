"""The Helium (MVE) tier (Cortex-M55): CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D laid
out for templates/kernels/pb_fast_mve.c (whose header comment describes the layouts).

Requantization runs four lanes at a time from "quant groups": per four lanes five int32
vectors, bias' (the input offset folded in), multiplier, -right shift, left shift and a fix
mask. FAST (no left shifts, every right shift >= 1) skips the last two at run time."""

from __future__ import annotations

import numpy as np

from .base import KernelCall, const
from .fast_common import (computed_channels, depthwise_parts, depthwise_supported, matmul, matmul_fields, pack_words,
                          per_channel, wrap32)

DEPTH_BLOCK = 16  # taps per VMLADAVA; weights padded to it with zeros
OC_BLOCK = 4  # output channels per matrix-multiply block (one requantization vector)
DW_CHANNELS = 8  # depthwise channels per step (int16 lanes)
GROUP_WORDS = 20  # PB_MVE_GROUP_WORDS
STAGE_BYTES = 32  # PB_MVE_STAGE_BYTES: the accumulators on their way to vector registers
REQUANT_FAST, REQUANT_GENERAL = 1, 2  # PB_MVE_REQUANT_*


def quant_groups(bias_folded, mults, shifts) -> tuple[np.ndarray, int]:
    """[lanes/4][5][4] int32 words (bias', multiplier, -right, left, fix mask) for lanes in
    the order given (a multiple of 4; padded lanes zero), and the requant mode."""
    n = len(mults)
    shifts = np.asarray(shifts, np.int64)
    left, right = np.maximum(shifts, 0), np.maximum(-shifts, 0)
    g = np.zeros((5, n), np.int64)
    g[0], g[1], g[2], g[3] = wrap32(bias_folded), mults, -right, left
    g[4] = np.where(right >= 1, -1, 0)
    mode = REQUANT_FAST if bool(np.all(left == 0) and np.all(right >= 1)) else REQUANT_GENERAL
    return g.reshape(5, n // 4, 4).transpose(1, 0, 2).copy(), mode


def requant_reference(acc, group_lane: np.ndarray, output_offset: int, act_min: int, act_max: int) -> np.ndarray:
    """pb_mve_requant for one lane in numpy int64 (bias already in acc): what the kernel
    computes, for tests. group_lane: that lane's five words."""
    _, mult, neg_right, left, mask = (int(v) for v in group_lane)
    acc = np.asarray(acc, np.int64)
    x = wrap32(acc << left)
    v = (x * mult + 2**30) >> 31  # VQRDMULH: (2 * x * mult + 2^31) >> 32
    v = np.where((x == -2**31) & (mult == -2**31), 2**31 - 1, v)
    v = v + ((v >> 31) & mask)
    r = -neg_right
    if r > 0:
        v = (v + (1 << (r - 1))) >> r  # VRSHL by -r
    return np.clip(wrap32(v + output_offset), act_min, act_max)


def _direct(f: dict) -> bool:
    """True when each output pixel's taps are one contiguous run of the input, never padded."""
    if f["filter_h"] != 1 or (f["filter_w"] != 1 and f["dilation_w"] != 1):
        return False
    if f["pad_top"] or f["pad_left"]:
        return False
    last_x = (f["out_w"] - 1) * f["stride_w"] + (f["filter_w"] - 1) * f["dilation_w"]
    last_y = (f["out_h"] - 1) * f["stride_h"]
    return last_x < f["in_w"] and last_y < f["in_h"]


def _matmul(call: KernelCall) -> KernelCall | None:
    mm = matmul(call, skip_dead=True)
    if mm is None:
        return None
    dp = -(-mm.depth // DEPTH_BLOCK) * DEPTH_BLOCK
    ocp = -(-mm.out_c // OC_BLOCK) * OC_BLOCK
    w = np.zeros((ocp, dp), np.int8)
    w[:mm.out_c, :mm.depth] = mm.w2d
    # [oc/4][depth/16][4][16]: one pointer walks a block's four channels chunk by chunk
    w = w.reshape(ocp // OC_BLOCK, OC_BLOCK, dp // DEPTH_BLOCK, DEPTH_BLOCK).transpose(0, 2, 1, 3)
    fields = matmul_fields(call, mm, dp)
    _, folded, mults, shifts = computed_channels(call, mm)
    pad = ocp - mm.out_c
    groups, mode = quant_groups(np.concatenate([folded, np.zeros(pad, np.int64)]),
                                np.concatenate([mults, np.zeros(pad, np.int64)]),
                                np.concatenate([shifts, np.full(pad, -1, np.int64)]))
    direct = _direct(fields)
    fields.update(direct=int(direct), requant=mode, wide_weights=0,
                  weights=const("weights", pack_words(w), "int32_t"),
                  quant=const("quant", groups.reshape(-1), "int32_t"))
    scratch = STAGE_BYTES + (0 if direct else 2 * dp)
    return KernelCall("pb_fast_mve", "pb_fast_mve_mm_s8", "pb_fast_mve_mm_params_t", fields, call.inputs,
                      call.outputs, macs=call.macs, scratch_bytes=scratch)


def _depthwise(call: KernelCall) -> KernelCall | None:
    if not depthwise_supported(call, DW_CHANNELS):
        return None
    w, bias, _, _, fields = depthwise_parts(call)
    f = call.fields
    taps, c = w.shape
    mults, shifts = per_channel(f, c)
    folded = bias + f["input_offset"] * w.astype(np.int64).sum(axis=0)
    # lanes per 8 channels: even channels then odd, as VMULLB / VMULLT produce them
    order = np.arange(c).reshape(c // 8, 4, 2).transpose(0, 2, 1).reshape(-1)
    groups, mode = quant_groups(folded[order], mults[order], shifts[order])
    wl = w.reshape(taps, c // DW_CHANNELS, DW_CHANNELS).transpose(1, 0, 2)  # [c/8][tap][8], as int16
    wl = np.ascontiguousarray(wl.astype("<i2").reshape(-1)).view("<i4").astype(np.int64)
    fields.update(requant=mode, weights=const("weights", wl, "int32_t"),
                  quant=const("quant", groups.reshape(-1), "int32_t"))
    if mode == REQUANT_FAST and f["filter_h"] == 3 and f["filter_w"] == 3:
        # three window rows, padding columns included
        scratch = 3 * ((f["out_w"] - 1) * f["stride_w"] + 2 * f["dilation_w"] + 1) * c
    else:
        scratch = 4 * taps  # one pointer per tap
    return KernelCall("pb_fast_mve", "pb_fast_mve_dw_s8", "pb_fast_mve_dw_params_t", fields, call.inputs,
                      call.outputs, macs=call.macs, scratch_bytes=scratch)


def accelerate(call: KernelCall) -> KernelCall | None:
    """The MVE tier's call, or None where it does not apply."""
    if call.function == "pb_depthwise_conv_s8":
        return _depthwise(call)
    return _matmul(call)
