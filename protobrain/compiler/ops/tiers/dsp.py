"""The DSP tier (Cortex-M4/M7/M33): CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D laid out
for templates/kernels/dsp/ (pb_conv.c: the matrix multiply, pb_depthwise_conv.c), SXTB16 +
SMLAD on int16 pairs. The same kernels compile to plain C with identical results on any
other target (dsp/pb_simd.h). Each kernel's scratch size is the function named after it."""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const
from protobrain.compiler.ops.tiers import fc_row
from protobrain.compiler.ops.tiers.common import (
    REQUANT_FAST,
    computed_channels,
    depthwise_as_conv,
    depthwise_as_conv_pays,
    depthwise_parts,
    depthwise_supported,
    matmul,
    matmul_fields,
    pack_words,
    peaks,
    wrap32,
)

DEPTH_BLOCK = 8  # depth padded to this (zero weights), so inner loops have no tail
# the channel-loop routine (pb_fast_mm_short_pairs) takes the depth in blocks of 4, at least two
CHANNEL_LOOP_BLOCK = 4
FEW_CHANNELS, SINGLE_ROW_SCRATCH = 8, 1024  # single rows stay portable past this scratch
DW_CHANNELS = 4  # depthwise channels per step
DW_LINES_MIN = 8  # shortest output line (the longer side) the lines form pays off on
DW_ROWS_LINES_MIN = 24  # stride 1: output lines from this long on take the lines form, shorter the rows form
DW_ROWS_MIN = 4  # fewest output pixels per row and stride the rows form pays off on
DW_ROW_COL = 48  # PB_DW_ROW_COL in dsp/pb_depthwise_conv.c: bytes per widened column of the rows form's ring
DW_ONE_MAX_RUN = 64  # PB_FAST_DW_ONE_MAX_RUN in dsp/pb_depthwise_conv.h: longest filter row
ROWS4_GROUPS = 32  # PB_DSP_ROWS4_GROUPS_MAX in dsp/pb_rows4.h: groups of 4 values per run


def _mm_weights(w2d: np.ndarray, wide: bool, lean: bool = False, depth_pad: int | None = None) -> tuple[np.ndarray, int]:
    """[out_c][depth] weights (int8, or int16 when wide) in the kernel's block order, the
    depth padded with zeros to depth_pad (by default a multiple of DEPTH_BLOCK); lean: int8
    with each odd byte less 1 where the even byte before it is negative, so a word's int16
    lanes are 256 * w1 + w0 and 256 * w3 + w2 (see _lean_fits)."""
    oc, depth = w2d.shape
    dp = depth_pad if depth_pad is not None else -(-depth // DEPTH_BLOCK) * DEPTH_BLOCK
    ocp = oc + (oc % 2)
    w = np.zeros((ocp, dp), np.int16 if wide else np.int8)
    w[:oc, :depth] = w2d
    w = w.reshape(ocp // 2, 2, dp // 4, 4).transpose(0, 2, 1, 3)  # [pair][block of 4][2 channels][4]
    if lean:
        v = w.astype(np.int64)
        v[..., 1::2] -= v[..., 0::2] < 0
        return pack_words(v), dp
    if not wide:
        return pack_words(w), dp
    # int16 pairs in SXTB16 order, (w0, w2) then (w1, w3), so the kernel needs no widening
    v = w.astype(np.int64)
    return wrap32(np.stack([(v[..., 0] & 0xFFFF) | (v[..., 2] << 16),
                            (v[..., 1] & 0xFFFF) | (v[..., 3] << 16)], axis=-1)).reshape(-1), dp


def pb_fast_mm_s8_scratch_bytes(p: dict) -> int:
    """pb_fast_mm_s8's scratch (dsp/pb_conv.c) for its pb_fast_mm_params_t fields p: two
    im2col rows widened to int16 (4 bytes per depth value), and the int8 row they are
    widened from when the taps do not split into blocks of 4 (in_c not a multiple of 4)."""
    return 4 * p["depth_pad"] + (p["depth_pad"] if p["in_c"] % 4 else 0)


def _split_rows(geometry: dict) -> bool:
    """pb_fast_mm_params_t's split_rows: with in_c not a multiple of 4 (an RGB image's 3) and
    contiguous filter rows (dilation_w 1), the taps are ordered as every filter row's whole
    words, then every row's last (filter_w * in_c) % 4 taps (_split_taps), so pb_conv.c
    widens a window inside the input straight from it with word loads, no tap padded."""
    return geometry["in_c"] % 4 != 0 and geometry["dilation_w"] == 1


def _split_taps(w2d: np.ndarray, geometry: dict) -> np.ndarray:
    """[out_c][filter_h * filter_w * in_c] weights in the split layout's order."""
    run = geometry["filter_w"] * geometry["in_c"]
    body = run & ~3
    w = w2d.reshape(w2d.shape[0], geometry["filter_h"], run)
    return np.concatenate([w[:, :, :body].reshape(w2d.shape[0], -1), w[:, :, body:].reshape(w2d.shape[0], -1)],
                          axis=1)


def pb_fast_dw_s8_scratch_bytes(p: dict) -> int:
    """pb_fast_dw_s8's scratch (dsp/pb_depthwise_conv.c) for its pb_fast_dw_params_t fields
    p: the lines form's ring of 3 widened lines x 4 channels, int16, as pb_dw_lines() sizes
    them (lines run along the longer output side); the rows form's ring of 3 padded input
    rows stored twice, a column of 6 x 4 int16 per input column its pixels read; the
    generic form needs none (the kernel gets NULL)."""
    if p.get("rows_form"):
        return DW_ROW_COL * ((p["out_w"] - 1) * p["stride_w"] + 3)
    if not p["lines"]:
        return 0
    length = p["out_h"] if p["transposed"] else p["out_w"]
    return 3 * 4 * 2 * (length + 2 + length % 2)


def mm_instance(fields: dict) -> str:
    """The instance of the matrix multiply (dsp/pb_conv.c, the pb_fast_mm_s8 family) its
    fields select: the generated code calls it directly, so a firmware links only the
    instances its layers use (each is 4-11 KB of unrolled code)."""
    full = fields["act_min"] == -128 and fields["act_max"] == 127
    fast = fields["requant"] == REQUANT_FAST
    if fields.get("row_bias", "NULL") != "NULL":
        return f"pb_fast_mm_one_row_{('fast_full' if full else 'fast_clamped') if fast else 'exact'}"
    if fields["wide_weights"]:
        if not fast:
            return "pb_fast_mm_wide_exact"
        sparse = "_sparse" if fields["out_index"] != "NULL" else ""
        if full and not sparse and _pointwise8(fields):
            return "pb_fast_mm_wide_pw8_full"  # weights as per-channel records (_pointwise8_records)
        if full and (fields["out_c"] % 2 == 0 or sparse):  # sparse and odd: _duplicate_last
            return f"pb_fast_mm_wide_short_full{sparse}"  # the channel loop in one routine, no spills
        return f"pb_fast_mm_wide_doubled_{'full' if full else 'clamped'}{sparse}"
    if fields["lean_weights"]:
        shared = "_shared" if fields["quant_shared"] != "NULL" else ""
        return "pb_fast_mm_lean_exact" if not fast else f"pb_fast_mm_lean_fast_{'full' if full else 'clamped'}{shared}"
    if not fast:
        return "pb_fast_mm_int8_exact"
    return f"pb_fast_mm_int8_fast_{'full' if full else 'clamped'}"


def _one_row(mm) -> bool:
    """pb_fast_mm_one_row's layer: one input row read as it lies (a FULLY_CONNECTED with one
    batch, or a 1x1 convolution of one pixel), every output channel computed."""
    g = mm.geometry
    return (g["rows"] == 1 and g["in_h"] == 1 and g["in_w"] == 1 and g["filter_h"] == 1 and g["filter_w"] == 1
            and mm.live is None)


def _rows4_weights(w2d: np.ndarray) -> np.ndarray:
    """[out_c][depth] int16 weights as pb_rows4.h's blocks for pb_fast_mm_one_row: out_c
    rounded up to 4 and the depth to 4 with zeros; the depth cut into chunks of ROWS4_GROUPS
    groups of 4 values, chunk after chunk; in each, block after block of four channels, per
    group each channel's (w0, w2), (w1, w3) int16 pairs."""
    oc, depth = w2d.shape
    ocp, dp = -(-oc // 4) * 4, -(-depth // 4) * 4
    w = np.zeros((ocp, dp), np.int64)
    w[:oc, :depth] = w2d
    w = w.reshape(ocp // 4, 4, dp // 4, 4).transpose(0, 2, 1, 3)  # [block][group][channel][4]
    pairs = np.stack([(w[..., 0] & 0xFFFF) | (w[..., 2] << 16), (w[..., 1] & 0xFFFF) | (w[..., 3] << 16)], axis=-1)
    chunks = [pairs[:, g:g + ROWS4_GROUPS].reshape(-1) for g in range(0, dp // 4, ROWS4_GROUPS)]
    return wrap32(np.concatenate(chunks))


def _one_row_call(call: KernelCall, mm, fields: dict, w2d: np.ndarray) -> KernelCall:
    """pb_fast_mm_one_row: the weights as _rows4_weights, bias' per channel (row_bias, out_c
    rounded up to 4) where pb_rows4.h's routine starts each block's accumulators."""
    q = np.asarray(fields["quant"].values, np.int64).reshape(-1, 4)
    bias = np.zeros(-(-mm.out_c // 4) * 4, np.int64)
    bias[:mm.out_c] = q[:mm.out_c, 0]
    fields.update(split_rows=0, wide_weights=1, lean_weights=0, quant_shared="NULL",
                  weights=const("weights", _rows4_weights(w2d), "int32_t"),
                  row_bias=const("row_bias", bias, "int32_t"))
    return KernelCall("pb_conv", "pb_fast_mm_s8", "pb_fast_mm_params_t", fields, call.inputs, call.outputs,
                      macs=call.macs, scratch_bytes=pb_fast_mm_s8_scratch_bytes(fields), tier="dsp",
                      entry=mm_instance(fields))


def _pointwise8(fields: dict) -> bool:
    """pb_fast_mm_wide_pw8_full's layer (besides wide FAST full-range dense weights): 1x1,
    stride 1, no padding, 8 input channels, output channels a multiple of 4."""
    f = fields
    return (f["in_c"] == 8 and f["filter_h"] == 1 and f["filter_w"] == 1 and f["stride_h"] == 1 and f["stride_w"] == 1
            and f["pad_top"] == 0 and f["pad_left"] == 0 and f["in_h"] == f["out_h"] and f["in_w"] == f["out_w"]
            and f["out_c"] % 4 == 0)


def _pointwise8_records(words: np.ndarray, q: np.ndarray, out_c: int) -> np.ndarray:
    """Per output channel 8 words (pb_fast_mm_wide_pw8_full): bias', the channel's 4 wide
    weight words (2 blocks of (w0,w2), (w1,w3)), multiplier, shift, rounding."""
    w = words.reshape(-1, 2, 2, 2).transpose(0, 2, 1, 3).reshape(-1, 4)[:out_c]  # [pair][block][ch][2]
    q = q.reshape(-1, 4)[:out_c]
    return np.column_stack([q[:, 0], w, q[:, 1:]]).reshape(-1)


def dw_instance(fields: dict) -> str:
    """The form of the depthwise convolution (dsp/pb_depthwise_conv.c, the pb_fast_dw_s8
    family) its fields select, called directly as mm_instance's."""
    if fields["lines"]:
        return "pb_fast_dw_lines_s8"
    if fields.get("rows_form"):
        return "pb_fast_dw_rows_s8"
    mode = "fast" if fields["requant"] == REQUANT_FAST else "exact"
    if fields.get("multiplier", 1) != 1:
        return f"pb_fast_dw_multiplier_{mode}_s8"
    window = "3x3" if fields["filter_h"] * fields["filter_w"] == 9 else "any"
    if mode == "fast":
        mode += "_full" if fields["act_min"] == -128 and fields["act_max"] == 127 else "_clamped"
    return f"pb_fast_dw_{window}_{mode}_s8"


def _lean_fits(w2d: np.ndarray, peak: np.ndarray) -> bool:
    """The lean int8 form (pb_conv.c's pb_fast_lean_row) is exact when every weight word's
    lanes 256 * w1 + w0 fit int16 (no w1 of -128 after a negative w0) and 256 times every
    channel's accumulator bound fits int32 (the kernel's sums wrap, so only the total counts)."""
    w = np.zeros((w2d.shape[0], -(-w2d.shape[1] // 2) * 2), np.int64)
    w[:, :w2d.shape[1]] = w2d
    return not np.any((w[:, 1::2] == -128) & (w[:, 0::2] < 0)) and bool(np.all(256 * peak < 2**31))


def _lean_quant(fields: dict, w2d: np.ndarray) -> None:
    """Lean: bias' + 127 * (the channel's weights at odd depth), times 256 (pb_fast_lean_row)."""
    q = np.asarray(fields["quant"].values, np.int64).reshape(-1, 4)
    odd = w2d.astype(np.int64)[:, 1::2].sum(axis=1)
    q[:len(odd), 0] = wrap32(256 * (q[:len(odd), 0] + 127 * odd))
    fields["quant"] = const("quant", q.reshape(-1), "int32_t")


def _share_quant(fields: dict, out_c: int) -> None:
    """Where every computed channel has the same multiplier, shift and rounding (one scale
    for the whole layer, as TFLite's FULLY_CONNECTED has), they are stored once
    (quant_shared) and quant keeps bias' alone: a quarter of the words."""
    q = np.asarray(fields["quant"].values, np.int64).reshape(-1, 4)
    if np.all(q[:out_c, 1:] == q[0, 1:]):
        fields["quant_shared"] = const("quant_shared", np.concatenate([[0], q[0, 1:]]), "int32_t")
        fields["quant"] = const("quant", q[:, 0], "int32_t")
    else:
        fields["quant_shared"] = "NULL"


def _duplicate_last(fields: dict, w2d: np.ndarray, out_c: int) -> None:
    """An odd count of computed channels in the channel-loop routine's sparse form: the
    last pair's second channel is a copy of the last computed one (weights and quant words),
    so both of its stores, at the channel out_index repeats, write the same value."""
    words, _ = _mm_weights(np.vstack([w2d, w2d[-1:]]), wide=True, depth_pad=fields["depth_pad"])
    q = np.asarray(fields["quant"].values, np.int64).reshape(-1, 4)
    q[out_c] = q[out_c - 1]
    fields.update(weights=const("weights", words, "int32_t"), quant=const("quant", q.reshape(-1), "int32_t"))


def _matmul(call: KernelCall, wide: bool, one_row: bool = True) -> KernelCall | None:
    mm = matmul(call, skip_dead=True)
    if mm is None:
        return None
    split = _split_rows(mm.geometry)
    fields = matmul_fields(call, mm, DEPTH_BLOCK * -(-mm.depth // DEPTH_BLOCK))
    if mm.geometry["rows"] == 1 and mm.out_c <= FEW_CHANNELS and pb_fast_mm_s8_scratch_bytes(fields) > SINGLE_ROW_SCRATCH:
        # one row read by a few channel pairs: its widened copy would cost more RAM than
        # the multiply saves time (micro_speech's 4000 x 4 FULLY_CONNECTED: 16 KB); a
        # FULLY_CONNECTED takes the kernel that widens as it multiplies instead
        return fc_row.accelerate(call)
    fields["split_rows"] = int(split)
    w2d = _split_taps(mm.w2d, mm.geometry) if split else mm.w2d
    if wide and fields["requant"] == REQUANT_FAST:
        # int16 weights hold 2 * w, and the bias is doubled too: the accumulator is then
        # 2 * acc, the operand of the rounded high multiply, with no shift per output (the
        # FAST bound keeps 2 * acc within int32)
        w2d = w2d.astype(np.int16) * 2
        q = np.asarray(fields["quant"].values, np.int64).reshape(-1, 4)
        q[:, 0] = wrap32(2 * q[:, 0])
        fields["quant"] = const("quant", q.reshape(-1), "int32_t")
    if wide and one_row and _one_row(mm):  # the row as it lies: the taps in their own order, not split
        return _one_row_call(call, mm, fields, mm.w2d.astype(np.int64) * (2 if fields["requant"] == REQUANT_FAST else 1))
    bias, _, _, _ = computed_channels(call, mm)
    lean = not wide and _lean_fits(w2d, peaks(w2d, bias, mm.input_offset))
    if lean:
        _lean_quant(fields, w2d)
    channel_loop = wide and mm_instance({**fields, "wide_weights": 1, "lean_weights": 0}).startswith(
        "pb_fast_mm_wide_short_full")
    if channel_loop:
        # the channel-loop routine takes the depth in blocks of 4 (at least two: it peels
        # one, then enters its turns): an RGB 3x3 window's 27 taps multiply as 28, not 32
        b = CHANNEL_LOOP_BLOCK
        fields["depth_pad"] = max(2 * b, -(-mm.depth // b) * b)
    words, dp = _mm_weights(w2d, wide, lean, fields["depth_pad"])
    if wide:  # the wide instances read each channel's words
        fields["quant_shared"] = "NULL"
    else:
        _share_quant(fields, mm.out_c)
    fields.update(wide_weights=int(wide), lean_weights=int(lean), weights=const("weights", words, "int32_t"))
    if channel_loop and mm.live is not None and mm.out_c % 2:
        _duplicate_last(fields, w2d, mm.out_c)
    if mm_instance(fields) == "pb_fast_mm_wide_pw8_full":
        records = _pointwise8_records(words, np.asarray(fields["quant"].values, np.int64), mm.out_c)
        fields["weights"] = const("weights", records, "int32_t")
    return KernelCall("pb_conv", "pb_fast_mm_s8", "pb_fast_mm_params_t", fields, call.inputs, call.outputs,
                      macs=call.macs, scratch_bytes=pb_fast_mm_s8_scratch_bytes(fields), tier="dsp",
                      entry=mm_instance(fields))


def _depthwise(call: KernelCall) -> KernelCall | None:
    if not depthwise_supported(call, DW_CHANNELS):
        return None
    w, _, q, mode, fields = depthwise_parts(call)
    taps, c = w.shape
    w = w.astype(np.int64)
    if mode == REQUANT_FAST:  # doubled weights and bias, as for wide matrix-multiply weights
        w = 2 * w
        q[:, 0] = wrap32(2 * q[:, 0])
    del fields["input_offset"]  # folded into bias' and the zero-point row
    fields["quant"] = const("quant", q.reshape(-1), "int32_t")
    if _lines_form(fields, mode, q):
        return _depthwise_lines(call, w, q, fields)
    if _rows_form(fields, mode):
        return _depthwise_rows(call, w, q, fields)
    # per group of 4 channels, per tap: int16 pairs (w0, w2), (w1, w3); padding taps read
    # a zero-point row, so every pixel starts from the folded bias
    g = w.reshape(taps, c // 4, 4).transpose(1, 0, 2)
    lo, hi = g[..., [0, 1]], g[..., [2, 3]]
    words = wrap32((lo & 0xFFFF) | (hi << 16)).reshape(-1)
    fields.update(lines=0, transposed=0, rows_form=0, weights=const("weights", words, "int32_t"))
    return KernelCall("pb_depthwise_conv", "pb_fast_dw_s8", "pb_fast_dw_params_t", fields, call.inputs, call.outputs,
                      macs=call.macs, scratch_bytes=pb_fast_dw_s8_scratch_bytes(fields), takes_scratch=True,
                      tier="dsp", entry=dw_instance(fields))


def pb_fast_dw_one_s8_scratch_bytes(p: dict) -> int:
    """pb_fast_dw_one_s8's scratch (dsp/pb_depthwise_conv.c) for its pb_fast_dw_one_params_t
    fields p: two pixels' taps widened to int16, filter_h rows of run values each, rounded
    up to an even number of blocks of 4."""
    return 2 * 2 * 4 * (-(-p["filter_h"] * p["run"] // 8) * 2)


def _depthwise_one(call: KernelCall) -> KernelCall:
    """One input channel, any multiplier: a convolution with in_c 1 (pb_fast_dw_one_s8).
    Weights per channel pair and block of 4 taps (filter rows padded to run with zeros):
    channel 0's (w0,w2), (w1,w3) int16 pairs, then channel 1's; doubled in FAST mode."""
    w, _, q, mode, fields = depthwise_parts(call)  # one input channel: pass order is channel order
    fh, fw = fields["filter_h"], fields["filter_w"]
    run = -(-fw // 4) * 4
    oc = w.shape[1]
    ocp = oc + oc % 2
    blocks = -(-fh * run // 8) * 2  # an even count: the kernel's loop takes two per turn
    wk = np.zeros((ocp, blocks * 4), np.int64)
    wk[:oc, :fh * run] = np.pad(w.T.reshape(oc, fh, fw), ((0, 0), (0, 0), (0, run - fw))).reshape(oc, -1)
    qp = np.zeros((ocp, q.shape[1]), np.int64)
    qp[:oc] = q
    if mode == REQUANT_FAST:  # doubled weights and bias, as for wide matrix-multiply weights
        wk = 2 * wk
        qp[:, 0] = wrap32(2 * qp[:, 0])
    v = wk.reshape(ocp // 2, 2, blocks, 4).transpose(0, 2, 1, 3)  # [pair][block][2 channels][4]
    words = wrap32(np.stack([(v[..., 0] & 0xFFFF) | (v[..., 2] << 16),
                             (v[..., 1] & 0xFFFF) | (v[..., 3] << 16)], axis=-1)).reshape(-1)
    fields = {k: fields[k] for k in ("batches", "in_h", "in_w", "out_h", "out_w", "filter_h", "filter_w", "stride_h",
                                     "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left", "output_offset",
                                     "act_min", "act_max", "requant")}
    fields.update(out_c=oc, run=run, pad_value=-call.fields["input_offset"],
                  weights=const("weights", words, "int32_t"), quant=const("quant", qp.reshape(-1), "int32_t"))
    return KernelCall("pb_depthwise_conv", "pb_fast_dw_one_s8", "pb_fast_dw_one_params_t", fields, call.inputs,
                      call.outputs, macs=call.macs, scratch_bytes=pb_fast_dw_one_s8_scratch_bytes(fields),
                      tier="dsp")


def _lines_form(fields: dict, mode: int, q: np.ndarray) -> bool:
    """pb_fast_dw_s8's lines form: 3x3, stride and dilation 1, FAST requantization with every
    multiplier above 2^30 (so SMMULR's result is negative exactly when the accumulator is),
    no clamp but int8's, and lines long enough to repay their per-line set-up."""
    f = fields
    return (f["multiplier"] == 1 and f["filter_h"] == 3 and f["filter_w"] == 3 and f["stride_h"] == 1 and f["stride_w"] == 1
            and f["dilation_h"] == 1 and f["dilation_w"] == 1 and mode == REQUANT_FAST
            and bool(np.all(q[:, 1] > 2**30)) and f["act_min"] == -128 and f["act_max"] == 127
            and max(f["out_h"], f["out_w"]) >= DW_LINES_MIN and _lines_pay(f))


def _lines_pay(f: dict) -> bool:
    """Where the rows form also applies, the lines form only on long lines: its per-line
    set-up (a call and a widening per channel and line) outweighs its cheaper steps below
    DW_ROWS_LINES_MIN (measured on vww_96's 48, 24, 12 and 6 wide layers)."""
    return max(f["out_h"], f["out_w"]) >= DW_ROWS_LINES_MIN


def _rows_form(fields: dict, mode: int) -> bool:
    """pb_fast_dw_s8's rows form: 3x3, stride 1 or 2 each way, dilation 1, multiplier 1, FAST
    requantization with no clamp but int8's, and rows long enough to repay their set-up
    (a widening and a call per group of 4 channels and row): on vww_96 6 wide at stride 1
    and 12 at stride 2 gain 15% and 6% on the generic form, 3 and 6 lose 7% and 5%."""
    f = fields
    return (f["multiplier"] == 1 and f["filter_h"] == 3 and f["filter_w"] == 3 and f["stride_h"] in (1, 2)
            and f["stride_w"] in (1, 2) and f["dilation_h"] == 1 and f["dilation_w"] == 1 and mode == REQUANT_FAST
            and f["act_min"] == -128 and f["act_max"] == 127 and f["out_w"] >= DW_ROWS_MIN * f["stride_w"])


def _depthwise_rows(call: KernelCall, w: np.ndarray, q: np.ndarray, fields: dict) -> KernelCall:
    """Per group of 4 channels, PB_DW_ROWS_WORDS words: bias' x 4; per tap (ky-major) the
    (w0, w2), (w1, w3) int16 pairs; per channel multiplier, rounding, right shift."""
    taps, c = w.shape
    g = w.reshape(taps, c // 4, 4).transpose(1, 0, 2)  # [group][tap][4]
    lo, hi = g[..., [0, 1]], g[..., [2, 3]]
    pairs = wrap32((lo & 0xFFFF) | (hi << 16)).reshape(c // 4, 2 * taps)
    qg = q.reshape(c // 4, 4, q.shape[1])
    requant = qg[..., [1, 3, 2]].reshape(c // 4, 12)  # multiplier, rounding, shift
    words = np.concatenate([qg[..., 0], pairs, requant], axis=1).reshape(-1)
    # the blocks hold every quant word: the separate array would be dead flash
    fields.update(lines=0, transposed=0, rows_form=1, weights=const("weights", words, "int32_t"), quant="NULL")
    return KernelCall("pb_depthwise_conv", "pb_fast_dw_s8", "pb_fast_dw_params_t", fields, call.inputs, call.outputs,
                      macs=call.macs, scratch_bytes=pb_fast_dw_s8_scratch_bytes(fields), tier="dsp",
                      entry=dw_instance(fields))


def _depthwise_lines(call: KernelCall, w: np.ndarray, q: np.ndarray, fields: dict) -> KernelCall:
    """Per channel, PB_DW_LINE_WORDS words: bias', then per kernel line (w0, w1) and (w1, w2)
    int16 pairs, multiplier, rounding, right shift. Lines run along the longer output side."""
    c = w.shape[1]
    transposed = fields["out_h"] > fields["out_w"]
    k = w.reshape(3, 3, c)  # [ky][kx][channel]
    if transposed:
        k = k.transpose(1, 0, 2)  # lines are columns: [kx][ky]
    pairs = [wrap32((k[i, a] & 0xFFFF) | (k[i, a + 1] << 16)) for i in range(3) for a in (0, 1)]
    words = np.stack([q[:, 0], *pairs, q[:, 1], q[:, 3], q[:, 2]], axis=1).reshape(-1)
    fields.update(lines=1, transposed=int(transposed), rows_form=0, weights=const("weights", words, "int32_t"))
    return KernelCall("pb_depthwise_conv", "pb_fast_dw_s8", "pb_fast_dw_params_t", fields, call.inputs, call.outputs,
                      macs=call.macs, scratch_bytes=pb_fast_dw_s8_scratch_bytes(fields), tier="dsp",
                      entry=dw_instance(fields))


def accelerate(call: KernelCall, wide: bool, one_row: bool = True) -> KernelCall | None:
    """The DSP tier's call, or None where it does not apply. one_row: a layer on one row may
    take pb_fast_mm_one_row_* (see shared_instances)."""
    if call.function == "pb_depthwise_conv_s8":
        if call.fields["in_c"] == 1 and call.fields["filter_w"] <= DW_ONE_MAX_RUN:
            return _depthwise_one(call)
        if depthwise_as_conv_pays(call, DW_CHANNELS):
            return _matmul(depthwise_as_conv(call), wide, one_row)
        return _depthwise(call)
    return _matmul(call, wide, one_row)


def shared_instances(calls: list[KernelCall], fast: list[KernelCall], wide: bool) -> list[KernelCall]:
    """fast (the DSP calls for calls) with each one-row layer back on the pair instance it
    would otherwise take where another layer of the model links that instance anyway: there
    the one-row form and its routine (about 2 KB of code) would buy little for their flash
    (kws_ref_model's last layer, 768 MACs beside convolutions on the same instance)."""
    entries = {c.entry for c in fast if c.entry}
    out = []
    for portable, call in zip(calls, fast):
        if call.entry and call.entry.startswith("pb_fast_mm_one_row_"):
            pair = accelerate(portable, wide, one_row=False)
            if pair is not None and pair.entry in entries:
                call = pair
        out.append(call)
    return out
