#!/usr/bin/env python3
"""The main job, end to end on every reference model: read, plan, generate C, compile it,
and check it byte for byte against TensorFlow Lite Micro. Writes <out>/REPORT.md."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from protobrain import codegen
from protobrain.compiler import build_program
from protobrain.errors import ProtobrainError
from protobrain.host import CompiledModel, build_shared_library
from protobrain.reader import read_model
from protobrain.reference import Reference
from protobrain.verify import compare, test_inputs

MODELS = ["hello_world_int8", "micro_speech_quantized", "kws_ref_model", "ad01_int8",
          "pretrainedResnet_quant", "vww_96_int8"]


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
    ap.add_argument("-n", type=int, default=50, help="random inputs per model")
    args = ap.parse_args()
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    paths = [args.models / f"{m}.tflite" for m in MODELS if (args.models / f"{m}.tflite").exists()]
    if not paths:
        console.print(f"no reference models in {args.models}; pass --models DIR (or MODELS=DIR to make)")
        return 2
    rows, failed = [], False
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("compiling and verifying", total=len(paths))
        for p in paths:
            progress.update(task, description=f"{p.stem}: generate, compile, compare with TFLite Micro")
            try:
                rows.append(run_one(p, args.out, args.n))
            except ProtobrainError as e:
                rows.append({"model": p.stem, "result": "error (below)", "error": str(e)})
            failed |= rows[-1]["result"] != "bit-exact"
            progress.advance(task)

    cols = [("model", "model"), ("ops", "ops"), ("MACs", "macs"), ("flash B", "flash"), ("RAM B", "arena"),
            ("lower bound B", "bound"), ("TFLM arena B", "tflm"), ("gen s", "gen_s"), ("inputs", "cases"), ("result", "result")]
    table = Table(title="protobrain on the reference models")
    for title, _ in cols:
        table.add_column(title)

    def fmt(v):
        return f"{v:,}" if isinstance(v, int) else f"{v:.2f}" if isinstance(v, float) else str(v)

    md = ["# protobrain demo report", "", "Generated C compiled for this host, compared byte for byte with "
          "TensorFlow Lite Micro on random and edge inputs.", "",
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
