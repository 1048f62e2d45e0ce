"""CIRCULAR_BUFFER (TFLite Micro's custom operator, registered as "CIRCULAR_BUFFER"): the
last `slots` int8 frames of a stream. Each invocation shifts the buffer by one frame and
appends the input frame [1, 1, h, w] at the end of the output [1, slots, h, w].

TFLite Micro keeps the buffer in the output tensor itself: in arena memory that starts
unset, that reset leaves alone, and that its memory planner may hand to a later tensor once
the output's last reader has run. protobrain keeps it in the call's state (zero at start-up,
kept by reset as TFLite Micro keeps its arena) and copies it to the output, so the history
is the same wherever TFLite Micro's own survives, and survives where TFLite Micro's would not.

cycles_max (the options map's first value, read as int32): every cycles_max-th invocation
runs the operators after this one; the others end there (TFLite Micro's kernel returns
"abort"). Without a positive value TFLite Micro guesses one from the output shape: 1 for 5,
13 or 25 slots, else 2, except for 2x96 frames, where it counts the circular buffers it has
prepared in the whole process (refused). protobrain runs every operator on every invocation,
so cycles_max above 1 is taken only where nothing runs after it: as the model's last operator.
"""

from __future__ import annotations

from protobrain.compiler.ops.base import KernelCall, register, require, tensors
from protobrain.compiler.ops.signal_common import read_options, require_rank

_GUESSED_ONE = (5, 13, 25)  # slots for which TFLite Micro takes cycles_max 1 when none is set


def cycles_max(op, out) -> int:
    """The period TFLite Micro runs the following operators with."""
    cycles = read_options(op, "cycles_max")["cycles_max"] if op.options else 0
    if cycles > 0:
        return cycles
    if out.shape[1] in _GUESSED_ONE:
        return 1
    require(tuple(out.shape[2:]) != (2, 96),
            "no cycles_max: for 2x96 frames TFLite Micro's guess depends on how many circular buffers "
            "it prepared before (set cycles_max in the custom options)")
    return 2


@register("CUSTOM:CIRCULAR_BUFFER", types=("int8",))
def lower(op, g):
    (inp,), (out,) = tensors(op, g)
    require(inp.dtype == "int8" and out.dtype == "int8", f"types {inp.dtype} -> {out.dtype}, TFLite Micro takes int8")
    require_rank(inp, 4, "input")
    require_rank(out, 4, "output")
    batch, slots, h, w = out.shape
    require(tuple(inp.shape) == (batch, 1, h, w), f"input {tuple(inp.shape)} is not one frame of the output {tuple(out.shape)}")
    require(batch == 1, f"batch {batch}: TFLite Micro shifts the first batch only")
    require(slots >= 1 and h * w >= 1, f"output shape {tuple(out.shape)}")
    cycles = cycles_max(op, out)
    require(cycles == 1 or op is g.operators[-1],
            f"cycles_max {cycles}: TFLite Micro ends {cycles - 1} of every {cycles} invocations at this operator; "
            "protobrain runs every operator each time, so this takes it only as the last operator")
    return KernelCall(
        kernel="pb_circular_buffer",
        function="pb_circular_buffer_s8",
        struct="pb_circular_buffer_params_t",
        fields={"slots": slots, "depth": h * w},
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
        state_bytes=slots * h * w,
        state_kept=True,
    )
