"""Static analysis of the generated C: GCC's -fanalyzer and cppcheck, zero warnings, over the
code and kernels of every shared model and over the firmware's protocol server.

The *_weights.c files are left out: they are constant arrays with no code to analyse, and
cppcheck needs minutes to parse the larger ones."""

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import SHARED_MODEL_NAMES, shared_model

from protobrain.codegen import render as codegen
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model

DEFINES = ["-DPB_STEP_HOOK=pb_step_done"]  # as the firmware compiles it: the per-step hook is on


def code_files(folder: Path) -> list[str]:
    return [str(p) for p in sorted(folder.glob("*.c")) if not p.name.endswith("_weights.c")]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> list[Path]:
    """Every shared model's generated C, one folder each; three of them again with the DSP
    tier's fast kernels (their plain-C form, int8 and int16 weights); and a firmware's
    main.c and parser."""
    from protobrain.boards import load_board
    from protobrain.firmware.build import render_firmware

    root = tmp_path_factory.mktemp("generated")
    folders = []
    for name in SHARED_MODEL_NAMES:
        path = shared_model(name)
        codegen.write(build_program(read_model(path)), root / name, source=name)
        folders.append(root / name)
    for name, budget in (("kws_ref_model", 1 << 30), ("pretrainedResnet_quant", None), ("ad01_int8", 1 << 30)):
        program = build_program(read_model(shared_model(name)), tier="dsp", flash_budget=budget)
        codegen.write(program, root / f"{name}-dsp", source=name)
        folders.append(root / f"{name}-dsp")
    hello = shared_model("hello_world_int8")
    render_firmware(load_board("qemu-mps2-an386"), [build_program(read_model(hello))], [hello.read_bytes()],
                    root / "firmware")
    for board_file in (root / "firmware").glob("*.c"):  # register-level board code: not host C
        if board_file.name.startswith(("uart_", "timer_", "startup_", "soc_")):
            board_file.unlink()
    return folders + [root / "firmware"]


def test_gcc_analyzer_finds_nothing(generated):
    cc = shutil.which("gcc")
    if cc is None:
        pytest.skip("gcc not installed (make setup installs it)")
    problems = []
    for folder in generated:
        for src in code_files(folder):
            proc = subprocess.run([cc, "-fanalyzer", "-std=c99", "-Wall", "-Wextra", "-O2", *DEFINES, "-I", str(folder),
                                   "-c", src, "-o", "/dev/null"], capture_output=True, text=True)
            if proc.returncode != 0 or "warning" in proc.stderr:
                problems.append(proc.stderr.strip())
    assert not problems, "\n\n".join(problems)[:4000]


def test_cppcheck_finds_nothing(generated):
    if shutil.which("cppcheck") is None:
        pytest.skip("cppcheck not installed (make setup installs it: apt-get install cppcheck)")
    problems = []
    for folder in generated:
        proc = subprocess.run(["cppcheck", "-q", "--enable=warning,portability,performance", "--std=c99",
                               "--inline-suppr", "--max-configs=1", "--error-exitcode=1", *DEFINES, "-I", str(folder),
                               *code_files(folder)], capture_output=True, text=True)
        if proc.returncode != 0 or proc.stderr.strip():
            problems.append(proc.stderr.strip())
    assert not problems, "\n\n".join(problems)[:4000]
