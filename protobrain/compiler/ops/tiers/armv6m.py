"""The ARMv6-M tier (Cortex-M0/M0+: Thumb-1, no DSP extension, a 32x32->32 MULS, eight low
registers): CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D laid out for
templates/kernels/armv6m/ (pb_conv.c: the matrix multiply, pb_depthwise_conv.c; their
header comments describe the layouts). Each kernel's scratch size is the function named
after it.

Thumb-1 loads a byte with an immediate offset only unsigned (LDRB), so both operands are
biased to unsigned: the kernels copy input bytes x as u = x + 128 (x ^ 0x80), the weights
are stored as v = w + 128. Then sum(v * u) = sum(w * x) + 128 * sum(w) + 128 * sum(u), and
the generator folds everything but sum(u) into the bias (bias'' = bias + (input_offset -
128) * sum(w)); the kernels subtract 128 * sum(u), once per im2col row or input pixel.
Taps beyond the depth hold v = 0 and u = 0, so they add nothing to either sum. The
depthwise kernel keeps its weights signed (widened to words once per channel), so its
correction, 128 * sum(w), is a constant too."""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const
from protobrain.compiler.ops.tiers.common import (
    depthwise_parts,
    depthwise_supported,
    matmul,
    matmul_fields,
    pack_words,
    wrap32,
)

DEPTH_BLOCK = 8  # taps per turn of the matrix multiply's inner loop (zero-padded)
BIAS = 128  # both operands are stored + 128, unsigned
FEW_CHANNELS, SINGLE_ROW_SCRATCH = 8, 1024  # single rows stay portable past this scratch
DW_MAX_CHANNELS = 4096  # a depthwise layer's channels must fit the kernel's per-channel loop


def _unsigned_bytes(v: np.ndarray) -> np.ndarray:
    """Values 0..255 as the int8 bytes pack_words takes (same bits)."""
    return (np.asarray(v, np.int64) + 128) % 256 - 128


def _mm_weights(w2d: np.ndarray, dp: int) -> np.ndarray:
    """[out_c][depth] int8 weights as the kernel reads them: output channels in pairs (a
    zero channel pads an odd count), per pair the two channels' v = w + 128 interleaved tap
    by tap (v0[0], v1[0], v0[1], v1[1], ...), zeros (not 128) beyond the depth."""
    oc, depth = w2d.shape
    v = np.zeros((oc + oc % 2, dp), np.int64)
    v[:oc, :depth] = w2d.astype(np.int64) + BIAS
    v = v.reshape(-1, 2, dp).transpose(0, 2, 1)  # [pair][tap][2]
    return pack_words(_unsigned_bytes(v))


def pb_v6m_mm_s8_scratch_bytes(p: dict) -> int:
    """pb_v6m_mm_s8's scratch (armv6m/pb_conv.c) for its pb_v6m_mm_params_t fields p: two
    im2col rows of depth_pad unsigned bytes (one for a single row)."""
    return (2 if p["rows"] > 1 else 1) * p["depth_pad"]


def pb_v6m_dw_s8_scratch_bytes(p: dict) -> int:
    """pb_v6m_dw_s8's scratch (armv6m/pb_depthwise_conv.c) for its pb_v6m_dw_params_t fields
    p: the input planes of four channels (one when the channels are not a multiple of 4) with
    their padding, unsigned bytes, and a word the 3x3 form may read past them (a line of
    one output)."""
    return (4 if p["channels"] % 4 == 0 else 1) * p["plane_h"] * p["plane_w"] + 4


def _matmul(call: KernelCall) -> KernelCall | None:
    mm = matmul(call, skip_dead=True)
    if mm is None:
        return None
    dp = DEPTH_BLOCK * -(-mm.depth // DEPTH_BLOCK)
    fields = matmul_fields(call, mm, dp)
    q = np.asarray(fields["quant"].values, np.int64).reshape(-1, 4)
    wsum = mm.w2d.astype(np.int64).sum(axis=1)
    q[:mm.out_c, 0] = wrap32(q[:mm.out_c, 0] - BIAS * wsum)  # bias' already holds input_offset * sum(w)
    pad = fields.pop("pad_value")
    fields.update(pad_u=pad + BIAS, quant=const("quant", q.reshape(-1), "int32_t"),
                  weights=const("weights", _mm_weights(mm.w2d, dp), "int32_t"))
    if mm.geometry["rows"] == 1 and mm.out_c <= FEW_CHANNELS and dp > SINGLE_ROW_SCRATCH:
        # one long row read by a few channel pairs: its copy would cost more RAM than the
        # multiply saves time (micro_speech's 4000 x 4 FULLY_CONNECTED: 4 KB on a 16 KB core)
        return None
    return KernelCall("pb_conv", "pb_v6m_mm_s8", "pb_v6m_mm_params_t", fields, call.inputs, call.outputs,
                      macs=call.macs, scratch_bytes=pb_v6m_mm_s8_scratch_bytes(fields), tier="armv6m")


def _depthwise(call: KernelCall) -> KernelCall | None:
    f = call.fields
    if (not depthwise_supported(call, 1) or f["depth_multiplier"] != 1 or f["in_c"] > DW_MAX_CHANNELS
            or f["pad_top"] < 0 or f["pad_left"] < 0):
        return None
    w, _, q, mode, _ = depthwise_parts(call)
    taps, c = w.shape
    # unsigned inputs, signed weights: sum(w * u) = sum(w * x) + 128 * sum(w)
    q[:, 0] = wrap32(q[:, 0] - BIAS * w.astype(np.int64).sum(axis=0))
    # the input plane of one channel, padded on every side the windows reach past
    plane_h = max((f["out_h"] - 1) * f["stride_h"] + (f["filter_h"] - 1) * f["dilation_h"] + 1,
                  f["pad_top"] + f["in_h"])
    plane_w = max((f["out_w"] - 1) * f["stride_w"] + (f["filter_w"] - 1) * f["dilation_w"] + 1,
                  f["pad_left"] + f["in_w"])
    tp = -(-taps // 4) * 4
    wp = np.zeros((c, tp), np.int64)
    wp[:, :taps] = w.T
    fields = {k: f[k] for k in ("batches", "in_h", "in_w", "out_h", "out_w", "filter_h", "filter_w", "stride_h",
                                "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left", "output_offset",
                                "act_min", "act_max")}
    fields.update(channels=c, plane_h=plane_h, plane_w=plane_w, taps_pad=tp, pad_u=BIAS - f["input_offset"],
                  requant=mode, weights=const("weights", pack_words(wp), "int32_t"),
                  quant=const("quant", q.reshape(-1), "int32_t"))
    return KernelCall("pb_depthwise_conv", "pb_v6m_dw_s8", "pb_v6m_dw_params_t", fields, call.inputs,
                      call.outputs, macs=call.macs, scratch_bytes=pb_v6m_dw_s8_scratch_bytes(fields),
                      tier="armv6m")


def accelerate(call: KernelCall) -> KernelCall | None:
    """The ARMv6-M tier's call, or None where it does not apply."""
    if call.function == "pb_depthwise_conv_s8":
        return _depthwise(call)
    return _matmul(call)
