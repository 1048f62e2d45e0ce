#!/usr/bin/env python3
"""`make models`: end to end on every reference model: read, plan, generate C, compile it,
and check it byte for byte against TensorFlow Lite Micro. Writes <out>/REPORT.md."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from protobrain.codegen import render as codegen
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model
from protobrain.errors import ProtobrainError
from protobrain.resources import REFERENCE_MODELS as MODELS
from protobrain.run.host import CompiledModel, build_shared_library
from protobrain.verify.compare import compare, test_inputs
from protobrain.verify.reference import Reference


def run_on_board(board_name: str, paths: list[Path], rows: list[dict], out: Path, n: int, progress, task) -> None:
    """One firmware with every model that compiled, started in QEMU, verified over serial."""
    from protobrain.boards import load_board
    from protobrain.firmware.build import build
    from protobrain.run.device import Device
    from protobrain.run.qemu import QemuBoard

    board = load_board(board_name)
    ok = [(p, r) for p, r in zip(paths, rows[:len(paths)]) if r["result"] == "bit-exact"]
    progs = [build_program(read_model(p)) for p, _ in ok]
    progress.update(task, description=f"building firmware for {board.name}")
    image = build(board, progs, [p.read_bytes() for p, _ in ok], out / f"firmware-{board.name}")
    rows.append({"model": f"(firmware for {board.name}: all models)", "flash": image.flash_bytes,
                 "arena": image.ram_bytes, "result": "", "board": "", "summary": True})
    with QemuBoard(board, image.elf) as q, Device(q.port) as dev:
        for (path, row), prog in zip(ok, progs):
            progress.update(task, description=f"{prog.graph.name}: verifying on {board.name} over serial")
            index = dev.model_index(prog.graph.name)
            counts = []

            def run(*xs):
                res = dev.invoke(index, *xs)
                counts.append(res.count)
                return res.outputs[0] if len(res.outputs) == 1 else res.outputs

            result = compare(run, Reference(path), test_inputs(compiled_inputs(prog), n, seed=11), prog.graph.name)
            row["board"] = "bit-exact" if result.ok else f"MISMATCH ({len(result.mismatches)} inputs)"
            row["cycles"] = int(sorted(counts)[len(counts) // 2])
            progress.advance(task)


def compiled_inputs(prog):
    return [prog.graph.tensors[i] for i in prog.graph.inputs]


def run_one(path: Path, out: Path, n: int) -> dict:
    t0 = time.perf_counter()
    program = build_program(read_model(path))
    codegen.write(program, out / program.graph.name, source=path.name)
    gen_s = time.perf_counter() - t0
    compiled = CompiledModel(program, build_shared_library(program, str(path)))
    ref = Reference(path)
    result = compare(compiled.run, ref, test_inputs(compiled.inputs, n, seed=7), program.graph.name)
    return {
        "model": program.graph.name, "ops": len(program.steps), "macs": program.macs,
        "flash": program.const_bytes, "arena": program.arena_size, "bound": program.lower_bound,
        "tflm": ref.arena_bytes(), "gen_s": gen_s, "cases": result.cases,
        "result": "bit-exact" if result.ok else f"MISMATCH ({len(result.mismatches)} inputs)",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", type=Path, default=Path("../shared/models"))
    ap.add_argument("--out", type=Path, default=Path("out"))
    ap.add_argument("-n", type=int, default=50, help="random inputs per model on the host")
    ap.add_argument("--board", default="qemu-mps2-an386", help="simulated board to verify on too ('' to skip)")
    ap.add_argument("--board-n", type=int, default=3, help="random inputs per model on the board")
    args = ap.parse_args()
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    paths = [args.models / f"{m}.tflite" for m in MODELS if (args.models / f"{m}.tflite").exists()]
    if not paths:
        console.print(f"no reference models in {args.models}; pass --models DIR (or MODELS=DIR to make)")
        return 2
    rows, failed = [], False
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("compiling and verifying", total=len(paths) * (2 if args.board else 1))
        for p in paths:
            progress.update(task, description=f"{p.stem}: generate, compile, compare with TFLite Micro")
            try:
                rows.append(run_one(p, args.out, args.n))
            except ProtobrainError as e:
                rows.append({"model": p.stem, "result": "error (below)", "error": str(e)})
            failed |= rows[-1]["result"] != "bit-exact"
            progress.advance(task)
        if args.board:
            try:
                run_on_board(args.board, paths, rows, args.out, args.board_n, progress, task)
            except ProtobrainError as e:
                console.print(f"{args.board}: {e}")
                failed = True
            failed |= any(r.get("board", "bit-exact") != "bit-exact" for r in rows if "error" not in r and not r.get("summary"))

    cols = [("model", "model"), ("ops", "ops"), ("MACs", "macs"), ("flash B", "flash"), ("RAM B", "arena"),
            ("lower bound B", "bound"), ("TFLM arena B", "tflm"), ("gen s", "gen_s"), ("inputs", "cases"), ("host vs TFLM", "result")]
    if args.board:
        cols += [(f"{args.board} vs TFLM", "board"), ("cycles (QEMU)", "cycles")]
    table = Table(title="protobrain on the reference models")
    for title, _ in cols:
        table.add_column(title)

    def fmt(v):
        return f"{v:,}" if isinstance(v, int) else f"{v:.2f}" if isinstance(v, float) else str(v)

    md = ["# protobrain demo report", "", "Generated C compiled for this host, and firmware with every model run on "
          f"{args.board or 'no board'} in QEMU, compared byte for byte with TensorFlow Lite Micro on random and edge "
          "inputs. Cycles are SysTick counts at the board clock under QEMU's instruction-counted virtual time.", "",
          "| " + " | ".join(t for t, _ in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [fmt(r.get(k, "")) for _, k in cols]
        table.add_row(*cells)
        md.append("| " + " | ".join(cells) + " |")
    console.print(table)
    for r in rows:
        if "error" in r:
            console.print(f"{r['model']}: {r['error']}")
            md.append(f"\n{r['model']}: {r['error']}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "REPORT.md").write_text("\n".join(md) + "\n")
    console.print(f"report: {args.out / 'REPORT.md'}; generated C in {args.out}/<model>/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
