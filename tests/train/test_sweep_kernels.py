"""sweep measures with the kernel tier `build` takes for the board (by default its fastest),
takes --kernels, and says which tier its table counts: it measured the portable kernels
while bench counted the DSP tier for the same model and board, and neither said so."""

import json
import shutil
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from conftest import needs_instruction_counter, shared_model

from protobrain.cli.main import main


@pytest.fixture(scope="module")
def kws_run(tmp_path_factory):
    """A run folder holding kws_ref_model as its model.tflite, as a TrainResult has it."""
    folder = tmp_path_factory.mktemp("runs") / "kws"
    folder.mkdir()
    shutil.copyfile(shared_model("kws_ref_model"), folder / "model.tflite")
    return SimpleNamespace(run=SimpleNamespace(path=folder))


def test_measure_takes_the_boards_fastest_tier_by_default(kws_run):
    from protobrain.firmware.programs import load_programs
    from protobrain.measure.bench import run_bench
    from protobrain.train.sweep import measure, sweep_tier

    board = needs_instruction_counter("qemu-mps2-an386")
    assert sweep_tier(board.name) == "dsp" and sweep_tier(board.name, "portable") == "portable"
    macs, _, count, _ = measure(kws_run, board.name)
    path = kws_run.run.path / "model.tflite"
    progs, blobs = load_programs([str(path)], "best", "auto", [board.name])
    bench = run_bench(board, progs, [str(path)], blobs, n_inputs=1).models[0]
    assert bench.tier == "dsp" and count == bench.count and macs == bench.macs
    _, _, portable, _ = measure(kws_run, board.name, "portable")
    assert portable > 1.5 * count  # the tier it reports is the tier it measured


def test_sweep_command_defaults_to_the_fastest_tier_and_says_so(tmp_path):
    board = needs_instruction_counter("qemu-mps2-an386")
    counts = {}
    for kernels in ("auto", "portable"):
        out = tmp_path / kernels
        r = CliRunner().invoke(main, ["sweep", "vision", "--widths", "0.5", "--epochs", "1", "-o", str(out),
                                      "--quiet", "--workers", "1", "--kernels", kernels])
        assert r.exit_code == 0, r.output
        tier = "dsp" if kernels == "auto" else "portable"
        report = json.loads((out / "sweep.json").read_text())
        assert report["kernels"] == tier and report["board"] == board.name
        assert f"on {board.name} with the {tier} kernels" in (out / "sweep.md").read_text()
        assert f"{tier} kernels" in r.output
        counts[tier] = report["points"][0]["instructions"]
    assert counts["portable"] > counts["dsp"]  # the same model (same seed), measured with each tier
