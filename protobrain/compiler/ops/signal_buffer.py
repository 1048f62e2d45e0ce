"""The streaming operators of TFLite Micro's signal library, all stateful: SignalFramer,
SignalDelay and SignalStacker keep rings of past samples, SignalOverlapAdd a running sum.
Their state lives in the call's state bytes, zeroed by reset; a ring that starts with
zero samples in it (a framer's prefill, a delay line) counts them from zeroed state."""

from __future__ import annotations

from protobrain.compiler.ops.base import KernelCall, register, require, tensors
from protobrain.compiler.ops.signal_common import TENSOR_TYPES, read_options, require_rank, rows, suffix

_RING_HEADER = 12  # read position, fill level, flag (int32 each)
MAX_HISTORY = 1 << 20  # samples one ring may hold: bounds the state of a damaged model's options


def ring_bytes(capacity: int) -> int:
    """One ring of `capacity` int16 samples with its header, in 4-byte units."""
    return _RING_HEADER + (2 * capacity + 3) // 4 * 4


def _valid_output(t) -> None:
    require(t.dtype == "bool", f"valid output of type {t.dtype}, expects bool")
    require_rank(t, 0, "the valid output")


@register("CUSTOM:SignalFramer", outputs=(2, 2), types=("int16", "bool"))
def lower_framer(op, g):
    (inp,), (out, valid) = tensors(op, g)
    opts = read_options(op, "frame_size", "frame_step", "prefill")
    require(inp.dtype == "int16" and out.dtype == "int16", f"types {inp.dtype} -> {out.dtype}, expects int16")
    _valid_output(valid)
    require(len(out.shape) == len(inp.shape) + 1, f"output rank {len(out.shape)} for input rank {len(inp.shape)}")
    size, step = opts["frame_size"], opts["frame_step"]
    prefill = bool(op.options["prefill"])  # read as "not zero", all 64 bits
    require(1 <= size <= MAX_HISTORY and step >= 1, f"frame_size {size}, frame_step {step}")
    outer, inner = rows(inp)
    require(inner >= step and inner % step == 0, f"rows of {inner} samples are not whole steps of {step}")
    n_frames = inner // step
    require(out.size == outer * n_frames * size, f"output of {out.size} values for {outer * n_frames} frames of {size}")
    require(not prefill or size >= step, f"prefill with frame_size {size} below frame_step {step}")
    capacity = (size + step - 1) // step * step
    stride = ring_bytes(capacity)
    return KernelCall(
        kernel="pb_signal_buffer",
        function="pb_signal_framer_s16",
        struct="pb_signal_framer_params_t",
        fields={"frame_size": size, "frame_step": step, "outer": outer, "n_frames": n_frames,
                "capacity": capacity, "prefill": size - step if prefill else 0, "ring_bytes": stride},
        inputs=[op.inputs[0]],
        outputs=list(op.outputs),
        state_bytes=outer * stride,
    )


@register("CUSTOM:SignalDelay", types=("int16",))
def lower_delay(op, g):
    (inp,), (out,) = tensors(op, g)
    opts = read_options(op, "delay_length")
    require(inp.dtype == "int16" and out.dtype == "int16", f"types {inp.dtype} -> {out.dtype}, expects int16")
    delay = opts["delay_length"]
    require(0 <= delay <= MAX_HISTORY, f"delay_length {delay} outside 0..{MAX_HISTORY}")
    outer, inner = rows(inp)
    require(out.size == inp.size, f"output of {out.size} values for {inp.size} inputs")
    capacity = inner + delay
    stride = ring_bytes(capacity)
    return KernelCall(
        kernel="pb_signal_buffer",
        function="pb_signal_delay_s16",
        struct="pb_signal_delay_params_t",
        fields={"frame_size": inner, "delay": delay, "outer": outer, "capacity": capacity, "ring_bytes": stride},
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
        state_bytes=outer * stride,
    )


@register("CUSTOM:SignalStacker", outputs=(2, 2), types=("int16", "bool"))
def lower_stacker(op, g):
    (inp,), (out, valid) = tensors(op, g)
    opts = read_options(op, "num_channels", "stacker_left_context", "stacker_right_context", "stacker_step")
    require(inp.dtype == "int16" and out.dtype == "int16", f"types {inp.dtype} -> {out.dtype}, expects int16")
    _valid_output(valid)
    require_rank(inp, 1, "input")
    require_rank(out, 1, "output")
    channels, left = opts["num_channels"], opts["stacker_left_context"]
    right, step = opts["stacker_right_context"], opts["stacker_step"]
    require(channels >= 1 and left >= 0 and right >= 0,
            f"num_channels {channels}, left context {left}, right context {right}")
    frames = left + right + 1
    require(1 <= step <= frames, f"stacker_step {step} outside 1..{frames} (the frames of one stack)")
    require(inp.size == channels, f"input of {inp.size} values for {channels} channels")
    require(out.size == channels * frames, f"output of {out.size} values for {frames} frames of {channels}")
    return KernelCall(
        kernel="pb_signal_buffer",
        function="pb_signal_stacker_s16",
        struct="pb_signal_stacker_params_t",
        fields={"num_channels": channels, "left_context": left, "buffer_size": channels * frames,
                "step_size": channels * step},
        inputs=[op.inputs[0]],
        outputs=list(op.outputs),
        state_bytes=ring_bytes(channels * frames),
    )


@register("CUSTOM:SignalOverlapAdd", types=("int16", "float32"))
def lower_overlap_add(op, g):
    (inp,), (out,) = tensors(op, g)
    opts = read_options(op, "T", "frame_step")
    dtype = TENSOR_TYPES.get(opts["T"])
    require(dtype in ("int16", "float32"), f"T {opts['T']}: the kernel has int16 and float32 forms")
    require(inp.dtype == dtype and out.dtype == dtype, f"types {inp.dtype} -> {out.dtype} for T {dtype}")
    require(len(inp.shape) >= 2 and len(inp.shape) == len(out.shape) + 1,
            f"input rank {len(inp.shape)}, output rank {len(out.shape)}: expects frames [..., n, size] -> [..., samples]")
    size, n_frames = inp.shape[-1], inp.shape[-2]
    require(size >= 1 and n_frames >= 1, f"input shape {inp.shape}")
    outer = inp.size // (size * n_frames)
    step = opts["frame_step"]
    require(1 <= step <= size, f"frame_step {step} outside 1..{size} (the frame size)")
    require(out.size == outer * n_frames * step, f"output of {out.size} values for {outer * n_frames} steps of {step}")
    return KernelCall(
        kernel="pb_signal_buffer",
        function=f"pb_signal_overlap_add_{suffix(dtype)}",
        struct="pb_signal_overlap_add_params_t",
        fields={"frame_size": size, "frame_step": step, "outer": outer, "n_frames": n_frames},
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
        state_bytes=outer * size * (2 if dtype == "int16" else 4),
    )
