#!/usr/bin/env python3
"""`make bench`: measure every reference model on the simulated Cortex-M boards with
exact instruction counts, and write BENCHMARKS.md (plus bench.json/md/png per board).
Next to them, the models protobrain builds itself (protobrain.measure.built_models, random
weights: a 16x8 keyword net), built once with TensorFlow and kept in OUT/built.

Every model x board x tier run is one job, fanned out through Ray Tune
(protobrain.fanout): local Ray on this machine's cores by default, `--address` for a
Ray cluster, `--workers 1` (or no Ray installed) for one after another.

Exits 1 after writing them when any counted run is not bit-exact with TFLite Micro,
with one line per such row on stderr."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from protobrain import fanout
from protobrain.boards import load_board
from protobrain.compiler.ops.tiers.select import TIERS, tier_for
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model, read_model_bytes
from protobrain.errors import ProtobrainError
from protobrain.measure import built_models
from protobrain.measure.bench import BenchReport, mismatch_line, model_table, run_bench, verdict, write_reports
from protobrain.resources import REFERENCE_MODELS, SIGNAL_MODELS
from protobrain.run.device import LinkError
from protobrain.train import progress

BOARDS = ["qemu-mps2-an386", "qemu-mps2-an500", "qemu-mps2-an505", "qemu-mps3-an547", "qemu-mps2-an385-armv6m"]
LINK_ATTEMPTS = 3  # runs of one job whose serial link goes quiet before it is an error
FORMS_BOARD = "qemu-mps2-an386"  # the M4: where the DSP tier's two weight forms are set side by side
BUILT = list(built_models.BUILDERS)
MODELS = REFERENCE_MODELS + SIGNAL_MODELS


def shown(name: str) -> str:
    """A model's name in the tables: a built one says so."""
    return f"{name} (built)" if name in BUILT else name


def board_section(report, board, tier) -> list[str]:
    return [f"## {board.name}: {board.description} ({tier} kernels)", "", *model_table(report, per_computed=True), ""]


def tiers_of(board, wanted=TIERS) -> list[str]:
    """Every kernel tier the board's core runs (of those wanted), slowest first: portable, and
    the Arm cores' line up to the fastest (an M4 could run the ARMv6-M tier, but never would)."""
    best = tier_for(board.features)
    line = ("portable", "armv6m") if best == "armv6m" else tuple(t for t in TIERS if t != "armv6m")
    return [t for t in line[: line.index(best) + 1] if t in wanted]


def bench_job(job: dict, blobs: dict[str, bytes], n_inputs: int):
    """One model on one board with one tier: its ModelFigures, or the error's line. Runs here
    or in a Ray worker, which gets the model's bytes (not a path it may not have)."""
    board, name = load_board(job["board"]), job["model"]
    where = f"bench: error on {job['board']} ({job['tier']} kernels, {name})"
    for attempt in range(1, LINK_ATTEMPTS + 1):
        try:
            prog = build_program(read_model_bytes(blobs[name], name), tier=job["tier"], flash_budget=board.flash.length,
                                 optimize=job.get("optimize", "balanced"))
            with tempfile.TemporaryDirectory(prefix="pb-bench-job-") as tmp:
                path = Path(tmp) / f"{name}.tflite"
                path.write_bytes(blobs[name])
                return run_bench(board, [prog], [str(path)], [blobs[name]], n_inputs=n_inputs).models[0]
        except LinkError as e:
            # a simulator starved of CPU can miss its reply deadline: the run starts over (a
            # firmware that never answers fails every attempt); the counts do not depend on time
            if attempt == LINK_ATTEMPTS:
                return f"{where}: {e} ({LINK_ATTEMPTS} attempts)"
        except ProtobrainError as e:
            return f"{where}: {e}"


def tier_table(rows: dict, boards: list[str], models: list[str]) -> list[str]:
    """Instructions per MAC by model, board and kernel tier (rows[(board, tier, model)] is
    the model's figures); a run that is not bit-exact says so in its cell, and the last
    column gives each model's verdict over all its runs."""
    cols = [(b, t) for b in boards for t in TIERS if any(k[:2] == (b, t) for k in rows)]
    lines = ["| model | " + " | ".join(f"{b} {t}" for b, t in cols) + " | bit-exact |",
             "|---|" + "---:|" * len(cols) + "---|"]

    def cell(m) -> str:
        return f"{m.per_mac:.2f}" + ("" if m.bit_exact else " NOT bit-exact")

    for name in models:
        runs = {(b, t): rows[(b, t, name)] for b, t in cols if (b, t, name) in rows}
        failed = [f"{b} {t}" for (b, t), m in runs.items() if not m.bit_exact]
        lines.append(f"| {shown(name)} | " + " | ".join(cell(runs[c]) if c in runs else "-" for c in cols)
                     + f" | {'NO: ' + ', '.join(failed) if failed else 'yes'} |")
    return lines


def flash_table(rows: dict, boards: list[str], models: list[str]) -> list[str]:
    """Code and weight flash by model, board and kernel tier, as `code / weights` in bytes:
    the whole firmware's flash but the model's weights and layer parameters (the protocol
    server, startup, drivers, the kernels it links), and those."""
    cols = [(b, t) for b in boards for t in TIERS if any(k[:2] == (b, t) for k in rows)]
    lines = ["| model | " + " | ".join(f"{b} {t}" for b, t in cols) + " |", "|---|" + "---:|" * len(cols)]
    for name in models:
        cells = [f"{rows[(b, t, name)].code_flash:,} / {rows[(b, t, name)].weights_flash:,}"
                 if (b, t, name) in rows else "-" for b, t in cols]
        lines.append(f"| {shown(name)} | " + " | ".join(cells) + " |")
    return lines


def forms_table(forms: dict, graphs) -> list[str]:
    """The DSP tier's lean int8 weights (--optimize size) against its int16 ones (--optimize
    speed) per model (forms[(optimize, model)] is the model's figures): the weights' flash,
    its ratio to the model's own weight bytes (its constant tensors in the .tflite), and
    instructions per MAC."""
    lines = ["| model | model's weights (B) | size: weights (B) | ratio | instr/MAC | speed: weights (B) | ratio "
             "| instr/MAC | bit-exact |", "|---|" + "---:|" * 7 + "---|"]
    for g in graphs:
        if ("size", g.name) not in forms:
            continue
        own = sum(t.nbytes for t in g.tensors if t.is_const)
        lean, wide = forms[("size", g.name)], forms[("speed", g.name)]
        cells = [f"{m.weights_flash:,} | {m.weights_flash / own:.3f}x | {_per_mac(m)}" for m in (lean, wide)]
        exact = "yes" if lean.bit_exact and wide.bit_exact else "NO"
        lines.append(f"| {shown(g.name)} | {own:,} | {' | '.join(cells)} | {exact} |")
    return lines


def _per_mac(m) -> str:
    return f"{m.per_mac:.3f}" if m.per_mac else "-"


def inputs_text(n: int) -> str:
    """The inputs protobrain.measure.bench checks and counts: n - 3 random ones, then the edges."""
    edges = ["all-min", "all-max", "zeros"]
    if n > 3:
        return f"{n} inputs ({n - 3} random, {', '.join(edges[:2])} and {edges[2]})"
    return f"{n} input{'s' * (n > 1)} ({' and '.join(edges[:n])})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="../shared/models", help="folder with the reference .tflite models")
    ap.add_argument("--out", default="bench", help="folder for the per-board reports")
    ap.add_argument("--boards", nargs="+", default=BOARDS)
    ap.add_argument("--only", nargs="+", choices=MODELS + BUILT, metavar="MODEL",
                    help=f"measure only these models (of {', '.join(MODELS + BUILT)})")
    ap.add_argument("--tiers", nargs="+", choices=TIERS, default=list(TIERS),
                    help="kernel tiers to measure, where the board's core runs them (default: all)")
    ap.add_argument("-n", type=int, default=20, help="inputs per model")
    ap.add_argument("--markdown", default="BENCHMARKS.md")
    ap.add_argument("--workers", type=int, default=None,
                    help="runs at once through Ray Tune (default: one per core); 1: one after another without Ray")
    ap.add_argument("--address", default=None,
                    help="an existing Ray cluster for the runs (HEAD:6379, or auto on a cluster node); default: local Ray")
    args = ap.parse_args()
    if args.workers is not None and args.workers < 1:
        ap.error(f"--workers {args.workers}: give 1 or more")
    console = Console(stderr=True)
    paths = [Path(args.models) / f"{m}.tflite" for m in MODELS if not args.only or m in args.only]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        console.print(f"bench: error: reference models not found: {', '.join(missing)} (use --models DIR)")
        return 2
    graphs = [read_model(p) for p in paths]
    blobs = [p.read_bytes() for p in paths]
    built = [m for m in BUILT if not args.only or m in args.only]
    skipped = []
    why_not = built_models.tensorflow_missing() if built else None
    if why_not:
        console.print(f"bench: note: not measuring the built models ({', '.join(built)}): {why_not}",
                      markup=False, highlight=False, soft_wrap=True)
        skipped, built = built, []
    for name in built:
        with console.status(f"building {name} with TensorFlow (once, kept in {args.out}/built)"):
            data = built_models.load(name, Path(args.out) / "built")
        graphs.append(read_model_bytes(data, name))
        blobs.append(data)
    if not graphs:
        console.print(f"bench: error: no model to measure of {', '.join(args.only)}",
                      markup=False, highlight=False, soft_wrap=True)
        return 2
    started = time.monotonic()
    measured_tiers = ("every tier its core runs" if set(args.tiers) == set(TIERS)
                      else f"those of the tiers {', '.join(args.tiers)} its core runs")
    lines = ["# Benchmarks", "",
             "Measured by `make bench` (`scripts/bench.py`, `protobrain bench` for each board): every reference model",
             "gets its own firmware and runs in QEMU under protobrain's instruction-counting TCG plugin on",
             f"{inputs_text(args.n)}; each counted run is checked bit-exact against TensorFlow",
             "Lite Micro. Every table gives the verdict (bit-exact: every output byte on every input equals",
             "TFLite Micro's), and `make bench` fails, naming the row and the first differing value, when",
             "any run differs.",
             "Instructions are exact counts of executed guest instructions between markers",
             "the firmware stores around the inference; they repeat exactly from run to run. Spread is the",
             "largest minus the smallest count over the inputs (constant running time means zero).",
             "Arena is protobrain's planned memory: the activations and the fast kernels' scratch, next to",
             "the arena TensorFlow Lite Micro allocates for the same model. Activation lower bound is the",
             "largest total of activation tensors alive at one step (no plan keeping tensors whole needs",
             "less); scratch is the largest scratch buffer one layer's kernel uses (im2col rows, widened",
             "weights or lines), alive during that layer only, so it shares space with the activations",
             "not alive then. RAM is the whole firmware's .data + .bss (arena, serial I/O",
             "buffer, 8 KB stack); flash is .text + .data, given as the model's weights (with layer",
             "parameters) and code: everything else (the protocol server, startup, drivers and the kernels",
             "the firmware links; it links only the kernel forms its layers call). Heap: the allocator",
             "symbols found in the ELF (`nm`).",
             "",
             "Kernel tiers (`protobrain/compiler/ops/tiers/`, kernels in `templates/kernels/<tier>/`):",
             "portable C on any core; dsp, the Arm DSP extension",
             "(SXTB16/SMLAD, M4/M7/M33/M55), with int16 weights where they fit in half the board's flash;",
             "mve, Helium (M55); armv6m, Thumb-1 with 32-bit MULS only (Cortex-M0/M0+), measured on",
             "qemu-mps2-an385-armv6m: firmware built for cortex-m0plus, run on the AN385's Cortex-M3, which",
             f"executes that code unchanged and has the RAM the models need. Each board is measured with {measured_tiers}; the summary and the",
             "per-board sections show the fastest measured.", "",
             "MACs are the model's own: every multiply its layers define. The fast tiers skip output",
             "channels whose weights are all zero, whose output is a constant (vww_96_int8's pruned deep",
             "channels, 42% of its MACs), so on that model instructions per MAC count work not done;",
             "instr/computed MAC divides by the MACs computed (the skipped channels' left out), the",
             "kernels' own efficiency (`protobrain bench --per-computed-mac`).", "",
             "audio_preprocessor_int8 is TFLite Micro's micro_speech audio frontend as a model (a 30 ms frame",
             "in, 40 features out): a window, a 512-point FFT, a filterbank, noise reduction and a log. Its",
             "MACs are its filterbank's 632 alone (the FFT is no layer with weights), so its instructions per",
             "MAC say nothing of its speed: read its instructions per frame. Its square roots, logarithms and",
             "the FFT's auto-scale take more steps on some values than on others (TFLite Micro's own",
             "integer forms, which protobrain follows bit for bit), hence its spread.", ""]
    if built:
        lines += [f"Built by protobrain ({', '.join(f'`{shown(n)}`' for n in built)}; "
                  "`protobrain/measure/built_models.py`): forms no",
                  "reference model has, built with TensorFlow from fixed seeds (the same bytes every build) with",
                  "random weights, not trained. dscnn_kws_16x8 is the DS-CNN keyword net `protobrain train speech",
                  "--mode 16x8` builds (a 10x4 strided convolution, two depthwise 3x3 + pointwise pairs of 64",
                  "channels, a dense classifier; logits out, batch norms with random statistics), quantized 16x8:",
                  "int16 activations, int8 weights. Random weights are fine for instruction counts: the kernels'",
                  "work does not depend on weight values but for output channels whose weights are all zero",
                  "(skipped), and random weights have none (instr/computed MAC equals instr/MAC).", ""]
    if skipped:
        lines += [f"Not measured: the built models ({', '.join(skipped)}): {why_not}.", ""]
    summary = ["| board | kernels | model | MACs | instructions | instr/MAC | instr/computed MAC | spread | bit-exact "
               "| arena (B) | activation lower bound (B) | scratch (B) | TFLM arena (B) | RAM (B) | weights (B) "
               "| code (B) |",
               "|---|---|---|" + "---:|" * 13]
    sections = []
    rows = {}  # (board, tier, model) -> ModelFigures
    failures = []  # one line per row that is not bit-exact
    boards = {name: load_board(name) for name in args.boards}
    plan = {name: tiers_of(board, args.tiers) for name, board in boards.items()}
    jobs = [{"board": name, "tier": tier, "model": g.name} for name in args.boards for tier in plan[name]
            for g in graphs]
    # the DSP tier's two weight forms on the M4, apart from the tier runs above
    jobs += [{"board": FORMS_BOARD, "tier": "dsp", "model": g.name, "optimize": o} for o in ("size", "speed")
             for g in graphs if "dsp" in plan.get(FORMS_BOARD, ())]
    forms = {}  # (optimize, model) -> ModelFigures
    model_bytes = {g.name: b for g, b in zip(graphs, blobs)}
    # a bar on a terminal; piped (make bench | tee), a line at least every few runs
    with progress.task("model x board x tier runs", len(jobs)) as advance:
        def done(i: int, value) -> None:
            job = jobs[i]
            advance(1, status=f"{job['board']} {job['tier']} {job['model']}"
                    + (f" (--optimize {job['optimize']})" if "optimize" in job else ""))

        try:
            figures = fanout.run_all(bench_job, jobs, workers=args.workers, address=args.address,
                                     shared={"blobs": model_bytes, "n_inputs": args.n},
                                     what="benchmark runs", on_done=done)
        except ProtobrainError as e:
            console.print(f"bench: error: {e}", markup=False, highlight=False, soft_wrap=True)
            return 2
    # a run that failed while every core was busy (a simulator starved past its reply
    # deadlines) gets one more go alone, after the others, rather than cost the whole bench
    for i, value in enumerate(figures):
        if isinstance(value, str):
            console.print(f"bench: running {jobs[i]['model']} on {jobs[i]['board']} ({jobs[i]['tier']} kernels) "
                          "again, alone", markup=False, highlight=False, soft_wrap=True)
            figures[i] = bench_job(jobs[i], model_bytes, args.n)
    errors = [f for f in figures if isinstance(f, str)]
    if errors:
        console.print(errors[0], markup=False, highlight=False, soft_wrap=True)
        return 2
    for job, m in zip(jobs, figures):
        m.name = shown(job["model"])  # the reports' and tables' name
        if "optimize" in job:
            forms[(job["optimize"], job["model"])] = m
            failures += [] if m.bit_exact else [f"{mismatch_line(job['board'], m)} (--optimize {job['optimize']})"]
        else:
            rows[(job["board"], job["tier"], job["model"])] = m
    for name in args.boards:
        board = boards[name]
        for tier in plan[name]:
            report = BenchReport(board.name, board.core, board.clock_hz,
                                 [rows[(name, tier, g.name)] for g in graphs])
            write_reports(report, Path(args.out) / name / tier, per_computed=True)
            failures += [mismatch_line(name, m) for m in report.models if not m.bit_exact]
        if plan[name]:
            # the board's fastest tier is the last measured: its figures are the board's
            sections += board_section(report, board, tier)
            for m in report.models:
                summary.append(f"| {name} | {tier} | {m.name} | {m.macs:,} | {m.count:,} | {m.per_mac:.2f} | "
                               f"{m.per_computed_mac:.2f} | {m.spread:,} | "
                               f"{verdict(m)} | {m.arena:,} | {m.activation_lower_bound:,} | {m.largest_scratch:,} | "
                               f"{m.tflm_arena:,} | {m.ram:,} | {m.weights_flash:,} | {m.code_flash:,} |")
    if not rows:
        console.print(f"bench: error: no board of {', '.join(args.boards)} runs the tiers {', '.join(args.tiers)}; "
                      "choose --tiers the boards' cores have")
        return 2
    names = [g.name for g in graphs]
    not_exact = ["", "Not bit-exact (the figures of these rows measure code that computes something else):", "",
                 *[f"- {line}" for line in failures]] if failures else []
    lines += summary + not_exact + ["", "## Instructions per MAC by kernel tier", "",
                                    "Whole network, on the inputs above; a cell says NOT bit-exact where any output",
                                    "differs from TensorFlow Lite Micro's, and the last column sums up each model.", "",
                                    *tier_table(rows, args.boards, names), "",
                                    "## Code and weight flash by kernel tier", "",
                                    "Bytes, as code / weights: code is the whole firmware (protocol server, startup,",
                                    "drivers, the kernel forms it links) but the model's weights and layer parameters.",
                                    "", *flash_table(rows, args.boards, names), ""]
    if forms:
        lines += ["## Flash-lean DSP form (--optimize size) against --optimize speed", "",
                  f"On {FORMS_BOARD}, dsp kernels: `--optimize size` keeps the matrix-multiply weights int8 in the",
                  "lean form (one SXTB16 per weight word), `--optimize speed` stores them as int16 wherever they fit",
                  "the board's flash; `balanced` (the default, the tables above) takes int16 when they fit half of",
                  "it. Weights: the model's weights and layer parameters in flash; ratio: to the model's own",
                  "weight bytes (its constant tensors in the .tflite).", "",
                  *forms_table(forms, graphs), ""]
    lines += sections
    lines += [f"Per-layer tables and charts: `{args.out}/<board>/<tier>/bench.md` and `bench.png` after `make bench`.",
              f"Run took {time.monotonic() - started:.0f} s on this machine.", ""]
    Path(args.markdown).write_text("\n".join(lines))
    console.print(f"wrote {args.markdown} and {args.out}/<board>/<tier>/bench.{{json,md,png}}")
    for line in failures:
        console.print(f"bench: error: {line}", markup=False, highlight=False, soft_wrap=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
