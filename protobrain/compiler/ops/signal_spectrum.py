"""SignalWindow, SignalFftAutoScale and SignalEnergy: the steps of TFLite Micro's signal
library around the FFT (a window, the block scaling before a fixed-point FFT, and the
power of each frequency bin)."""

from __future__ import annotations

from protobrain.compiler.ops.base import KernelCall, const, register, require, tensors
from protobrain.compiler.ops.signal_common import const_input, in_range, read_options, require_rank


@register("CUSTOM:SignalWindow", inputs=(2, 2), types=("int16",))
def lower_window(op, g):
    (inp, window), (out,) = tensors(op, g)
    opts = read_options(op, "shift")
    require(inp.dtype == "int16" and out.dtype == "int16", f"types {inp.dtype} -> {out.dtype}, expects int16")
    window = const_input(window, "the window", "int16")
    require(len(inp.shape) >= 1, "a scalar input")
    require_rank(window, 1, "the window")
    require(len(inp.shape) == len(out.shape), f"input rank {len(inp.shape)} and output rank {len(out.shape)} differ")
    require(out.size == inp.size, f"output of {out.size} values for {inp.size} inputs")
    n = window.shape[0]
    require(n > 0 and inp.size % n == 0, f"{inp.size} samples are not a whole number of {n}-sample windows")
    return KernelCall(
        kernel="pb_signal_spectrum",
        function="pb_signal_window_s16",
        struct="pb_signal_window_params_t",
        fields={"size": inp.size, "window_size": n, "shift": in_range(opts, "shift", 0, 31),
                "window": const("window", window.data, "int16_t")},
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
    )


@register("CUSTOM:SignalFftAutoScale", outputs=(2, 2), types=("int16", "int32"))
def lower_fft_auto_scale(op, g):
    (inp,), (out, scale) = tensors(op, g)
    require((inp.dtype, out.dtype, scale.dtype) == ("int16", "int16", "int32"),
            f"types {inp.dtype} -> {out.dtype}, {scale.dtype}; expects int16 -> int16, int32")
    require_rank(inp, 1, "input")
    require_rank(out, 1, "output")
    require_rank(scale, 0, "the scale output")
    require(inp.size == out.size, f"input of {inp.size} samples, output of {out.size}")
    return KernelCall(
        kernel="pb_signal_spectrum",
        function="pb_signal_fft_auto_scale_s16",
        struct="pb_signal_fft_auto_scale_params_t",
        fields={"size": out.size},
        inputs=[op.inputs[0]],
        outputs=list(op.outputs),
    )


@register("CUSTOM:SignalEnergy", types=("int16", "uint32"))
def lower_energy(op, g):
    (inp,), (out,) = tensors(op, g)
    opts = read_options(op, "end_index", "start_index")
    require(inp.dtype == "int16" and out.dtype == "uint32", f"types {inp.dtype} -> {out.dtype}, expects int16 -> uint32")
    require_rank(inp, 1, "input")
    require_rank(out, 1, "output")
    start, end = opts["start_index"], opts["end_index"]
    if start < end:
        require(start >= 0, f"start_index {start} is negative")
        require(end <= out.size and end <= inp.size // 2,
                f"end_index {end} past the {inp.size // 2} complex inputs or the {out.size} outputs")
    return KernelCall(
        kernel="pb_signal_spectrum",
        function="pb_signal_energy_s16",
        struct="pb_signal_energy_params_t",
        fields={"start": start, "end": end},
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
    )
