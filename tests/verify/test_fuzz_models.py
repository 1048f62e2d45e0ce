"""Hostile models: thousands of structurally mutated .tflite files (protobrain.verify.fuzz).

Every mutant is refused with a clear one-line error, or is generated for every kernel tier
(portable, dsp, mve: the fast tiers' weight re-layout, requantization folding and
dead-channel detection see every valid mutant); no traceback, no hang. A sample of the
distinct programs is built with AddressSanitizer and UBSan for the portable and the DSP
tier (its plain-C form) and compared byte for byte with TFLite Micro on random and edge
inputs; a few of them also run as firmware in QEMU (DSP on the Cortex-M4, Helium on the
Cortex-M55). "Matches" for a mutant protobrain compiles: TFLite Micro's C++ interpreter
loads and runs it and every output byte agrees, with the sanitized C clean; a mutant
TFLite Micro refuses (or aborts on) must have been refused by protobrain too. protobrain
may refuse more than TFLite Micro.

The fuzz runs on the reference models in ../shared/models when present, and always on
protobrain's hand-written seed models (protobrain.verify.fuzz.seeds.builtin_seeds), so a clone without
the models folder still fuzzes something. The regression tests below each pin one bug the
fuzzer found.
"""

from __future__ import annotations

import importlib
import math
import os
import random
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
import tflite
from conftest import SHARED_MODEL_NAMES, SHARED_MODELS
from tflite.BuiltinOptions import BuiltinOptions

from protobrain.compiler import program as compiler_program
from protobrain.compiler.ops import REGISTRY
from protobrain.compiler.ops.tiers import dsp as fast_dsp
from protobrain.compiler.ops.tiers import mve as fast_mve
from protobrain.compiler.ops.tiers.select import TIERS
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model
from protobrain.errors import ModelError, ProtobrainError, UnsupportedError
from protobrain.verify.fuzz import modelmap, sanitize
from protobrain.verify.fuzz.cases import ValidMutant, run_case
from protobrain.verify.fuzz.driver import fuzz, pick_sample, tier_table, verify_valid
from protobrain.verify.fuzz.modelmap import ModelMap
from protobrain.verify.fuzz.mutator import Mutation, Mutator
from protobrain.verify.fuzz.qemu import QEMU_BOARDS, pick_qemu, qemu_available
from protobrain.verify.fuzz.sanitize import HOST_TIERS, sanitizers_available
from protobrain.verify.fuzz.seeds import FUZZ_EXTRA, NOT_SEEDED, builtin_seeds, load_seeds, shared_names
from protobrain.verify.fuzz.tflm import UNJUDGED, run_references, undefined_checks
from protobrain.verify.fuzz.unwritten import unwritten_rules
from protobrain.verify.reference import Reference

SEED = 20261122
CASES = int(os.environ.get("PROTOBRAIN_FUZZ_CASES", "5000"))  # each generated for all three tiers
VERIFY, VERIFY_SAME = 12, 3  # distinct valid programs, and mutants whose programs equal their seed's
QEMU = 3  # of those, run in QEMU on each board


@pytest.fixture(scope="module")
def run():
    seeds = load_seeds(SHARED_MODELS)
    return seeds, fuzz(seeds, CASES, seed=SEED)


@pytest.fixture(scope="module")
def sample(run):
    seeds, report = run
    return pick_sample(report, VERIFY, same_program=VERIFY_SAME, seed=SEED)


def test_no_crash_and_no_hang(run):
    seeds, report = run
    assert report.cases == CASES >= 1000
    assert not report.findings, "\n".join(
        [f.line() for f in report.findings[:10]] + [report.findings[0].outcome.traceback])
    assert report.outcomes["error"] + report.outcomes["valid"] == CASES


def test_every_valid_mutant_is_generated_for_every_tier(run):
    seeds, report = run
    valid = report.outcomes["valid"]
    assert report.tiers_fuzzed == TIERS == ("portable", "armv6m", "dsp", "mve")
    for tier in TIERS:
        assert report.generated(tier) == valid > 0, (tier, dict(report.by_tier[tier]))
    # a refusal is the first tier's (reading and lowering are shared); no fast tier refuses alone
    assert dict(report.by_tier["portable"]) == {"error": report.outcomes["error"], "valid": valid}
    # the DSP tier's two weight forms: int16 (as `build` stores them on the M4 board) and int8
    assert 0 < report.dsp_wide < valid


def test_mutations_reach_every_kind_and_both_outcomes(run):
    seeds, report = run
    kinds = set(Mutator.KINDS)
    assert set(report.by_kind) == kinds
    for kind, counts in report.by_kind.items():
        assert sum(counts.values()) >= CASES // 200, (kind, counts)
    # Hostile enough to be refused mostly, mild enough that many still compile.
    assert report.outcomes["error"] > CASES // 2 and report.outcomes["valid"] > CASES // 20
    assert len(report.valid) >= VERIFY
    for name in seeds:
        assert sum(report.by_seed[name].values()) >= CASES // len(seeds) - 1


def test_shared_models_are_fuzzed(run):
    """The reference models and the recurrent and signal-library ones (seeds.FUZZ_EXTRA)."""
    seeds, report = run
    names = shared_names()
    assert set(SHARED_MODEL_NAMES) | set(FUZZ_EXTRA) == set(names)
    missing = [n for n in names if n not in seeds]
    if missing:
        pytest.skip(f"reference models {', '.join(missing)} not in {SHARED_MODELS} (set PROTOBRAIN_MODELS); "
                    "only the built-in seed models were fuzzed")
    for n in names:
        assert report.by_seed[n]["valid"] > 0 and report.by_seed[n]["error"] > 0, n


def test_valid_mutants_match_tflite_micro_under_sanitizers(run, sample):
    """The portable and the DSP tier's C of each sampled mutant, with ASan and UBSan."""
    seeds, report = run
    if (why := sanitizers_available()) is not None:
        pytest.skip(f"{why} (install gcc with libasan and libubsan: make setup)")
    assert len(sample) == VERIFY + VERIFY_SAME
    verdicts = verify_valid(sample, seed=SEED)
    bad = [v.line() for v in verdicts if not v.ok]
    assert not bad, "\n".join(bad)
    table = tier_table(report, verdicts)
    assert HOST_TIERS == ("portable", "armv6m", "dsp")
    for tier in HOST_TIERS:
        t = table[tier]  # (unjudged: no golden runs the whole mutant; rare)
        assert t["host_sanitizers"] == t["host_sanitizers_match"] + t["host_unjudged"] == len(sample), tier
    assert table["mve"]["host_sanitizers"] == 0 and all(t["qemu"] == 0 for t in table.values())
    assert len({v.mutant.seed for v in verdicts}) >= min(3, len(seeds))
    # both DSP weight forms ran under the sanitizers
    assert {v.flash_budget is None for v in sample} == {True, False}


def test_valid_mutants_match_tflite_micro_in_qemu(run, sample):
    """A few sampled mutants as firmware: DSP tier on the Cortex-M4, Helium on the Cortex-M55."""
    seeds, report = run
    if (why := qemu_available()) is not None:
        pytest.skip(why)
    on_qemu = pick_qemu(sample, QEMU)
    assert len(on_qemu) == QEMU
    verdicts = verify_valid([], seed=SEED, tiers=(), qemu=on_qemu)
    bad = [v.line() for v in verdicts if not v.ok]
    assert not bad, "\n".join(bad)
    table = tier_table(report, verdicts)
    assert set(QEMU_BOARDS) == {"dsp", "mve"}
    for tier, board in QEMU_BOARDS.items():
        t = table[tier]
        assert t["qemu"] == t["qemu_match"] + t["qemu_unjudged"] == QEMU and t["qemu_board"] == board
    assert table["portable"]["qemu"] == 0 and all(t["host_sanitizers"] == 0 for t in table.values())


def test_errors_reach_the_command_line_as_one_line(run, tmp_path):
    """What a user sees for a few refused mutants: one line, exit status 2, no traceback."""
    seeds, report = run
    name = sorted(seeds)[0]
    mut = Mutator(seeds[name], name)
    rng = random.Random(SEED)
    picked = {}
    while len(picked) < 3:
        m = mut.mutate(rng)
        data = m.apply(seeds[name])
        out = run_case(data)
        if out.kind == "error" and m.kind not in picked:
            picked[m.kind] = data
    for kind, data in picked.items():
        path = tmp_path / f"{kind}.tflite"
        path.write_bytes(data)
        proc = subprocess.run([sys.executable, "-m", "protobrain.cli.main", "inspect", "--no-reference", str(path)],
                              capture_output=True, text=True, timeout=120)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("protobrain: error:"), (kind, proc.stderr)
        assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", sorted(builtin_seeds()))
def test_builtin_seed_models_match_tflite_micro(name):
    """The hand-written seeds are real models: bit-exact with TFLite Micro itself (not LiteRT)
    before any mutation, portable and DSP tier, under the sanitizers, over two passes of
    consecutive invocations from reset (what TFLite Micro leaves unwritten not compared)."""
    if (why := sanitizers_available()) is not None:
        pytest.skip(f"{why} (install gcc with libasan and libubsan: make setup)")
    assert Reference(builtin_seeds()[name], arena_size=1 << 20).golden == "tflm"
    verdicts = verify_valid([_unmutated(name)], n_random=8, seed=SEED)
    assert [(v.tier, v.status, v.message) for v in verdicts] == [(t, "match", "") for t in HOST_TIERS], \
        [v.line() for v in verdicts]


def _operators(data: bytes) -> list:
    g = read_model_bytes(data)
    return [op for sub in [g, *g.subgraphs] for op in sub.operators]


def test_every_registered_operator_is_in_a_seed():
    """Every operator protobrain lowers is fuzzed through a built-in seed, but those
    TFLite Micro cannot run (seeds.NOT_SEEDED, each with its reason)."""
    seeded = {op.name for data in builtin_seeds().values() for op in _operators(data)}
    missing = sorted(set(REGISTRY) - seeded - set(NOT_SEEDED))
    assert not missing, f"operators in no built-in seed (add them to a seeds_*.py model): {', '.join(missing)}"
    assert set(NOT_SEEDED) <= set(REGISTRY) and not set(NOT_SEEDED) & seeded
    assert all(NOT_SEEDED.values())


# Operators whose schema options table is not named after them.
_OPTIONS_NAMED = {"AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions", "L2_POOL_2D": "Pool2DOptions",
                  "MEAN": "ReducerOptions", "SUM": "ReducerOptions", "REDUCE_MAX": "ReducerOptions",
                  "REDUCE_MIN": "ReducerOptions", "REDUCE_ALL": "ReducerOptions",
                  "L2_NORMALIZATION": "L2NormOptions", "MAXIMUM": "MaximumMinimumOptions",
                  "MINIMUM": "MaximumMinimumOptions", "SVDF": "SVDFOptions", "CONV_2D": "Conv2DOptions",
                  "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions", "SPACE_TO_BATCH_ND": "SpaceToBatchNDOptions",
                  "BATCH_TO_SPACE_ND": "BatchToSpaceNDOptions", "ADD_N": "AddNOptions", "GATHER_ND": "GatherNdOptions",
                  "REVERSE_V2": "ReverseV2Options", "SELECT_V2": "SelectV2Options", "PADV2": "PadV2Options",
                  "SPLIT_V": "SplitVOptions", "BATCH_MATMUL": "BatchMatMulOptions",
                  "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTMOptions"}


def test_seed_operators_carry_their_options():
    """So that every option is mutated: each builtin operator of a seed carries its schema
    options table (all fields written), each custom one its flexbuffer map."""
    for name, data in builtin_seeds().items():
        model = tflite.Model.GetRootAs(data, 0)
        ops = _operators(data)
        m = ModelMap(data)
        for k, op in enumerate(ops[:len(m.operators)]):
            raw = model.Subgraphs(0).Operators(k)
            if op.name.startswith("CUSTOM:"):
                assert m.operators[k].custom or not op.options, (name, k, op.name)
                assert len(m.operators[k].custom) == len(op.options), (name, k, op.name)
                continue
            want = _OPTIONS_NAMED.get(op.name, "".join(w.capitalize() for w in op.name.split("_")) + "Options")
            if hasattr(BuiltinOptions, want):
                assert raw.BuiltinOptionsType() == getattr(BuiltinOptions, want), (name, k, op.name, want)
    flex = ModelMap(builtin_seeds()["tiny_frontend"]).operators
    assert [len(o.custom) for o in flex] == [1, 0, 2, 2, 1, 0, 9, 1, 2]


def test_custom_options_are_mutated():
    """A custom operator's flexbuffer values are mutated in place, and its bytes flipped; the
    reader then sees the mutated value."""
    data = builtin_seeds()["tiny_frontend"]
    mut = Mutator(data, "tiny_frontend")
    rng = random.Random(SEED)
    details = [m.detail for m in (mut._options(rng) for _ in range(400))]
    assert any(" custom options bytes " in d for d in details)
    values = [d for d in details if " custom " in d and " -> " in d]
    assert {d.split(" custom ")[1].split(" -> ")[0] for d in values} >= {"shift", "fft_length", "num_channels",
                                                                         "snr_shift", "smoothing_bits"}
    key, pos, kind, width = next(f for f in mut.map.operators[3].custom if f[0] == "start_index")
    assert (kind, width) == ("int", 1)
    g = read_model_bytes(patch(data, (pos, "b", 5)))
    assert g.operators[3].options == {"end_index": 17, "start_index": 5}


def _unmutated(name: str, data: bytes | None = None, mutation: Mutation | None = None) -> ValidMutant:
    """A seed (or its mutant) as the driver keeps a valid mutant."""
    seed = builtin_seeds()[name]
    mutation = mutation or Mutation("none", "unmutated")
    out = run_case(mutation.apply(seed) if data is None else data)
    assert out.kind == "valid", out.message
    return ValidMutant(name, 0, mutation, seed if data is None else data, out.key, out.program.arena_size,
                       out.program.macs, False)


@pytest.mark.parametrize("name", ["tiny_svdf", "tiny_lstm", "tiny_variables", "tiny_frontend", "tiny_frames"])
def test_stateful_seeds_run_two_passes_from_reset(name, monkeypatch):
    """The driver runs every input case twice, both sides reset before each pass; without
    the C model's reset between the passes the stateful seeds no longer match."""
    if (why := sanitizers_available()) is not None:
        pytest.skip(why)
    vm = _unmutated(name)
    assert all(v.ok and v.status == "match" for v in verify_valid([vm], seed=SEED, tiers=("portable",)))
    harness = sanitize._harness
    monkeypatch.setattr(sanitize, "_harness", lambda program: harness(program).replace("_reset();", "_arena();"))
    (verdict,) = verify_valid([vm], seed=SEED, tiers=("portable",))
    assert verdict.status == "mismatch" and "pass 1" in verdict.message, verdict.line()


def test_unwritten_and_undefined_outputs_are_not_compared():
    """A framer that is not prefilled leaves its frames unwritten until it has a frame (its
    valid flag says so); a QUANTIZE of quotients beyond int32 is undefined in TFLite Micro.
    Neither is compared; the rest is."""
    if (why := sanitizers_available()) is not None:
        pytest.skip(why)
    frames = builtin_seeds()["tiny_frames"]
    prefill = next(f for f in ModelMap(frames).operators[0].custom if f[0] == "prefill")
    framer = _unmutated("tiny_frames", mutation=Mutation("options", "prefill -> 0", [(prefill[1], b"\0")]))
    assert [r.output for r in unwritten_rules(framer.program("portable"))] == [0, 3]
    floats = builtin_seeds()["tiny_float"]
    m = ModelMap(floats)
    (x,), (q,) = next((op.inputs, op.outputs) for op in read_model_bytes(floats).operators if op.name == "QUANTIZE")
    tiny = _unmutated("tiny_float", mutation=Mutation("scale", "1.4e-45", [(m.tensors[q].scale.at(0),
                                                                             np.float32(1.4e-45).tobytes())]))
    assert undefined_checks(tiny.data) == [[x, pytest.approx(1.4e-45), -3, [1]]]  # the QUANTIZE reaches output 1
    verdicts = verify_valid([framer, tiny], seed=SEED, tiers=("portable",))
    assert [v.status for v in verdicts] == ["match", "match"], [v.line() for v in verdicts]
    assert "outputs undefined" in verdicts[1].message and verdicts[0].message == ""


def test_detection_and_circular_buffer_outputs_tflite_micro_leaves_unwritten():
    """Larger detection outputs than the detections fill (rows past them, a count of several
    values), and a circular buffer's output returned twice: what TFLite Micro leaves
    unwritten is not compared, wherever the output appears."""
    if (why := sanitizers_available()) is not None:
        pytest.skip(why)
    data = builtin_seeds()["tiny_custom"]
    m, g = ModelMap(data), read_model_bytes(data)
    boxes, classes, _, count = next(op.outputs for op in g.operators if op.name.endswith("PostProcess"))
    mutations = [Mutation("shape", "boxes rows 4 -> 7", [(m.tensors[boxes].shape.at(1), _i32(7))]),
                 Mutation("shape", "classes rows 4 -> 11", [(m.tensors[classes].shape.at(1), _i32(11))]),
                 Mutation("shape", "count 1 -> 9 values", [(m.tensors[count].shape.at(0), _i32(9))]),
                 Mutation("tensor-index", "outputs[2] -> the buffer", [(m.graph_outputs.at(2), _i32(g.outputs[0]))])]
    vms = [_unmutated("tiny_custom", mutation=mu) for mu in mutations]
    rules = unwritten_rules(vms[3].program("portable"))
    assert sorted({r.output for r in rules}) == [0, 1, 2, 3, 4]  # the buffer at 0 and 2, the detections
    verdicts = verify_valid(vms, seed=SEED, tiers=("portable",))
    assert all(v.ok for v in verdicts), [v.line() for v in verdicts]


# ---- the harness itself --------------------------------------------------------------------


def test_run_case_classifies_hangs_and_crashes(monkeypatch):
    data = builtin_seeds()["tiny_cnn"]
    monkeypatch.setattr(compiler_program, "build_program", lambda g, **kw: time.sleep(30))
    out = run_case(data, timeout=0.2)
    # the 0.2 s deadline stopped it, long before the 30 s sleep would have ended
    assert out.kind == "hang" and out.tier == "portable" and "0.2 s" in out.message and out.seconds < 30

    def boom(g, **kw):
        raise KeyError(7)

    monkeypatch.setattr(compiler_program, "build_program", boom)
    out = run_case(data)
    assert out.kind == "crash" and "KeyError" in out.message and "boom" in out.traceback

    def two_lines(g, **kw):
        raise ProtobrainError("first\nsecond")

    monkeypatch.setattr(compiler_program, "build_program", two_lines)
    assert run_case(data).kind == "crash"


def test_run_case_names_the_fast_tier_that_fails(monkeypatch):
    data = builtin_seeds()["tiny_cnn"]
    assert run_case(data).tiers == {"portable": "valid", "armv6m": "valid", "dsp": "valid", "mve": "valid"}
    monkeypatch.setattr(fast_dsp, "accelerate", lambda call, wide: time.sleep(30))
    out = run_case(data, timeout=0.2)
    assert out.kind == "hang" and out.tier == "dsp" and out.tiers == {"portable": "valid", "armv6m": "valid", "dsp": "hang"}
    monkeypatch.undo()

    def refuse(call):
        raise UnsupportedError("no Helium form")

    monkeypatch.setattr(fast_mve, "accelerate", refuse)
    out = run_case(data)
    assert out.finding and out.kind == "tier-refused" and out.tier == "mve" and "no Helium form" in out.message
    assert out.tiers == {"portable": "valid", "armv6m": "valid", "dsp": "valid", "mve": "tier-refused"}


@pytest.mark.parametrize("module, function, tier", [
    ("dsp", "_mm_weights", "dsp"),  # weight re-layout
    ("common", "quant_words", "armv6m"),  # requantization folding (the ARMv6-M tier is generated first)
    ("dsp", "matmul", "dsp"),  # common.matmul as the DSP tier calls it: dead-channel detection
    ("mve", "quant_groups", "mve"),
])
def test_a_broken_fast_tier_step_is_a_finding_naming_its_tier(monkeypatch, module, function, tier):
    """Broken after the seeds are checked (from the second case on): every valid mutant that
    reaches the step is a finding of that tier, and the tiers before it still generate it."""
    mod = importlib.import_module(f"protobrain.compiler.ops.tiers.{module}")
    real, broken = getattr(mod, function), [False]

    def step(*args, **kw):
        if broken[0]:
            raise IndexError(f"{function} broke")
        return real(*args, **kw)

    monkeypatch.setattr(mod, function, step)
    report = fuzz(builtin_seeds(), 60, seed=3, progress=lambda done, total: broken.__setitem__(0, True))
    assert report.findings and report.by_tier[tier]["crash"] == len(report.findings)
    for f in report.findings:
        assert f.outcome.kind == "crash" and f.outcome.tier == tier and f"{function} broke" in f.outcome.message
        assert f": {tier} tier: crash: IndexError" in f.line()
    before = TIERS[:TIERS.index(tier)]
    assert all(report.generated(t) == report.outcomes["valid"] + len(report.findings) for t in before)


def test_mutations_are_deterministic():
    seeds = builtin_seeds()
    a = fuzz(seeds, 100, seed=3)
    b = fuzz(seeds, 100, seed=3)
    assert a.summary()["outcomes"] == b.summary()["outcomes"] and list(a.valid) == list(b.valid)
    assert a.summary()["by_tier"] == b.summary()["by_tier"] and a.dsp_wide == b.dsp_wide
    m1 = Mutator(seeds["tiny_mix"]).mutate(random.Random(5))
    m2 = Mutator(seeds["tiny_mix"]).mutate(random.Random(5))
    assert m1 == m2


# ---- regressions: one per bug the fuzzer found -----------------------------------------------


@pytest.fixture(scope="module")
def cnn():
    data = builtin_seeds()["tiny_cnn"]
    return data, ModelMap(data)


@pytest.fixture(scope="module")
def mix():
    data = builtin_seeds()["tiny_mix"]
    return data, ModelMap(data)


def _i32(v: int) -> bytes:
    return struct.pack("<i", v)


def patch(data: bytes, *edits) -> bytes:
    """edits: (position, struct format, value)."""
    buf = bytearray(data)
    for pos, fmt, value in edits:
        struct.pack_into("<" + fmt, buf, pos, value)
    return bytes(buf)


def option(m: ModelMap, op: int, name: str) -> int:
    return next(pos for n, pos, _, _ in m.operators[op].options if n == name)


def refused(data: bytes, error=ProtobrainError) -> str:
    """The one-line message protobrain refuses `data` with (an `error`)."""
    out = run_case(data)
    assert out.kind == "error", (out.kind, out.message, out.traceback)
    with pytest.raises(error) as e:
        build_program(read_model_bytes(data))
    msg = str(e.value)
    assert msg.strip() and "\n" not in msg
    return msg


def test_unknown_enum_option_value(cnn):
    data, m = cnn  # was: ValueError "fused activation 127" from activation_range
    msg = refused(patch(data, (option(m, 0, "FusedActivationFunction"), "b", 127)), ModelError)
    assert "fused_activation_function 127 is not a TFLite value" in msg


@pytest.mark.parametrize("scale", [0.0, -0.0, -0.5, math.nan, math.inf, -math.inf])
def test_non_positive_or_non_finite_scales(cnn, scale):
    data, m = cnn  # was: ZeroDivisionError / OverflowError / ValueError while lowering
    msg = refused(patch(data, (m.tensors[12].scale.at(0), "f", scale)), ModelError)
    assert "tensor 12 has quantization scale" in msg and "positive finite" in msg


def test_tiny_output_scale_overflows_the_multiplier(cnn):
    data, m = cnn  # was: OverflowError converting an infinite float32 activation bound
    msg = refused(patch(data, (m.tensors[3].scale.at(0), "f", 1.4e-45)), UnsupportedError)
    assert "CONV_2D" in msg and "2^30 or more" in msg


@pytest.mark.parametrize("what", ["graph_inputs", "graph_outputs"])
def test_omitted_subgraph_input_or_output(cnn, what):
    data, m = cnn  # was: KeyError -1 in the memory planner
    assert "(omitted)" in refused(patch(data, (getattr(m, what).at(0), "i", -1)), ModelError)


def test_constant_subgraph_input(cnn):
    data, m = cnn  # was: KeyError in the memory planner
    assert "is a constant" in refused(patch(data, (m.graph_inputs.at(0), "i", 1)), ModelError)


def test_operator_without_output(cnn):
    data, m = cnn  # was: ValueError "not enough values to unpack"
    msg = refused(patch(data, (m.operators[5].outputs.len_pos, "I", 0)))
    assert "0 outputs" in msg or "never written" in msg


def test_fully_connected_with_4d_weights():
    # was: ValueError "too many values to unpack" (found as a DEPTHWISE_CONV_2D turned FULLY_CONNECTED)
    msg = refused(_fc_model([0.01], [1, 2, 3], [1, 3], weights_shape=[3, 1, 1, 4]), UnsupportedError)
    assert "FULLY_CONNECTED" in msg and "weights shape (3, 1, 1, 4)" in msg


def test_wrong_operand_count(mix):
    data, m = mix  # was: ValueError unpacking MEAN's (input, axis) from one input
    msg = refused(patch(data, (m.operators[7].inputs.len_pos, "I", 1)), UnsupportedError)
    assert "MEAN" in msg and "1 inputs" in msg


def test_constant_tensor_as_runtime_input(mix):
    data, m = mix  # was: KeyError at code generation (a constant has no arena offset)
    msg = refused(patch(data, (m.operators[9].inputs.at(0), "i", 4)), UnsupportedError)
    assert "constant data input tensor 4" in msg


def test_convolution_with_zero_input_depth(cnn):
    data, m = cnn  # was: ZeroDivisionError (groups = 0)
    msg = refused(patch(data, (m.tensors[0].shape.at(3), "i", 0)), UnsupportedError)
    assert "CONV_2D" in msg


def _fc_model(weight_scales, bias_values, out_shape, bias_scale=None, weights_shape=(3, 4)):
    """input [1, 4] -> FULLY_CONNECTED with 3 outputs -> out_shape."""
    rng = np.random.default_rng(0)
    ws = np.asarray(weight_scales, np.float32)
    tensors = [
        {"shape": [1, 4], "type": "int8", "scale": 0.1, "zp": 0},
        {"shape": list(weights_shape), "type": "int8", "scale": ws, "zp": 0,
         "data": rng.integers(-100, 100, weights_shape).astype(np.int8)},
        {"shape": [len(bias_values)], "type": "int32", "scale": 0.1 * float(ws[0]) if bias_scale is None else bias_scale,
         "zp": 0, "data": np.asarray(bias_values, np.int32)},
        {"shape": out_shape, "type": "int8", "scale": 0.2, "zp": 0},
    ]
    ops = [("FULLY_CONNECTED", [0, 1, 2], [3], "FullyConnectedOptions", {"FusedActivationFunction": 0})]
    return write_model(tensors, ops, [0], [3])


def test_fully_connected_guards_its_arrays():
    """Each was accepted, and the generated C read or wrote past an array (ASan)."""
    ok = _fc_model([0.01], [1, 2, 3], [1, 3])
    assert run_case(ok).kind == "valid"
    assert "2 weight scales along axis 0 for 3 outputs" in refused(_fc_model([0.01, 0.02], [1, 2, 3], [1, 3]))
    assert "bias of 2 values for 3 outputs" in refused(_fc_model([0.01], [1, 2], [1, 3]))
    assert "output shape (1, 2)" in refused(_fc_model([0.01], [1, 2, 3], [1, 2]))


def test_fully_connected_bias_scale_checked_like_tflite_micro():
    # TFLite Micro's GetQuantizedConvolutionMultipler refuses it; protobrain compiled it.
    assert "bias scale" in refused(_fc_model([0.01], [1, 2, 3], [1, 3], bias_scale=0.5))


def test_int32_accumulator_overflow(cnn):
    data, m = cnn  # was: signed overflow in the generated C (UBSan) and in the reference
    bias = m.buffers[struct.unpack_from("<I", data, m.tensors[11].buffer_pos)[0]]
    assert "int32 accumulator" in refused(patch(data, (bias.data_pos, "i", 2**31 - 100)), UnsupportedError)


@pytest.mark.parametrize("zp", [2**40, -(2**63), 128, -129])
def test_zero_point_outside_its_type(cnn, zp):
    data, m = cnn  # was: generated C that does not compile (an int64 literal in an int32 field)
    assert "zero point" in refused(patch(data, (m.tensors[0].zero_point.at(0), "q", zp)), ModelError)


def test_scale_without_zero_point_is_not_quantized(cnn):
    data, m = cnn  # TFLite Micro treats it as unquantized; protobrain took zero point 0
    g = read_model_bytes(patch(data, (m.tensors[12].zero_point.len_pos, "I", 0)))
    assert g.tensors[12].quant is None
    assert "missing quantization" in refused(patch(data, (m.tensors[12].zero_point.len_pos, "I", 0)))


def test_graph_output_never_written(mix):
    data, m = mix  # the last operator dropped: the output was uninitialized memory
    vec = next(v for n, v in m.vectors if n == "operators")
    assert "never written" in refused(patch(data, (vec.len_pos, "I", vec.length - 1)), ModelError)


def test_operator_reads_a_tensor_before_it_is_written(cnn):
    data, m = cnn
    msg = refused(patch(data, (m.operators[0].inputs.at(0), "i", 6)), ModelError)
    assert "reads tensor 6" in msg and "before any operator writes it" in msg


def test_softmax_shape_must_match(cnn):
    data, m = cnn  # output [5, 1]: TFLite Micro took the depth from it, protobrain from the input
    t = m.tensors[13].shape
    assert "SOFTMAX" in refused(patch(data, (t.at(0), "i", 5), (t.at(1), "i", 1)), UnsupportedError)


def test_depthwise_without_bias(cnn):
    data, m = cnn  # TFLite Micro's depthwise Prepare crashes on it; protobrain compiled it
    assert "omitted bias" in refused(patch(data, (m.operators[1].inputs.at(2), "i", -1)), UnsupportedError)


def test_options_of_another_operator(cnn):
    data, m = cnn  # TFLite Micro reads the wrong union as no options; protobrain read the table
    msg = refused(patch(data, (m.operators[1].options_type_pos, "B", 1)), ModelError)
    assert "carries Conv2DOptions instead of DepthwiseConv2DOptions" in msg


def test_second_subgraph(cnn):
    data, m = cnn  # TFLite Micro allocates every subgraph: a damaged second one crashes it
    vec = next(v for n, v in m.vectors if n == "subgraphs")  # (the second one is read like the first)
    assert "damaged" in refused(patch(data, (vec.len_pos, "I", 2)), ModelError)


def test_huge_dimension(cnn):
    data, m = cnn
    assert "more than 2 GiB" in refused(patch(data, (m.tensors[3].shape.at(1), "i", 2**31 - 1)), ModelError)


def test_damaged_metadata():
    path = SHARED_MODELS / "kws_ref_model.tflite"
    if not path.exists():
        pytest.skip(f"reference model {path} not found (set PROTOBRAIN_MODELS)")
    data = path.read_bytes()  # byte 62 lies in its min_runtime_version metadata entry: TFLite Micro crashed
    assert "damaged" in refused(patch(data, (62, "B", 0xFF)), ModelError)


def test_names_from_the_file_stay_on_one_line():
    # was: a flipped string length made a tensor name swallow the file, and the error quoting
    # it ran over many lines
    tensors = [{"shape": [1, 4], "type": "int8", "scale": 0.1, "zp": 0, "name": "input"},
               {"shape": [1, 4], "type": "int8", "scale": 0.1, "zp": 0, "name": "evil\nname\x07*/"},
               {"shape": [1, 4], "type": "int8", "scale": 0.1, "zp": 0, "name": "output"}]
    data = write_model(tensors, [("RELU", [1], [2], None, {})], [0], [2])
    msg = refused(data, ModelError)
    assert "reads tensor 1 ('evil?name?*/')" in msg


def test_pad_with_paddings_of_the_wrong_shape(mix):
    data, m = mix  # was: ValueError "cannot reshape array of size 3 into shape (2)"
    msg = refused(patch(data, (m.operators[0].inputs.at(1), "i", 4)), UnsupportedError)
    assert "PAD" in msg and "paddings type int8" in msg


def test_convolution_parameters_beyond_int16(cnn):
    # was: dilation 8323073 (SAME padding 8323073) compiled; TFLite Micro keeps stride, dilation
    # and padding in int16 (ConvParams) and ran another convolution
    data, m = cnn
    msg = refused(patch(data, (option(m, 0, "DilationWFactor"), "i", 8323073)), UnsupportedError)
    assert "CONV_2D" in msg and "dilation 1x8323073, padding 1x8323073 beyond int16" in msg
    assert run_case(patch(data, (option(m, 0, "DilationWFactor"), "i", 32767))).kind == "valid"


def test_pool_padding_beyond_int16(cnn):
    # TFLite Micro's PoolParams keep the padding in int16: a 2x65540 SAME window pads 32769
    data, m = cnn
    same = (option(m, 2, "Padding"), "b", 0)
    msg = refused(patch(data, same, (option(m, 2, "FilterWidth"), "i", 65540)), UnsupportedError)
    assert "MAX_POOL_2D" in msg and "padding 0x32769 beyond int16" in msg
    assert run_case(patch(data, same, (option(m, 2, "FilterWidth"), "i", 65536))).kind == "valid"


def _quantize_to_int32(scale: float) -> bytes:
    tensors = [{"shape": [1, 4], "type": "int16", "scale": 1 / 1024, "zp": 0},
               {"shape": [1, 4], "type": "int32", "scale": scale, "zp": 0}]
    return write_model(tensors, [("QUANTIZE", [0], [1], "QuantizeOptions", {})], [0], [1])


@pytest.mark.parametrize("scale", [0.0, -0.0, -1.0])
def test_quantize_to_int32_with_a_scale_that_is_not_positive(scale):
    # was: ZeroDivisionError (found as the keyword model's last int32 scale turned -0); the
    # reader checks int8/int16 scales only, and TFLite Micro's multiplier of it is undefined
    assert "QUANTIZE" in refused(_quantize_to_int32(scale), UnsupportedError)
    assert run_case(_quantize_to_int32(1 / 512)).kind == "valid"


def _view(name: str, in_shape, out_shape, dtype="int8", axis=0, squeeze=()) -> bytes:
    q = {"scale": 0.1, "zp": 0} if dtype in ("int8", "int16") else {}
    tensors = [{"shape": list(in_shape), "type": dtype, **q}, {"shape": list(out_shape), "type": dtype, **q},
               {"shape": [1], "type": "int32", "data": np.array([axis], np.int32)}]
    if name == "EXPAND_DIMS":
        op = ("EXPAND_DIMS", [0, 2], [1], "ExpandDimsOptions", {})
    else:
        op = ("SQUEEZE", [0], [1], "SqueezeOptions", {"SqueezeDims": list(squeeze)})
    return write_model(tensors, [op], [0], [1])


def test_expand_dims_and_squeeze_check_shapes_like_tflite_micro():
    # was: an EXPAND_DIMS whose input dims the fuzzer swapped ([3, 2, 2] -> [1, 2, 3, 2]) compiled as a
    # view, while TFLite Micro's Prepare refuses an output that is not the input with a 1 inserted;
    # a SQUEEZE output dimension below the input's makes TFLite Micro abort
    assert run_case(_view("EXPAND_DIMS", [2, 3, 2], [2, 3, 1, 2], axis=-2)).kind == "valid"
    assert "expects (2, 1, 3, 2)" in refused(_view("EXPAND_DIMS", [2, 3, 2], [1, 2, 3, 2], axis=1))
    assert "int32" in refused(_view("EXPAND_DIMS", [2, 3], [1, 2, 3], dtype="int32"))
    assert "axis 3 for rank 2" in refused(_view("EXPAND_DIMS", [2, 3], [1, 2, 3], axis=3))
    assert run_case(_view("SQUEEZE", [1, 3, 2], [3, 2], squeeze=[0])).kind == "valid"
    assert "output shape (2, 3)" in refused(_view("SQUEEZE", [1, 3, 2], [2, 3], squeeze=[0]))


def test_damaged_buffer_zero(cnn):
    # The fuzzer flipped the high byte of the empty buffer 0's vtable size: its data field then
    # read as present, pointing outside the file. Every tensor without data names buffer 0, and
    # TFLite Micro read it and crashed; protobrain never looked at buffer 0
    data, m = cnn
    table = tflite.Model.GetRootAs(data, 0).Buffers(0)._tab.Pos
    damaged = patch(data, (table - struct.unpack_from("<i", data, table)[0] + 1, "B", 0xFF))
    with pytest.raises(struct.error):  # the flip did what this test means it to
        tflite.Model.GetRootAs(damaged, 0).Buffers(0).DataLength()
    assert "damaged" in refused(damaged, ModelError)


def _intermediates(data: bytes, op: int) -> int:
    """Where operator `op`'s intermediates vector starts (its first element)."""
    o = tflite.Model.GetRootAs(data, 0).Subgraphs(0).Operators(op)
    return o._tab.Vector(o._tab.Offset(modelmap._slot(tflite.Operator, "IntermediatesAsNumpy")))


@pytest.mark.parametrize("index", [16711698, 30, 5, -1])
def test_intermediate_tensors_are_checked(index):
    # was: an LSTM intermediate index flipped to 16711698 compiled; TFLite Micro looks each one up
    # unchecked (a crash) and refuses one that takes memory (tensor 5, a weight)
    path = SHARED_MODELS / "trained_lstm_int8.tflite"
    if not path.exists():
        pytest.skip(f"reference model {path} not found (set PROTOBRAIN_MODELS)")
    data = path.read_bytes()
    assert "intermediate tensor" in refused(patch(data, (_intermediates(data, 0), "i", index)), ModelError)


@pytest.mark.parametrize("dtype,shape", [("variant", []), ("float32", []), ("resource", [2])])
def test_variable_handle_must_be_one_resource_id(dtype, shape):
    # was: a VAR_HANDLE whose handle tensor the fuzzer retyped VARIANT compiled; TFLite Micro
    # cannot allocate it (no size), and ASSIGN_VARIABLE takes one resource or int32 id only
    def model(dtype, shape):
        tensors = [{"shape": [1, 5], "type": "int8", "scale": 0.05, "zp": 7}, {"shape": shape, "type": dtype},
                   {"shape": [1, 5], "type": "int8", "scale": 0.05, "zp": 7},
                   {"shape": [1, 5], "type": "int8", "scale": 0.05, "zp": 7}]
        ops = [("VAR_HANDLE", [], [1], "VarHandleOptions", {"SharedName": "acc"}),
               ("READ_VARIABLE", [1], [2], None, {}), ("ADD", [0, 2], [3], "AddOptions", {}),
               ("ASSIGN_VARIABLE", [1, 3], [], None, {})]
        return write_model(tensors, ops, [0], [3])

    assert run_case(model("resource", [])).kind == "valid"
    assert "not one resource id" in refused(model(dtype, shape), UnsupportedError)


def _layer16(op: str, bias, bias_type="int64", out_scale=1 / 256) -> bytes:
    """One 16x8 FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D or TRANSPOSE_CONV with a 3-value bias."""
    w = np.full({"FULLY_CONNECTED": (3, 4), "CONV_2D": (3, 1, 1, 4), "DEPTHWISE_CONV_2D": (1, 1, 1, 3),
                 "TRANSPOSE_CONV": (3, 1, 1, 4)}[op], 100, np.int8)
    depth = 3 if op == "DEPTHWISE_CONV_2D" else 4
    x = {"shape": [1, 4] if op == "FULLY_CONNECTED" else [1, 1, 1, depth], "type": "int16", "scale": 1 / 1024, "zp": 0}
    y = {"shape": [1, 3] if op == "FULLY_CONNECTED" else [1, 1, 1, 3], "type": "int16", "scale": out_scale, "zp": 0}
    tensors = [x, {"shape": list(w.shape), "type": "int8", "scale": 0.01, "zp": 0, "data": w,
                   "axis": 3 if op == "DEPTHWISE_CONV_2D" else 0},
               {"shape": [3], "type": bias_type, "scale": 0.01 / 1024, "zp": 0, "data": np.asarray(bias, bias_type)}, y]
    if op == "TRANSPOSE_CONV":
        tensors.append({"shape": [4], "type": "int32", "data": np.array([1, 1, 1, 3], np.int32)})
        ops = [(op, [4, 1, 0, 2], [3], "TransposeConvOptions", {"Padding": 1, "StrideW": 1, "StrideH": 1})]
    elif op == "FULLY_CONNECTED":
        ops = [(op, [0, 1, 2], [3], "FullyConnectedOptions", {})]
    else:
        options = {"Padding": 1, "StrideW": 1, "StrideH": 1, "DilationWFactor": 1, "DilationHFactor": 1}
        if op == "DEPTHWISE_CONV_2D":
            options["DepthMultiplier"] = 1
        ops = [(op, [0, 1, 2], [3], "Conv2DOptions" if op == "CONV_2D" else "DepthwiseConv2DOptions", options)]
    return write_model(tensors, ops, [0], [3])


@pytest.mark.parametrize("op", ["FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"])
def test_16x8_accumulator_overflow(op):
    # was: a FULLY_CONNECTED int64 bias the fuzzer flipped to about -2^59 compiled, and the
    # generated C's 64-bit requantization overflowed (UBSan; undefined in the reference too)
    assert run_case(_layer16(op, [1000, -2000, 2**40])).kind == "valid"
    assert "int64 accumulator" in refused(_layer16(op, [1000, -(2**59), 5]), UnsupportedError)
    assert "requantization shift 19" in refused(_layer16(op, [1, 2, 3], out_scale=2**-35), UnsupportedError)
    if op == "CONV_2D":  # an int32 bias: TFLite Micro's 32-bit accumulator
        assert run_case(_layer16(op, [1000, -2000, 5], "int32")).kind == "valid"
        assert "int32 accumulator" in refused(_layer16(op, [1000, 2**31 - 10, 5], "int32"), UnsupportedError)


@pytest.mark.parametrize("shape,ok", [((1, 0, 4), False), ((0, 4), False), ((0,), True), ((1, 4), True)])
def test_operator_output_with_a_zero_dimension(shape, ok):
    # was: a ZEROS_LIKE output whose dimension the fuzzer set to 0 compiled; TFLite Micro takes
    # an operator output with a zero dimension for a dynamic tensor and refuses the model (a
    # lone 0 is its legacy scalar)
    tensors = [{"shape": [1, 4], "type": "int32"}, {"shape": list(shape), "type": "int32"},
               {"shape": [1, 4], "type": "int32"}]
    data = write_model(tensors, [("ZEROS_LIKE", [0], [1], "ZerosLikeOptions", {}),
                                 ("ADD", [0, 0], [2], "AddOptions", {})], [0], [1, 2])
    if ok:
        read_model_bytes(data)
    else:
        assert "zero dimension" in refused(data, ModelError)


def test_inputs_tflite_micro_aborts_on_are_left_out(tmp_path):
    """BROADCAST_ARGS of shapes that do not broadcast aborts TFLite Micro (a failed check);
    for a model without state each input case then runs alone, and only those that abort
    are left out (protobrain cannot refuse what depends on the inputs)."""
    tensors = [{"shape": [2], "type": "int32"}, {"shape": [2], "type": "int32", "data": np.array([1, 3], np.int32)},
               {"shape": [2], "type": "int32"}]
    data = write_model(tensors, [("BROADCAST_ARGS", [0, 1], [2], None, {})], [0], [2])
    (tmp_path / "m.tflite").write_bytes(data)
    shapes = [[1, 1], [5, 2], [7, 3]]
    np.savez(tmp_path / "in.npz", **{f"c{c}_i0": np.array(v, np.int32) for c, v in enumerate(shapes)})
    job = {"model": str(tmp_path / "m.tflite"), "inputs": str(tmp_path / "in.npz"), "result": str(tmp_path / "out"),
           "started": str(tmp_path / "started"), "log": str(tmp_path / "log"), "n_inputs": 1, "n_outputs": 1,
           "n_cases": 3, "k": 0, "passes": 2, "arena": 1 << 16}
    assert "aborted" in run_references([job], tmp_path, 60)[0]
    (tmp_path / "started").unlink()
    assert run_references([dict(job, rows_alone=True)], tmp_path, 60) == {}
    got = np.load(tmp_path / "out")
    assert list(got["failed"]) == [1, 4] and list(got["c3_o0"]) == [1, 3] and list(got["c5_o0"]) == [7, 3]
    # every case aborting in invoke, at an operator that checks the data: no golden runs it
    np.savez(tmp_path / "bad.npz", **{f"c{c}_i0": np.array([5, 2], np.int32) for c in range(3)})
    bad = dict(job, inputs=str(tmp_path / "bad.npz"), result=str(tmp_path / "bad"), started=str(tmp_path / "s2"),
               log=str(tmp_path / "log2"), k=1, rows_alone=True, data_checked=["BROADCAST_ARGS"])
    assert run_references([bad], tmp_path, 60)[1].startswith(UNJUDGED)


def test_add_n_with_an_omitted_input():
    # was: AttributeError (an ADD_N input the fuzzer set to -1 passed the arity check, which
    # looks at the first two); TFLite Micro gets no tensor for it and refuses
    tensors = [{"shape": [1, 4], "type": "int8", "scale": 0.1, "zp": 0} for _ in range(2)]
    data = write_model(tensors, [("ADD_N", [0, 0, -1], [1], "AddNOptions", {})], [0], [1])
    assert "omitted input" in refused(data, UnsupportedError)


@pytest.mark.parametrize("scale", [1.4e-45, 1e-38])
def test_elu_with_an_output_scale_that_overflows(scale):
    # was: OverflowError rounding an infinite value into the table; TFLite Micro's table builder
    # converts it as the host does (x86: INT32_MIN, then clamped), and so does protobrain now
    tensors = [{"shape": [1, 256], "type": "int8", "scale": 0.04, "zp": -5},
               {"shape": [1, 256], "type": "int8", "scale": scale, "zp": -90}]
    data = write_model(tensors, [("ELU", [0], [1], None, {})], [0], [1])
    assert run_case(data).kind == "valid"
    if sanitizers_available() is None:
        vm = ValidMutant("elu", 0, Mutation("none", "written"), data, "", 4096, 0, False)
        assert all(v.ok for v in verify_valid([vm], seed=SEED, tiers=("portable",)))


def test_detection_anchors_of_no_size():
    # was: constant anchors whose size the fuzzer flipped to 0 or below compiled; every box they
    # decode is empty, and TFLite Micro's box check fails every invocation
    data = builtin_seeds()["tiny_custom"]
    g = read_model_bytes(data)
    det = next(op for op in g.operators if op.name == "CUSTOM:TFLite_Detection_PostProcess")
    m = ModelMap(data)
    anchors = m.buffers[struct.unpack_from("<I", data, m.tensors[det.inputs[2]].buffer_pos)[0]]
    for column, value in ((2, 0.0), (3, -0.25), (2, -0.0)):
        damaged = patch(data, (anchors.data_pos + (4 * 3 + column) * 4, "f", value))  # anchor 3
        assert "anchors of zero or negative size" in refused(damaged, UnsupportedError)
    # nor one centred at 2e38 (a flip): every box it decodes is a point for ordinary encodings
    damaged = patch(data, (anchors.data_pos + (4 * 2 + 0) * 4, "f", 1.9e38))
    assert "boxes collapse to a point" in refused(damaged, UnsupportedError)
    assert run_case(patch(data, (anchors.data_pos + (4 * 2 + 0) * 4, "f", 1000.0))).kind == "valid"


def test_variable_names_compare_as_c_strings():
    # was: the fuzzer lengthened the initializer's VAR_HANDLE name past its NUL ('acc\0...');
    # TFLite Micro compares names with strcmp, so it is still the main graph's 'acc' and the
    # CALL_ONCE value lands there, while protobrain made it a second variable
    data = builtin_seeds()["tiny_variables"]
    table = tflite.Model.GetRootAs(data, 0).Subgraphs(1).Operators(0).BuiltinOptions()
    opts = tflite.VarHandleOptions()
    opts.Init(table.Bytes, table.Pos)
    name = opts._tab.Vector(opts._tab.Offset(modelmap._slot(tflite.VarHandleOptions, "SharedName")))
    assert data[name - 4:name + 4] == b"\3\0\0\0acc\0"  # the initializer's name: length 3, 'acc', its NUL
    longer = patch(data, (name - 4, "I", 4))
    assert read_model_bytes(longer).subgraphs[0].operators[0].options["shared_name"] == b"acc"  # as c_str() reads it
    program = build_program(read_model_bytes(longer))
    assert len([s for s in program.state if s.tensor is not None]) == 1
    if sanitizers_available() is None:
        vm = ValidMutant("vars", 0, Mutation("none", "written"), longer, "", program.arena_size, 0, False)
        assert all(v.ok and not v.message for v in verify_valid([vm], seed=SEED, tiers=("portable",)))


def test_unread_zeros_like_of_another_size():
    # was: the fuzzer grew tiny_index's input to [1, 68, 3, 2]; its ZEROS_LIKE output (read only
    # by a SHAPE, so folded away) kept [1, 4, 3, 2], and TFLite Micro wrote 408 zeros into those
    # 24 bytes, corrupting another output
    data, m = builtin_seeds()["tiny_index"], ModelMap(builtin_seeds()["tiny_index"])
    assert run_case(data).kind == "valid"
    msg = refused(patch(data, (m.tensors[0].shape.at(1), "i", 68)), UnsupportedError)
    assert "ZEROS_LIKE: input of 408 elements, output of 24" in msg


def test_empty_outputs_of_operators_tflite_micro_has_no_kernel_for():
    """The zero-dimension refusal is TFLite Micro's: TILE (LiteRT's golden) keeps LiteRT's
    empty outputs."""
    tensors = [{"shape": [2, 3], "type": "int32"}, {"shape": [2], "type": "int32", "data": np.array([0, 2], np.int32)},
               {"shape": [0, 6], "type": "int32"}]
    assert run_case(write_model(tensors, [("TILE", [0, 1], [2], "TileOptions", {})], [0], [2])).kind == "valid"


def test_reshape_takes_only_placeholder_dimensions_from_its_shape_operand(cnn):
    # was: an LSTM model's RESHAPE output the fuzzer declared (1, 17) for 15 elements was rewritten
    # to its shape operand's (1, 15), while TFLite Micro takes the declared shape and refuses
    # the model; a placeholder 1 (a free batch exported) still gives way to the operand
    data, m = cnn
    assert "element count changes" in refused(patch(data, (m.tensors[9].shape.at(1), "i", 17)), UnsupportedError)
    g = build_program(read_model_bytes(patch(data, (m.tensors[9].shape.at(1), "i", 1)))).graph
    assert g.tensors[9].shape == (1, 16)


def test_custom_options_with_keys_out_of_order():
    # was: a flip pointed the detection options' 'nms_score_threshold' key at '_scale'; protobrain
    # read the map in stored order, TFLite Micro looks keys up by binary search (sorted order),
    # missed 'nms_iou_threshold' there and failed every invocation
    data = builtin_seeds()["tiny_custom"]
    op = next(o for o in ModelMap(data).operators if any(f[0] == "nms_iou_threshold" for f in o.custom))
    raw = data[op.custom_options.data_pos:op.custom_options.data_pos + op.custom_options.length]
    key = op.custom_options.data_pos + raw.index(b"nms_score_threshold\0")
    assert run_case(data).kind == "valid"
    assert "keys out of order" in refused(patch(data, (key, "B", ord("z"))), ModelError)


def test_variable_handle_without_a_name():
    # was: a VAR_HANDLE whose shared_name field the fuzzer dropped compiled (as the name '');
    # TFLite Micro compares the null name with strcmp and crashes
    tensors = [{"shape": [1, 5], "type": "int8", "scale": 0.05, "zp": 7}, {"shape": [], "type": "resource"},
               {"shape": [1, 5], "type": "int8", "scale": 0.05, "zp": 7},
               {"shape": [1, 5], "type": "int8", "scale": 0.05, "zp": 7}]
    ops = [("VAR_HANDLE", [], [1], "VarHandleOptions", {}), ("READ_VARIABLE", [1], [2], None, {}),
           ("ADD", [0, 2], [3], "AddOptions", {}), ("ASSIGN_VARIABLE", [1, 3], [], None, {})]
    assert "no shared_name" in refused(write_model(tensors, ops, [0], [3]), UnsupportedError)


def test_litert_judges_what_tflite_micro_has_no_kernel_for():
    """ARG_MAX to int64 indices (TFLite Micro has no kernel: LiteRT's reference is the
    golden): TFLite Micro's refusal hands the mutant to LiteRT, which matches; with an
    operator LiteRT's reference refuses beside it (an int8 CUMSUM) no golden runs the
    model, and it is not compared."""
    if (why := sanitizers_available()) is not None:
        pytest.skip(why)

    def model(cumsum: bool) -> bytes:
        tensors = [{"shape": [1, 3, 4], "type": "int8", "scale": 0.1, "zp": 0},
                   {"shape": [1], "type": "int32", "data": np.array([2], np.int32)},
                   {"shape": [1, 3], "type": "int64"}, {"shape": [1, 3, 4], "type": "int8", "scale": 0.2, "zp": 0},
                   {"shape": [], "type": "int32", "data": np.array(1, np.int32)}]
        ops = [("ARG_MAX", [0, 1], [2], "ArgMaxOptions", {"OutputType": 4})]
        if cumsum:
            ops.append(("CUMSUM", [0, 4], [3], "CumsumOptions", {"Exclusive": False, "Reverse": False}))
        return write_model(tensors, ops, [0], [2, 3] if cumsum else [2])

    vms = [ValidMutant(f"argmax{k}", 0, Mutation("none", "written"), model(k), "", 4096, 0, False) for k in (0, 1)]
    alone, mixed = verify_valid(vms, seed=SEED, tiers=("portable",))
    assert alone.status == "match" and "LiteRT" in alone.message, alone.line()
    assert alone.ok and mixed.ok and mixed.status == "unjudged" and "cumsum" in mixed.message, mixed.line()


def test_pack_with_an_omitted_input():
    # was: AttributeError (a PACK input the fuzzer set to -1; PACK's arity takes one input at least)
    tensors = [{"shape": [1, 4], "type": "int8", "scale": 0.1, "zp": 0},
               {"shape": [2, 1, 4], "type": "int8", "scale": 0.1, "zp": 0}]
    data = write_model(tensors, [("PACK", [0, -1], [1], "PackOptions", {"ValuesCount": 2, "Axis": 0})], [0], [1])
    assert "omitted input" in refused(data, UnsupportedError)


def test_builtin_operator_with_custom_options():
    # was: found as an SVDF whose table a flip gave custom options: TFLite Micro refuses a builtin
    # operator carrying them, protobrain ignored them
    tensors = [{"shape": [8], "type": "int16", "scale": 1 / 1024, "zp": 0},
               {"shape": [8], "type": "int16", "scale": 1 / 1024, "zp": 0}]
    data = write_model(tensors, [("CUSTOM:SignalDelay", [0], [1], None, {"delay_length": 3})], [0], [1])
    dep, code = ModelMap(data).codes[0]
    relu = patch(data, (dep, "b", 19), (code, "i", 19))
    assert read_model_bytes(data).operators[0].name == "CUSTOM:SignalDelay"
    assert "builtin operator with custom options" in refused(relu, ModelError)


def test_string_options_read_as_c_strings():
    # was: the fuzzer cut the main graph's VAR_HANDLE name length to 0; TFLite Micro reads the
    # name with c_str(), up to its NUL, and still found 'acc' (the initializer's variable),
    # protobrain read '' and made a second variable
    data = builtin_seeds()["tiny_variables"]
    table = tflite.Model.GetRootAs(data, 0).Subgraphs(0).Operators(1).BuiltinOptions()
    opts = tflite.VarHandleOptions()
    opts.Init(table.Bytes, table.Pos)
    name = opts._tab.Vector(opts._tab.Offset(modelmap._slot(tflite.VarHandleOptions, "SharedName")))
    cut = patch(data, (name - 4, "I", 0))
    assert read_model_bytes(cut).operators[1].options["shared_name"] == b"acc"
    program = build_program(read_model_bytes(cut))
    assert len([s for s in program.state if s.tensor is not None]) == 1


def test_unread_operators_are_checked_like_read_ones():
    # was: a ROUND whose output the fuzzer retyped BFLOAT16, left unread when the graph output
    # moved, was dropped by folding without a look; TFLite Micro prepares every operator and
    # refused the model
    def model(unread_type: str) -> bytes:
        tensors = [{"shape": [1, 4], "type": "float32"}, {"shape": [1, 4], "type": unread_type},
                   {"shape": [1, 4], "type": "float32"}]
        ops = [("ROUND", [0], [1], None, {}), ("ABS", [0], [2], "AbsOptions", {})]
        return write_model(tensors, ops, [0], [2])

    assert [s.op.name for s in build_program(read_model_bytes(model("float32"))).steps] == ["ABS"]
    assert "#0 ROUND (float32->bfloat16" in refused(model("bfloat16"), UnsupportedError)


def test_arg_max_output_type_that_names_no_type():
    # was: ARG_MAX options' output_type the fuzzer set to 255 (-1) compiled (the kernel writes
    # the output tensor's type); TFLite Micro's options parser fails to convert it and refuses
    data = builtin_seeds()["tiny_reduce"]
    m = ModelMap(data)
    op = next(k for k, o in enumerate(read_model_bytes(data).operators) if o.name == "ARG_MAX")
    assert "output_type -1 is not a tensor type" in refused(patch(data, (option(m, op, "OutputType"), "B", 255)),
                                                            UnsupportedError)


def test_variable_tensor_as_graph_output():
    # was: KeyError in the memory planner (the fuzzer made an SVDF's state the graph output);
    # variable tensors live in the state area, outside the arena the invoke copies from
    data = builtin_seeds()["tiny_svdf"]
    m, g = ModelMap(data), read_model_bytes(data)
    state = next(t.index for t in g.tensors if t.is_variable)
    msg = refused(patch(data, (m.graph_outputs.at(0), "i", state)), UnsupportedError)
    assert f"output tensor {state} ('state0') is a variable tensor" in msg
