"""TRANSPOSE_CONV (int8) on the fast tiers.

Stride 1: a transposed convolution is a convolution of the input with the filter turned
round (taps reversed in both axes, no stride, leading padding filter - 1 - pad): the
tier's matrix multiply (dsp.py / mve.py) computes it, layouts and all.

Larger strides: output pixels fall in stride_h x stride_w phases, by (o + pad) modulo the
stride. The pixels of one phase gather their products from the same filter taps, one every
stride (ceil((filter - phase) / stride) of them per axis), reading a window of as many
input pixels whose origin moves by one input pixel from one of the phase's outputs to the
next: a stride-1 convolution per phase with that phase's share of the filter, turned round.
The kernels (dsp/ and mve/pb_transpose_conv.c) take pairs of output pixels of one phase,
gather their windows as im2col rows (taps outside the input read the zero point), and
multiply them by the phase's weights in the tier's matrix multiply layout with the tier's
requantization; the input offset is folded into each phase's bias (bias' = bias -
zero_point * sum of the phase's weights). The phases together hold the filter's weights
once (plus the padding of each phase's depth to the tier's block).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const
from protobrain.compiler.ops.tiers import dsp as fast_dsp
from protobrain.compiler.ops.tiers import mve as fast_mve
from protobrain.compiler.ops.tiers.common import peaks, per_channel, quant_words, values
from protobrain.compiler.ops.tiers.dsp import _mm_weights as dsp_mm_weights

FUNCTIONS = ("pb_transpose_conv_s8",)
MAX_PHASE_WEIGHTS = 1 << 20  # bytes of phase weights past which a layer stays portable


def as_convolution(call: KernelCall) -> KernelCall | None:
    """A stride-1 int8 call as the pb_conv_s8 call of the same outputs (None otherwise)."""
    f = call.fields
    if call.function != "pb_transpose_conv_s8" or f["stride_h"] != 1 or f["stride_w"] != 1:
        return None
    pad_top, pad_left = f["filter_h"] - 1 - f["pad_top"], f["filter_w"] - 1 - f["pad_left"]
    if pad_top < 0 or pad_left < 0:
        return None
    w = np.asarray(f["filter"].values, np.int8).reshape(f["out_c"], f["filter_h"], f["filter_w"], f["in_c"])
    fields = {k: f[k] for k in ("batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "filter_h", "filter_w",
                                "input_offset", "output_offset", "act_min", "act_max", "mult", "shift", "mults",
                                "shifts", "bias", "bias64")}
    fields.update(filter_c=f["in_c"], group_out_c=f["out_c"], stride_h=1, stride_w=1, dilation_h=1, dilation_w=1,
                  pad_top=pad_top, pad_left=pad_left, filter=const("filter", w[:, ::-1, ::-1, :], "int8_t"))
    return KernelCall("pb_conv", "pb_conv_s8", "pb_conv_params_t", fields, list(call.inputs), list(call.outputs),
                      macs=call.macs)


PHASE_WORDS = 4  # PB_TCONV_PHASE_WORDS: taps_h, taps_w, depth_pad, offset of the phase's weights


@dataclass
class Phase:
    """One phase's window and weights: output pixels o with (o + pad) % stride = (ry, rx)
    gather filter taps ry, ry + stride, ... (taps_h of them) from input rows
    (o + pad) // stride, one before, ...; the window holds them in input order, so window
    tap t is filter tap r + stride * (taps - 1 - t)."""

    taps_h: int
    taps_w: int
    w2d: np.ndarray  # [out_c][taps_h * taps_w * in_c] int8


def phases(f: dict) -> list[Phase]:
    """Every phase's weights, phase_h * stride_w + phase_w. A phase whose rows or columns
    meet no filter tap (filter smaller than the stride) has none: its outputs are the bias."""
    oc, fh, fw, ic = f["out_c"], f["filter_h"], f["filter_w"], f["in_c"]
    sh, sw = f["stride_h"], f["stride_w"]
    w = np.asarray(f["filter"].values, np.int8).reshape(oc, fh, fw, ic)
    out = []
    for ry in range(sh):
        ky = list(range(ry, fh, sh))[::-1]
        for rx in range(sw):
            kx = list(range(rx, fw, sw))[::-1]
            out.append(Phase(len(ky), len(kx), np.ascontiguousarray(w[:, ky][:, :, kx].reshape(oc, -1))))
    return out


def _geometry(f: dict, table: list, depth_pad: int) -> dict:
    g = {k: f[k] for k in ("batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "stride_h", "stride_w",
                           "pad_top", "pad_left", "output_offset", "act_min", "act_max")}
    g.update(depth_pad=depth_pad, pad_value=-f["input_offset"],
             phases=const("phases", np.asarray(table, np.int64).reshape(-1), "int32_t"))
    return g


def _phases(call: KernelCall):
    """(phases, each phase's bias', multipliers, shifts, each phase's accumulator peaks),
    or None where the weights would take too much flash."""
    f = call.fields
    ps = phases(f)
    if sum(p.w2d.size for p in ps) > MAX_PHASE_WEIGHTS:
        return None
    oc = f["out_c"]
    bias = values(f["bias"])
    bias = np.zeros(oc, np.int64) if bias is None else bias.astype(np.int64)
    mults, shifts = per_channel(f, oc)
    folded = np.stack([bias + f["input_offset"] * p.w2d.astype(np.int64).sum(axis=1) for p in ps])
    peak = np.stack([peaks(p.w2d, bias, f["input_offset"]) for p in ps])
    return ps, folded, mults, shifts, peak


def _dsp(call: KernelCall) -> KernelCall | None:
    parts = _phases(call)
    if parts is None:
        return None
    ps, folded, mults, shifts, peak = parts
    f = call.fields
    nph, oc = folded.shape
    # one requantization form for every phase: decided on all of their channels at once
    _, mode = quant_words(folded.reshape(-1), np.tile(mults, nph), np.tile(shifts, nph), peak.reshape(-1),
                          f["output_offset"], nph * oc)
    ocp = oc + oc % 2
    words, quant, table, at = [], [], [], 0
    for k, p in enumerate(ps):
        q, m = quant_words(folded[k], mults, shifts, peak[k], f["output_offset"], ocp)
        if m != mode:  # this phase alone would be FAST: redo it as the others
            q[:, 2], q[:, 3] = np.concatenate([shifts, np.zeros(ocp - oc, np.int64)]), 0
        quant.append(q)
        ww, dp = dsp_mm_weights(p.w2d, False)
        table.append([p.taps_h, p.taps_w, dp, at])
        words.append(ww)
        at += len(ww)
    fields = _geometry(f, table, max(t[2] for t in table))
    fields.update(requant=mode, weights=const("weights", np.concatenate(words), "int32_t"),
                  quant=const("quant", np.concatenate(quant).reshape(-1), "int32_t"))
    return KernelCall("pb_transpose_conv", "pb_fast_tconv_s8", "pb_fast_tconv_params_t", fields, list(call.inputs),
                      list(call.outputs), macs=call.macs, scratch_bytes=pb_fast_tconv_s8_scratch_bytes(fields),
                      tier="dsp")


def pb_fast_tconv_s8_scratch_bytes(p: dict) -> int:
    """pb_fast_tconv_s8's scratch (dsp/pb_transpose_conv.c) for its pb_fast_tconv_params_t
    fields p: two im2col rows widened to int16 (4 bytes per depth value of the deepest
    phase), and the int8 row they are widened from when in_c is not a multiple of 4."""
    return 4 * p["depth_pad"] + (p["depth_pad"] if p["in_c"] % 4 else 0)


def _mve(call: KernelCall) -> KernelCall | None:
    parts = _phases(call)
    if parts is None:
        return None
    ps, folded, mults, shifts, _ = parts
    f = call.fields
    streams, table, at, mode = [], [], 0, None
    for k, p in enumerate(ps):
        s, mode = fast_mve.block_stream(p.w2d, folded[k], mults, shifts)
        dp = -(-p.w2d.shape[1] // fast_mve.DEPTH_BLOCK) * fast_mve.DEPTH_BLOCK
        table.append([p.taps_h, p.taps_w, dp, 4 * at])
        streams.append(s)
        at += len(s)
    fields = _geometry(f, table, max(t[2] for t in table))
    fields.update(requant=mode, blocks=const("blocks", np.concatenate(streams), "int32_t"))
    return KernelCall("pb_transpose_conv", "pb_fast_mve_tconv_s8", "pb_fast_mve_tconv_params_t", fields,
                      list(call.inputs), list(call.outputs), macs=call.macs,
                      scratch_bytes=pb_fast_mve_tconv_s8_scratch_bytes(fields), tier="mve")


def pb_fast_mve_tconv_s8_scratch_bytes(p: dict) -> int:
    """pb_fast_mve_tconv_s8's scratch (mve/pb_transpose_conv.c) for its
    pb_fast_mve_tconv_params_t fields p: two im2col rows of the deepest phase's depth_pad
    bytes."""
    return 2 * p["depth_pad"]


def accelerate(call: KernelCall, tier: str, wide: bool = False) -> KernelCall | None:
    """The tier's call for an int8 TRANSPOSE_CONV, or None where none applies (16x8 stays
    portable). wide: the DSP tier's int16 matrix-multiply weights, for the stride-1 form."""
    if call.function not in FUNCTIONS or tier not in ("dsp", "mve"):
        return None
    conv = as_convolution(call)
    if conv is not None:
        return fast_dsp.accelerate(conv, wide) if tier == "dsp" else fast_mve.accelerate(conv)
    return _dsp(call) if tier == "dsp" else _mve(call)

