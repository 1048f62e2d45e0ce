"""Depthwise convolution with any depth multiplier on the fast tiers, and the DSP tier's
single-row FULLY_CONNECTED: which kernel each layer takes (one input channel: the DSP
tier's pb_fast_dw_one_s8, an ordinary convolution; fewer input channels than a depthwise
step: the matrix multiply of the equal CONV_2D; whole steps: the depthwise kernels, once
per multiplier), and every case bit-exact with TFLite Micro: the DSP tier's C form on the
host, both tiers on their simulated cores."""

from __future__ import annotations

import pytest
import test_op_conv as op_conv
from conftest import check_model_bytes, needs_simulator
from devices import mismatches_on_device
from test_fast_kernels import dw_bytes, fc_bytes

from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes

D = op_conv.D
CASES = [
    D(cin=1, dm=1),
    D(cin=1, dm=2, strides=2),
    D(cin=1, dm=8, hw=(13, 11), kernel=(5, 4), strides=2),  # micro_speech's shape, smaller
    D(cin=1, dm=8, hw=(12, 9), kernel=(3, 5), padding="valid"),  # a row of 5 taps: padded to 8
    D(cin=1, dm=3, hw=(9, 9), kernel=3, dilation=2),
    D(cin=1, dm=2, hw=(6, 7), kernel=(2, 3), act="relu6", pc=False),
    D(cin=2, dm=2, strides=2),
    D(cin=3, dm=8, hw=(6, 5), kernel=(3, 2)),
    D(cin=4, dm=2, hw=(7, 6), kernel=3),
    D(cin=4, dm=8, hw=(6, 6), kernel=(2, 3), strides=2, padding="valid"),
    D(cin=8, dm=2, hw=(6, 7), kernel=3, act="relu"),
    D(cin=8, dm=8, hw=(5, 5), kernel=(1, 3), dilation=2),
    D(cin=16, dm=1, hw=(5, 6), kernel=3, strides=2),
]
# single rows into few channels (depth past 256: the matrix multiply's widened row would
# take more than 1 KB): depth % 4 tails of 0 to 3, channels in a group of 4 or padded
FC_ROWS = [(1000, 4, None), (1003, 3, "relu"), (602, 6, None), (401, 1, None)]


def _specs():
    return [p.values[0] for p in CASES]


def _expected(s, tier) -> str:
    step = {"dsp": 4, "mve": 8}[tier]
    if tier == "dsp" and s["cin"] == 1:
        return "pb_fast_dw_one_s8"
    if s["cin"] < step:
        return {"dsp": "pb_fast_mm_s8", "mve": "pb_fast_mve_mm_s8"}[tier]
    return {"dsp": "pb_fast_dw_s8", "mve": "pb_fast_mve_dw_s8"}[tier]


def _function(data: bytes, tier: str) -> str:
    (step,) = [s for s in build_program(read_model_bytes(data, "m"), tier=tier).steps
               if s.op.name in ("DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]
    return step.call.function


@pytest.mark.parametrize("tier", ["dsp", "mve"])
def test_each_depthwise_takes_its_fast_kernel(tier):
    for s in _specs():
        assert _function(dw_bytes(s), tier) == _expected(s, tier), s


def test_single_row_fully_connected_takes_the_row_kernel():
    for features, units, act in FC_ROWS:
        assert _function(fc_bytes(features, units, act, True, "int8", True), "dsp") == "pb_fast_fc_row_s8"
    # a short row keeps the matrix multiply
    assert _function(fc_bytes(64, 4, None, True, "int8", True), "dsp") == "pb_fast_mm_s8"


@pytest.mark.parametrize("case", CASES)
def test_depthwise_bit_exact_on_host(case):
    """Portable and the DSP tier's C form (check_model_bytes runs both)."""
    check_model_bytes(dw_bytes(case), "dwm", n_random=5)


@pytest.mark.parametrize("row", FC_ROWS)
def test_fully_connected_row_bit_exact_on_host(row):
    features, units, act = row
    check_model_bytes(fc_bytes(features, units, act, True, "int8", True), "fcrow", n_random=5)


@pytest.mark.parametrize("board_name,tier", [("qemu-mps2-an386", "dsp"), ("qemu-mps3-an547", "mve")])
def test_bit_exact_on_simulated_core(board_name, tier, tmp_path):

    board = needs_simulator(board_name)
    blobs = [dw_bytes(s) for s in _specs()]
    if tier == "dsp":
        blobs += [fc_bytes(f, u, a, True, "int8", True) for f, u, a in FC_ROWS]
    programs = [build_program(read_model_bytes(data, f"m{k}"), tier=tier, flash_budget=board.flash.length)
                for k, data in enumerate(blobs)]
    for prog, s in zip(programs, _specs()):
        (step,) = [st for st in prog.steps if st.op.name == "DEPTHWISE_CONV_2D"]
        assert step.call.function == _expected(s, tier)
    failures, _ = mismatches_on_device(board, programs, blobs, tmp_path / "fw")
    assert not failures, "\n".join(failures)
