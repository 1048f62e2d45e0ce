"""`protobrain inspect` and `generate` on every reference model, as a user runs them."""

import json
import subprocess
import sys

import pytest
from conftest import SHARED_MODEL_NAMES, shared_model
from reference_figures import LOWER_BOUND

CLI = [sys.executable, "-m", "protobrain.cli.main"]


@pytest.mark.parametrize("name", SHARED_MODEL_NAMES)
def test_inspect_and_generate(name, tmp_path):
    path = shared_model(name)
    proc = subprocess.run([*CLI, "inspect", str(path), "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    s = report["summary"]
    assert s["arena_bytes"] <= LOWER_BOUND[name] < s["tflm_arena_bytes"]
    assert s["operators"] == len(report["layers"]) and s["macs"] == sum(r["macs"] for r in report["layers"])

    table = subprocess.run([*CLI, "inspect", str(path)], capture_output=True, text=True, timeout=120)
    assert table.returncode == 0 and "TFLite Micro arena" in table.stdout and f"{s['arena_bytes']:,} B arena" in table.stdout

    out = tmp_path / "gen"
    gen = subprocess.run([*CLI, "generate", str(path), "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert gen.returncode == 0, gen.stderr
    cname = name.lower()
    for f in (f"{cname}.h", f"{cname}.c", f"{cname}_weights.c", f"{cname}_weights.h", "pb_common.h"):
        assert (out / f).exists(), f
    header = (out / f"{cname}.h").read_text()
    assert f"#define PB_{cname.upper()}_ARENA_SIZE {s['arena_bytes']}u" in header
    assert f"int pb_{cname}_invoke(" in header
    assert f"{s['arena_bytes']:,} B arena" in gen.stdout and f"{s['macs']:,}" in gen.stdout
