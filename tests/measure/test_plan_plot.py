"""`protobrain inspect MODEL --plot plan.png`: a picture of the memory plan with every
activation buffer a box at its planned place, the lower bound and TensorFlow Lite Micro's
arena marked; and what the picture draws is the plan (boxes where the offsets are)."""

import subprocess
import sys

import pytest
from conftest import shared_model

from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model

CLI = [sys.executable, "-m", "protobrain.cli.main"]
matplotlib = pytest.importorskip("matplotlib")
figure = pytest.importorskip("matplotlib.figure")


def test_inspect_plot_draws_the_plan_with_the_bounds_marked(tmp_path, monkeypatch):
    from protobrain.measure import plan_plot

    program = build_program(read_model(shared_model("vww_96_int8")))
    drawn = {}
    real_savefig = figure.Figure.savefig

    def capture(fig, path, *args, **kwargs):
        ax = fig.axes[0]
        drawn["boxes"] = [(round(p.get_x() + p.get_width() / 2), p.get_y(), p.get_height()) for p in ax.patches
                          if p.get_height() > 0]
        drawn["lines"] = {line.get_label(): line.get_ydata()[0] for line in ax.get_lines()
                          if line.get_label().startswith(("protobrain", "live", "TFLite"))}
        return real_savefig(fig, path, *args, **kwargs)

    monkeypatch.setattr(figure.Figure, "savefig", capture)
    out = plan_plot.plot_plan(program, tmp_path / "plan.png", plan_plot.TflmArena(103_680, 73_728))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    want = sorted((round((b.first + b.last) / 2), b.offset, b.size) for b in program.plan.buffers)
    assert sorted(drawn["boxes"]) == want  # one box per buffer, at its step span and offset
    lines = sorted((k.split(" ")[0], v) for k, v in drawn["lines"].items())
    assert lines == sorted([("protobrain", program.arena_size), ("live-tensor", program.lower_bound),
                            ("TFLite", 73_728), ("TFLite", 103_680)])
    assert max(plan_plot.live_bytes(program)) == program.lower_bound


def test_inspect_plot_from_the_cli_marks_tflite_micros_arena(tmp_path):
    png = tmp_path / "out" / "plan.png"
    proc = subprocess.run([*CLI, "inspect", str(shared_model("vww_96_int8")), "--plot", str(png)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:4] == b"\x89PNG" and str(png) in proc.stdout.replace("\n", "")
    assert "TFLite Micro arena 103,680 B, activations and scratch 73,728 B" in proc.stdout

    bad = subprocess.run([*CLI, "inspect", str(shared_model("vww_96_int8")), "--plot", str(tmp_path / "plan.bmp")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and ".png" in bad.stderr
    assert not (tmp_path / "plan.bmp").exists()


def test_without_the_reference_the_plot_says_tflite_micro_is_not_marked(tmp_path):
    png = tmp_path / "plan.png"
    proc = subprocess.run([*CLI, "inspect", str(shared_model("hello_world_int8")), "--no-reference", "--plot", str(png)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert png.exists() and "not marked" in proc.stdout
