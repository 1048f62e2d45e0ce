"""--optimize reaches the build: which form the DSP tier's matrix-multiply weights take
(select.wide_weights). size never widens them; speed widens them when the int16 weights fit
the whole flash; balanced when they fit half of it (and keeps int8 where no flash is known)."""

from __future__ import annotations

import pytest
from test_fast_kernels import sweep_models

from protobrain.compiler.ops.tiers.select import MATMUL_FUNCTIONS, accelerate_all, wide_weights
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes


@pytest.fixture(scope="module")
def fc():
    """An int8 FULLY_CONNECTED model and its weights' bytes as int16."""
    data = next(d for _, d, _, desc in sweep_models("int8") if desc.startswith("fc"))
    calls = [s.call for s in build_program(read_model_bytes(data, "fc")).steps if s.call]
    widened = 2 * sum(c.fields["filter"].nbytes for c in calls if c.function in MATMUL_FUNCTIONS)
    assert widened > 0
    return data, widened


def _form(data, **kw):
    """(Program.wide_weights, the wide_weights fields of its DSP matrix multiplies)."""
    p = build_program(read_model_bytes(data, "fc"), tier="dsp", **kw)
    mm = [s.call.fields["wide_weights"] for s in p.steps if s.call and s.call.function == "pb_fast_mm_s8"]
    assert mm
    return p.wide_weights, set(mm)


@pytest.mark.parametrize("budget_of, optimize, wide", [
    (lambda w: 2**30, "size", False),      # room to spare, still int8
    (lambda w: w, "speed", True),          # fits the whole flash, not half of it
    (lambda w: w, "balanced", False),
    (lambda w: 2 * w, "balanced", True),   # fits half
    (lambda w: w - 1, "speed", False),     # speed still checks fit
    (lambda w: None, "speed", True),       # no flash known (the host): nothing bounds it
    (lambda w: None, "balanced", False),
    (lambda w: None, "size", False),
])
def test_optimize_chooses_the_weights_form(fc, budget_of, optimize, wide):
    data, widened = fc
    assert _form(data, flash_budget=budget_of(widened), optimize=optimize) == (wide, {int(wide)})


def test_balanced_is_the_default(fc):
    data, widened = fc
    assert _form(data, flash_budget=2 * widened) == (True, {1})
    assert _form(data, flash_budget=widened) == (False, {0})


def test_the_program_names_its_form(fc):
    data, widened = fc
    p = build_program(read_model_bytes(data, "fc"), tier="dsp", flash_budget=widened, optimize="speed")
    assert (p.optimize, p.weights_form) == ("speed", "int16 weights (--optimize speed)")
    assert p.kernels_text == "dsp kernels with int16 weights (--optimize speed)"
    lean = build_program(read_model_bytes(data, "fc"), tier="dsp", optimize="size")
    assert lean.kernels_text == "dsp kernels with int8 weights (--optimize size)"
    assert build_program(read_model_bytes(data, "fc"), tier="mve", optimize="speed").kernels_text == "mve kernels"


def test_other_tiers_never_widen_and_a_bad_choice_is_refused(fc):
    data, _ = fc
    calls = [s.call for s in build_program(read_model_bytes(data, "fc")).steps if s.call]
    assert not any(wide_weights(calls, tier, None, "speed") for tier in ("portable", "armv6m", "mve"))
    with pytest.raises(ValueError, match="unknown optimize 'fast'"):
        accelerate_all(calls, "dsp", None, "fast")
