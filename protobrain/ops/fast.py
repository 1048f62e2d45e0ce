"""Kernel tiers: the same int8 CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D, re-laid out
for the fast kernels in templates/kernels/pb_fast.c.

The portable lowering (conv2d.py, ...) computes every constant the way TFLite Micro does;
this module takes its call and, for the tier the board's core allows, rewrites it:

- "portable": unchanged (plain C, any core).
- "dsp": Arm DSP extension (Cortex-M4/M7/M33): SXTB16 + SMLAD on int16 pairs.
- "mve": Helium (Cortex-M55): 16 int8 MACs per VMLADAVA.

Everything that does not depend on the input moves here, to generation time: weights in
the tier's block order, the input offset folded into the bias, the output offset and
rounding folded into one constant per channel when the accumulator's bound allows it.
The int8 ADD of two same-shape tensors becomes two 256-entry tables and one requantization
(fast_add.py). Calls the fast kernels do not cover (grouped convolution, depth multiplier
> 1, a non-zero weight zero point, 16x8) stay portable.
"""

from __future__ import annotations

import numpy as np

from .base import ConstArray, KernelCall, const
from .fast_add import accelerate_add

TIERS = ("portable", "dsp", "mve")

# Depth is padded to a multiple of this (zero weights), so inner loops have no tail.
_DEPTH_BLOCK = {"dsp": 8, "mve": 16}
# Depthwise channels per step, and the most taps a window may have (PB_FAST_DW_MAX_TAPS).
_DW_CHANNELS = {"dsp": 4, "mve": 8}
DW_MAX_TAPS = 64

REQUANT_EXACT, REQUANT_FAST = 0, 1


def tier_for(features) -> str:
    """The fastest tier a core with these board features (boards/*.toml) runs."""
    features = set(features)
    return "mve" if "mve" in features else "dsp" if "dsp" in features else "portable"


def _values(field) -> np.ndarray | None:
    return np.asarray(field.values) if isinstance(field, ConstArray) else None


def _per_channel(fields: dict, channels: int) -> tuple[np.ndarray, np.ndarray]:
    mults, shifts = _values(fields["mults"]), _values(fields["shifts"])
    if mults is None:
        mults = np.full(channels, fields["mult"], np.int64)
        shifts = np.full(channels, fields["shift"], np.int64)
    return mults.astype(np.int64), shifts.astype(np.int64)


def _wrap32(v: np.ndarray) -> np.ndarray:
    return ((np.asarray(v, np.int64) + 2**31) % 2**32 - 2**31).astype(np.int64)


def _quant(bias_folded, mults, shifts, peaks, output_offset, channels_padded) -> tuple[np.ndarray, int]:
    """The per-channel words (bias', multiplier, shift, rounding) and the requant mode.

    FAST needs, for every channel, a right shift (TFLite shift <= -1) and room in int32:
    |2 * acc| < 2^31 for the doubled high multiply, and the shifted value plus rounding and
    the output offset times 2^shift must not overflow either."""
    rs = -shifts
    fast = bool(np.all(rs >= 1)) and all(
        2 * int(p) < 2**31 and int(p) + 2 + 2 ** (int(r) - 1) + 128 * 2 ** int(r) < 2**31
        for p, r in zip(peaks, rs))
    q = np.zeros((channels_padded, 4), np.int64)
    n = len(mults)
    q[:n, 0] = _wrap32(bias_folded)
    q[:n, 1] = mults
    if fast:
        q[:n, 2] = rs
        q[:n, 3] = 2 ** (rs - 1) + int(output_offset) * 2**rs
    else:
        q[:n, 2] = shifts
    return q, REQUANT_FAST if fast else REQUANT_EXACT


def _peaks(w2d: np.ndarray, bias, input_offset: int) -> np.ndarray:
    """The largest |accumulator| each output channel can reach (as require_int32_accumulator)."""
    xmax = max(abs(-128 + input_offset), abs(127 + input_offset))
    peak = np.abs(w2d.astype(np.int64)).sum(axis=1) * xmax
    return peak + (np.abs(bias.astype(np.int64)) if bias is not None else 0)


def _pack_words(b: np.ndarray) -> np.ndarray:
    """int8 bytes, in memory order, as the little-endian int32 words a const array holds
    (word-aligned, so the kernels may load them with LDRD/LDM)."""
    return np.ascontiguousarray(b.astype(np.int8).reshape(-1)).view("<i4").astype(np.int64)


def _mm_weights(w2d: np.ndarray, tier: str, wide: bool) -> tuple[np.ndarray, int]:
    oc, depth = w2d.shape
    block = _DEPTH_BLOCK[tier]
    dp = -(-depth // block) * block
    ocp = oc + (oc % 2)
    w = np.zeros((ocp, dp), np.int8)
    w[:oc, :depth] = w2d
    if tier != "dsp":
        return _pack_words(w), dp
    w = w.reshape(ocp // 2, 2, dp // 4, 4).transpose(0, 2, 1, 3)  # [pair][block of 4][2 channels][4]
    if not wide:
        return _pack_words(w), dp
    # int16 pairs in SXTB16 order, (w0, w2) then (w1, w3), so the kernel needs no widening
    v = w.astype(np.int64)
    return _wrap32(np.stack([(v[..., 0] & 0xFFFF) | (v[..., 2] << 16),
                             (v[..., 1] & 0xFFFF) | (v[..., 3] << 16)], axis=-1)).reshape(-1), dp


def _mm_call(call: KernelCall, tier: str, w2d: np.ndarray, geometry: dict, input_offset: int,
             wide: bool) -> KernelCall:
    f = call.fields
    oc, depth = w2d.shape
    bias = _values(f["bias"])
    mults, shifts = _per_channel(f, oc)
    folded = (bias if bias is not None else 0) + input_offset * w2d.astype(np.int64).sum(axis=1)
    wide = wide and tier == "dsp"
    words, dp = _mm_weights(w2d, tier, wide)
    q, mode = _quant(folded, mults, shifts, _peaks(w2d, bias, input_offset), f["output_offset"], oc + oc % 2)
    fields = {**geometry, "out_c": oc, "depth": depth, "depth_pad": dp, "pad_value": -input_offset,
              "output_offset": f["output_offset"], "act_min": f["act_min"], "act_max": f["act_max"],
              "requant": mode, "wide_weights": int(wide), "weights": const("weights", words, "int32_t"),
              "quant": const("quant", q.reshape(-1), "int32_t")}
    # the im2col rows (widened on the DSP tier), then two int32 accumulators per channel
    scratch = (5 * dp if tier == "dsp" else 2 * dp) + 8 * (oc + oc % 2)
    return KernelCall("pb_fast", "pb_fast_mm_s8", "pb_fast_mm_params_t", fields, call.inputs, call.outputs,
                      macs=call.macs, scratch_bytes=scratch)


def _conv(call: KernelCall, tier: str, wide: bool) -> KernelCall | None:
    f = call.fields
    if f["group_out_c"] != f["out_c"] or f["filter_c"] != f["in_c"]:
        return None
    oc = f["out_c"]
    w2d = np.asarray(f["filter"].values, np.int8).reshape(oc, -1)
    geometry = {k: f[k] for k in ("in_h", "in_w", "in_c", "out_h", "out_w", "filter_h", "filter_w", "stride_h",
                                  "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left")}
    geometry["rows"] = f["batches"] * f["out_h"] * f["out_w"]
    return _mm_call(call, tier, w2d, geometry, f["input_offset"], wide)


def _fully_connected(call: KernelCall, tier: str, wide: bool) -> KernelCall | None:
    f = call.fields
    if f["filter_offset"] != 0:
        return None
    depth, oc = f["accum_depth"], f["output_depth"]
    w2d = np.asarray(f["filter"].values, np.int8).reshape(oc, depth)
    geometry = {"rows": f["batches"], "in_h": 1, "in_w": 1, "in_c": depth, "out_h": 1, "out_w": 1,
                "filter_h": 1, "filter_w": 1, "stride_h": 1, "stride_w": 1, "dilation_h": 1, "dilation_w": 1,
                "pad_top": 0, "pad_left": 0}
    return _mm_call(call, tier, w2d, geometry, f["input_offset"], wide)


def _depthwise(call: KernelCall, tier: str, wide: bool) -> KernelCall | None:
    f = call.fields
    c = f["in_c"]
    taps = f["filter_h"] * f["filter_w"]
    if f["depth_multiplier"] != 1 or c % _DW_CHANNELS[tier] or taps > DW_MAX_TAPS:
        return None
    w = np.asarray(f["filter"].values, np.int8).reshape(taps, c)
    bias = _values(f["bias"])
    bias = np.zeros(c, np.int64) if bias is None else bias.astype(np.int64)
    mults, shifts = _per_channel(f, c)
    folded = bias + f["input_offset"] * w.astype(np.int64).sum(axis=0)
    q, mode = _quant(folded, mults, shifts, _peaks(w.T, bias, f["input_offset"]), f["output_offset"], c)
    # MVE skips the taps a border cuts, so those pixels start from the plain bias; the DSP
    # tier reads a zero-point row for them instead and needs only the folded one
    quant = np.concatenate([q.reshape(-1), _wrap32(bias)]) if tier == "mve" else q.reshape(-1)
    if tier == "dsp":  # per group of 4 channels, per tap: int16 pairs (w0, w2), (w1, w3)
        g = w.astype(np.int64).reshape(taps, c // 4, 4).transpose(1, 0, 2)
        lo, hi = g[..., [0, 1]], g[..., [2, 3]]
        words = _wrap32((lo & 0xFFFF) | (hi << 16)).reshape(-1)
    else:
        words = _pack_words(w)
    fields = {k: f[k] for k in ("batches", "in_h", "in_w", "out_h", "out_w", "filter_h", "filter_w", "stride_h",
                                "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left", "input_offset",
                                "output_offset", "act_min", "act_max")}
    fields.update(channels=c, requant=mode, weights=const("weights", words, "int32_t"),
                  quant=const("quant", quant, "int32_t"), pad=const("pad", _pack_words(np.full(c, -f["input_offset"])), "int32_t"))
    return KernelCall("pb_fast", "pb_fast_dw_s8", "pb_fast_dw_params_t", fields, call.inputs, call.outputs,
                      macs=call.macs, scratch_bytes=4 * c)  # one pixel's int32 accumulators


def _add(call: KernelCall, tier: str, wide: bool) -> KernelCall | None:
    return accelerate_add(call, tier)


_FAST = {"pb_conv_s8": _conv, "pb_fully_connected_s8": _fully_connected, "pb_depthwise_conv_s8": _depthwise,
         "pb_add_s8": _add}


def accelerate(call: KernelCall, tier: str, wide_weights: bool = False) -> KernelCall:
    """The tier's fast call for this portable call, or the call itself where none applies.
    wide_weights: (DSP tier) store matrix-multiply weights as int16, twice the flash."""
    if tier not in TIERS:
        raise ValueError(f"unknown kernel tier {tier!r}; choose one of {', '.join(TIERS)}")
    fn = _FAST.get(call.function) if tier != "portable" else None
    fast = fn(call, tier, wide_weights) if fn else None
    return fast or call


def accelerate_all(calls: list[KernelCall], tier: str, flash_budget: int | None = None) -> list[KernelCall]:
    """accelerate every call; on the DSP tier the weights are stored as int16 when the
    widened matrix-multiply weights take at most half of flash_budget (bytes; None: the
    flash is not known, keep int8)."""
    mm = [c for c in calls if c.function in ("pb_conv_s8", "pb_fully_connected_s8")]
    widened = 2 * sum(c.fields["filter"].nbytes for c in mm)
    wide = tier == "dsp" and flash_budget is not None and widened <= flash_budget // 2
    return [accelerate(c, tier, wide) for c in calls]
