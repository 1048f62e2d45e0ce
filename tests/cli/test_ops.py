"""`protobrain ops`: every registered operator with the types it takes, its fast tiers and
its golden; README.md carries the same table."""

import json
import sys
import subprocess

from conftest import REPO

from protobrain.cli.ops import markdown_matrix
from protobrain.compiler.ops import REGISTRY
from protobrain.compiler.ops.base import TYPES

CLI = [sys.executable, "-m", "protobrain.cli.main"]


def test_every_operator_declares_its_types():
    missing = sorted(n for n in REGISTRY if not TYPES.get(n))
    assert not missing, f"operators registered without types=(...): {missing}"


def test_ops_json_lists_every_registered_operator():
    proc = subprocess.run([*CLI, "ops", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["operator"] for r in rows] == sorted(REGISTRY)
    conv = next(r for r in rows if r["operator"] == "CONV_2D")
    assert "int8" in conv["types"] and "dsp" in conv["fast"] and conv["golden"] == "TFLite Micro"


def test_readme_carries_the_operator_table():
    readme = (REPO / "README.md").read_text()
    assert markdown_matrix() in readme, "README.md's operator table is stale: paste `protobrain ops --markdown`"
