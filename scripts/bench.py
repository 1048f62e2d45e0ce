#!/usr/bin/env python3
"""`make bench`: measure every reference model on the simulated Cortex-M boards with
exact instruction counts, and write BENCHMARKS.md (plus bench.json/md/png per board)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from protobrain.bench import model_table, run_bench, write_reports
from protobrain.boards import load_board
from protobrain.compiler import build_program
from protobrain.errors import ProtobrainError
from protobrain.ops.fast import TIERS, tier_for
from protobrain.reader import read_model
from protobrain.resources import REFERENCE_MODELS as MODELS

BOARDS = ["qemu-mps2-an386", "qemu-mps2-an500", "qemu-mps2-an505", "qemu-mps3-an547"]


def board_section(report, board, tier) -> list[str]:
    return [f"## {board.name}: {board.description} ({tier} kernels)", "", *model_table(report), ""]


def tiers_of(board) -> list[str]:
    """Every kernel tier the board's core runs, slowest first."""
    best = tier_for(board.features)
    return list(TIERS[: TIERS.index(best) + 1])


def tier_table(per_mac: dict, boards: list[str], models: list[str]) -> list[str]:
    """Instructions per MAC by model, board and kernel tier (per_mac[(board, tier, model)])."""
    cols = [(b, t) for b in boards for t in TIERS if any(k[:2] == (b, t) for k in per_mac)]
    lines = ["| model | " + " | ".join(f"{b} {t}" for b, t in cols) + " |", "|---|" + "---:|" * len(cols)]
    for m in models:
        lines.append(f"| {m} | " + " | ".join(f"{per_mac[(b, t, m)]:.2f}" if (b, t, m) in per_mac else "-"
                                              for b, t in cols) + " |")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="../shared/models", help="folder with the reference .tflite models")
    ap.add_argument("--out", default="bench", help="folder for the per-board reports")
    ap.add_argument("--boards", nargs="+", default=BOARDS)
    ap.add_argument("-n", type=int, default=20, help="inputs per model")
    ap.add_argument("--markdown", default="BENCHMARKS.md")
    args = ap.parse_args()
    console = Console(stderr=True)
    paths = [Path(args.models) / f"{m}.tflite" for m in MODELS]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        console.print(f"bench: error: reference models not found: {', '.join(missing)} (use --models DIR)")
        return 2
    graphs = [read_model(p) for p in paths]
    blobs = [p.read_bytes() for p in paths]
    started = time.monotonic()
    lines = ["# Benchmarks", "",
             "Measured by `make bench` (`scripts/bench.py`, `protobrain bench` for each board): every reference model",
             "gets its own firmware, runs in QEMU under protobrain's instruction-counting TCG plugin, and is",
             f"checked bit-exact against TensorFlow Lite Micro on each of {args.n} inputs (random plus all-min,",
             "all-max and zeros). Instructions are exact counts of executed guest instructions between markers",
             "the firmware stores around the inference; they repeat exactly from run to run. Spread is the",
             "largest minus the smallest count over the inputs (constant running time means zero).",
             "Arena is protobrain's planned activation memory, next to the arena TensorFlow Lite Micro",
             "allocates for the same model. RAM is the whole firmware's .data + .bss (arena, serial I/O",
             "buffer, 8 KB stack); flash is .text + .data, split below into the model's weights (with",
             "layer parameters) and everything else. Heap: the allocator symbols found in the ELF (`nm`).",
             "",
             "Kernel tiers (`protobrain/ops/fast.py`): portable C on any core; dsp, the Arm DSP extension",
             "(SXTB16/SMLAD, M4/M7/M33/M55), with int16 weights where they fit in half the board's flash;",
             "mve, Helium (M55). Each board is measured with every tier its core runs; the summary and the",
             "per-board sections show its fastest.", "",
             "MACs are the model's own: every multiply its layers define. The fast tiers skip output",
             "channels whose weights are all zero, whose output is a constant (vww_96_int8's pruned deep",
             "channels, 42% of its MACs), so on that model instructions per MAC count work not done.", ""]
    summary = ["| board | kernels | model | MACs | instructions | instr/MAC | spread | arena (B) | TFLM arena (B) | RAM (B) "
               "| flash (B) |",
               "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    sections = []
    per_mac = {}
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console) as progress:
        for name in args.boards:
            board = load_board(name)
            for tier in tiers_of(board):
                progs = [build_program(g, tier=tier, flash_budget=board.flash.length) for g in graphs]
                try:
                    report = run_bench(board, progs, [str(p) for p in paths], blobs, n_inputs=args.n,
                                       progress=progress)
                except ProtobrainError as e:
                    console.print(f"bench: error on {name} ({tier} kernels): {e}")
                    return 2
                write_reports(report, Path(args.out) / name / tier)
                for m in report.models:
                    per_mac[(name, tier, m.name)] = m.per_mac
            # the board's fastest tier is the last measured: its figures are the board's
            sections += board_section(report, board, tier)
            for m in report.models:
                summary.append(f"| {name} | {tier} | {m.name} | {m.macs:,} | {m.count:,} | {m.per_mac:.2f} | {m.spread:,} | "
                               f"{m.arena:,} | {m.tflm_arena:,} | {m.ram:,} | {m.weights_flash + m.code_flash:,} |")
    names = [m.name for m in report.models]
    lines += summary + ["", "## Instructions per MAC by kernel tier", "",
                        "Whole network, every input checked bit-exact against TensorFlow Lite Micro.", "",
                        *tier_table(per_mac, args.boards, names), ""] + sections
    lines += [f"Per-layer tables and charts: `{args.out}/<board>/<tier>/bench.md` and `bench.png` after `make bench`.",
              f"Run took {time.monotonic() - started:.0f} s on this machine.", ""]
    Path(args.markdown).write_text("\n".join(lines))
    console.print(f"wrote {args.markdown} and {args.out}/<board>/<tier>/bench.{{json,md,png}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
