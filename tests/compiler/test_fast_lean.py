"""The DSP tier's lean int8 matrix-multiply form (dsp/pb_conv.c: int8 weights coded so one
SXTB16 per word suffices, rows recoded as U and V, a 256 * acc accumulator): when it is
taken, and its results bit-exact with TFLite Micro on the simulated M4 for every int8
CONV_2D and FULLY_CONNECTED case of the operator sweep (the host runs its plain-C form in
every operator test)."""

from __future__ import annotations

import numpy as np
from conftest import needs_simulator
from devices import mismatches_on_device
from test_fast_kernels import sweep_models

from protobrain.compiler.ops.tiers import dsp as fast_dsp
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes


def _mm_calls(program):
    return [s.call for s in program.steps if s.call is not None and s.call.function == "pb_fast_mm_s8"]


def test_lean_needs_int16_lanes_and_a_bounded_accumulator():
    w = np.array([[3, -5, 7, 1], [-1, 2, 0, 127]], np.int8)
    assert fast_dsp._lean_fits(w, np.array([1000, 1000]))
    # a w1 of -128 after a negative w0: the lane 256 * w1 + w0 leaves int16
    assert not fast_dsp._lean_fits(np.array([[-1, -128, 0, 0]], np.int8), np.array([10]))
    assert fast_dsp._lean_fits(np.array([[1, -128, 0, 0]], np.int8), np.array([10]))
    # 256 * the accumulator must stay within int32
    assert not fast_dsp._lean_fits(w, np.array([2**23, 5]))
    # the coding: odd bytes less one after a negative even byte, so the int16 lanes are exact
    words, _ = fast_dsp._mm_weights(w, False, lean=True)
    lanes = np.asarray(words, np.int64).astype("<i4").view("<i2").reshape(-1, 2, 2)  # [block][channel][lane]
    assert lanes[0, 0].tolist() == [256 * -5 + 3, 256 * 1 + 7]
    assert lanes[0, 1].tolist() == [256 * 2 - 1, 256 * 127 + 0]


def test_forms_by_flash_budget():
    """Without a flash budget (or a small one) the int8 layers take the lean form; with room
    for int16 weights, the wide form; the lean form keeps int8's flash."""
    data = next(d for name, d, _, desc in sweep_models("int8") if desc.startswith("fc"))
    lean = _mm_calls(build_program(read_model_bytes(data, "fcl"), tier="dsp"))
    wide = _mm_calls(build_program(read_model_bytes(data, "fcw"), tier="dsp", flash_budget=2**30))
    assert lean and all(c.fields["lean_weights"] == 1 and c.fields["wide_weights"] == 0 for c in lean)
    assert all(c.fields["lean_weights"] == 0 and c.fields["wide_weights"] == 1 for c in wide)
    assert 2 * lean[0].fields["weights"].nbytes == wide[0].fields["weights"].nbytes


def test_lean_form_bit_exact_on_simulated_m4(tmp_path):

    board = needs_simulator("qemu-mps2-an386")
    models = [(name, data) for name, data, _, desc in sweep_models("int8") if desc.startswith(("conv2d", "fc"))]
    programs = [build_program(read_model_bytes(data, name), tier="dsp") for name, data in models]
    lean = [c for p in programs for c in _mm_calls(p) if c.fields["lean_weights"]]
    assert len(lean) >= 20
    assert any(c.fields["quant_shared"] != "NULL" for c in lean) and any(c.fields["rows"] == 1 for c in lean)
    failures, compared = mismatches_on_device(board, programs, [d for _, d in models], tmp_path / "fw")
    assert not failures, "\n".join(failures)
    assert compared == 6 * len(models)  # three random and three edge inputs each
