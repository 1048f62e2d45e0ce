"""The filter bank operators of TFLite Micro's signal library: SignalFilterBank,
SignalFilterBankSquareRoot, SignalFilterBankSpectralSubtraction (stateful: its noise
estimate persists from one invocation to the next), SignalPCAN and SignalFilterBankLog.
All are fixed-point on unsigned channel energies."""

from __future__ import annotations

import math

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const, register, require, tensors
from protobrain.compiler.ops.signal_common import const_input, in_range, read_options, require_rank

# PCAN reads up to lut[4 * 32 - 6 + 2]: the gain curve's coefficients for any uint32 noise.
PCAN_LUT_SIZE = 125


def log_lut() -> list[int]:
    """log2(1 + x) - x in Q16 at the 129 points x = i / 128 of [0, 1], and one 0 after:
    the table TFLite Micro's fixed-point log interpolates."""
    return [round((math.log2(1 + i / 128) - i / 128) * 65536) for i in range(129)] + [0]


def _u32(value: int) -> int:
    return value % 2**32


@register("CUSTOM:SignalFilterBank", inputs=(6, 6), types=("uint32", "uint64"))
def lower_filter_bank(op, g):
    ins, (out,) = tensors(op, g)
    inp = ins[0]
    opts = read_options(op, "num_channels")
    require(inp.dtype == "uint32" and out.dtype == "uint64", f"types {inp.dtype} -> {out.dtype}, expects uint32 -> uint64")
    require_rank(inp, 1, "input")
    require_rank(out, 1, "output")
    names = ("weights", "unweights", "channel frequency starts", "channel weight starts", "channel widths")
    tables = []
    for t, what in zip(ins[1:], names):
        t = const_input(t, f"the {what}", "int16")
        require_rank(t, 1, f"the {what}")
        tables.append(np.asarray(t.data, np.int64))
    weights, unweights, freq_starts, weight_starts, widths = tables
    n = opts["num_channels"]
    require(n >= 1, f"num_channels {n}")
    require(out.size == n, f"output of {out.size} values for {n} channels")
    require(min(len(freq_starts), len(weight_starts), len(widths)) >= n + 1,
            f"the channel tables need {n + 1} entries (num_channels + 1)")
    for i in range(n + 1):
        w, f, s = int(widths[i]), int(freq_starts[i]), int(weight_starts[i])
        if w > 0:
            require(0 <= f and f + w <= inp.size, f"channel {i} reads bins {f}..{f + w - 1} of {inp.size}")
            require(0 <= s and s + w <= min(len(weights), len(unweights)),
                    f"channel {i} reads weights {s}..{s + w - 1} of {min(len(weights), len(unweights))}")
    return KernelCall(
        kernel="pb_signal_filterbank",
        function="pb_signal_filter_bank_u32",
        struct="pb_signal_filter_bank_params_t",
        fields={
            "num_channels": n,
            "frequency_starts": const("frequency_starts", freq_starts[:n + 1], "int16_t"),
            "weight_starts": const("weight_starts", weight_starts[:n + 1], "int16_t"),
            "widths": const("widths", widths[:n + 1], "int16_t"),
            "weights": const("weights", weights, "int16_t"),
            "unweights": const("unweights", unweights, "int16_t"),
        },
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
        macs=2 * int(np.maximum(widths[:n + 1], 0).sum()),
    )


@register("CUSTOM:SignalFilterBankSquareRoot", inputs=(2, 2), types=("uint64", "int32", "uint32"))
def lower_filter_bank_sqrt(op, g):
    (inp, bits), (out,) = tensors(op, g)
    require((inp.dtype, bits.dtype, out.dtype) == ("uint64", "int32", "uint32"),
            f"types {inp.dtype}, {bits.dtype} -> {out.dtype}; expects uint64, int32 -> uint32")
    require_rank(inp, 1, "input")
    require_rank(bits, 0, "the scale bits")
    require_rank(out, 1, "output")
    require(out.size == inp.size, f"output of {out.size} values for {inp.size} channels")
    fields = {"num_channels": inp.size}
    if bits.is_const:  # a constant shift is a parameter, not an input
        shift = int(np.asarray(bits.data).reshape(-1)[0])
        return KernelCall(kernel="pb_signal_filterbank", function="pb_signal_filter_bank_sqrt_const_u64",
                          struct="pb_signal_filter_bank_sqrt_params_t", fields=fields | {"shift": shift & 31},
                          inputs=[op.inputs[0]], outputs=[op.outputs[0]])
    return KernelCall(
        kernel="pb_signal_filterbank",
        function="pb_signal_filter_bank_sqrt_u64",
        struct="pb_signal_filter_bank_sqrt_params_t",
        fields=fields,
        inputs=list(op.inputs),
        outputs=[op.outputs[0]],
    )


@register("CUSTOM:SignalFilterBankSpectralSubtraction", outputs=(2, 2), types=("uint32",))
def lower_spectral_subtraction(op, g):
    (inp,), (out, noise) = tensors(op, g)
    opts = read_options(op, "alternate_one_minus_smoothing", "alternate_smoothing", "clamping",
                        "min_signal_remaining", "num_channels", "one_minus_smoothing", "smoothing",
                        "smoothing_bits", "spectral_subtraction_bits")
    require(all(t.dtype == "uint32" for t in (inp, out, noise)),
            f"types {inp.dtype} -> {out.dtype}, {noise.dtype}; expects uint32")
    for t, what in ((inp, "input"), (out, "output"), (noise, "the noise estimate")):
        require_rank(t, 1, what)
    n = opts["num_channels"]
    require(n >= 1, f"num_channels {n}")
    require(inp.size == n and out.size == n and noise.size == n,
            f"{inp.size} inputs, {out.size} outputs, {noise.size} noise estimates for {n} channels")
    return KernelCall(
        kernel="pb_signal_filterbank",
        function="pb_signal_spectral_subtraction_u32",
        struct="pb_signal_spectral_subtraction_params_t",
        fields={
            "num_channels": n,
            "smoothing": _u32(opts["smoothing"]),
            "one_minus_smoothing": _u32(opts["one_minus_smoothing"]),
            "alternate_smoothing": _u32(opts["alternate_smoothing"]),
            "alternate_one_minus_smoothing": _u32(opts["alternate_one_minus_smoothing"]),
            "min_signal_remaining": _u32(opts["min_signal_remaining"]),
            "smoothing_bits": in_range(opts, "smoothing_bits", 0, 31),
            "spectral_subtraction_bits": in_range(opts, "spectral_subtraction_bits", 0, 63),
            "clamping": int(bool(op.options["clamping"])),  # read as "not zero", all 64 bits
        },
        inputs=[op.inputs[0]],
        outputs=list(op.outputs),
        state_bytes=4 * n,
    )


@register("CUSTOM:SignalPCAN", inputs=(3, 3), types=("uint32",))
def lower_pcan(op, g):
    (inp, noise, lut), (out,) = tensors(op, g)
    opts = read_options(op, "snr_shift")
    require((inp.dtype, noise.dtype, out.dtype) == ("uint32", "uint32", "uint32"),
            f"types {inp.dtype}, {noise.dtype} -> {out.dtype}; expects uint32")
    lut = const_input(lut, "the gain table", "int16")
    for t, what in ((inp, "input"), (noise, "the noise estimate"), (lut, "the gain table"), (out, "output")):
        require_rank(t, 1, what)
    require(noise.size == inp.size and out.size == inp.size,
            f"{inp.size} inputs, {noise.size} noise estimates, {out.size} outputs")
    require(lut.size >= PCAN_LUT_SIZE, f"a gain table of {lut.size} entries; the gain curve reads {PCAN_LUT_SIZE}")
    return KernelCall(
        kernel="pb_signal_filterbank",
        function="pb_signal_pcan_u32",
        struct="pb_signal_pcan_params_t",
        fields={"num_channels": inp.size, "snr_shift": in_range(opts, "snr_shift", 0, 63),
                "gain_lut": const("gain_lut", lut.data, "int16_t")},
        inputs=[op.inputs[0], op.inputs[1]],
        outputs=[op.outputs[0]],
    )


@register("CUSTOM:SignalFilterBankLog", types=("uint32", "int16"))
def lower_filter_bank_log(op, g):
    (inp,), (out,) = tensors(op, g)
    opts = read_options(op, "input_correction_bits", "output_scale")
    require(inp.dtype == "uint32" and out.dtype == "int16", f"types {inp.dtype} -> {out.dtype}, expects uint32 -> int16")
    require_rank(inp, 1, "input")
    require_rank(out, 1, "output")
    require(out.size == inp.size, f"output of {out.size} values for {inp.size} channels")
    return KernelCall(
        kernel="pb_signal_filterbank",
        function="pb_signal_filter_bank_log_u32",
        struct="pb_signal_filter_bank_log_params_t",
        fields={"num_channels": inp.size, "output_scale": _u32(opts["output_scale"]),
                "correction_bits": in_range(opts, "input_correction_bits", 0, 31),
                "log_lut": const("log_lut", log_lut(), "uint16_t")},
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
    )
