#!/usr/bin/env python3
"""`make fuzz`: libFuzzer on the firmware's serial protocol, on the host.

Renders two real firmwares for board qemu-mps2-an386: one with a tiny reference model (the
generic commands) and the protobrain bundle (three small trained nets, the audio frontend
and the fused synth step; its LISTEN, SPEAK and frame-streaming commands besides the generic
ones). Compiles each one's frame parser (pb_protocol.c), its command dispatcher (main.c,
through the harness tests/verify/fuzz/fuzz_protocol.c) and its generated C with clang's
-fsanitize=fuzzer,address,undefined, seeds a corpus with one valid frame of every command
(and, for the bundle, refused ones and the sequences a host sends), and runs each fuzzer for
--runs inputs. An input that runs longer than --timeout seconds is a finding (a hang), and so
is a reply count other than the input implies (the harness checks it on every byte; the
totals are reported). Exits non-zero on any finding.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "tests" / "verify" / "fuzz" / "fuzz_protocol.c"
BOARD = "qemu-mps2-an386"
MODELS = ("hello_world_int8",)  # tiny: an INVOKE costs little, so the fuzzer runs fast
SANITIZE = "-fsanitize=fuzzer,address,undefined"
# The fused synth step defines static inline helpers that only some of its forms call: gcc
# (the firmware's compiler) says nothing, clang calls them unused.
BUNDLE_FLAGS = ("-Wno-unused-function",)
BUNDLE_STRIDE = 3  # the speech net runs every 3 frames: more inferences per LISTEN chunk
# Sources whose comparisons guide the fuzzer (besides the harness, which includes main.c and
# so the dispatcher and the apps): the frame parser and the audio frontend, which LISTEN feeds.
SERVED = ("pb_protocol.c", "pb_frontend.c")


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


def render_bundle(runs: dict, src: Path) -> dict:
    """The protobrain bundle's firmware built from three trained runs (protobrain.app.small_runs):
    its nets for the host form of the board's kernel tier (the DSP tier's portable C, as the
    bundle's host twin runs), the listen and speak apps, the frontend and the fused synth
    step. Returns its INFO (info.json), which here also gives each keyword's frames
    (["protobrain"]["synth"]["frames"]): the seeds say a word to its end."""
    from protobrain.app import bundle
    from protobrain.boards import load_board
    from protobrain.compiler.ops.tiers.select import tier_for
    from protobrain.firmware.build import render_firmware

    if src.exists():
        shutil.rmtree(src)
    board = load_board(BOARD)
    parts = bundle.load_parts(runs["vision"], runs["speech"], runs["synth"], stride=BUNDLE_STRIDE)
    programs = bundle.compile_nets(parts.blobs, bundle.twin_tier(tier_for(board.features)))
    render_firmware(board, programs, parts.blobs, src, apps=bundle.apps(parts))
    info = json.loads((src / "info.json").read_text())
    info["protobrain"]["synth"]["frames"] = [len(f) for f in parts.keywords.values()]
    return info


def build(src: Path, binary: Path, flags: tuple[str, ...] = (), objects: Path | None = None) -> Path:
    """The harness + parser + generated model code; not the board's UART, timer or startup.
    The nets' and the synth's arithmetic is sanitized and counted for coverage but its
    comparisons are not traced: tracing their clamps took three quarters of the bundle
    fuzzer's time and guides nothing (no input byte meets a magic value there). Their
    objects go to `<binary>.o/`; `objects`, such a folder from a build of the same nets, is
    linked as it is (a changed main.c rebuilds in seconds)."""
    board_only = ("main.c", "uart_", "timer_", "startup_", "soc_")
    sources = [p for p in sorted(src.glob("*.c")) if not p.name.startswith(board_only)]
    served = [str(p) for p in sources if p.name in SERVED]
    arithmetic = [str(p) for p in sources if p.name not in SERVED]
    common = ["clang", "-g", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-fno-sanitize-recover=all",
              "-DPB_STEP_HOOK=pb_step_done", *flags, "-I", str(src)]
    if objects is None:
        objects = binary.parent / f"{binary.name}.o"
        shutil.rmtree(objects, ignore_errors=True)
        objects.mkdir(parents=True)
        if arithmetic:
            subprocess.run([*common, "-fsanitize=fuzzer-no-link,address,undefined", "-fno-sanitize-coverage=trace-cmp",
                            "-c", *arithmetic], cwd=objects, check=True)
    subprocess.run([*common, SANITIZE, "-o", str(binary), str(HARNESS), *served,
                    *map(str, sorted(objects.glob("*.o")))], check=True)
    return binary


def generic_frames(infos: list[dict]) -> list[tuple[int, bytes]]:
    """One valid frame of every generic command, for the models of `infos` (INFO's "models")."""
    from protobrain.run import protocol as P

    frames = [(P.CMD_PING, b"hello"), (P.CMD_INFO, b""), (P.CMD_PROFILE, b""), (0x42, b"")]
    for k, info in enumerate(infos):
        frames += [
            (P.CMD_INVOKE, bytes([k]) + bytes(sum(t["bytes"] for t in info["inputs"]))),
            (P.CMD_WRITE_ARENA, bytes([k]) + struct.pack("<I", 16) + bytes(range(32))),
            (P.CMD_READ_ARENA, bytes([k]) + struct.pack("<IH", 0, 64)),
            (P.CMD_RUN_STEPS, bytes([k]) + struct.pack("<HH", 0, info["steps"])),
        ]
    return frames


def seeds(infos: list[dict], corpus: Path) -> None:
    """One valid frame of every command, in both harness modes (see fuzz_protocol.c)."""
    write_corpus(generic_frames(infos), corpus)


def bundle_seeds(info: dict, corpus: Path) -> None:
    """The generic commands' seeds for the bundle's nets, one frame of every bundle command,
    valid and refused (wrong sizes, a keyword out of range, a frame before SPEAK_STREAM), and
    the sequences a host sends: LISTEN chunks that run the speech net a few times (the harness
    starts each input with a full window), SPEAK then SPEAK_NEXT past the word's end,
    SPEAK_STREAM then SPEAK_FRAMEs."""
    from protobrain.run import protocol as P

    pb = info["protobrain"]
    sp, sy = pb["speech"], pb["synth"]
    hop, mels, lpc, most = sy["hop"], sy["frontend"]["n_mels"], sy["lpc_order"], sp["max_samples"]
    rng = np.random.default_rng(0)
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(most) / sp["sample_rate"])).astype("<i2").tobytes()
    frame = rng.integers(-6000, 2000, mels + lpc, dtype=np.int16).astype("<i2").tobytes()
    words = len(sy["keywords"])
    single = [
        (P.CMD_SPEAK_FRAME, frame),   # before SPEAK_STREAM: refused
        (P.CMD_LISTEN_RESET, b""), (P.CMD_LISTEN, tone), (P.CMD_LISTEN, tone[:2 * hop]), (P.CMD_LISTEN, b""),
        (P.CMD_LISTEN, tone[:-1]), (P.CMD_LISTEN, tone + b"\0\0"),
        (P.CMD_SPEAK, struct.pack("<BHI", 0, 256, 1)), (P.CMD_SPEAK_NEXT, b""),
        (P.CMD_SPEAK, struct.pack("<BHI", words, 256, 1)), (P.CMD_SPEAK, b"\0\1"),
        (P.CMD_SPEAK_STREAM, struct.pack("<HI", 0, 1)), (P.CMD_SPEAK_FRAME, frame),
        (P.CMD_SPEAK_FRAME, frame[:-2]), (P.CMD_SPEAK_FRAME, frame + b"\0\0"), (P.CMD_SPEAK_STREAM, b"\1"),
    ]
    write_corpus(generic_frames(info["models"]) + single, corpus)
    listen = [(P.CMD_LISTEN, tone), (P.CMD_LISTEN, tone[:2 * hop + 2]), (P.CMD_LISTEN, tone)]
    speak = [(P.CMD_SPEAK, struct.pack("<BHI", words - 1, 205, 7))] + [(P.CMD_SPEAK_NEXT, b"")] * (sy["frames"][-1] + 1)
    stream = [(P.CMD_SPEAK_STREAM, struct.pack("<HI", 205, 7))] + [(P.CMD_SPEAK_FRAME, frame)] * 3
    for name, frames in (("listen", listen), ("speak", speak), ("stream", stream)):
        write_sequence(frames, corpus / f"framed_{name}")


def write_corpus(frames: list[tuple[int, bytes]], corpus: Path) -> None:
    """Each frame alone, as a framed record and as raw bytes, and all of them in one input."""
    from protobrain.run import protocol as P

    corpus.mkdir(parents=True, exist_ok=True)
    for i, (t, payload) in enumerate(frames):
        (corpus / f"framed_{i}").write_bytes(b"\x00" + struct.pack("<BBH", t, i & 0xFF, len(payload)) + payload)
        (corpus / f"raw_{i}").write_bytes(b"\x01" + P.encode(t, i, payload))
    write_sequence(frames, corpus / "framed_all")


def write_sequence(frames: list[tuple[int, bytes]], path: Path) -> None:
    """One framed-mode input: every frame in order."""
    path.write_bytes(b"\x00" + b"".join(struct.pack("<BBH", t, i & 0xFF, len(p)) + p
                                       for i, (t, p) in enumerate(frames)))


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


def fuzz(name: str, binary: Path, corpus: Path, runs: int, timeout: int) -> bool:
    """Run one fuzzer and say what it found; True when nothing and every run was made."""
    result = run(binary, corpus, runs, timeout)
    print(f"fuzz: {name}: {result['execs']:,} executions in {result['seconds']:.0f} s, {result['frames']:,} frames or "
          f"rejections, {result['replies']:,} replies, "
          f"{'no findings' if result['ok'] else 'FINDING (see the log below and ' + str(corpus.parent) + '/crash-*)'}")
    if not result["ok"]:
        print(result["log"][-4000:], file=sys.stderr)
    return result["ok"] and result["execs"] >= runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    ap.add_argument("--out", type=Path, default=REPO / "build" / "fuzz")
    ap.add_argument("--runs", type=int, default=1_000_000,
                    help="executions of each fuzzer, the model firmware's and the bundle's (default 1,000,000 each)")
    ap.add_argument("--timeout", type=int, default=10, help="seconds one input may run before it is a hang (default 10)")
    ap.add_argument("--small-runs", type=Path, default=REPO / "build" / "small-runs",
                    help="where the bundle's three small trained runs are kept (trained there once, about a minute)")
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
    if importlib.util.find_spec("tensorflow") is None:   # the bundle's runs are trained
        print("fuzz: the bundle's small runs need TensorFlow (make setup installs it: pip install -e '.[train]')",
              file=sys.stderr)
        return 1
    from protobrain.app.small_runs import small_runs

    print(f"fuzz: {args.runs:,} executions on each of two firmwares: {', '.join(MODELS)} (generic commands), "
          "and the protobrain bundle (its listen and speak commands too)")
    ok = True
    out = args.out / "firmware"
    out.mkdir(parents=True, exist_ok=True)
    infos = render(paths, out / "src")
    seeds(infos, out / "corpus")
    ok &= fuzz("firmware", build(out / "src", out / "fuzz_protocol"), out / "corpus", args.runs, args.timeout)
    out = args.out / "bundle"
    out.mkdir(parents=True, exist_ok=True)
    info = render_bundle(small_runs(args.small_runs), out / "src")
    bundle_seeds(info, out / "corpus")
    ok &= fuzz("bundle", build(out / "src", out / "fuzz_protocol", BUNDLE_FLAGS), out / "corpus", args.runs,
               args.timeout)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
