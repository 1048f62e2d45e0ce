#!/usr/bin/env python3
"""`make fuzz`: libFuzzer on the firmware's serial protocol, on the host.

Renders a real firmware (a tiny reference model, board qemu-mps2-an386), compiles its
frame parser (pb_protocol.c), its command dispatcher (main.c, through the harness
tests/verify/fuzz/fuzz_protocol.c) and the models' generated C with clang's
-fsanitize=fuzzer,address,undefined, seeds a corpus with one valid frame of every
command, and runs the fuzzer. An input that runs longer than --timeout seconds is a
finding (a hang), and so is a reply count other than the input implies (the harness checks
it on every byte; the totals are reported). Exits non-zero on any finding.
"""

from __future__ import annotations

import argparse
import re
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "tests" / "verify" / "fuzz" / "fuzz_protocol.c"
BOARD = "qemu-mps2-an386"
MODELS = ("hello_world_int8",)  # tiny: an INVOKE costs little, so the fuzzer runs fast
SANITIZE = "-fsanitize=fuzzer,address,undefined"


def clang_problem() -> str | None:
    """Why the fuzzer cannot be built here, or None."""
    if shutil.which("clang") is None:
        return "clang not installed (make setup installs it: apt-get install clang)"
    probe = subprocess.run(["clang", SANITIZE, "-x", "c", "-o", "/dev/null", "-"],
                           input="#include <stdint.h>\n#include <stddef.h>\n"
                                 "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n",
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"clang cannot link libFuzzer: {probe.stderr.strip().splitlines()[-1:]}"
    return None


def render(model_paths: list[Path], src: Path) -> list[dict]:
    from protobrain.boards import load_board
    from protobrain.compiler.program import build_program
    from protobrain.compiler.reader import read_model
    from protobrain.firmware.build import render_firmware

    if src.exists():
        shutil.rmtree(src)
    progs = [build_program(read_model(p)) for p in model_paths]
    return render_firmware(load_board(BOARD), progs, [p.read_bytes() for p in model_paths], src)


def build(src: Path, binary: Path) -> Path:
    """The harness + parser + generated model code; not the board's UART, timer or startup."""
    board_only = ("main.c", "uart_", "timer_", "startup_", "soc_")
    sources = [str(p) for p in sorted(src.glob("*.c")) if not p.name.startswith(board_only)]
    cmd = ["clang", "-g", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", SANITIZE,
           "-fno-sanitize-recover=all", "-DPB_STEP_HOOK=pb_step_done", "-I", str(src),
           "-o", str(binary), str(HARNESS), *sources]
    subprocess.run(cmd, check=True)
    return binary


def seeds(infos: list[dict], corpus: Path) -> None:
    """One valid frame of every command, in both harness modes (see fuzz_protocol.c)."""
    from protobrain.run import protocol as P

    corpus.mkdir(parents=True, exist_ok=True)
    frames = [(P.CMD_PING, b"hello"), (P.CMD_INFO, b""), (P.CMD_PROFILE, b""), (0x42, b"")]
    for k, info in enumerate(infos):
        frames += [
            (P.CMD_INVOKE, bytes([k]) + bytes(sum(t["bytes"] for t in info["inputs"]))),
            (P.CMD_WRITE_ARENA, bytes([k]) + struct.pack("<I", 16) + bytes(range(32))),
            (P.CMD_READ_ARENA, bytes([k]) + struct.pack("<IH", 0, 64)),
            (P.CMD_RUN_STEPS, bytes([k]) + struct.pack("<HH", 0, info["steps"])),
        ]
    for i, (t, payload) in enumerate(frames):
        (corpus / f"framed_{i}").write_bytes(b"\x00" + struct.pack("<BBH", t, i, len(payload)) + payload)
        (corpus / f"raw_{i}").write_bytes(b"\x01" + P.encode(t, i, payload))
    everything = b"".join(struct.pack("<BBH", t, i, len(p)) + p for i, (t, p) in enumerate(frames))
    (corpus / "framed_all").write_bytes(b"\x00" + everything)


def run(binary: Path, corpus: Path, runs: int, timeout: int = 10, max_seconds: int = 0,
        jobs_dir: Path | None = None) -> dict:
    """Run the fuzzer for `runs` inputs, each allowed `timeout` seconds (libFuzzer's own default
    is 20 minutes); max_seconds, when given, stops it early (a safety stop). Returns whether it
    found nothing, executions, seconds, and the frames (or rejections) the inputs held and
    the replies the dispatcher sent, which must be equal."""
    cmd = [str(binary), f"-runs={runs}", f"-timeout={timeout}", "-max_len=4096", "-print_final_stats=1",
           f"-artifact_prefix={(jobs_dir or corpus.parent)}/", str(corpus)]
    if max_seconds:
        cmd.insert(1, f"-max_total_time={max_seconds}")
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.monotonic() - t0
    m = re.search(r"stat::number_of_executed_units:\s+(\d+)", proc.stderr)
    totals = re.findall(r"^protocol: (\d+) frames or rejections, (\d+) replies$", proc.stderr, re.M)
    frames, replies = map(int, totals[-1]) if totals else (0, -1)
    return {"ok": proc.returncode == 0 and frames == replies, "execs": int(m.group(1)) if m else 0,
            "seconds": seconds, "frames": frames, "replies": replies, "log": proc.stderr}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    ap.add_argument("--out", type=Path, default=REPO / "build" / "fuzz")
    ap.add_argument("--runs", type=int, default=1_000_000)
    ap.add_argument("--timeout", type=int, default=10, help="seconds one input may run before it is a hang (default 10)")
    args = ap.parse_args()
    problem = clang_problem()
    if problem:
        print(f"fuzz: {problem}", file=sys.stderr)
        return 1
    paths = [args.models / f"{n}.tflite" for n in MODELS]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"fuzz: reference models not found: {', '.join(missing)} (set MODELS=)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    infos = render(paths, args.out / "src")
    binary = build(args.out / "src", args.out / "fuzz_protocol")
    seeds(infos, args.out / "corpus")
    result = run(binary, args.out / "corpus", args.runs, args.timeout)
    print(f"fuzz: {result['execs']:,} executions in {result['seconds']:.0f} s, {result['frames']:,} frames or "
          f"rejections, {result['replies']:,} replies, "
          f"{'no findings' if result['ok'] else 'FINDING (see the log below and ' + str(args.out) + '/crash-*)'}")
    if not result["ok"]:
        print(result["log"][-4000:], file=sys.stderr)
    return 0 if result["ok"] and result["execs"] >= args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
