#!/usr/bin/env python3
"""`make fuzz`: a long hostile-model fuzz run (protobrain.verify.fuzz).

Mutates the reference models (and protobrain's built-in seed models) structurally:
truncation, byte flips, out-of-range buffer and tensor indices, inconsistent shapes, huge
dimensions, bad scales and zero points, missing quantization, wrong types, opcodes and
options. Every mutant must be refused with a clear one-line error, or be generated for
every kernel tier (portable, armv6m, dsp, mve) without a crash or hang. A sample of the distinct
valid programs is built with AddressSanitizer/UBSan on the host for the portable and DSP
tiers (the DSP kernels' plain-C form) and compared with TensorFlow Lite Micro byte for
byte; a smaller sample of those also runs as firmware in QEMU (DSP on the Cortex-M4
qemu-mps2-an386, Helium on the Cortex-M55 qemu-mps3-an547), compared over serial. Writes
<out>/summary.json and summary.md, and every finding's mutant as a .tflite file to
reproduce it (`protobrain inspect FILE`). Exit status 1 when there is any finding.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from protobrain.compiler.ops.tiers.select import TIERS
from protobrain.errors import ProtobrainError
from protobrain.verify.fuzz.driver import fuzz, pick_sample, tier_table, verify_valid
from protobrain.verify.fuzz.qemu import QEMU_BOARDS, pick_qemu, qemu_available
from protobrain.verify.fuzz.sanitize import sanitizers_available
from protobrain.verify.fuzz.seeds import load_seeds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="../shared/models", help="folder with the reference .tflite models")
    ap.add_argument("--cases", type=int, default=100_000, help="mutants to try (default 100000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same mutants")
    ap.add_argument("--verify", type=int, default=100,
                    help="distinct valid programs to check against TFLite Micro under sanitizers, portable and "
                         "DSP tier each (default 100)")
    ap.add_argument("--verify-same", type=int, default=25,
                    help="valid mutants whose programs equal their seed's, checked the same way (default 25)")
    ap.add_argument("--qemu", type=int, default=16,
                    help="of the sampled mutants, how many also run in QEMU on each board: DSP tier on "
                         f"{QEMU_BOARDS['dsp']}, Helium on {QEMU_BOARDS['mve']} (default 16; 0: none)")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds one tier of one case may take before it is a hang")
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
    if args.qemu and (why := qemu_available()) is not None:
        console.print(f"fuzz: error: {why}; or pass --qemu 0")
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn()]
    started = time.monotonic()
    try:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task(f"fuzzing {len(seeds)} models, {len(TIERS)} tiers", total=args.cases)
            report = fuzz(seeds, args.cases, seed=args.seed, timeout=args.timeout,
                          progress=lambda done, total: bar.update(task, completed=done),
                          keep_same_program=max(args.verify_same, 1) * 4)
            sample = pick_sample(report, args.verify, same_program=args.verify_same, seed=args.seed)
            on_qemu = pick_qemu(sample, args.qemu)
            vtask = bar.add_task("TFLite Micro: sanitizers, QEMU", total=None)
            verdicts = verify_valid(sample, seed=args.seed, qemu=on_qemu,
                                    progress=lambda done, total: bar.update(vtask, completed=done, total=total))
    except ProtobrainError as e:
        console.print(f"fuzz: error: {e}")
        return 2

    bad = [v for v in verdicts if not v.ok]
    tiers = tier_table(report, verdicts)
    summary = report.summary()
    summary.update(models=sorted(seeds), seed=args.seed, total_seconds=round(time.monotonic() - started, 1),
                   sampled=len(sample), sampled_qemu=len(on_qemu), per_tier=tiers,
                   verified=len(verdicts), verified_ok=len(verdicts) - len(bad),
                   verify_failures=[v.line() for v in bad])
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
                  f"one-line error, {o.get('valid', 0)} generated for every tier ({summary['distinct_valid_programs']} "
                  f"distinct programs), {len(report.findings)} findings; "
                  f"{summary['verified_ok']}/{summary['verified']} runs of {len(sample)} sampled mutants match "
                  "TFLite Micro")
    for tier, t in tiers.items():
        console.print(f"  {tier}: {t['generated']} generated, {t['findings']} findings; "
                      f"{t['host_sanitizers_match']}/{t['host_sanitizers']} match on the host under sanitizers "
                      f"({t['host_unjudged']} with no golden for the whole model), "
                      f"{t['qemu_match']}/{t['qemu']} in QEMU{' (' + t['qemu_board'] + ')' if t['qemu_board'] else ''}")
    for line in summary["findings"][:20] + summary["verify_failures"][:20]:
        console.print(f"  {line}", markup=False, highlight=False)
    console.print(f"fuzz: wrote {out / 'summary.md'}")
    return 1 if report.findings or bad else 0


def markdown(s: dict) -> str:
    o = s["outcomes"]
    lines = ["# Hostile-model fuzzing", "",
             f"{s['cases']} mutants (seed {s['seed']}) of {', '.join(s['models'])}, each generated for the "
             f"{', '.join(s['tiers'])} kernel tiers, in {s['seconds']} s.", "",
             "| outcome | cases |", "|---|---:|"]
    lines += [f"| {k} | {o.get(k, 0)} |" for k in ("error", "valid", "crash", "hang", "tier-refused")]
    lines += ["", "## Per tier", "",
              f"A sample of {s['sampled']} valid mutants ({s['distinct_valid_programs']} distinct valid programs in "
              f"all) is compared byte for byte with TFLite Micro: on the host with AddressSanitizer and UBSan, and "
              f"{s['sampled_qemu']} of them as firmware in QEMU, over serial. The DSP tier stores int16 weights "
              f"(as on the M4 board) in {s['dsp_int16_weights']} of its generated programs, int8 in the others.", "",
              "| tier | generated | findings | host, sanitizers: match / compared | QEMU: match / compared |",
              "|---|---:|---:|---:|---:|"]
    for tier, t in s["per_tier"].items():
        board = f" ({t['qemu_board']})" if t["qemu_board"] else ""
        lines.append(f"| {tier} | {t['generated']} | {t['findings']} | {t['host_sanitizers_match']} / "
                     f"{t['host_sanitizers']} | {t['qemu_match']} / {t['qemu']}{board} |")
    lines += ["", f"Slowest case: {s['slowest_case']['seconds']} s ({s['slowest_case']['seed']}, "
              f"{s['slowest_case']['mutation']}).", "", "## By mutation", "",
              "| mutation | error | valid | crash | hang | tier-refused |", "|---|---:|---:|---:|---:|---:|"]
    for k, c in s["by_mutation"].items():
        lines.append(f"| {k} | {c.get('error', 0)} | {c.get('valid', 0)} | {c.get('crash', 0)} | {c.get('hang', 0)} | "
                     f"{c.get('tier-refused', 0)} |")
    lines += ["", "## Findings", ""]
    lines += [f"- {f}" for f in s["findings"] + s["verify_failures"]] or ["None."]
    lines += ["", "## Most common errors", ""] + [f"- {n} x `{m}`" for m, n in s["most_common_errors"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
