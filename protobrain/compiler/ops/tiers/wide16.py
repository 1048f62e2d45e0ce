"""16x8 CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D (int16 activations, int8 weights) on
the fast tiers: templates/kernels/<tier>/pb_conv16.c and pb_depthwise_conv16.c, with what
they share in templates/kernels/pb_fast16.h.

TFLite Micro sums these layers in int64 and requantizes in int64 (pb_fast16.h says how).
Here each channel's sum is bounded from its weights (|x| <= 32768): where it fits int32,
the kernels sum in int32 (SMLAD, VMLADAVA) and requantize with one 64-bit multiply-add
whose high word is the output (PB_W16_HI); otherwise the DSP tier adds int32 partial sums
of CHUNK_BLOCKS blocks and Helium sums in int64 (VMLALDAVA), and the requantization is the
reference's (PB_W16_R64). A CONV_2D with an int32 bias, which TFLite Micro sums and
requantizes in int32, keeps that arithmetic (PB_W16_R32). Grouped convolution, a weight
zero point, a depth multiplier above 1 and depthwise channels not a multiple of 4 stay
portable.
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const
from protobrain.compiler.ops.tiers.common import pack_words, per_channel, values

MATMUL_FUNCTIONS = ("pb_conv_s16", "pb_conv_s16_b32", "pb_fully_connected_s16")
FUNCTIONS = (*MATMUL_FUNCTIONS, "pb_depthwise_conv_s16")
W16_HI, W16_R64, W16_R32, W16_MULR = 0, 1, 2, 3  # PB_W16_* in pb_fast16.h
ALLOW_MULR = True  # tests turn it off to run the HI forms where MULR would apply
WORDS = 4  # PB_W16_WORDS
DEPTH_BLOCK = 8  # depth padded to this with zero weights (Helium's 8 int16 lanes; two DSP blocks of 4)
X_MAX = 32768  # the largest |int16 input|
CHUNK_BLOCKS = (2**31 - 1) // (4 * 128 * X_MAX)  # DSP: blocks of 4 taps whose int32 sum cannot overflow
DW_CHANNELS = 4


def reduced_multiplier(m: int) -> int:
    """The multiplier rounded to 16 bits, as the 64-bit MultiplyByQuantizedMultiplier takes it."""
    return (m + (1 << 15)) >> 16 if m < 0x7FFF0000 else 0x7FFF


def quant16(w2d: np.ndarray, bias, mults, shifts, output_offset: int = 0,
            allow_mulr: bool | None = None) -> tuple[np.ndarray, int, bool]:
    """(PB_W16_WORDS words per channel, mode MULR, HI or R64, whether every channel's sum
    fits int32) for a 64-bit-requantized layer. HI folds output_offset into K', R64 adds it
    after, MULR is taken only without one (16x8 zero points are 0). allow_mulr: None for
    ALLOW_MULR."""
    peaks = np.abs(w2d.astype(np.int64)).sum(axis=1) * X_MAX
    n = len(peaks)
    bias = np.zeros(n, np.int64) if bias is None else np.asarray(bias, np.int64)
    fits32 = bool(np.all(peaks < 2**31))
    red = [reduced_multiplier(int(m)) for m in mults]
    ts = [15 - int(s) for s in shifts]
    ks = [int(b) * r + (1 << (t - 1)) for b, r, t in zip(bias, red, ts)]
    off = int(output_offset) << 32
    hi = fits32 and all(0 <= 32 - t and (r << (32 - t)) < 2**31
                        and abs((k << (32 - t)) + off) + int(p) * (r << (32 - t)) < 2**63
                        for r, t, k, p in zip(red, ts, ks, peaks))
    # MULR: sum + bias within int32, then (x * m' + 2^31) >> 32 = (x * reduced + 2^(ts-1)) >> ts
    mulr = (ALLOW_MULR if allow_mulr is None else allow_mulr) and hi and output_offset == 0 and all(
        abs(int(b)) + int(p) < 2**31 for b, p in zip(bias, peaks))
    q = np.zeros((n, WORDS), np.int64)
    for c in range(n):
        if mulr:
            q[c, 0], q[c, 1] = bias[c], red[c] << (32 - ts[c])
            continue
        k, third = ((ks[c] << (32 - ts[c])) + off, red[c] << (32 - ts[c])) if hi else (ks[c], red[c])
        q[c, 0], q[c, 1] = _words64(k)
        q[c, 2], q[c, 3] = third, 0 if hi else ts[c]
    return q, (W16_MULR if mulr else W16_HI if hi else W16_R64), fits32


def _words64(v: int) -> tuple[int, int]:
    """An int64 as (low, high) int32 words."""
    u = v & (2**64 - 1)
    lo, hi = u & 0xFFFFFFFF, u >> 32
    return lo - (1 << 32) * (lo >> 31), hi - (1 << 32) * (hi >> 31)


def _matmul_parts(call: KernelCall):
    """(w2d [out_c][depth] int8, geometry, bias or None, b32) or None where not covered."""
    f = call.fields
    if call.function in ("pb_conv_s16", "pb_conv_s16_b32"):
        if f["group_out_c"] != f["out_c"] or f["filter_c"] != f["in_c"]:
            return None
        w2d = np.asarray(f["filter"].values, np.int8).reshape(f["out_c"], -1)
        geometry = {k: f[k] for k in ("in_h", "in_w", "in_c", "out_h", "out_w", "filter_h", "filter_w", "stride_h",
                                      "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left")}
        geometry.update(rows=f["batches"] * f["out_h"] * f["out_w"], output_offset=0)
    else:
        if f["filter_offset"] != 0:
            return None
        depth, oc = f["accum_depth"], f["output_depth"]
        w2d = np.asarray(f["filter"].values, np.int8).reshape(oc, depth)
        geometry = {"rows": f["batches"], "in_h": 1, "in_w": 1, "in_c": depth, "out_h": 1, "out_w": 1,
                    "filter_h": 1, "filter_w": 1, "stride_h": 1, "stride_w": 1, "dilation_h": 1, "dilation_w": 1,
                    "pad_top": 0, "pad_left": 0, "output_offset": f["output_offset"]}
    b32 = call.function == "pb_conv_s16_b32"
    bias = values(f["bias"] if b32 else f["bias64"])
    return w2d, geometry, bias, b32


def _dsp_weights(w: np.ndarray, wide: bool) -> np.ndarray:
    """[out_c (even)][depth_pad] int8 as pb_conv16.c (DSP) reads them."""
    oc, dp = w.shape
    w = w.reshape(oc // 2, 2, dp // 4, 4).transpose(0, 2, 1, 3)  # [pair][block][channel][4]
    if wide:
        return np.ascontiguousarray(w.astype("<i2")).reshape(-1).view("<i4").astype(np.int64)
    return pack_words(w[..., [0, 2, 1, 3]])


def _mve_weights(w: np.ndarray) -> np.ndarray:
    """[out_c (multiple of 4)][depth_pad] int8 as mve/pb_conv16.c reads them: per group of
    four channels, per block of 8 taps, the four channels' 8 weights."""
    oc, dp = w.shape
    return pack_words(w.reshape(oc // 4, 4, dp // 8, 8).transpose(0, 2, 1, 3))


def pb_fast_mm_s16_scratch_bytes(p: dict) -> int:
    """pb_fast_mm_s16's scratch (dsp/pb_conv16.c): two rows of depth_pad int16 interleaved
    by blocks of 4 taps, and unless the rows are read in place (direct) the two im2col rows
    they are interleaved from."""
    return (4 if p["direct"] else 8) * p["depth_pad"]


def pb_fast_mve_mm_s16_scratch_bytes(p: dict) -> int:
    """pb_fast_mve_mm_s16's scratch (mve/pb_conv16.c): one im2col row of depth_pad int16;
    none when the rows are read in place (direct)."""
    return 0 if p["direct"] else 2 * p["depth_pad"]


def _clamp_form(fields: dict) -> str:
    """The clamp suffix of a form: int16's whole range, ReLU's [0, 32767], or any."""
    lo, hi = fields["act_min"], fields["act_max"]
    return "_s16" if (lo, hi) == (-32768, 32767) else "_relu" if (lo, hi) == (0, 32767) else ""


def mm16_form(fields: dict, tier: str) -> str:
    """The form of the tier's matrix multiply (PB_MM16_FORMS in dsp/pb_conv16.h,
    PB_MVE_MM16_FORMS in mve/) the fields select: the generated code calls it directly, so
    the choice is made here once, at generation time, not in the kernel per call."""
    mode = {W16_HI: "hi", W16_R64: "r64", W16_R32: "r32", W16_MULR: "mulr"}[fields["requant"]]
    clamp = _clamp_form(fields) if fields["requant"] in (W16_HI, W16_MULR) else ""
    if tier == "mve":
        return f"pb_fast_mve_mm16_{mode}{clamp}"
    return f"pb_fast_mm16_{'wide' if fields['wide_weights'] else 'int8'}_{mode}{clamp}"


def dw16_form(fields: dict, tier: str) -> str:
    """The form of the tier's depthwise kernel (PB_DW16_FORMS, PB_MVE_DW16_FORMS) the fields select."""
    if fields["step"] == 8:
        return "pb_fast_mve_dw16_mulr8"
    prefix = "pb_fast_mve_dw16" if tier == "mve" else "pb_fast_dw16"
    if fields["requant"] == W16_R64:
        return f"{prefix}_r64"
    return f"{prefix}_{'mulr' if fields['requant'] == W16_MULR else 'hi'}{_clamp_form(fields)}"


def _matmul(call: KernelCall, tier: str, wide: bool) -> KernelCall | None:
    parts = _matmul_parts(call)
    if parts is None:
        return None
    w2d, geometry, bias, b32 = parts
    f = call.fields
    oc, depth = w2d.shape
    mults, shifts = per_channel(f, oc)
    if b32:
        q = np.zeros((oc, WORDS), np.int64)
        q[:, 0] = 0 if bias is None else bias
        q[:, 1], q[:, 2] = mults, shifts
        mode, fits32 = W16_R32, True
    else:
        q, mode, fits32 = quant16(w2d, bias, mults, shifts, geometry["output_offset"])
        if not all(1 <= 15 - int(s) <= 63 for s in shifts):
            return None
    dp = -(-depth // DEPTH_BLOCK) * DEPTH_BLOCK
    step = 4 if tier == "mve" else 2  # channels per step
    ocp = -(-oc // step) * step
    w = np.zeros((ocp, dp), np.int8)
    w[:oc, :depth] = w2d
    qp = np.zeros((ocp, WORDS), np.int64)
    qp[:oc] = q
    direct = (geometry["filter_h"] == geometry["filter_w"] == 1 and not geometry["pad_top"]
              and not geometry["pad_left"] and depth == dp)
    blocks = dp // 4
    wide = wide and tier == "dsp"
    fields = {**geometry, "out_c": oc, "depth": depth, "depth_pad": dp, "direct": int(direct),
              "chunk": blocks if fits32 else CHUNK_BLOCKS, "requant": mode, "wide_weights": int(wide),
              "act_min": f["act_min"], "act_max": f["act_max"],
              "weights": const("weights", _mve_weights(w) if tier == "mve" else _dsp_weights(w, wide), "int32_t"),
              "quant": const("quant", qp.reshape(-1), "int32_t")}
    if tier == "mve":
        function, scratch = "pb_fast_mve_mm_s16", pb_fast_mve_mm_s16_scratch_bytes(fields)
    else:
        function, scratch = "pb_fast_mm_s16", pb_fast_mm_s16_scratch_bytes(fields)
    return KernelCall("pb_conv16", function, "pb_fast_mm16_params_t", fields, call.inputs, call.outputs,
                      macs=call.macs, scratch_bytes=scratch, takes_scratch=True, tier=tier,
                      entry=mm16_form(fields, tier))


def _depthwise(call: KernelCall, tier: str) -> KernelCall | None:
    f = call.fields
    c = f["in_c"]
    if f["depth_multiplier"] != 1 or c % DW_CHANNELS:
        return None
    taps = f["filter_h"] * f["filter_w"]
    w = np.asarray(f["filter"].values, np.int8).reshape(taps, c)
    q, mode, fits32 = quant16(w.T, values(f["bias64"]), *per_channel(f, c))
    if not fits32 or not all(1 <= 15 - int(s) <= 63 for s in per_channel(f, c)[1]):
        return None  # the kernels sum in int32
    # Helium with MULR takes 8 channels a step (VMULLB / VMULLT: even channels, odd channels)
    step = 8 if tier == "mve" and mode == W16_MULR and c % 8 == 0 else DW_CHANNELS
    layout = w.reshape(taps, c // step, step).transpose(1, 0, 2)  # [c/step][tap][step]
    fields = {k: f[k] for k in ("batches", "in_h", "in_w", "out_h", "out_w", "filter_h", "filter_w", "stride_h",
                                "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left", "act_min", "act_max")}
    if step == 8:  # per group of 8: biases of channels 0 2 4 6, of 1 3 5 7, then their multipliers
        b, m = (q[:, k].reshape(-1, 4, 2).transpose(0, 2, 1).reshape(-1, 8) for k in (0, 1))
        q = np.concatenate([b, m], axis=1)
    elif mode == W16_MULR:  # per group of 4 channels: their biases, their multipliers, 8 zero words
        q = np.concatenate([q[:, 0].reshape(-1, 4), q[:, 1].reshape(-1, 4), np.zeros((c // 4, 8), np.int64)], axis=1)
    fields.update(channels=c, requant=mode, step=step,
                  weights=const("weights", np.ascontiguousarray(layout.astype("<i2")).reshape(-1).view("<i4")
                                .astype(np.int64), "int32_t"),
                  quant=const("quant", q.reshape(-1), "int32_t"))
    function = "pb_fast_mve_dw_s16" if tier == "mve" else "pb_fast_dw_s16"
    return KernelCall("pb_depthwise_conv16", function, "pb_fast_dw16_params_t", fields, call.inputs, call.outputs,
                      macs=call.macs, tier=tier, entry=dw16_form(fields, tier))


def accelerate(call: KernelCall, tier: str, wide: bool = False) -> KernelCall | None:
    """The tier's ("dsp" or "mve") 16x8 call, or None where it does not apply. wide: (DSP)
    matrix-multiply weights stored as int16."""
    if tier not in ("dsp", "mve") or call.function not in FUNCTIONS:
        return None
    if call.function == "pb_depthwise_conv_s16":
        return _depthwise(call, tier)
    return _matmul(call, tier, wide)
