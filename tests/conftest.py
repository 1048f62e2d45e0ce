"""Shared fixtures: where the reference models are, and the bit-exact comparison."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import pytest

from protobrain.resources import REFERENCE_MODELS

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", category=UserWarning)
sys.path.insert(0, str(Path(__file__).parent / "helpers"))  # builders, devices, pio_local

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = Path(os.environ.get("PROTOBRAIN_MODELS", REPO.parent / "shared" / "models"))
SHARED_MODEL_NAMES = REFERENCE_MODELS


def shared_model(name: str) -> Path:
    path = SHARED_MODELS / f"{name}.tflite"
    if not path.exists():
        pytest.skip(f"reference model {path} not found (set PROTOBRAIN_MODELS to the folder of the MLPerf Tiny / TFLite Micro models)")
    return path


def assert_bit_exact(compiled, reference, n_random: int = 20, seed: int = 0, extra_inputs=()) -> int:
    """Run random, edge and given inputs through both; fail naming the first differing value."""
    from protobrain.verify.compare import compare, test_inputs

    cases = test_inputs(compiled.inputs, n_random, seed)
    cases += [tuple(x) if isinstance(x, (list, tuple)) else (x,) for x in extra_inputs]
    # Both start from reset state; a stateful model then carries its state through the
    # cases in order on both sides, so consecutive invocations are compared too.
    for side in (compiled, reference):
        if hasattr(side, "reset"):
            side.reset()
    result = compare(compiled.run, reference, cases, compiled.name)
    if not result.ok:
        m = result.mismatches[0]
        tier = getattr(getattr(compiled, "program", None), "tier", "portable")
        pytest.fail(
            f"{compiled.name} ({tier} kernels): {len(result.mismatches)} of {result.cases} input cases differ; "
            f"case {m.case}, output {m.output}: {m.count} values differ, first at flat index {m.index}: "
            f"protobrain {m.got} vs TFLite Micro {m.want}"
        )
    return result.cases


class RecordedReference:
    """A reference that runs each input sequence once: several compilations of one model
    (kernel tiers) are checked against the same TFLite Micro outputs at the cost of one.
    Outputs are recorded by position since the last reset and input, so a stateful model's
    consecutive invocations replay exactly."""

    def __init__(self, reference):
        self.reference = reference
        self._outputs = {}
        self._position = 0
        self._reference_position = 0

    def reset(self):
        self._position = 0

    def run(self, *xs):
        import numpy as np

        key = (self._position,) + tuple((a.dtype.str, a.shape, a.tobytes()) for a in map(np.asarray, xs))
        if key not in self._outputs:
            if self._reference_position != self._position:
                self.reference.reset()
                self._reference_position = 0
                assert self._position == 0, "a new input sequence must start from reset"
            self._outputs[key] = self.reference.run(*xs)
            self._reference_position += 1
        self._position += 1
        out = self._outputs[key]
        return [o.copy() for o in out] if isinstance(out, list) else out.copy()


def check_model_bytes(data: bytes, name: str, n_random: int = 20, seed: int = 0):
    """Compile a model's generated C for the host and compare it with TFLite Micro, with
    the portable kernels and again with the DSP tier's fast kernels (their plain-C form on
    the host: same layouts and arithmetic), so every operator case covers both."""
    from protobrain.run.host import compile_bytes
    from protobrain.verify.reference import Reference

    reference = RecordedReference(Reference(data))
    compiled = compile_bytes(data, name)
    assert_bit_exact(compiled, reference, n_random=n_random, seed=seed)
    assert_bit_exact(compile_bytes(data, name, tier="dsp"), reference, n_random=n_random, seed=seed)
    return compiled


def needs_simulator(board_name: str):
    """The board, or a skip naming the missing cross compiler / QEMU."""
    import shutil

    from protobrain.boards import load_board

    b = load_board(board_name)
    tools = [b.toolchain_prefix + "gcc", b.run.get("qemu", "qemu-system-arm")]
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (make setup installs it)")
    return b


def needs_instruction_counter(board_name: str):
    """The board, or a skip naming what exact instruction counts need: the board's simulator
    and compiler, and the QEMU plugin API header."""
    from protobrain.errors import ToolchainError
    from protobrain.measure.icount import find_header

    b = needs_simulator(board_name)
    try:
        find_header()
    except ToolchainError as e:
        pytest.skip(str(e))
    return b


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """builders.small_net_bytes() as a .tflite file (one per test module)."""
    from builders import small_net_bytes

    path = tmp_path_factory.mktemp("model") / "small_net.tflite"
    path.write_bytes(small_net_bytes())
    return path


@pytest.fixture(scope="session")
def small_runs(tmp_path_factory):
    """Three small trained runs (protobrain.app.small_runs): vision, speech and synth, for a
    bundle. Trained once per test session: the test workers of one session share the folder."""
    pytest.importorskip("tensorflow")
    from protobrain.app.small_runs import small_runs

    base = tmp_path_factory.getbasetemp()
    return small_runs((base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "small-runs")
