#!/usr/bin/env python3
"""Soak test of a firmware over serial: many INVOKE round trips with random inputs to a QEMU
board, each preceded by a malformed frame (bad CRC, truncated, oversized, unknown command,
garbage). Every reply is accounted for: the outputs must equal the host-compiled model's, each
malformed frame must draw its exact error reply (garbage none), and no reply may be lost."""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

from protobrain.run import protocol as P

REPO = Path(__file__).resolve().parents[1]
BOARD = "qemu-mps2-an386"
MODEL = "hello_world_int8"


def malformed(rng: random.Random, seq: int) -> tuple[bytes, tuple[int, int] | None]:
    """A malformed frame and the (error code, type) the device must answer, or None."""
    kind = rng.randrange(5)
    if kind == 0:  # bad CRC
        frame = bytearray(P.encode(P.CMD_PING, seq, rng.randbytes(rng.randrange(0, 40))))
        frame[-1 - rng.randrange(4)] ^= 1 << rng.randrange(8)
        return bytes(frame), (1, P.CMD_PING)
    if kind == 1:  # truncated, then completed by whatever comes next (here: different bytes)
        frame = P.encode(P.CMD_PING, seq, rng.randbytes(rng.randrange(1, 40)))
        cut = rng.randrange(6, len(frame))
        return frame[:cut] + bytes(b ^ 0xFF for b in frame[cut:]), (1, P.CMD_PING)
    if kind == 2:  # longer than the device's buffer: refused at the header
        return P.SYNC + bytes([P.CMD_INVOKE, seq, 0xFF, 0xFF]), (2, P.CMD_INVOKE)
    if kind == 3:  # unknown command
        return P.encode(0x70 | rng.randrange(8), seq, rng.randbytes(rng.randrange(0, 8))), (3, None)
    garbage = bytes(b for b in rng.randbytes(rng.randrange(1, 64)) if b != P.SYNC[0])  # no frame starts
    return garbage, None


def soak(port, model, n: int, seed: int = 0, timeout: float = 10.0) -> dict:
    """`port`: an open pyserial port to the firmware; `model`: the host-compiled model (index 0)."""
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    decoder = P.Decoder()
    inputs = [model.program.graph.tensors[i] for i in model.program.graph.inputs]
    stats = {"invokes": 0, "malformed": 0, "mismatches": 0, "lost": 0, "unexpected": 0}
    t0 = time.monotonic()
    for k in range(n):
        seq_bad, seq_ok = (2 * k) & 0xFF, (2 * k + 1) & 0xFF
        blob, want_error = malformed(rng, seq_bad)
        xs = [nprng.integers(-128, 128, size=t.shape, dtype=np.int8) for t in inputs]
        port.write(blob + P.encode(P.CMD_INVOKE, seq_ok, b"\x00" + b"".join(x.tobytes() for x in xs)))
        port.flush()
        stats["malformed"] += 1
        expected = [(P.REPLY_ERROR, seq_bad, want_error)] if want_error else []
        expected.append((P.CMD_INVOKE | P.REPLY_FLAG, seq_ok, None))
        got: list[P.Frame] = []
        deadline = time.monotonic() + timeout
        while len(got) < len(expected) and time.monotonic() < deadline:
            got += decoder.feed(port.read(max(1, port.in_waiting)))
        if len(got) < len(expected):
            stats["lost"] += len(expected) - len(got)
            continue
        for (typ, seq, err), frame in zip(expected, got):
            if frame.type != typ or frame.seq != seq:
                stats["unexpected"] += 1
            elif err is not None and (frame.payload[0] != err[0] or (err[1] is not None and frame.payload[1] != err[1])):
                stats["unexpected"] += 1
        stats["unexpected"] += max(0, len(got) - len(expected))
        reply = got[-1]
        if reply.type == P.CMD_INVOKE | P.REPLY_FLAG:
            stats["invokes"] += 1
            want = model.run(*xs)
            want = want if isinstance(want, list) else [want]
            want_bytes = b"".join(np.ascontiguousarray(w).tobytes() for w in want)
            if reply.payload[9:] != want_bytes:
                stats["mismatches"] += 1
    stats["seconds"] = time.monotonic() - t0
    return stats


def run_on_qemu(model_path: Path, n: int, out: Path, seed: int = 0) -> dict:
    import serial

    from protobrain.boards import load_board
    from protobrain.compiler.program import build_program
    from protobrain.compiler.reader import read_model
    from protobrain.firmware.build import build
    from protobrain.run.host import compile_bytes
    from protobrain.run.qemu import QemuBoard

    board = load_board(BOARD)
    data = model_path.read_bytes()
    image = build(board, [build_program(read_model(model_path))], [data], out)
    model = compile_bytes(data, MODEL)
    with QemuBoard(board, image.elf) as q:
        port = serial.serial_for_url(q.port, baudrate=115200, timeout=0.05)
        try:
            time.sleep(0.2)
            port.reset_input_buffer()
            return soak(port, model, n, seed)
        finally:
            port.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    ap.add_argument("--out", type=Path, default=REPO / "build" / "soak")
    ap.add_argument("-n", type=int, default=10_000)
    args = ap.parse_args()
    stats = run_on_qemu(args.models / f"{MODEL}.tflite", args.n, args.out)
    print(f"soak: {stats['invokes']:,}/{args.n:,} INVOKE round trips and {stats['malformed']:,} malformed frames "
          f"in {stats['seconds']:.0f} s: {stats['mismatches']} mismatches, {stats['lost']} lost replies, "
          f"{stats['unexpected']} unexpected replies")
    return 0 if stats["invokes"] == args.n and not (stats["mismatches"] or stats["lost"] or stats["unexpected"]) else 1


if __name__ == "__main__":
    sys.exit(main())
