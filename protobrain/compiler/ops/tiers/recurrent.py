"""The fast tiers' recurrent kernels: the int8 LSTM and SVDF with their matrix rows laid out
for the DSP tier's SXTB16 + SMLAD (templates/kernels/dsp/pb_lstm.c, pb_svdf.c) and
Helium's VMLADAVA (templates/kernels/mve/pb_lstm.c, pb_svdf.c).

Both kernels multiply four rows per pass over their input vector: an LSTM unit's four gate
rows (input, forget, cell, output) of the input matrix and of the recurrent one, and four
SVDF filters' feature rows. Rows are int8 packed into words, zero-padded to the tier's
block (4 bytes for SMLAD pairs, 16 for one Helium vector), the four rows interleaved
block by block; the portable lowering's folded
constants (lstm.py, svdf.py) are reordered to match. Everything else (the cell, the state
shift, the time weights) is the portable kernels' arithmetic; the LSTM's requantizations
and the SVDF's are one rounded high multiply each where the generator proves that exact
(lstm_fast_requant, svdf_fast_requant), and saturate with SSAT.
The 16x8 LSTM stays portable.
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const
from protobrain.compiler.ops.tiers.common import pack_words, values

ROW_BLOCK = {"dsp": 4, "mve": 16}  # bytes a packed row is padded to
RECURRENT_FUNCTIONS = ("pb_lstm_s8", "pb_svdf_s8", "pb_svdf_s8_s16")
_NAMES = {  # (function, struct) per tier and portable function
    ("dsp", "pb_lstm_s8"): ("pb_fast_lstm_s8", "pb_fast_lstm_params_t"),
    ("dsp", "pb_svdf_s8"): ("pb_fast_svdf_s8", "pb_fast_svdf_params_t"),
    ("dsp", "pb_svdf_s8_s16"): ("pb_fast_svdf_s8_s16", "pb_fast_svdf_params_t"),
    ("mve", "pb_lstm_s8"): ("pb_fast_mve_lstm_s8", "pb_fast_mve_lstm_params_t"),
    ("mve", "pb_svdf_s8"): ("pb_fast_mve_svdf_s8", "pb_fast_mve_svdf_params_t"),
    ("mve", "pb_svdf_s8_s16"): ("pb_fast_mve_svdf_s8_s16", "pb_fast_mve_svdf_params_t"),
}
_LSTM_CELL = ("batches", "steps", "input_size", "units", "time_major", "mults", "shifts", "cell_tanh_mult",
              "cell_tanh_shift", "forget_mult", "forget_shift", "update_mult", "update_shift", "hidden_mult",
              "hidden_shift", "hidden_zp", "hidden_min", "hidden_max", "cell_clip", "sigmoid")
_SVDF_KEPT = ("batches", "input_size", "filters", "units", "rank", "memory", "state_zp", "state_min", "state_max",
              "feature_mult", "feature_shift", "output_mult", "output_shift", "output_zp", "w_time", "w_time16",
              "unit_bias")


def packed_rows(rows: np.ndarray, block: int, wide: bool = False) -> tuple[np.ndarray, int]:
    """[R][n] int8 rows, R a multiple of 4, as int32 words, each row zero-padded to a multiple
    of `block` bytes and each four rows interleaved block by block (the dot products walk
    one pointer: row 0's first block, row 1's, row 2's, row 3's, then their second blocks);
    and the words per row. wide (DSP tier, block 4): each block's values 0..3 as int16 in the
    order 0, 2, 1, 3, the two words SMLAD takes against SXTB16's halves of an input word."""
    r, n = rows.shape
    blocks = -(-n // block)
    padded = np.zeros((r, blocks * block), np.int64)
    padded[:, :n] = rows
    if wide:
        padded = padded.reshape(r, blocks, block)[:, :, [0, 2, 1, 3]].reshape(r, -1)
        block *= 2  # bytes of a block
    interleaved = padded.reshape(r // 4, 4, blocks, -1).transpose(0, 2, 1, 3).reshape(r, -1)
    if wide:
        data = np.ascontiguousarray(interleaved.astype("<i2")).view(np.int8)
        return pack_words(data), blocks * block // 4
    return pack_words(interleaved), blocks * block // 4


def lstm_fast_requant(f: dict) -> bool:
    """Whether every requantization of the int8 LSTM (the 8 gate layers', the cell's and the
    hidden state's) may be one rounded high multiply of 2 * acc (the kernels' pb_fast_requant):
    no shift is a left shift, no multiplier negative (the DSP tier reads the rounding's sign
    from acc) and every |2 * acc| < 2^31. The gate accumulators' bound
    comes from the weights (raw int8 inputs, the offsets in the folded constants); the cell
    products are of two values of at most 2^15 each, below 2^30."""
    shifts = [*values(f["shifts"]), f["forget_shift"], f["update_shift"], f["hidden_shift"]]
    mults = [*values(f["mults"]), f["forget_mult"], f["update_mult"], f["hidden_mult"]]
    if max(int(s) for s in shifts) > 0 or min(int(m) for m in mults) < 0:
        return False
    for w, b in (("w_input", "bias_input"), ("w_recurrent", "bias_recurrent")):
        bias = values(f[b]).astype(np.int64)
        rows = values(f[w]).astype(np.int64).reshape(len(bias), -1)
        peak = np.abs(bias) + 128 * np.abs(rows).sum(axis=1)
        if 2 * int(peak.max()) >= 2**31:
            return False
    return True


def lstm_activation_words(table: np.ndarray, first: int, last: int) -> np.ndarray:
    """(DSP tier, int16 rows) the int16 sigmoid's or tanh's interpolation as one SMLAD per value:
    for each node j in first..last of the signed grid, a word of two int16,
    T(j) - 2^15 and T(j+1) - T(j), where T(j) is the sigmoid table's node j (table: its 257
    nodes, the last 0xFFFF) and 2^16 - node -j below 0, the mirror sigmoid(-x) = 1 - sigmoid(x)
    that the portable kernels compute from |x|. Node first takes the kernel's index 0
    (pb_dsp_lstm_sigmoid, pb_dsp_lstm_tanh)."""
    j = np.arange(first, last + 2)
    t = np.asarray(table, np.int64)
    nodes = np.where(j >= 0, t[np.clip(j, 0, 256)], 65536 - t[np.clip(-j, 0, 256)])
    low, step = nodes[:-1] - 32768, nodes[1:] - nodes[:-1]
    assert np.abs(low).max() < 32768 and np.abs(step).max() < 32768
    return ((low & 0xFFFF) | ((step & 0xFFFF) << 16)).astype(np.uint32).view(np.int32)


def recurrent_weight_bytes(call: KernelCall) -> int:
    """The int8 matrix bytes of a portable LSTM or SVDF call (the DSP tier's int16 form
    takes twice as many), else 0."""
    if call.function not in RECURRENT_FUNCTIONS:
        return 0
    names = ("w_input", "w_recurrent") if call.function == "pb_lstm_s8" else ("w_feature",)
    return sum(values(call.fields[k]).size for k in names)


def _lstm(call: KernelCall, tier: str, wide: bool) -> KernelCall:
    f = call.fields
    n, depth = f["units"], f["input_size"]
    # unit by unit, its four gate rows: row k * n + u of the stacked matrices
    order = np.arange(4 * n).reshape(4, n).T.reshape(-1)
    w_in = values(f["w_input"]).reshape(4 * n, depth)[order]
    w_rec = values(f["w_recurrent"]).reshape(4 * n, n)[order]
    block = ROW_BLOCK[tier]
    words_in, input_words = packed_rows(w_in, block, wide)
    words_rec, unit_words = packed_rows(w_rec, block, wide)
    # per unit: its four input rows' constants, then its four recurrent rows'
    bias = np.stack([values(f["bias_input"])[order].reshape(n, 4), values(f["bias_recurrent"])[order].reshape(n, 4)],
                    axis=1)
    fields = {k: f[k] for k in _LSTM_CELL}
    # a 257th node, 0xFFFF as the 256th: the branch-free tanh's saturated end (pb_fast_lstm_tanh)
    table = values(f["sigmoid"])
    assert table[-1] == 0xFFFF, "the sigmoid table ends saturated"
    fields["sigmoid"] = const("sigmoid", np.append(table, 0xFFFF), "uint16_t")
    if wide:  # the flash-for-speed form: the activations' interpolation tables as SMLAD words
        nodes = np.append(table, 0xFFFF)
        # the sigmoid's input is 3 * an int16 on a grid of 2^9; the tanh's clamped to 17 bits, 2^8
        fields["sigmoid_words"] = const("sigmoid_words", lstm_activation_words(nodes, -192, 191), "int32_t")
        fields["tanh_words"] = const("tanh_words", lstm_activation_words(nodes, -256, 255), "int32_t")
    fields.update(fast=int(lstm_fast_requant(f)), wide=int(wide), input_words=input_words, unit_words=unit_words,
                  w_input=const("w_input", words_in, "int32_t"),
                  w_recurrent=const("w_recurrent", words_rec, "int32_t"),
                  bias=const("bias", bias.reshape(-1), "int32_t"))
    function, struct = _NAMES[tier, call.function]
    return KernelCall("pb_lstm", function, struct, fields, call.inputs, call.outputs, macs=call.macs, tier=tier)


def svdf_fast_requant(f: dict, part: str = "both") -> bool:
    """Whether the SVDF's requantizations (part: "feature", "output" or both) may be one
    rounded high multiply of 2 * acc: no shift is a left shift, and the feature and time
    accumulators' bounds (from the weights, the inputs' and the state's ranges) keep 2 * acc
    within int32."""
    if part == "both":
        return svdf_fast_requant(f, "feature") and svdf_fast_requant(f, "output")
    if part == "feature":
        w = values(f["w_feature"]).astype(np.int64).reshape(f["filters"], -1)
        peak = np.abs(values(f["feature_bias"]).astype(np.int64)) + 128 * np.abs(w).sum(axis=1)
        return f["feature_shift"] <= 0 and 2 * int(peak.max()) < 2**31
    wt = values(f["w_time16"] if isinstance(f["w_time"], str) else f["w_time"]).astype(np.int64)
    reach = 32768 if isinstance(f["w_time"], str) else 128  # the state's largest magnitude
    peak = np.abs(values(f["unit_bias"]).astype(np.int64)) + reach * np.abs(wt.reshape(f["units"], -1)).sum(axis=1)
    return f["output_shift"] <= 0 and 2 * int(peak.max()) < 2**31


def svdf_state_words(f: dict, function: str) -> bool:
    """Whether the DSP tier's SVDF takes its one-pass form (templates/kernels/dsp/pb_svdf.c,
    pb_dsp_svdf_s8_words): an int8 state whose memory is whole words, and an output
    requantization that shifts right."""
    return function == "pb_svdf_s8" and f["memory"] % 4 == 0 and f["output_shift"] <= -1


def _svdf(call: KernelCall, tier: str, wide: bool) -> KernelCall:
    f = call.fields
    filters = f["filters"]
    padded = -(-filters // 4) * 4  # four filters per pass: zero rows complete the last four
    w = np.zeros((padded, f["input_size"]), np.int64)
    w[:filters] = values(f["w_feature"]).reshape(filters, -1)
    words, input_words = packed_rows(w, ROW_BLOCK[tier], wide)
    bias = np.zeros(padded, np.int64)
    bias[:filters] = values(f["feature_bias"])
    fields = {k: f[k] for k in _SVDF_KEPT}
    fields.update(fast=int(svdf_fast_requant(f)), fast_feature=int(svdf_fast_requant(f, "feature")),
                  wide=int(wide), input_words=input_words,
                  w_feature=const("w_feature", words, "int32_t"),
                  feature_bias=const("feature_bias", bias, "int32_t"))
    if wide and svdf_state_words(f, call.function):
        # the DSP tier's one-pass form takes its time weights as int16 in SXTB16's order
        # (each four values' 0, 2, then 1, 3), in place of the int8 ones
        wt = values(f["w_time"]).reshape(-1, 4)[:, [0, 2, 1, 3]]
        fields["w_time_wide"] = const("w_time_wide", pack_words(np.ascontiguousarray(wt.astype("<i2")).view(np.int8)),
                                      "int32_t")
        fields["w_time"] = "NULL"
    function, struct = _NAMES[tier, call.function]
    return KernelCall("pb_svdf", function, struct, fields, call.inputs, call.outputs, macs=call.macs, tier=tier)


def accelerate_recurrent(call: KernelCall, tier: str, wide_weights: bool = False) -> KernelCall | None:
    """The tier's LSTM or SVDF call, or None where it has none. wide_weights: (DSP tier) the
    matrices' rows as int16, twice the flash, no SXTB16 on the weights."""
    if tier not in ROW_BLOCK or call.function not in RECURRENT_FUNCTIONS:
        return None
    wide = wide_weights and tier == "dsp"
    return _lstm(call, tier, wide) if call.function == "pb_lstm_s8" else _svdf(call, tier, wide)
