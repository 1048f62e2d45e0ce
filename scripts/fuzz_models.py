#!/usr/bin/env python3
"""`make fuzz`: a long hostile-model fuzz run (protobrain.fuzz).

Mutates the reference models (and protobrain's built-in seed models) structurally:
truncation, byte flips, out-of-range buffer and tensor indices, inconsistent shapes, huge
dimensions, bad scales and zero points, missing quantization, wrong types, opcodes and
options. Every mutant must be refused with a clear one-line error or compile; a sample
of the distinct programs that compile is built with AddressSanitizer/UBSan and compared
with TensorFlow Lite Micro byte for byte. Writes <out>/summary.json and summary.md, and
every finding's mutant as a .tflite file to reproduce it (`protobrain inspect FILE`).
Exit status 1 when there is any finding.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from protobrain.errors import ProtobrainError
from protobrain.fuzz import fuzz, load_seeds, pick_sample, sanitizers_available, verify_valid


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="../shared/models", help="folder with the reference .tflite models")
    ap.add_argument("--cases", type=int, default=100_000, help="mutants to try (default 100000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same mutants")
    ap.add_argument("--verify", type=int, default=200,
                    help="distinct valid programs to check against TFLite Micro under sanitizers (default 200)")
    ap.add_argument("--verify-same", type=int, default=50,
                    help="valid mutants whose program equals their seed's, checked against TFLite Micro too")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds one case may take before it is a hang")
    ap.add_argument("--out", default="fuzz", help="folder for summary.json, summary.md and finding files")
    args = ap.parse_args()
    console = Console(stderr=True)

    seeds = load_seeds(args.models)
    shared = [n for n in seeds if not n.startswith("tiny_")]
    if not shared:
        console.print(f"fuzz: no reference models in {args.models}; fuzzing the built-in seed models only")
    if args.verify + args.verify_same and (why := sanitizers_available()) is not None:
        console.print(f"fuzz: error: {why}; install gcc with libasan/libubsan, or pass --verify 0 --verify-same 0")
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn()]
    started = time.monotonic()
    try:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task(f"fuzzing {len(seeds)} models", total=args.cases)
            report = fuzz(seeds, args.cases, seed=args.seed, timeout=args.timeout,
                          progress=lambda done, total: bar.update(task, completed=done),
                          keep_same_program=max(args.verify_same, 1) * 4)
            sample = pick_sample(report, args.verify, same_program=args.verify_same, seed=args.seed)
            vtask = bar.add_task("TFLite Micro + sanitizers", total=len(sample))
            verdicts = verify_valid(sample, seed=args.seed,
                                    progress=lambda done, total: bar.update(vtask, completed=done))
            bar.update(vtask, completed=len(sample))
    except ProtobrainError as e:
        console.print(f"fuzz: error: {e}")
        return 2

    bad = [v for v in verdicts if not v.ok]
    summary = report.summary()
    summary.update(models=sorted(seeds), seed=args.seed, total_seconds=round(time.monotonic() - started, 1),
                   verified=len(verdicts), verified_ok=len(verdicts) - len(bad),
                   verify_failures=[f"{v.mutant.seed} case {v.mutant.case} [{v.mutant.mutation.kind}] "
                                    f"{v.mutant.mutation.detail}: {v.status}: {v.message}" for v in bad])
    for f in report.findings:
        (out / f"finding-{f.seed}-{f.case}.tflite").write_bytes(f.data)
        if f.outcome.traceback:
            (out / f"finding-{f.seed}-{f.case}.txt").write_text(f.line() + "\n\n" + f.outcome.traceback)
    for v in bad:
        (out / f"verify-{v.mutant.seed}-{v.mutant.case}.tflite").write_bytes(v.mutant.data)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(markdown(summary))

    o = summary["outcomes"]
    console.print(f"fuzz: {summary['cases']} cases in {summary['seconds']} s: {o.get('error', 0)} refused with a "
                  f"one-line error, {o.get('valid', 0)} compiled ({summary['distinct_valid_programs']} distinct "
                  f"programs), {o.get('crash', 0)} crashes, {o.get('hang', 0)} hangs; "
                  f"{summary['verified_ok']}/{summary['verified']} valid mutants match TFLite Micro under sanitizers")
    for line in summary["findings"][:20] + summary["verify_failures"][:20]:
        console.print(f"  {line}", markup=False, highlight=False)
    console.print(f"fuzz: wrote {out / 'summary.md'}")
    return 1 if report.findings or bad else 0


def markdown(s: dict) -> str:
    o = s["outcomes"]
    lines = ["# Hostile-model fuzzing", "",
             f"{s['cases']} mutants (seed {s['seed']}) of {', '.join(s['models'])}, in {s['seconds']} s.", "",
             "| outcome | cases |", "|---|---:|"]
    lines += [f"| {k} | {o.get(k, 0)} |" for k in ("error", "valid", "crash", "hang")]
    lines += ["", f"Distinct valid programs: {s['distinct_valid_programs']}; checked against TFLite Micro with "
              f"AddressSanitizer and UBSan: {s['verified_ok']} of {s['verified']} match.", "",
              f"Slowest case: {s['slowest_case']['seconds']} s ({s['slowest_case']['seed']}, "
              f"{s['slowest_case']['mutation']}).", "", "## By mutation", "",
              "| mutation | error | valid | crash | hang |", "|---|---:|---:|---:|---:|"]
    for k, c in s["by_mutation"].items():
        lines.append(f"| {k} | {c.get('error', 0)} | {c.get('valid', 0)} | {c.get('crash', 0)} | {c.get('hang', 0)} |")
    lines += ["", "## Findings", ""]
    lines += [f"- {f}" for f in s["findings"] + s["verify_failures"]] or ["None."]
    lines += ["", "## Most common errors", ""] + [f"- {n} x `{m}`" for m, n in s["most_common_errors"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
