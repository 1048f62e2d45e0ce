"""The six reference models: bit-exact with TFLite Micro, RAM at or below the lower bound."""

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
    """run_layers returns each operator's output; the last equals the whole-model output."""
    name, path, compiled = model
    x = [np.random.default_rng(3).integers(-128, 128, size=t.shape, dtype=np.int8) for t in compiled.inputs]
    layers = compiled.run_layers(*x)
    out = compiled.run(*x)
    last = compiled.program.graph.outputs[0]
    assert np.array_equal(layers[last], out if not isinstance(out, list) else out[0])
