"""--optimize (speed, size or balanced) sits next to --kernels on every command that builds
code: each accepts it (and refuses another word as it refuses a bad --kernels), and the
figures name the DSP tier's weight form it chose."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import needs_instruction_counter, needs_simulator, shared_model

from protobrain.cli.main import main

CLI = [sys.executable, "-m", "protobrain.cli.main"]
MISSING = "no-such-model.tflite"
# every command that takes --kernels, with its other required arguments
COMMANDS = {
    "inspect": ["inspect", MISSING],
    "generate": ["generate", MISSING, "-o", "{tmp}/gen"],
    "build": ["build", MISSING, "-b", "qemu-mps2-an386", "-o", "{tmp}/fw"],
    "export platformio": ["export", "platformio", MISSING, "-b", "nucleo_f446re", "-o", "{tmp}/pio"],
    "export library": ["export", "library", MISSING, "-o", "{tmp}/lib"],
    "export arduino": ["export", "arduino", MISSING, "-o", "{tmp}/ino"],
    "flash": ["flash", MISSING, "-b", "qemu-mps2-an386", "--firmware", "{tmp}/fw"],
    "verify": ["verify", MISSING],
    "bench": ["bench", MISSING, "-b", "qemu-mps2-an386", "-o", "{tmp}/bench"],
    "profile": ["profile", MISSING, "-b", "qemu-mps2-an386", "-o", "{tmp}/profile"],
    "bundle": ["bundle", "no-vision", "no-speech", "no-synth", "-b", "qemu-mps2-an386", "-o", "{tmp}/bundle"],
    "sweep": ["sweep", "vision", "-b", "no-such-board", "-o", "{tmp}/sweep"],
}


def _invoke(args, tmp_path):
    (tmp_path / "fw").mkdir(exist_ok=True)  # flash's --firmware must exist
    return CliRunner().invoke(main, [a.format(tmp=tmp_path) for a in args])


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_accepts_optimize(command, tmp_path):
    """Each command gets past its options with --optimize and fails later, on the missing
    model (or run, or board): a usage error (exit 2) would name --optimize."""
    for choice in ("speed", "size", "balanced"):
        result = _invoke([*COMMANDS[command], "--optimize", choice], tmp_path)
        assert "--optimize" not in result.output, result.output
        assert result.exit_code != 0 and result.exception is not None


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_optimize_is_a_usage_error(command, tmp_path):
    result = _invoke([*COMMANDS[command], "--optimize", "fast"], tmp_path)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--optimize': 'fast' is not one of 'speed', 'size', 'balanced'." in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_help_says_what_each_choice_does(command):
    result = CliRunner().invoke(main, [*COMMANDS[command][: 2 if command.startswith("export") else 1], "--help"])
    text = " ".join(result.output.split())
    assert "--optimize [speed|size|balanced]" in text and "fit half the flash" in text, text


def _cli(*args, timeout=600):
    proc = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_generate_on_the_host_widens_for_speed_only(tmp_path):
    sizes = {}
    for choice in ("speed", "size", "balanced"):
        out = _cli("generate", shared_model("kws_ref_model"), "-o", tmp_path / choice, "--kernels", "dsp",
                   "--optimize", choice)
        form = "int16" if choice == "speed" else "int8"
        assert f"{form} weights (--optimize {choice})" in out, out
        sizes[choice] = (tmp_path / choice / "kws_ref_model_weights.c").stat().st_size
    assert sizes["size"] == sizes["balanced"] < sizes["speed"]


def test_verify_checks_the_wide_form_on_the_host():
    out = _cli("verify", shared_model("kws_ref_model"), "-n", "2", "--kernels", "dsp", "--optimize", "speed")
    assert "verify on host (dsp kernels with int16 weights (--optimize speed))" in out, out


def test_build_says_the_form(tmp_path):
    board = needs_simulator("qemu-mps2-an386")
    out = _cli("build", shared_model("kws_ref_model"), "-b", board.name, "-o", tmp_path / "fw", "--optimize", "size")
    assert "dsp kernels with int8 weights (--optimize size)" in out, out


def test_bench_names_the_form_it_measured(small_model, tmp_path):
    board = needs_instruction_counter("qemu-mps2-an386")
    out = _cli("bench", small_model, "-b", board.name, "-n", "1", "-o", tmp_path, "--optimize", "size", "--json")
    import json

    m = json.loads(out)["models"][0]
    assert (m["kernels"], m["wide_weights"]) == ("dsp kernels with int8 weights (--optimize size)", False)
