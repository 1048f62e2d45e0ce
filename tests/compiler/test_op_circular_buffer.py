"""CIRCULAR_BUFFER (TFLite Micro's custom operator) against TFLite Micro's Python
interpreter, which registers it, over consecutive invocations: the buffer is state.

TFLite Micro keeps the buffer in its output tensor, whose arena bytes start unset: until
`slots` frames have gone in, the oldest slots hold whatever the arena held, so those are
masked on both sides for the first invocations (only those). Reset keeps the buffer on both
sides. cycles_max 1, above 1 (the operator last, so TFLite Micro's early end of the
invocation changes nothing), the shape-guessed value without options, and refusals.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import RecordedReference, assert_bit_exact

from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model
from protobrain.errors import UnsupportedError
from protobrain.run.host import compile_bytes
from protobrain.verify.reference import Reference

OP = "CUSTOM:CIRCULAR_BUFFER"


def cb_model(slots, h, w, options, before=False, after=False, dtype="int8", batch=1, in_slots=1) -> bytes:
    """input [batch, in_slots, h, w] -> (RELU ->) CIRCULAR_BUFFER -> output [batch, slots, h, w]
    (-> RELU, both outputs of the model)."""
    q = {"scale": 0.1, "zp": -3}
    tensors = [{"shape": [batch, in_slots, h, w], "type": dtype, **q}]
    ops, src = [], 0
    if before:
        tensors.append({"shape": [batch, in_slots, h, w], "type": dtype, **q})
        ops.append(("RELU", [0], [1], None, {}))
        src = 1
    tensors.append({"shape": [batch, slots, h, w], "type": dtype, **q})
    cb = len(tensors) - 1
    ops.append((OP, [src], [cb], None, options))
    outputs = [cb]
    if after:
        tensors.append({"shape": [batch, slots, h, w], "type": dtype, **q})
        ops.append(("RELU", [cb], [cb + 1], None, {}))
        outputs.append(cb + 1)
    return write_model(tensors, ops, [0], outputs)


class Unfilled:
    """A side whose outputs have the slots no frame has reached yet since it was made
    zeroed (TFLite Micro's unset arena bytes there). Reset does not restart the count: the
    buffer outlives it on both sides."""

    def __init__(self, side, slots: int):
        self.side, self.slots, self.runs = side, slots, 0

    def __getattr__(self, name):
        return getattr(self.side, name)

    def reset(self):
        self.side.reset()

    def run(self, *xs):
        out = self.side.run(*xs)
        outs = [np.array(o) for o in (out if isinstance(out, list) else [out])]
        unset = max(0, self.slots - 1 - self.runs)
        self.runs += 1
        for o in outs:
            o.reshape(o.shape[0] if o.ndim else 1, self.slots, -1)[:, :unset] = 0
        return outs if isinstance(out, list) else outs[0]


def check(data: bytes, name: str, slots: int, n_random: int = 10) -> int:
    ref = Reference(data)
    assert ref.golden == "tflm"
    reference = RecordedReference(Unfilled(ref, slots))
    cases = 0
    for tier in ("portable", "dsp"):
        cases = assert_bit_exact(Unfilled(compile_bytes(data, name, tier=tier), slots), reference, n_random=n_random)
    return cases


SHAPES = [(1, 1, 1), (2, 1, 4), (4, 2, 3), (7, 3, 5), (3, 1, 96)]


@pytest.mark.parametrize("shape", SHAPES)
def test_cycles_max_one(shape):
    slots, h, w = shape
    data = cb_model(slots, h, w, {"cycles_max": 1})
    assert [op.name for op in read_model_bytes(data).operators] == [OP]
    assert check(data, f"cb{slots}_{h}x{w}", slots, n_random=slots + 4) == slots + 7


@pytest.mark.parametrize("where", ["before", "after", "both"])
def test_between_other_operators(where):
    """With cycles_max 1 the operators around it run every time, reading the buffer."""
    data = cb_model(4, 2, 3, {"cycles_max": 1}, before=where != "after", after=where != "before")
    names = [op.name for op in read_model_bytes(data).operators]
    assert OP in names and "RELU" in names
    check(data, f"cb_{where}", 4)


@pytest.mark.parametrize("cycles", [2, 3, 7, 2**31 - 1])
def test_cycles_max_above_one_as_last_operator(cycles):
    """TFLite Micro ends cycles-1 of every cycles invocations right after this operator,
    which has written its output by then: as the last operator nothing else changes."""
    data = cb_model(3, 2, 2, {"cycles_max": cycles}, before=True)
    check(data, f"cbc{cycles % 1000}", 3, n_random=8)


@pytest.mark.parametrize("slots", [5, 13, 25])
def test_guessed_cycles_max_one(slots):
    """No options (or a value that is not positive): 5, 13 or 25 slots mean cycles_max 1,
    so operators may follow."""
    for options in ({}, {"cycles_max": 0}, {"cycles_max": -4}):
        data = cb_model(slots, 1, 3, options, after=True)
        check(data, f"cbg{slots}", slots, n_random=4)


def test_guessed_cycles_max_two():
    data = cb_model(4, 2, 2, {})
    check(data, "cbg2", 4, n_random=6)
    refused(cb_model(4, 2, 2, {}, after=True), "cycles_max 2: TFLite Micro ends 1 of every 2")


def test_reset_keeps_the_buffer():
    """TFLite Micro's reset leaves the output tensor's bytes alone; so does the state."""
    data = cb_model(3, 1, 2, {"cycles_max": 1})
    compiled, ref = compile_bytes(data, "cbreset"), Reference(data)
    frames = [np.full((1, 1, 1, 2), v, np.int8) for v in (-128, 5, 127, -7, 0, 33)]
    for k, x in enumerate(frames):
        if k == 4:
            compiled.reset()
            ref.reset()
        got, want = compiled.run(x), ref.run(x)
        if k >= 2:
            assert np.array_equal(got, want), (k, got, want)
    assert np.array_equal(got.reshape(-1), [-7, -7, 0, 0, 33, 33])


def refused(data: bytes, reason: str) -> None:
    with pytest.raises(UnsupportedError, match=reason):
        build_program(read_model_bytes(data, "m"))


def test_refusals():
    refused(cb_model(3, 2, 2, {"cycles_max": 1}, dtype="int16"), "types int16 -> int16, TFLite Micro takes int8")
    refused(cb_model(3, 2, 2, {"cycles_max": 1}, batch=2), "batch 2: TFLite Micro shifts the first batch only")
    refused(cb_model(3, 2, 2, {"cycles_max": 1}, in_slots=2), r"input \(1, 2, 2, 2\) is not one frame")
    refused(cb_model(3, 2, 2, {"cycles_max": 2}, after=True), "cycles_max 2: TFLite Micro ends 1 of every 2")
    refused(cb_model(3, 2, 96, {}), "2x96 frames")
    refused(cb_model(3, 2, 2, {"cycles_max": 1, "other": 2}), "the kernel reads exactly")
    refused(cb_model(3, 2, 2, {"cycles_max": 1.5}), "not an integer")
    rank3 = write_model([{"shape": [1, 1, 4], "type": "int8"}, {"shape": [1, 3, 4], "type": "int8"}],
                        [(OP, [0], [1], None, {"cycles_max": 1})], [0], [1])
    refused(rank3, "input of rank 3")
