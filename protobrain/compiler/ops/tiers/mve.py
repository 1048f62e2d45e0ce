"""The Helium (MVE) tier (Cortex-M55): CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D laid
out for templates/kernels/mve/ (pb_conv.c: the matrix multiply, pb_depthwise_conv.c; their
header comments describe the layouts). Each kernel's scratch size is the function named
after it.

Requantization runs four lanes at a time from "quant groups": per four lanes five int32
vectors, bias' (the input offset folded in), multiplier, -right shift, left shift and a fix
mask. FAST (no left shifts, every right shift >= 1) skips the last two at run time; the
matrix multiply's block stream (block_stream) then leaves them out."""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const
from protobrain.compiler.ops.tiers.common import (
    computed_channels,
    depthwise_as_conv,
    depthwise_as_conv_pays,
    depthwise_parts,
    depthwise_supported,
    matmul,
    pass_order,
    matmul_fields,
    pack_words,
    per_channel,
    wrap32,
)

DEPTH_BLOCK = 16  # taps per VMLADAVA; weights padded to it with zeros
OC_BLOCK = 4  # output channels per matrix-multiply block (one requantization vector)
DW_CHANNELS = 8  # depthwise channels per step (int16 lanes)
REQUANT_FAST, REQUANT_GENERAL = 1, 2  # PB_MVE_REQUANT_* in mve/pb_helium.h
# a matrix-multiply block's quant vectors: PB_MVE_FAST_GROUP_WORDS / PB_MVE_GROUP_WORDS words
GROUP_VECTORS = {REQUANT_FAST: 3, REQUANT_GENERAL: 5}
IM2COL_BYTES = 512  # im2col rows per batch: as many as fit (at least two), so the pair loop runs long
STAGE_MAX_RUN = 16  # staged when a window's filter row (filter_w * in_c bytes) fits one vector
STAGE_MAX_BYTES = 4096  # and its column-major rows (pb_mve_stage in mve/pb_conv.c) fit this scratch


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


def _stage_bytes(f: dict) -> int:
    """Bytes of the staged rows: the input columns one output row reads, each holding its
    filter_h rows' pixels (filter_h * in_c bytes), padding included."""
    cols = (f["out_w"] - 1) * f["stride_w"] + f["filter_w"]
    return cols * f["filter_h"] * f["in_c"]


def _staged(f: dict) -> bool:
    """True for a shallow window (a filter row of at most 16 bytes) that is not read in place:
    per output row the kernel stages the input rows column by column, [column][filter
    row][channel] with the padding, so that each pixel's taps, in [kx][ky][c] order, are one
    run (read in place, no im2col per pixel, no edge cases)."""
    return (f["dilation_w"] == 1 and f["filter_w"] * f["in_c"] <= STAGE_MAX_RUN and not _direct(f)
            and _stage_bytes(f) <= STAGE_MAX_BYTES)


def _lanes(n: int, indexed: bool) -> np.ndarray:
    """Which computed channel each of the ceil(n/4)*4 lanes holds: padded lanes are zero
    (-1 here) and never stored, but indexed blocks store all four lanes, so there they
    repeat the block's first channel (stored twice, with the same value)."""
    lanes = np.arange(-(-n // OC_BLOCK) * OC_BLOCK)
    pad = lanes >= n
    lanes[pad] = -1 if not indexed else (lanes[pad] // OC_BLOCK) * OC_BLOCK
    return lanes


def block_stream(w2d: np.ndarray, folded, mults, shifts, index=None) -> tuple[np.ndarray, int]:
    """The matrix multiply's blocks of four output channels as one int32 stream, and the
    requant mode. Per block: weights [depth_pad/16][4 channels][16 taps] int8 (zero-padded),
    the quant group's vectors (FAST: bias', multiplier, -right shift; GENERAL: all five, as
    quant_groups), then with index the four lanes' output channels. One pointer walks it."""
    n, depth = w2d.shape
    dp = -(-depth // DEPTH_BLOCK) * DEPTH_BLOCK
    lanes = _lanes(n, index is not None)
    real = lanes >= 0
    w = np.zeros((len(lanes), dp), np.int8)
    w[real, :depth] = w2d[lanes[real]]
    pick = np.where(real, lanes, 0)
    groups, mode = quant_groups(np.where(real, np.asarray(folded)[pick], 0), np.where(real, mults[pick], 0),
                                np.where(real, shifts[pick], -1))
    blocks = len(lanes) // OC_BLOCK
    parts = [pack_words(w.reshape(blocks, OC_BLOCK, dp // DEPTH_BLOCK, DEPTH_BLOCK).transpose(0, 2, 1, 3))
             .reshape(blocks, -1), groups[:, :GROUP_VECTORS[mode]].reshape(blocks, -1)]
    if index is not None:
        parts.append(np.asarray(index, np.int64)[lanes].reshape(blocks, OC_BLOCK))
    return np.concatenate(parts, axis=1).reshape(-1), mode


def stream_blocks(fields: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """block_stream read back from a call's fields (for tests): weights [blocks*4][depth_pad]
    int8 in the layer's tap order, quant groups [blocks][5][4] (FAST's last two vectors as
    quant_groups makes them) and the lanes' output channels [blocks*4] or None."""
    dp, mode, indexed = fields["depth_pad"], fields["requant"], fields["indexed"]
    nvec = GROUP_VECTORS[mode]
    words = np.asarray(fields["blocks"].values, np.int64).reshape(-1, dp + 4 * nvec + (4 if indexed else 0))
    blocks = words.shape[0]
    w = np.ascontiguousarray(words[:, :dp]).astype("<i4").view(np.int8)
    w = w.reshape(blocks, dp // DEPTH_BLOCK, OC_BLOCK, DEPTH_BLOCK).transpose(0, 2, 1, 3).reshape(-1, dp)
    if fields.get("staged"):  # back from the staged windows' [kx][ky][c] to the layer's taps
        fh, fw, c, depth = fields["filter_h"], fields["filter_w"], fields["in_c"], fields["depth"]
        w[:, :depth] = w[:, :depth].reshape(-1, fw, fh, c).transpose(0, 2, 1, 3).reshape(-1, depth)
    groups = np.zeros((blocks, 5, 4), np.int64)
    groups[:, :nvec] = words[:, dp:dp + 4 * nvec].reshape(blocks, nvec, 4)
    if mode == REQUANT_FAST:
        groups[:, 4] = -1
    index = words[:, dp + 4 * nvec:].reshape(-1) if indexed else None
    return w, groups, index


def pb_fast_mve_mm_s8_scratch_bytes(p: dict) -> int:
    """pb_fast_mve_mm_s8's scratch (mve/pb_conv.c) for its pb_fast_mve_mm_params_t fields
    p: batch_rows im2col rows of depth_pad bytes; none when the rows are read in place
    (direct: the kernel gets NULL); staged, one output row's staged input (_stage_bytes)."""
    if p["staged"]:
        return _stage_bytes(p)
    return 0 if p["direct"] else p["batch_rows"] * p["depth_pad"]


def pb_fast_mve_dw_s8_scratch_bytes(p: dict) -> int:
    """pb_fast_mve_dw_s8's scratch (mve/pb_depthwise_conv.c) for its pb_fast_mve_dw_params_t
    fields p: a 3x3 window with FAST requantization (multiplier 1) stages the three input rows of an
    output row with their padding columns, channels bytes per pixel; any other window
    takes one pointer (4 bytes) per tap."""
    if p["requant"] == REQUANT_FAST and p["filter_h"] == 3 and p["filter_w"] == 3 and p["multiplier"] == 1:
        return 3 * ((p["out_w"] - 1) * p["stride_w"] + 2 * p["dilation_w"] + 1) * p["channels"]
    return 4 * p["filter_h"] * p["filter_w"]


def _matmul(call: KernelCall) -> KernelCall | None:
    mm = matmul(call, skip_dead=True)
    if mm is None:
        return None
    dp = -(-mm.depth // DEPTH_BLOCK) * DEPTH_BLOCK
    fields = matmul_fields(call, mm, dp)
    _, folded, mults, shifts = computed_channels(call, mm)
    staged = _staged(fields)
    w2d = mm.w2d
    if staged:  # taps [ky][kx][c] to the staged windows' [kx][ky][c]
        fh, fw, c = fields["filter_h"], fields["filter_w"], fields["in_c"]
        w2d = w2d.reshape(-1, fh, fw, c).transpose(0, 2, 1, 3).reshape(w2d.shape)
    stream, mode = block_stream(w2d, folded, mults, shifts, mm.live)
    direct = _direct(fields)
    batch = max(2, min(fields["rows"] & ~1, (IM2COL_BYTES // dp) & ~1))
    del fields["quant"], fields["out_index"]  # the DSP tier's forms; here both are in the stream
    fields.update(direct=int(direct), staged=int(staged), batch_rows=batch, requant=mode, wide_weights=0,
                  indexed=int(mm.live is not None), blocks=const("blocks", stream, "int32_t"))
    return KernelCall("pb_conv", "pb_fast_mve_mm_s8", "pb_fast_mve_mm_params_t", fields, call.inputs,
                      call.outputs, macs=call.macs, scratch_bytes=pb_fast_mve_mm_s8_scratch_bytes(fields),
                      takes_scratch=True, tier="mve")


def _depthwise(call: KernelCall) -> KernelCall | None:
    if not depthwise_supported(call, DW_CHANNELS):
        return None
    w, bias, _, _, fields = depthwise_parts(call)
    f = call.fields
    taps, c = w.shape
    mults, shifts = (v[pass_order(f["in_c"], f["depth_multiplier"])] for v in per_channel(f, c))
    folded = bias + f["input_offset"] * w.astype(np.int64).sum(axis=0)
    # lanes per 8 channels: even channels then odd, as VMULLB / VMULLT produce them
    order = np.arange(c).reshape(c // 8, 4, 2).transpose(0, 2, 1).reshape(-1)
    groups, mode = quant_groups(folded[order], mults[order], shifts[order])
    wl = w.reshape(taps, c // DW_CHANNELS, DW_CHANNELS).transpose(1, 0, 2)  # [c/8][tap][8], as int16
    wl = np.ascontiguousarray(wl.astype("<i2").reshape(-1)).view("<i4").astype(np.int64)
    fields.update(requant=mode, weights=const("weights", wl, "int32_t"),
                  quant=const("quant", groups.reshape(-1), "int32_t"))
    return KernelCall("pb_depthwise_conv", "pb_fast_mve_dw_s8", "pb_fast_mve_dw_params_t", fields, call.inputs,
                      call.outputs, macs=call.macs, scratch_bytes=pb_fast_mve_dw_s8_scratch_bytes(fields), tier="mve")


def accelerate(call: KernelCall) -> KernelCall | None:
    """The MVE tier's call, or None where it does not apply."""
    if call.function == "pb_depthwise_conv_s8":
        if depthwise_as_conv_pays(call, DW_CHANNELS):
            return _matmul(depthwise_as_conv(call))
        return _depthwise(call)
    return _matmul(call)
