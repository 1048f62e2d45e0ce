"""`protobrain profile`: per-instruction counts of one inference on a simulated board.
The profile must cover exactly the instructions the counting mode (bench) reports."""

import json
import re
import subprocess
import sys

import pytest
from conftest import needs_instruction_counter, shared_model

from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes

BOARD = "qemu-mps2-an386"


def _profile_and_bench(board, path, tier="portable"):
    """Profile and bench of the same firmware on the same input (bench's first: all minimum)."""
    from protobrain.measure.bench import run_bench
    from protobrain.measure.profile import run_profile
    from protobrain.verify.compare import test_inputs

    data = path.read_bytes()
    prog = build_program(read_model_bytes(data, path.stem), "best", tier)
    first = test_inputs([prog.graph.tensors[i] for i in prog.graph.inputs], 0, 0)[0]
    profile = run_profile(board, prog, data, inputs=first)
    bench = run_bench(board, [prog], [str(path)], [data], n_inputs=1).models[0]
    return prog, profile, bench


@pytest.mark.parametrize("tier", ["portable", "dsp"])
def test_profile_total_is_the_counted_inference(small_model, tier):
    board = needs_instruction_counter(BOARD)
    prog, profile, bench = _profile_and_bench(board, small_model, tier)
    # the per-PC counts add up to exactly the counting mode's count of the same inference
    assert profile.total == bench.count == sum(profile.pcs.values())
    assert sum(f.count for f in profile.functions) == profile.total
    assert [n for _, n in profile.steps] == [layer.count for layer in bench.layers]
    # sorted, every PC inside a named function, and the hot function is a kernel
    counts = [f.count for f in profile.functions]
    assert counts == sorted(counts, reverse=True)
    assert all(f.name != "(no symbol)" for f in profile.functions)
    assert profile.functions[0].name.startswith("pb_"), profile.functions[:3]
    assert "SysTick_Handler" not in {f.name for f in profile.functions}


def test_profile_of_a_shared_model_matches_bench():
    path = shared_model("hello_world_int8")
    board = needs_instruction_counter(BOARD)
    _, profile, bench = _profile_and_bench(board, path, "dsp")
    assert profile.total == bench.count == sum(profile.pcs.values())
    assert profile.functions[0].name.startswith("pb_")


def test_profile_command_prints_the_table_and_writes_the_annotated_disassembly(small_model, tmp_path):
    needs_instruction_counter(BOARD)
    out = tmp_path / "prof"
    proc = subprocess.run([sys.executable, "-m", "protobrain.cli.main", "profile", "-b", BOARD, "-o", str(out),
                           "--top", "3", str(small_model)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    saved = json.loads((out / "profile.json").read_text())
    total = saved["total"]
    assert total > 0 and sum(saved["functions"].values()) == total == sum(saved["pcs"].values())
    hot = next(iter(saved["functions"]))
    assert hot.startswith("pb_")
    assert f"{total:,} instructions in one inference" in proc.stdout
    assert hot in proc.stdout and f"{saved['functions'][hot]:,}" in proc.stdout
    text = (out / "profile.txt").read_text()
    headers = [line for line in text.splitlines() if line.startswith("== ")]
    assert len(headers) == 3 and headers[0].startswith(f"== 1. {hot} at ")
    # every executed instruction of the top function is listed with its count on the left
    section = text.split(headers[0], 1)[1].split(headers[1], 1)[0]
    listed = 0
    for line in section.splitlines():
        m = re.match(r"^\s*([0-9,]+)\s+([0-9a-f]+):\t?\s", line)
        if m:
            count = int(m.group(1).replace(",", ""))
            assert count == saved["pcs"][f"{int(m.group(2), 16):#x}"]
            listed += count
    assert listed == saved["functions"][hot]
    assert (out / "firmware.elf").read_bytes()[:4] == b"\x7fELF"


@pytest.mark.parametrize("args, message", [
    (["-b", "nucleo_f446re"], "has no simulator"),
    (["-b", "no_such_board"], "unknown board"),
])
def test_profile_refuses_boards_it_cannot_simulate(small_model, tmp_path, args, message):
    proc = subprocess.run([sys.executable, "-m", "protobrain.cli.main", "profile", *args, "-o", str(tmp_path / "p"),
                           str(small_model)], capture_output=True, text=True)
    assert proc.returncode != 0
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p").exists()


def test_profile_refuses_a_missing_model(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "protobrain.cli.main", "profile", "-b", BOARD, "-o", str(tmp_path / "p"),
                           str(tmp_path / "missing.tflite")], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "not found" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p").exists()
