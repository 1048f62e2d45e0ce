"""protobrain.measure.built_models: the models `make bench` builds itself (the 16x8 keyword
net) repeat byte for byte from build to build, are kept where asked, and have the shape the
benchmark describes (MACs, 16x8, no all-zero channel to skip)."""

from __future__ import annotations

import json
import sys

import pytest
from builders import cache_root
from conftest import needs_instruction_counter
from test_bench import BOARD, _bench_script, _table

from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.errors import ProtobrainError
from protobrain.measure import built_models


def test_keyword_net_repeats_and_is_kept(tmp_path):
    pytest.importorskip("tensorflow")
    kept = built_models.load("dscnn_kws_16x8", cache_root())  # the tests' copy, built on an earlier run or now
    assert built_models.build("dscnn_kws_16x8") == kept
    assert built_models.load("dscnn_kws_16x8", tmp_path) == kept
    assert [p.name for p in tmp_path.iterdir()] == [f"dscnn_kws_16x8-v{built_models.VERSION}.tflite"]
    graph = read_model_bytes(kept, "dscnn_kws_16x8")
    assert {t.dtype for t in graph.tensors if not t.is_const and t.dtype in ("int8", "int16")} == {"int16"}
    program = build_program(graph, tier="dsp")
    assert program.macs == 1_488_768
    # random weights: no output channel the fast tiers would skip
    assert sum(s.call.computed_macs for s in program.steps if s.call) == program.macs


def test_unknown_name_is_a_one_line_error():
    with pytest.raises(ProtobrainError, match="no built model nope; choose one of dscnn_kws_16x8"):
        built_models.build("nope")


def test_make_bench_measures_the_built_keyword_net(tmp_path, monkeypatch):
    """scripts/bench.py benches the built 16x8 keyword net as it does a reference model
    (from its copy kept in OUT/built), names it as built in every table and says what it is."""
    pytest.importorskip("tensorflow")
    needs_instruction_counter(BOARD)
    data = built_models.load("dscnn_kws_16x8", cache_root())
    built_models.load("dscnn_kws_16x8", tmp_path / "bench" / "built")  # kept there: the bench does not build it again
    monkeypatch.setattr(built_models, "build", lambda name: pytest.fail("built again"))
    script = _bench_script()
    md_path = tmp_path / "BENCHMARKS.md"
    monkeypatch.setattr(sys, "argv", ["bench.py", "--only", "dscnn_kws_16x8", "--boards", BOARD, "--tiers", "dsp",
                                      "-n", "2", "--out", str(tmp_path / "bench"), "--markdown", str(md_path),
                                      "--workers", "1"])
    assert script.main() == 0
    md = md_path.read_text()
    [row] = _table(md, "board")
    assert (row["model"], row["kernels"], row["bit-exact"], row["MACs"]) == ("dscnn_kws_16x8 (built)", "dsp", "yes",
                                                                              "1,488,768")
    [per_tier] = _table(md, "model")
    assert per_tier["model"] == "dscnn_kws_16x8 (built)" and per_tier["bit-exact"] == "yes"
    assert per_tier[f"{BOARD} dsp"] == row["instr/MAC"]
    assert "random" in md.split("| board |")[0] and "not trained" in md.split("| board |")[0]
    saved = json.loads((tmp_path / "bench" / BOARD / "dsp" / "bench.json").read_text())["models"][0]
    assert saved["macs"] == 1_488_768 and len(data) > 0


def test_make_bench_without_tensorflow_says_it_leaves_the_built_models_out(tmp_path, monkeypatch, capsys):
    script = _bench_script()
    monkeypatch.setattr(built_models, "tensorflow_missing", lambda: "TensorFlow is not installed")
    monkeypatch.setattr(sys, "argv", ["bench.py", "--only", "dscnn_kws_16x8", "--boards", BOARD, "--out",
                                      str(tmp_path / "bench"), "--markdown", str(tmp_path / "B.md"), "--workers", "1"])
    assert script.main() == 2
    err = capsys.readouterr().err
    assert "bench: note: not measuring the built models (dscnn_kws_16x8): TensorFlow is not installed" in err
    assert "bench: error: no model to measure of dscnn_kws_16x8" in err
    assert not (tmp_path / "B.md").exists()
