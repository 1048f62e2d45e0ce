"""What every fast tier shares: the layer's operands as a matrix multiply or a depthwise
window, the per-channel requantization words, and int8 bytes packed as const words.

The portable lowering (conv2d.py, ...) computes every constant the way TFLite Micro does;
the tier modules (dsp.py, mve.py) take its call and move to generation time all
that does not depend on the input: the input offset folded into the bias, the output offset
and rounding folded into one constant per channel when the accumulator's bound allows it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from protobrain.compiler.fixedpoint import mul_by_quantized_mult
from protobrain.compiler.ops.base import ConstArray, KernelCall, const

REQUANT_EXACT, REQUANT_FAST = 0, 1  # PB_REQUANT_* in dsp/pb_requant.h
QUANT_WORDS = 4  # PB_QUANT_WORDS: bias', multiplier, shift, rounding per channel
DW_MAX_TAPS = 64  # PB_FAST_DW_MAX_TAPS in dsp/pb_depthwise_conv.h


def values(field) -> np.ndarray | None:
    return np.asarray(field.values) if isinstance(field, ConstArray) else None


def per_channel(fields: dict, channels: int) -> tuple[np.ndarray, np.ndarray]:
    mults, shifts = values(fields["mults"]), values(fields["shifts"])
    if mults is None:
        mults = np.full(channels, fields["mult"], np.int64)
        shifts = np.full(channels, fields["shift"], np.int64)
    return mults.astype(np.int64), shifts.astype(np.int64)


def wrap32(v: np.ndarray) -> np.ndarray:
    return ((np.asarray(v, np.int64) + 2**31) % 2**32 - 2**31).astype(np.int64)


def _rounding_fits(v_peak: int, right: int) -> bool:
    """After the high multiply, |v| <= v_peak: v, its sign fix, the rounding 2^(right-1) and
    the output offset times 2^right (at most 128 * 2^right either way) stay within int32
    (|v| <= |acc|: the multiplier is below 2^31)."""
    return v_peak + 2 + 2 ** (right - 1) + 128 * 2 ** right < 2**31


def quant_words(bias_folded, mults, shifts, peaks, output_offset, channels_padded) -> tuple[np.ndarray, int]:
    """The per-channel words (bias', multiplier, shift, rounding) and the requant mode.

    FAST needs, for every channel, a right shift (TFLite shift <= -1), so the rounding and
    the output offset fold into one constant added before that shift, and |2 * acc| < 2^31:
    the doubled accumulator is the operand of one rounded high multiply (SMMULR). EXACT is
    TFLite's arithmetic step by step, for everything else."""
    rs = -shifts
    fast = bool(np.all(rs >= 1)) and all(2 * int(p) < 2**31 and _rounding_fits(int(p), int(r))
                                         for p, r in zip(peaks, rs))
    q = np.zeros((channels_padded, QUANT_WORDS), np.int64)
    n = len(mults)
    q[:n, 0] = wrap32(bias_folded)
    q[:n, 1] = mults
    if fast:
        q[:n, 2] = rs
        q[:n, 3] = 2 ** (rs - 1) + int(output_offset) * 2**rs
    else:
        q[:n, 2] = shifts
    return q, REQUANT_FAST if fast else REQUANT_EXACT


def peaks(w2d: np.ndarray, bias, input_offset: int) -> np.ndarray:
    """The largest |accumulator| each output channel can reach (as require_int32_accumulator)."""
    xmax = max(abs(-128 + input_offset), abs(127 + input_offset))
    peak = np.abs(w2d.astype(np.int64)).sum(axis=1) * xmax
    return peak + (np.abs(bias.astype(np.int64)) if bias is not None else 0)


def pack_words(b: np.ndarray) -> np.ndarray:
    """int8 bytes, in memory order, as the little-endian int32 words a const array holds
    (word-aligned, so the kernels may load them with LDRD/LDM)."""
    return np.ascontiguousarray(b.astype(np.int8).reshape(-1)).view("<i4").astype(np.int64)


@dataclass
class MatMul:
    """A CONV_2D or FULLY_CONNECTED as rows (output pixels) x depth (taps) x out_c.

    Output channels whose weights are all zero put out one constant whatever the input
    (the requantized bias): with `live` set, w2d holds only the other channels, the kernel
    computes those and stores them at their channel (out_index), and every output row
    starts as a copy of const_row, which holds the constants."""
    w2d: np.ndarray        # [computed channels][depth] int8
    geometry: dict         # pb_fast_mm_params_t's shape fields
    input_offset: int
    out_total: int         # the layer's output channels
    live: np.ndarray | None = None  # the computed channels' indices, when some are skipped

    @property
    def out_c(self) -> int:
        return self.w2d.shape[0]

    @property
    def depth(self) -> int:
        return self.w2d.shape[1]

    def per_computed(self, v):
        """A per-output-channel array (or a scalar) for the computed channels only."""
        if self.live is None or np.ndim(v) == 0:
            return v
        return np.asarray(v)[self.live]


def matmul(call: KernelCall, skip_dead: bool = False) -> MatMul | None:
    """The call as a matrix multiply, or None where the fast kernels do not cover it
    (grouped convolution, a non-zero weight zero point). skip_dead: leave out the output
    channels whose weights are all zero (for kernels that take out_index and const_row)."""
    f = call.fields
    if call.function == "pb_conv_s8":
        if f["group_out_c"] != f["out_c"] or f["filter_c"] != f["in_c"]:
            return None
        w2d = np.asarray(f["filter"].values, np.int8).reshape(f["out_c"], -1)
        geometry = {k: f[k] for k in ("in_h", "in_w", "in_c", "out_h", "out_w", "filter_h", "filter_w", "stride_h",
                                      "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left")}
        geometry["rows"] = f["batches"] * f["out_h"] * f["out_w"]
    elif call.function == "pb_fully_connected_s8":
        if f["filter_offset"] != 0:
            return None
        depth, oc = f["accum_depth"], f["output_depth"]
        w2d = np.asarray(f["filter"].values, np.int8).reshape(oc, depth)
        geometry = {"rows": f["batches"], "in_h": 1, "in_w": 1, "in_c": depth, "out_h": 1, "out_w": 1,
                    "filter_h": 1, "filter_w": 1, "stride_h": 1, "stride_w": 1, "dilation_h": 1, "dilation_w": 1,
                    "pad_top": 0, "pad_left": 0}
    else:
        return None
    mm = MatMul(w2d, geometry, f["input_offset"], w2d.shape[0])
    dead = np.all(w2d == 0, axis=1)
    if skip_dead and dead.any() and not dead.all():
        mm.live = np.flatnonzero(~dead)
        mm.w2d = w2d[mm.live]
    return mm


def _constant_outputs(call: KernelCall, mm: MatMul) -> np.ndarray:
    """Every output channel's value when its weights are all zero: the bias requantized."""
    f = call.fields
    bias = values(f["bias"])
    bias = np.zeros(mm.out_total, np.int64) if bias is None else bias.astype(np.int64)
    mults, shifts = per_channel(f, mm.out_total)
    v = [mul_by_quantized_mult(int(b), int(m), int(s)) for b, m, s in zip(bias, mults, shifts)]
    return np.clip(np.asarray(v, np.int64) + f["output_offset"], f["act_min"], f["act_max"])


def computed_channels(call: KernelCall, mm: MatMul) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
    """For the computed channels: the bias (None when the layer has none), bias' (the input
    offset folded in), the multipliers and the shifts."""
    bias = values(call.fields["bias"])
    bias = mm.per_computed(bias).astype(np.int64) if bias is not None else None
    folded = (bias if bias is not None else 0) + mm.input_offset * mm.w2d.astype(np.int64).sum(axis=1)
    mults, shifts = (mm.per_computed(v) for v in per_channel(call.fields, mm.out_total))
    return bias, np.broadcast_to(folded, (mm.out_c,)), mults, shifts


def matmul_fields(call: KernelCall, mm: MatMul, depth_pad: int) -> dict:
    """pb_fast_mm_params_t's fields but the weights and wide_weights: the folded quant words
    of the computed channels rounded up to even, and where channels are skipped, where the
    computed ones go and the constant row."""
    f = call.fields
    bias, folded, mults, shifts = computed_channels(call, mm)
    q, mode = quant_words(folded, mults, shifts, peaks(mm.w2d, bias, mm.input_offset), f["output_offset"],
                          mm.out_c + mm.out_c % 2)
    fields = {**mm.geometry, "out_c": mm.out_c, "out_stride": mm.out_total, "depth": mm.depth,
              "depth_pad": depth_pad, "pad_value": -mm.input_offset, "output_offset": f["output_offset"],
              "act_min": f["act_min"], "act_max": f["act_max"], "requant": mode,
              "quant": const("quant", q.reshape(-1), "int32_t"), "out_index": "NULL", "const_row": "NULL"}
    if mm.live is not None:
        # padded to a multiple of 4 with the last channel (read, never stored, by the tails)
        index = np.concatenate([mm.live, np.full(-len(mm.live) % 4, mm.live[-1])])
        fields.update(out_index=const("out_index", index, "int32_t"),
                      const_row=const("const_row", pack_words(np.concatenate(
                          [_constant_outputs(call, mm), np.zeros(-mm.out_total % 4, np.int64)])), "int32_t"))
    return fields


def depthwise_supported(call: KernelCall, channels_per_step: int) -> bool:
    """The tier's depthwise kernel takes the call: whole steps of input channels (each
    step's outputs are computed once per multiplier, pb_fast_*dw_params_t's multiplier)."""
    f = call.fields
    return (call.function == "pb_depthwise_conv_s8" and f["in_c"] % channels_per_step == 0
            and f["filter_h"] * f["filter_w"] <= DW_MAX_TAPS)


def depthwise_as_conv_pays(call: KernelCall, channels_per_step: int) -> bool:
    """Fewer input channels than the depthwise kernel's step: the matrix multiply over the
    equal CONV_2D (depthwise_as_conv) computes in_c times the MACs, at most step - 1 of them
    zeros, and is still several times faster than the portable loop."""
    f = call.fields
    return call.function == "pb_depthwise_conv_s8" and f["in_c"] < channels_per_step


def depthwise_as_conv(call: KernelCall) -> KernelCall:
    """A depthwise call as the CONV_2D it equals, for the matrix-multiply kernels: output
    channel o = i * multiplier + m reads input channel i only, so its filter row holds the
    depthwise taps at channel i and zeros at the others (none when in_c is 1: micro_speech's
    one-channel spectrogram under a multiplier of 8). The MACs stay the depthwise's."""
    f = call.fields
    ic, dm = f["in_c"], f["depth_multiplier"]
    oc, taps = ic * dm, f["filter_h"] * f["filter_w"]
    w = np.asarray(f["filter"].values, np.int8).reshape(taps, oc)
    dense = np.zeros((oc, taps, ic), np.int8)
    dense[np.arange(oc), :, np.arange(oc) // dm] = w.T
    fields = {k: v for k, v in f.items() if k != "depth_multiplier"}
    fields.update(out_c=oc, filter_c=ic, group_out_c=oc,
                  filter=const("filter", dense.reshape(-1), "int8_t"))
    return KernelCall("pb_conv", "pb_conv_s8", "pb_conv_params_t", fields, call.inputs, call.outputs,
                      macs=call.macs)


def pass_order(in_c: int, multiplier: int) -> np.ndarray:
    """The depthwise kernels' output channel order: pass m (0..multiplier-1) computes
    channels c * multiplier + m for every input channel c."""
    return np.arange(in_c * multiplier).reshape(in_c, multiplier).T.reshape(-1)


def depthwise_parts(call: KernelCall) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, dict]:
    """(weights [tap][output channel] int8, plain bias int64, quant words, requant mode,
    the pb_fast_dw_params_t fields but weights and quant), the channels in pass order."""
    f = call.fields
    c, dm = f["in_c"], f["depth_multiplier"]
    order = pass_order(c, dm)
    taps = f["filter_h"] * f["filter_w"]
    w = np.asarray(f["filter"].values, np.int8).reshape(taps, c * dm)[:, order]
    bias = values(f["bias"])
    bias = np.zeros(c * dm, np.int64) if bias is None else bias.astype(np.int64)[order]
    mults, shifts = (v[order] for v in per_channel(f, c * dm))
    folded = bias + f["input_offset"] * w.astype(np.int64).sum(axis=0)
    q, mode = quant_words(folded, mults, shifts, peaks(w.T, bias, f["input_offset"]), f["output_offset"], c * dm)
    fields = {k: f[k] for k in ("batches", "in_h", "in_w", "out_h", "out_w", "filter_h", "filter_w", "stride_h",
                                "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left", "input_offset",
                                "output_offset", "act_min", "act_max")}
    fields.update(channels=c, multiplier=dm, requant=mode,
                  pad=const("pad", pack_words(np.full(-(-c // 4) * 4, -f["input_offset"])), "int32_t"))
    return w, bias, q, mode, fields
