"""Measurement on the device: exact instruction counts (QEMU plugin), per-layer figures,
memory figures, constant running time, the bit-exact verdict that fails a bench, and the
step-by-step arena commands behind `verify --layers` on a board."""

import importlib.util
import json
import re
import struct
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, needs_instruction_counter, shared_model

from protobrain.compiler import planner
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.run import protocol

BOARD = "qemu-mps2-an386"


def _bench(board, path, n=6):
    from protobrain.measure.bench import run_bench

    data = path.read_bytes()
    prog = build_program(read_model_bytes(data, path.stem))
    return prog, run_bench(board, [prog], [str(path)], [data], n_inputs=n)


def test_instruction_counts_are_exact_repeatable_and_layers_add_up(small_model):
    board = needs_instruction_counter(BOARD)
    prog, first = _bench(board, small_model)
    _, second = _bench(board, small_model)
    a, b = first.models[0], second.models[0]
    assert a.count_kind == "instructions" and a.bit_exact
    # identical from run to run, whole inference and every layer
    assert a.count == b.count and a.count_min == b.count_min and a.count_max == b.count_max
    assert [layer.count for layer in a.layers] == [layer.count for layer in b.layers]
    # layers add up to the whole inference, less the few instructions after the last layer
    assert 0 <= a.count - a.layer_sum <= 100
    assert len(a.layers) == len(prog.steps)
    # every layer that computes costs instructions; MACs as the compiler counts them
    assert all(layer.count > 0 for layer in a.layers)
    assert sum(layer.macs for layer in a.layers) == a.macs == prog.macs
    # the kernels are branch-free in their arithmetic: the same count for every input
    assert a.spread == 0, [(layer.op, layer.spread) for layer in a.layers if layer.spread]


def test_memory_and_flash_figures(small_model):
    board = needs_instruction_counter(BOARD)
    prog, report = _bench(board, small_model, n=2)
    m = report.models[0]
    assert m.heap_symbols == []  # no allocator linked
    assert 0 < m.stack_used < m.stack_size == board.stack_bytes
    assert m.arena == prog.arena_size >= m.activation_lower_bound + (m.largest_scratch > 0)
    assert m.tflm_arena and m.tflm_arena > m.arena
    assert prog.const_bytes <= m.weights_flash < prog.const_bytes + 2048  # weights plus layer parameters
    assert m.code_flash > 1000 and m.ram >= m.arena + board.stack_bytes


def _table(md: str, first_column: str) -> list[dict[str, str]]:
    """The rows of the Markdown table whose header starts with first_column, by column name."""
    lines = md.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith(f"| {first_column} |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, (c.strip() for c in line.strip("|").split("|")))))
    return rows


def _memory_columns_match(row: dict, path, board, tier: str) -> None:
    """arena, activation lower bound and scratch in a table row are the model's, each
    figured on its own: the bound from the portable program (whose kernels use no scratch)."""
    data = path.read_bytes()
    prog = build_program(read_model_bytes(data, path.stem), tier=tier, flash_budget=board.flash.length)
    portable = build_program(read_model_bytes(data, path.stem))
    scratch = [s.call.scratch_bytes for s in prog.steps if s.call and s.call.scratch_bytes]
    assert scratch, f"the test wants a tier whose kernels use scratch, not {tier}"
    assert not any(s.call and s.call.scratch_bytes for s in portable.steps)
    activations = planner.lower_bound(portable.buffers)
    assert row["arena (B)"] == f"{prog.arena_size:,}"
    assert row["activation lower bound (B)"] == f"{activations:,}"
    assert row["scratch (B)"] == f"{max(scratch):,}"
    assert prog.arena_size > activations  # the scratch is in the arena, not in the bound


def test_bench_writes_json_markdown_and_chart(small_model, tmp_path):
    board = needs_instruction_counter(BOARD)
    out = tmp_path / "bench"
    proc = subprocess.run([sys.executable, "-m", "protobrain.cli.main", "bench", str(small_model), "-b", BOARD,
                           "-o", str(out), "-n", "3", "--json", "--per-computed-mac"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    saved = json.loads((out / "bench.json").read_text())
    assert printed == saved
    m = saved["models"][0]
    assert m["inputs"] == 3 and m["spread"] == 0 and m["count"] > 0
    assert m["bit_exact"] and m["mismatches"] == [] and m["tier"] == "dsp"  # the M4's fastest
    assert abs(m["per_mac"] - m["count"] / m["macs"]) < 1e-9
    assert m["computed_macs"] == m["macs"] == sum(layer["computed_macs"] for layer in m["layers"])  # none skipped
    md = (out / "bench.md").read_text()
    assert f"| {m['name']} | {m['macs']:,} | {m['count']:,} |" in md
    [row] = _table(md, "model")
    assert row["bit-exact"] == "yes"
    assert row["per computed MAC"] == row["per MAC"] == f"{m['per_mac']:.2f}"
    assert (row["weights (B)"], row["code (B)"]) == (f"{m['weights_flash']:,}", f"{m['code_flash']:,}")
    _memory_columns_match(row, small_model, board, "dsp")
    assert [f"{m[k]:,}" for k in ("arena", "activation_lower_bound", "largest_scratch")] == \
        [row[k] for k in ("arena (B)", "activation lower bound (B)", "scratch (B)")]
    assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class _OneByteOff:
    """Reference.run with one output byte changed on one input case: a stand-in for a
    kernel that is wrong on that input. Records the value protobrain will have computed
    (TFLite Micro's own) and the value the changed reference says instead."""

    def __init__(self, monkeypatch, case: int, index: int):
        from protobrain.verify.reference import Reference

        self.case, self.index, self.calls, self.values = case, index, 0, None
        run = Reference.run

        def changed(ref, *xs):
            out = run(ref, *xs)
            if self.calls == self.case:
                flat = out.reshape(-1)
                was = flat[self.index].item()
                flat.view(np.uint8)[self.index * flat.itemsize] ^= 1
                self.values = (was, flat[self.index].item())
            self.calls += 1
            return out

        monkeypatch.setattr(Reference, "run", changed)


def test_bench_fails_naming_the_model_and_the_first_differing_value(small_model, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from protobrain.cli.main import main

    needs_instruction_counter(BOARD)
    off = _OneByteOff(monkeypatch, case=1, index=3)
    out = tmp_path / "bench"
    r = CliRunner().invoke(main, ["bench", str(small_model), "-b", BOARD, "-o", str(out), "-n", "3"])
    assert r.exit_code == 1, r.output
    got, want = off.values
    error = r.stderr.strip()
    assert len(error.splitlines()) == 1, error
    assert error.startswith(f"protobrain: error: small_net on {BOARD} (dsp kernels) is not bit-exact")
    assert (f"on 1 of 3 inputs: first at input case 1, output 0, flat index 3: "
            f"protobrain {got} vs TFLite Micro {want}") in error
    # the reports are written all the same, and say so
    saved = json.loads((out / "bench.json").read_text())["models"][0]
    assert not saved["bit_exact"]
    assert saved["mismatches"] == [{"case": 1, "output": 0, "index": 3, "got": got, "want": want, "count": 1}]
    md = (out / "bench.md").read_text()
    assert _table(md, "model")[0]["bit-exact"] == "NO"
    assert f"input case 1, output 0, flat index 3: protobrain {got} vs TFLite Micro {want}" in md


def test_make_bench_measures_every_row_then_fails_listing_those_not_bit_exact(tmp_path, monkeypatch, capsys):
    """scripts/bench.py: writes BENCHMARKS-style Markdown with the verdict in every table,
    the lower bound and the scratch apart, then exits 1 naming the row that differs."""
    path = shared_model("hello_world_int8")
    board = needs_instruction_counter(BOARD)
    spec = importlib.util.spec_from_file_location("bench_script", REPO / "scripts" / "bench.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    # the first run (portable kernels) is off on its first input; the dsp run is bit-exact
    off = _OneByteOff(monkeypatch, case=0, index=0)
    md_path = tmp_path / "BENCHMARKS.md"
    monkeypatch.setattr(sys, "argv", ["bench.py", "--models", str(path.parent), "--only", "hello_world_int8",
                                      "--boards", BOARD, "--tiers", "portable", "dsp", "-n", "2",
                                      "--out", str(tmp_path / "bench"), "--markdown", str(md_path),
                                      "--workers", "1"])  # in this process, where the patch applies
    assert script.main() == 1
    got, want = off.values
    err = capsys.readouterr().err
    # not a terminal: progress as plain lines, the last one for the last run
    assert re.search(r"^model x board x tier runs: (\d+)/\1 \S+ \S+ hello_world_int8", err, re.M), err
    errors = [line for line in err.splitlines() if line.startswith("bench: error")]
    assert errors == [f"bench: error: hello_world_int8 on {BOARD} (portable kernels) is not bit-exact with TFLite "
                      f"Micro on 1 of 2 inputs: first at input case 0, output 0, flat index 0: "
                      f"protobrain {got} vs TFLite Micro {want}"]
    md = md_path.read_text()
    [summary] = _table(md, "board")  # the board's fastest tier
    assert (summary["kernels"], summary["bit-exact"]) == ("dsp", "yes")
    [per_tier] = _table(md, "model")  # the first "| model |" table: instructions per MAC by tier
    assert per_tier[f"{BOARD} portable"].endswith(" NOT bit-exact")
    assert not per_tier[f"{BOARD} dsp"].endswith("bit-exact")
    assert per_tier["bit-exact"] == f"NO: {BOARD} portable"
    [section] = _table(md.split(f"## {BOARD}:")[1], "model")
    assert section["bit-exact"] == "yes"
    # code and weight flash apart, in the summary and per tier
    dsp = json.loads((tmp_path / "bench" / BOARD / "dsp" / "bench.json").read_text())["models"][0]
    assert (summary["weights (B)"], summary["code (B)"]) == (f"{dsp['weights_flash']:,}", f"{dsp['code_flash']:,}")
    assert summary["instr/computed MAC"] == f"{dsp['per_computed_mac']:.2f}"
    [flash] = _table(md.split("## Code and weight flash by kernel tier")[1], "model")
    assert flash[f"{BOARD} dsp"] == f"{dsp['code_flash']:,} / {dsp['weights_flash']:,}"
    for row in (summary, section):
        _memory_columns_match(row, path, board, "dsp")
    assert (tmp_path / "bench" / BOARD / "portable" / "bench.md").exists()


def _bench_script():
    spec = importlib.util.spec_from_file_location("bench_script", REPO / "scripts" / "bench.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_make_bench_on_ray_writes_what_one_worker_writes(tmp_path, monkeypatch):
    """scripts/bench.py fans its model x board x tier runs out through Ray Tune (local Ray by
    default): the same tables and per-board reports as one worker running them here."""
    pytest.importorskip("ray.tune", reason="Ray is in the scale extra: pip install 'protobrain[scale]'")
    path = shared_model("hello_world_int8")
    needs_instruction_counter(BOARD)
    script = _bench_script()
    written = {}
    for how, extra in (("sequential", ["--workers", "1"]), ("ray", [])):
        out = tmp_path / how
        monkeypatch.setattr(sys, "argv", ["bench.py", "--models", str(path.parent), "--only", "hello_world_int8",
                                          "--boards", BOARD, "--tiers", "portable", "dsp", "-n", "2",
                                          "--out", str(out / "bench"), "--markdown", str(out / "BENCHMARKS.md"),
                                          *extra])
        assert script.main() == 0
        md = (out / "BENCHMARKS.md").read_text().replace(str(out), "OUT")
        written[how] = ([line for line in md.splitlines() if not line.startswith("Run took")],
                        [json.loads((out / "bench" / BOARD / tier / "bench.json").read_text())
                         for tier in ("portable", "dsp")])
    assert written["ray"] == written["sequential"]
    assert len(_table("\n".join(written["ray"][0]), "board")) == 1


def test_bench_refuses_a_real_board_without_a_port(small_model, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "protobrain.cli.main", "bench", str(small_model), "-b", "nucleo_f446re",
                           "-o", str(tmp_path / "b")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "real board" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()


def test_device_layers_match_the_host_layers_exactly(small_model):
    """WRITE_ARENA / RUN_STEPS / READ_ARENA walk the model on the device like the host does."""
    from protobrain.firmware.build import build
    from protobrain.run.device import Device, DeviceError
    from protobrain.run.host import CompiledModel, build_shared_library
    from protobrain.run.qemu import QemuBoard
    from protobrain.run.targets import DeviceTarget
    from protobrain.verify.compare import test_inputs

    board = needs_instruction_counter(BOARD)
    data = small_model.read_bytes()
    prog = build_program(read_model_bytes(data, small_model.stem))
    host = CompiledModel(prog, build_shared_library(prog, prog.graph.name))
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        elf = build(board, [prog], [data], Path(tmp) / "fw").elf
        with QemuBoard(board, elf) as q, Device(q.port) as dev:
            run_layers = DeviceTarget(dev).layer_runner(prog)
            for xs in test_inputs([prog.graph.tensors[i] for i in prog.graph.inputs], 3, seed=2):
                ours, theirs = run_layers(*xs), host.run_layers(*xs)
                assert ours.keys() == theirs.keys()
                assert all(ours[k].tobytes() == theirs[k].tobytes() for k in ours)
            # out-of-range requests are refused, and the device keeps serving
            arena = prog.arena_size
            with pytest.raises(DeviceError, match="out of range"):
                dev.request(protocol.CMD_READ_ARENA, struct.pack("<BIH", 0, arena - 2, 4))
            with pytest.raises(DeviceError, match="out of range"):
                dev.request(protocol.CMD_WRITE_ARENA, struct.pack("<BI", 0, 0xFFFFFFF0) + b"xy")
            with pytest.raises(DeviceError, match="out of range"):
                dev.run_steps(0, 0, len(prog.steps) + 1)
            with pytest.raises(DeviceError, match="unknown model"):
                dev.run_steps(9, 0, 1)
            profile = dev.profile()
            assert profile.stack_used > 0 and profile.count_kind.startswith("cycles")
            assert dev.ping(b"still here") == b"still here"


def test_verify_layers_on_the_device_names_no_layer_when_all_match(small_model):
    needs_instruction_counter(BOARD)
    proc = subprocess.run([sys.executable, "-m", "protobrain.cli.main", "verify", str(small_model), "--board", BOARD,
                           "-n", "2", "--layers"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "every intermediate tensor matches TFLite Micro on 5 inputs" in proc.stdout


def test_shared_model_counts_match_across_runs_on_the_m7():
    """A real model (micro_speech) on another core: exact and repeatable there too."""
    path = shared_model("micro_speech_quantized")
    board = needs_instruction_counter("qemu-mps2-an500")
    _, a = _bench(board, path, n=3)
    _, b = _bench(board, path, n=3)
    assert a.models[0].count == b.models[0].count and a.models[0].bit_exact
    assert [x.count for x in a.models[0].layers] == [x.count for x in b.models[0].layers]


def test_a_run_whose_link_goes_quiet_starts_over_before_it_is_an_error(monkeypatch):
    """A simulator starved of CPU on a loaded machine can miss a reply: that run starts over
    (its counts do not depend on time); one that never answers is an error naming the tries."""
    from protobrain.run.device import LinkError

    script = _bench_script()
    monkeypatch.setattr(script, "build_program", lambda *a, **k: object())
    monkeypatch.setattr(script, "read_model_bytes", lambda *a, **k: object())
    calls = []

    class Report:
        models = ["figures"]

    def flaky(*a, **k):
        calls.append(1)
        if len(calls) < script.LINK_ATTEMPTS:
            raise LinkError("no reply from the device on socket://x after 3 tries (10 s each)")
        return Report()

    monkeypatch.setattr(script, "run_bench", flaky)
    job = {"board": BOARD, "tier": "dsp", "model": "m"}
    assert script.bench_job(job, {"m": b"x"}, 2) == "figures" and len(calls) == script.LINK_ATTEMPTS

    def dead(*a, **k):
        calls.append(1)
        raise LinkError("no reply from the device on socket://x after 3 tries (10 s each)")

    calls.clear()
    monkeypatch.setattr(script, "run_bench", dead)
    line = script.bench_job(job, {"m": b"x"}, 2)
    assert line.startswith(f"bench: error on {BOARD} (dsp kernels, m): no reply") and line.endswith(
        f"({script.LINK_ATTEMPTS} attempts)") and len(calls) == script.LINK_ATTEMPTS


def test_a_resent_request_counts_its_inference_once():
    """A host that resends INVOKE after a late reply makes the device run the inference
    again: the plugin then logged two runs' marks. Their counts repeat, so they are one
    figure; counts that differ, or a partial run, are an error, never a figure."""
    from types import SimpleNamespace

    from protobrain.measure.bench import BenchError, inference_counts

    prog = SimpleNamespace(steps=[0, 1], graph=SimpleNamespace(name="m"))
    one = [100, 130, 170, 180]                        # before, after step 0, after step 1, after
    assert inference_counts(prog, one) == (80, [30, 40])
    again = [x + 1000 for x in one]
    assert inference_counts(prog, one + again) == (80, [30, 40])
    with pytest.raises(BenchError, match="counted differently"):
        inference_counts(prog, one + [1000, 1031, 1070, 1080])
    with pytest.raises(BenchError, match="logged 5 marks for 2 steps"):
        inference_counts(prog, one + [1000])
    with pytest.raises(BenchError, match="logged 0 marks"):
        inference_counts(prog, [])


def test_a_run_that_fails_among_the_others_gets_one_more_go_alone(tmp_path, monkeypatch, capsys):
    """make bench does not throw away every other run for one that failed while the machine
    was busy: that run goes again, alone, after the others, and the tables are written."""
    path = shared_model("hello_world_int8")
    needs_instruction_counter(BOARD)
    script = _bench_script()
    real, calls = script.bench_job, []

    def starved_once(job, blobs, n_inputs):
        calls.append(dict(job))
        if len(calls) == 1:
            return f"bench: error on {job['board']} ({job['tier']} kernels, {job['model']}): no reply"
        return real(job, blobs, n_inputs)

    monkeypatch.setattr(script, "bench_job", starved_once)
    md_path = tmp_path / "BENCHMARKS.md"
    monkeypatch.setattr(sys, "argv", ["bench.py", "--models", str(path.parent), "--only", "hello_world_int8",
                                      "--boards", BOARD, "--tiers", "dsp", "-n", "2", "--out", str(tmp_path / "b"),
                                      "--markdown", str(md_path), "--workers", "1"])
    assert script.main() == 0
    assert calls[-1] == calls[0] and len(calls) == 4     # three runs, the first of them twice
    assert f"bench: running hello_world_int8 on {BOARD} (dsp kernels) again, alone" in capsys.readouterr().err
    [summary] = _table(md_path.read_text(), "board")
    assert summary["bit-exact"] == "yes"
