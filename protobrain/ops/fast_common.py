"""What every fast tier shares: the layer's operands as a matrix multiply or a depthwise
window, the per-channel requantization words, and int8 bytes packed as const words.

The portable lowering (conv2d.py, ...) computes every constant the way TFLite Micro does;
the tier modules (fast_dsp.py, fast_mve.py) take its call and move to generation time all
that does not depend on the input: the input offset folded into the bias, the output offset
and rounding folded into one constant per channel when the accumulator's bound allows it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import ConstArray, KernelCall, const

REQUANT_EXACT, REQUANT_FAST = 0, 1  # PB_REQUANT_EXACT / PB_REQUANT_FAST in pb_fast.h
QUANT_WORDS = 4  # PB_QUANT_WORDS: bias', multiplier, shift, rounding per channel
DW_MAX_TAPS = 64  # PB_FAST_DW_MAX_TAPS


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


def quant_words(bias_folded, mults, shifts, peaks, output_offset, channels_padded) -> tuple[np.ndarray, int]:
    """The per-channel words (bias', multiplier, shift, rounding) and the requant mode.

    FAST needs, for every channel, a right shift (TFLite shift <= -1) and room in int32:
    |2 * acc| < 2^31 for the doubled high multiply, and the shifted value plus rounding and
    the output offset times 2^shift must not overflow either."""
    rs = -shifts
    fast = bool(np.all(rs >= 1)) and all(
        2 * int(p) < 2**31 and int(p) + 2 + 2 ** (int(r) - 1) + 128 * 2 ** int(r) < 2**31
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
    """A CONV_2D or FULLY_CONNECTED as rows (output pixels) x depth (taps) x out_c."""
    w2d: np.ndarray        # [out_c][depth] int8
    geometry: dict         # pb_fast_mm_params_t's shape fields
    input_offset: int

    @property
    def out_c(self) -> int:
        return self.w2d.shape[0]

    @property
    def depth(self) -> int:
        return self.w2d.shape[1]


def matmul(call: KernelCall) -> MatMul | None:
    """The call as a matrix multiply, or None where the fast kernels do not cover it
    (grouped convolution, a non-zero weight zero point)."""
    f = call.fields
    if call.function == "pb_conv_s8":
        if f["group_out_c"] != f["out_c"] or f["filter_c"] != f["in_c"]:
            return None
        w2d = np.asarray(f["filter"].values, np.int8).reshape(f["out_c"], -1)
        geometry = {k: f[k] for k in ("in_h", "in_w", "in_c", "out_h", "out_w", "filter_h", "filter_w", "stride_h",
                                      "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left")}
        geometry["rows"] = f["batches"] * f["out_h"] * f["out_w"]
        return MatMul(w2d, geometry, f["input_offset"])
    if call.function == "pb_fully_connected_s8":
        if f["filter_offset"] != 0:
            return None
        depth, oc = f["accum_depth"], f["output_depth"]
        w2d = np.asarray(f["filter"].values, np.int8).reshape(oc, depth)
        geometry = {"rows": f["batches"], "in_h": 1, "in_w": 1, "in_c": depth, "out_h": 1, "out_w": 1,
                    "filter_h": 1, "filter_w": 1, "stride_h": 1, "stride_w": 1, "dilation_h": 1, "dilation_w": 1,
                    "pad_top": 0, "pad_left": 0}
        return MatMul(w2d, geometry, f["input_offset"])
    return None


def matmul_fields(call: KernelCall, mm: MatMul, depth_pad: int) -> dict:
    """pb_fast_mm_params_t's fields but the weights and wide_weights: the folded quant words
    for out_c rounded up to even."""
    f = call.fields
    bias = values(f["bias"])
    mults, shifts = per_channel(f, mm.out_c)
    folded = (bias if bias is not None else 0) + mm.input_offset * mm.w2d.astype(np.int64).sum(axis=1)
    q, mode = quant_words(folded, mults, shifts, peaks(mm.w2d, bias, mm.input_offset), f["output_offset"],
                          mm.out_c + mm.out_c % 2)
    return {**mm.geometry, "out_c": mm.out_c, "depth": mm.depth, "depth_pad": depth_pad,
            "pad_value": -mm.input_offset, "output_offset": f["output_offset"], "act_min": f["act_min"],
            "act_max": f["act_max"], "requant": mode, "quant": const("quant", q.reshape(-1), "int32_t")}


def depthwise_supported(call: KernelCall, channels_per_step: int) -> bool:
    f = call.fields
    return (call.function == "pb_depthwise_conv_s8" and f["depth_multiplier"] == 1
            and f["in_c"] % channels_per_step == 0 and f["filter_h"] * f["filter_w"] <= DW_MAX_TAPS)


def depthwise_parts(call: KernelCall) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, dict]:
    """(weights [tap][channel] int8, plain bias int64, quant words, requant mode, the
    pb_fast_dw_params_t fields but weights and quant)."""
    f = call.fields
    c = f["in_c"]
    taps = f["filter_h"] * f["filter_w"]
    w = np.asarray(f["filter"].values, np.int8).reshape(taps, c)
    bias = values(f["bias"])
    bias = np.zeros(c, np.int64) if bias is None else bias.astype(np.int64)
    mults, shifts = per_channel(f, c)
    folded = bias + f["input_offset"] * w.astype(np.int64).sum(axis=0)
    q, mode = quant_words(folded, mults, shifts, peaks(w.T, bias, f["input_offset"]), f["output_offset"], c)
    fields = {k: f[k] for k in ("batches", "in_h", "in_w", "out_h", "out_w", "filter_h", "filter_w", "stride_h",
                                "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left", "input_offset",
                                "output_offset", "act_min", "act_max")}
    fields.update(channels=c, requant=mode,
                  pad=const("pad", pack_words(np.full(c, -f["input_offset"])), "int32_t"))
    return w, bias, q, mode, fields
