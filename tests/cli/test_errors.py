"""Bad input gets one line naming the problem, exit code 2, and no output files."""

import subprocess
import sys

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
    import tensorflow as tf
    from builders import convert

    def make():
        x = tf.keras.Input((4, 4, 8), batch_size=1)
        y = tf.keras.layers.Lambda(lambda t: tf.nn.space_to_depth(t, 2))(x)  # SPACE_TO_DEPTH
        y = tf.keras.layers.Lambda(lambda t: tf.transpose(t, [0, 2, 1, 3]))(y)  # TRANSPOSE
        return tf.keras.Model(x, y)

    model = tmp_path / "odd.tflite"
    model.write_bytes(convert(make, [(4, 4, 8)], key="unsupported-s2d-transpose"))
    out = tmp_path / "gen"
    proc = run_cli("generate", model, "-o", out)
    assert_one_line_error(proc, "SPACE_TO_DEPTH", "TRANSPOSE", "#0", "#1", "Supported:", "FULLY_CONNECTED")
    assert not out.exists()


def test_help_everywhere():
    for args in ([], ["inspect"], ["generate"], ["verify"]):
        proc = run_cli(*args, "--help")
        assert proc.returncode == 0 and "Usage:" in proc.stdout
