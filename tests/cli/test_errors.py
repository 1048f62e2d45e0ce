"""Bad input gets one line naming the problem, exit code 2, and no output files."""

import subprocess
import sys

import numpy as np

from conftest import shared_model

CLI = [sys.executable, "-m", "protobrain.cli.main"]


def run_cli(*args):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=120)


def assert_one_line_error(proc, *words):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("protobrain: error:")
    for w in words:
        assert w in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


def test_non_tflite_file(tmp_path):
    bad = tmp_path / "notes.tflite"
    bad.write_text("hello, this is not a model\n" * 10)
    out = tmp_path / "gen"
    assert_one_line_error(run_cli("generate", bad, "-o", out), "not a TensorFlow Lite model")
    assert not out.exists()


def test_truncated_model(tmp_path):
    src = shared_model("kws_ref_model").read_bytes()
    for cut in (9, 200, 1000, len(src) // 2):
        bad = tmp_path / f"cut{cut}.tflite"
        bad.write_bytes(src[:cut])
        out = tmp_path / f"gen{cut}"
        proc = run_cli("generate", bad, "-o", out)
        assert_one_line_error(proc)
        assert "truncated" in proc.stderr or "damaged" in proc.stderr or "bytes but shape" in proc.stderr
        assert not out.exists()


def test_missing_file(tmp_path):
    assert_one_line_error(run_cli("inspect", tmp_path / "nope.tflite"), "cannot read")


def test_unsupported_operators_are_all_named(tmp_path):
    from protobrain.compiler.writer import write_model

    # Two operators TFLite Micro has no kernel for either: SEGMENT_SUM and UNIQUE.
    tensors = [{"shape": [4, 3], "type": "int8", "scale": 0.1, "zp": 0},
               {"shape": [4], "type": "int32", "data": np.array([0, 0, 1, 1], np.int32)},
               {"shape": [2, 3], "type": "int8", "scale": 0.1, "zp": 0},
               {"shape": [6], "type": "int8", "scale": 0.1, "zp": 0},
               {"shape": [6], "type": "int32"}]
    ops = [("SEGMENT_SUM", [0, 1], [2], None, {}), ("UNIQUE", [2], [3, 4], None, {})]
    model = tmp_path / "odd.tflite"
    model.write_bytes(write_model(tensors, ops, [0], [3]))
    out = tmp_path / "gen"
    proc = run_cli("generate", model, "-o", out)
    assert_one_line_error(proc, "SEGMENT_SUM", "UNIQUE", "#0", "#1", "protobrain ops")
    assert not out.exists()


def test_help_everywhere():
    for args in ([], ["inspect"], ["generate"], ["verify"]):
        proc = run_cli(*args, "--help")
        assert proc.returncode == 0 and "Usage:" in proc.stdout
