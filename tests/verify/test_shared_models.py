"""The reference models: bit-exact with TFLite Micro, RAM at or below the lower bound. The
LSTM and SVDF models keep state between invocations: their 203 cases run in a row from
reset on both sides, so every case after the first also checks the carried state."""

import shutil
import subprocess

import numpy as np
import pytest
from conftest import SHARED_MODEL_NAMES, assert_bit_exact, shared_model
from reference_figures import LOWER_BOUND



@pytest.fixture(scope="module", params=SHARED_MODEL_NAMES)
def model(request):
    import protobrain

    path = shared_model(request.param)
    return request.param, path, protobrain.compile(path)


def test_bit_exact_on_random_and_edge_inputs(model):
    from protobrain.verify.reference import Reference

    name, path, compiled = model
    cases = assert_bit_exact(compiled, Reference(path), n_random=200, seed=1)
    assert cases == 203


def test_planned_ram_at_or_below_lower_bound(model):
    name, path, compiled = model
    program = compiled.program
    assert program.lower_bound <= LOWER_BOUND[name]
    assert program.arena_size <= LOWER_BOUND[name], (
        f"{name}: planned {program.arena_size} B > lower bound {LOWER_BOUND[name]} B")


def test_generation_is_deterministic(model, tmp_path):
    """Two generations of one model give the same bytes (how long generation takes is a
    benchmark's business, not a test's)."""
    from protobrain.codegen import render as codegen
    from protobrain.compiler.program import build_program
    from protobrain.compiler.reader import read_model

    name, path, _ = model
    codegen.write(build_program(read_model(path)), tmp_path / "a", source=path.name)
    codegen.write(build_program(read_model(path)), tmp_path / "b", source=path.name)
    assert sorted(f.name for f in (tmp_path / "a").iterdir()) == sorted(f.name for f in (tmp_path / "b").iterdir())
    for f in (tmp_path / "a").iterdir():
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes(), f"{f.name} differs between runs"


ARM_FLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed (make setup installs it)")
def test_generated_c_compiles_warning_free_for_cortex_m(model, tmp_path):
    from protobrain.codegen import render as codegen

    name, path, compiled = model
    files = codegen.write(compiled.program, tmp_path, source=path.name)
    for src in [f for f in files if f.suffix == ".c"]:
        proc = subprocess.run(["arm-none-eabi-gcc", *ARM_FLAGS, "-c", str(src), "-o", str(tmp_path / (src.stem + ".o"))],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_every_intermediate_tensor_is_reachable(model):
    """run_layers returns each operator's output; the last equals the whole-model output
    (both from reset: a stateful model's second run would see the first one's state)."""
    from protobrain.compiler.ir import DTYPES

    name, path, compiled = model
    rng = np.random.default_rng(3)
    x = [rng.integers(-128, 128, size=t.shape).astype(DTYPES[t.dtype]) for t in compiled.inputs]
    compiled.reset()
    layers = compiled.run_layers(*x)
    compiled.reset()
    out = compiled.run(*x)
    last = compiled.program.graph.outputs[0]
    assert np.array_equal(layers[last], out if not isinstance(out, list) else out[0])


STATEFUL = ["trained_lstm_int8", "keyword_scrambled_8bit"]


@pytest.mark.parametrize("tier", ["portable", "dsp"])
@pytest.mark.parametrize("name", STATEFUL)
def test_stateful_models_every_layer_over_consecutive_invocations(name, tier):
    """Every intermediate tensor equals TFLite Micro's over 12 random invocations and the 3
    edge ones, in a row from reset (the keyword model's softmax saturates on its scrambled
    weights, so its output alone would hide the layers). The same input twice then gives
    different LSTM layers: the state moved on (test_op_recurrent.py's SVDF models show their
    state's effect unsaturated). The DSP tier runs its kernels' plain C form."""
    from protobrain.run.host import compile_model
    from protobrain.verify.compare import test_inputs
    from protobrain.verify.reference import Reference

    path = shared_model(name)
    compiled = compile_model(path, tier=tier)
    assert compiled.program.state, f"{name} keeps no state"
    reference = Reference(path, preserve_all_tensors=True)
    compiled.reset()
    cases = test_inputs(compiled.inputs, 12, seed=5)
    outputs = [t for s in compiled.program.steps for t in s.op.outputs]
    for k, xs in enumerate(cases):
        ours, theirs = compiled.run_layers(*xs), reference.run_layers(*xs)
        for t in outputs:
            if t in ours:
                assert ours[t].tobytes() == np.asarray(theirs[t]).astype(ours[t].dtype).tobytes(), (
                    f"{name} ({tier}): invocation {k + 1} from reset, tensor {t} differs")
    if name == "trained_lstm_int8":  # the keyword model's layers saturate whatever its state
        again = compiled.run_layers(*cases[-1])
        assert any(not np.array_equal(again[t], ours[t]) for t in ours), "the state did not move on"
