"""The DSP tier's FULLY_CONNECTED of single rows into few channels (dsp/pb_fully_connected.c):
int8 weights and input, both widened with SXTB16 as they are multiplied, so no widened copy
of the row in scratch (micro_speech's 4000 x 4 would need 16 KB of it)."""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const
from protobrain.compiler.ops.tiers.common import (
    computed_channels,
    matmul,
    pack_words,
    peaks,
    quant_words,
)

GROUP = 4  # output channels per group (the kernel's four accumulators)


def fc_row_weights(w2d: np.ndarray) -> np.ndarray:
    """[out_c][depth] int8 as the kernel reads them: per group of 4 channels (zero channels
    pad the last), depth // 4 blocks of one word per channel, then the depth % 4 tail
    values as one word per channel, zero-filled."""
    oc, depth = w2d.shape
    groups = -(-oc // GROUP)
    dp = -(-depth // 4) * 4
    w = np.zeros((groups * GROUP, dp), np.int8)
    w[:oc, :depth] = w2d
    # [group][channel][block][4] -> [group][block][channel][4]
    w = w.reshape(groups, GROUP, dp // 4, 4).transpose(0, 2, 1, 3)
    return pack_words(w)


def accelerate(call: KernelCall) -> KernelCall | None:
    """The single-row kernel's call for an int8 FULLY_CONNECTED, or None."""
    if call.function != "pb_fully_connected_s8":
        return None
    mm = matmul(call)
    if mm is None:
        return None
    f = call.fields
    bias, folded, mults, shifts = computed_channels(call, mm)
    q, mode = quant_words(folded, mults, shifts, peaks(mm.w2d, bias, mm.input_offset), f["output_offset"],
                          -(-mm.out_c // GROUP) * GROUP)
    fields = {"rows": mm.geometry["rows"], "depth": mm.depth, "out_c": mm.out_c, "output_offset": f["output_offset"],
              "act_min": f["act_min"], "act_max": f["act_max"], "requant": mode,
              "weights": const("weights", fc_row_weights(mm.w2d), "int32_t"),
              "quant": const("quant", q.reshape(-1), "int32_t")}
    return KernelCall("pb_fully_connected", "pb_fast_fc_row_s8", "pb_fast_fc_row_params_t", fields, call.inputs,
                      call.outputs, macs=call.macs, tier="dsp")
