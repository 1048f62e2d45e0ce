#!/usr/bin/env python3
"""Soak test of firmwares over serial in QEMU: INVOKE rounds and protobrain bundle rounds.

An INVOKE round sends a model firmware a malformed frame (bad CRC, truncated, oversized,
unknown command, garbage) then an INVOKE of random inputs; the outputs must equal the
host-compiled model's. A bundle round (BundleRounds) drives the protobrain bundle's listen
and speak commands, mixed, with frames it must refuse among them, and checks every reply
against the bundle's host twin, then a PING. Every reply is accounted for: each malformed
frame must draw its exact error reply (garbage none), and no reply may be lost. `-n` is the
number of rounds in all; a tenth of them are bundle rounds."""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import struct
import sys
import time
from pathlib import Path

import numpy as np

from protobrain.app.client import parse_heard, parse_samples
from protobrain.compiler.ir import DTYPES
from protobrain.run import protocol as P

REPO = Path(__file__).resolve().parents[1]
BOARD = "qemu-mps2-an386"
MODEL = "hello_world_int8"
BUNDLE_SHARE = 0.1   # of the rounds: bundle rounds (each a few to a few dozen commands), the rest INVOKE rounds
BUNDLE_STRIDE = 3


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


class Link:
    """Frames to the device and the replies they draw, every one accounted for in `stats`:
    "lost" (an expected reply that did not come in time), "unexpected" (one of another type,
    sequence number or error than expected, or one too many)."""

    def __init__(self, port, stats: dict, timeout: float = 10.0):
        self.port, self.stats, self.timeout = port, stats, timeout
        self.decoder = P.Decoder()
        self.stats.setdefault("lost", 0)
        self.stats.setdefault("unexpected", 0)

    def exchange(self, blob: bytes, expected: list) -> list | None:
        """Send `blob`; `expected`: (type, seq, (error code, type) or None) per reply, where
        None in the pair allows any value. The replies, or None when one was lost."""
        self.port.write(blob)
        self.port.flush()
        got: list[P.Frame] = []
        deadline = time.monotonic() + self.timeout + len(blob) / 8000.0   # QEMU takes about 10 KiB/s
        while len(got) < len(expected) and time.monotonic() < deadline:
            got += self.decoder.feed(self.port.read(max(1, self.port.in_waiting)))
        if len(got) < len(expected):
            self.stats["lost"] += len(expected) - len(got)
            return None
        for (typ, seq, err), frame in zip(expected, got):
            if frame.type != typ or frame.seq != seq:
                self.stats["unexpected"] += 1
            elif err is not None and any(want is not None and have != want for want, have in zip(err, frame.payload)):
                self.stats["unexpected"] += 1
        self.stats["unexpected"] += max(0, len(got) - len(expected))
        return got


def soak(port, model, n: int, seed: int = 0, timeout: float = 10.0) -> dict:
    """`port`: an open pyserial port to the firmware; `model`: the host-compiled model (index 0)."""
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    inputs = [model.program.graph.tensors[i] for i in model.program.graph.inputs]
    stats = {"invokes": 0, "malformed": 0, "mismatches": 0}
    link = Link(port, stats, timeout)
    t0 = time.monotonic()
    for k in range(n):
        seq_bad, seq_ok = (2 * k) & 0xFF, (2 * k + 1) & 0xFF
        blob, want_error = malformed(rng, seq_bad)
        xs = [nprng.integers(-128, 128, size=t.shape, dtype=np.int8) for t in inputs]
        stats["malformed"] += 1
        expected = [(P.REPLY_ERROR, seq_bad, want_error)] if want_error else []
        expected.append((P.CMD_INVOKE | P.REPLY_FLAG, seq_ok, None))
        invoke = P.encode(P.CMD_INVOKE, seq_ok, b"\x00" + b"".join(x.tobytes() for x in xs))
        got = link.exchange(blob + invoke, expected)
        if got is None:
            continue
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


# ---- the protobrain bundle -------------------------------------------------------------------

BAD_SHARE = 0.3          # of the bundle's commands that follow a refused or malformed frame
MAX_HEARD_SECONDS = 4.0  # audio the twin recomputes for each LISTEN; beyond it the soak sends LISTEN_RESET
MAX_STREAM = 6           # frames a stream episode sends


class BundleRounds:
    """Rounds on a protobrain bundle, every reply checked against the host twin
    (protobrain.app.bundle.Twin). A round is one episode, with other commands mixed into it:
    LISTEN chunks of random sound (the speech net's scores for all audio since the last
    LISTEN_RESET), a stored keyword said to its end (SPEAK, then SPEAK_NEXT to the empty
    reply), a stream of random frames (SPEAK_STREAM, SPEAK_FRAMEs), or a vision INVOKE; any
    command may follow a frame the device must refuse (the generic malformed ones and the
    bundle's own: odd or too many samples, a keyword out of range, wrong sizes), and a PING
    ends each round."""

    def __init__(self, port, parts, twin, info: dict, seed: int = 0, timeout: float = 30.0):
        self.rng, self.nprng = random.Random(seed), np.random.default_rng(seed)
        self.parts, self.twin = parts, twin
        self.stats = {"rounds": 0, "commands": 0, "refused": 0, "mismatches": 0, "pings": 0, "inferences": 0,
                      "samples": 0}
        self.link = Link(port, self.stats, timeout)
        self.problems: list[str] = []   # the first few mismatches, said
        self.seq = 0
        pb = info["protobrain"]
        self.words, self.hop, self.lpc = pb["synth"]["keywords"], pb["synth"]["hop"], pb["synth"]["lpc_order"]
        self.mels, self.max_samples = pb["synth"]["frontend"]["n_mels"], pb["speech"]["max_samples"]
        self.max_heard = int(MAX_HEARD_SECONDS * pb["speech"]["sample_rate"])
        self.buffer_bytes, self.models = info["buffer_bytes"], info["models"]
        scores = self.models[pb["speech"]["model"]]["outputs"][0]
        self.scores = (np.dtype(DTYPES[scores["dtype"]]), scores["bytes"])
        self.audio: list | None = []    # chunks since the last LISTEN_RESET; None: unknown (a reply was lost)
        self.heard = 0                  # inferences the twin made on them
        self.streaming: bool | None = False   # whether SPEAK_FRAME is accepted; None: unknown

    # --- sending --------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFF
        return self.seq

    def _check(self, ok: bool, what: str) -> None:
        if not ok:
            self.stats["mismatches"] += 1
            if len(self.problems) < 5:
                self.problems.append(what)

    def send(self, kind: int, payload: bytes = b"") -> P.Frame | None:
        """One command, at times after a refused or malformed frame; its reply, or None."""
        blob, expected = b"", []
        if self.rng.random() < BAD_SHARE:
            seq = self._next_seq()
            bad, error = self.refused(seq)
            blob += bad
            expected += [(P.REPLY_ERROR, seq, error)] if error else []
            self.stats["refused"] += 1
        seq = self._next_seq()
        expected.append((kind | P.REPLY_FLAG, seq, None))
        self.stats["commands"] += 1
        got = self.link.exchange(blob + P.encode(kind, seq, payload), expected)
        if got is None or got[-1].type != kind | P.REPLY_FLAG or got[-1].seq != seq:
            return None
        return got[-1]

    def refused(self, seq: int) -> tuple[bytes, tuple | None]:
        """A frame the device must refuse and the (error code, type) it must answer, or None."""
        rng, kind = self.rng, self.rng.randrange(8)
        if kind == 0:
            return malformed(rng, seq)
        if kind == 1:   # an odd byte count
            odd = rng.randbytes(2 * rng.randrange(self.max_samples) + 1)
            return P.encode(P.CMD_LISTEN, seq, odd), (5, P.CMD_LISTEN)
        if kind == 2:   # more samples than a chunk holds: refused by LISTEN, or at the header when beyond the buffer
            length = 2 * (self.max_samples + rng.randrange(1, 64))
            if length > self.buffer_bytes:
                return P.SYNC + struct.pack("<BBH", P.CMD_LISTEN, seq, length), (2, P.CMD_LISTEN)
            return P.encode(P.CMD_LISTEN, seq, rng.randbytes(length)), (5, P.CMD_LISTEN)
        if kind == 3:   # a keyword out of range
            word = rng.randrange(len(self.words), 256)
            return P.encode(P.CMD_SPEAK, seq, struct.pack("<BHI", word, 256, 1)), (6, P.CMD_SPEAK)
        if kind == 4:
            return P.encode(P.CMD_SPEAK, seq, rng.randbytes(rng.choice([0, 1, 6, 8, 40]))), (5, P.CMD_SPEAK)
        if kind == 5:
            wrong = rng.randbytes(rng.choice([0, 1, 5, 7, 40]))
            return P.encode(P.CMD_SPEAK_STREAM, seq, wrong), (5, P.CMD_SPEAK_STREAM)
        if kind == 6:   # a frame of the wrong size: refused as such while streaming, else as out of turn
            size = 2 * (self.mels + self.lpc) + rng.choice([-2, -1, 1, 2]) * rng.randint(1, self.mels)
            code = None if self.streaming is None else 5 if self.streaming else 6
            return P.encode(P.CMD_SPEAK_FRAME, seq, rng.randbytes(max(0, size))), (code, P.CMD_SPEAK_FRAME)
        if rng.random() < 0.5:
            return P.encode(P.CMD_INVOKE, seq, bytes([rng.randrange(len(self.models), 256)])), (4, P.CMD_INVOKE)
        size = self.models[0]["inputs"][0]["bytes"] + rng.choice([-1, 1])
        return P.encode(P.CMD_INVOKE, seq, b"\x00" + rng.randbytes(size)), (5, P.CMD_INVOKE)

    # --- what is sent -----------------------------------------------------------------------
    def sound(self, n: int) -> np.ndarray:
        """n samples: silence, full-scale noise, or a gated sweep with noise."""
        kind = self.rng.randrange(3)
        if kind == 0:
            return np.zeros(n, np.int16)
        if kind == 1:
            return self.nprng.integers(-32768, 32768, n, dtype=np.int16)
        t = (np.arange(n) + self.rng.randrange(8000)) / 8000
        gate = np.sin(2 * np.pi * 2 * t) > 0
        tone = self.rng.randrange(500, 12000) * np.sin(2 * np.pi * (200 + 600 * t) * t) * gate
        return np.clip(tone + self.nprng.normal(0, 300, n), -32768, 32767).astype(np.int16)

    def frame(self) -> tuple[np.ndarray, np.ndarray]:
        """A streamed frame's features and coefficients: a keyword's frame with noise, random
        values in the usual range, or random over all of int16."""
        kind = self.rng.randrange(3)
        if kind == 0:
            word = self.rng.choice(self.words)
            k = self.rng.randrange(len(self.parts.keywords[word]))
            f = self.parts.keywords[word][k] + self.nprng.integers(-200, 200, self.mels)
            c = self.parts.keyword_lpc[word][k] if self.lpc else np.zeros(0)
        elif kind == 1:
            f, c = self.nprng.integers(-6000, 6000, self.mels), self.nprng.integers(-8192, 8192, self.lpc)
        else:
            f, c = self.nprng.integers(-32768, 32768, self.mels), self.nprng.integers(-32768, 32768, self.lpc)
        return np.clip(f, -32768, 32767).astype("<i2"), np.asarray(c).astype("<i2")

    # --- episodes ----------------------------------------------------------------------------
    def listen_reset(self) -> None:
        reply = self.send(P.CMD_LISTEN_RESET)
        self.audio, self.heard = ([], 0) if reply is not None else (None, 0)

    def listen(self) -> None:
        """One LISTEN chunk; the device's scores must be the twin's for the audio since the reset."""
        if self.audio is None or sum(map(len, self.audio)) > self.max_heard or self.rng.random() < 0.03:
            self.listen_reset()
            if self.audio is None:
                return
        x = self.sound(self.rng.choice([self.max_samples, self.rng.randrange(self.max_samples + 1)]))
        reply = self.send(P.CMD_LISTEN, x.astype("<i2").tobytes())
        if reply is None:
            self.audio = None
            return
        self.audio.append(x)
        heard = parse_heard(reply.payload, *self.scores).results
        want = self.twin.listen(np.concatenate(self.audio))[self.heard:]
        self.heard += len(want)
        self.stats["inferences"] += len(heard)
        same = len(heard) == len(want) and all(f == g and np.array_equal(a, b) for (f, a), (g, _, b) in zip(want, heard))
        self._check(same, f"LISTEN of {len(x)} samples: the device's {len(heard)} inferences differ from the twin's "
                          f"{len(want)}")

    def see(self) -> None:
        t = self.models[0]["inputs"][0]
        info = np.iinfo(DTYPES[t["dtype"]])
        x = self.nprng.integers(info.min, info.max + 1, t["shape"], dtype=DTYPES[t["dtype"]])
        reply = self.send(P.CMD_INVOKE, b"\x00" + x.tobytes())
        if reply is not None:
            self._check(reply.payload[9:] == np.ascontiguousarray(self.twin.see(x)).tobytes(), "vision INVOKE differs")

    def mix(self) -> None:
        """At times, a command of another app in the middle of an episode."""
        r = self.rng.random()
        if r < 0.2:
            self.listen()
        elif r < 0.3:
            self.see()

    def speak(self) -> None:
        """A stored keyword, said to its end: every frame the twin's, then an empty reply."""
        w, tq, seed = self.rng.randrange(len(self.words)), self.rng.randrange(300), self.rng.getrandbits(32)
        reply = self.send(P.CMD_SPEAK, struct.pack("<BHI", w, tq, seed))
        if reply is None:
            self.streaming = None
            return
        self.streaming = False
        frames, hop = struct.unpack_from("<HH", reply.payload)
        want = self.twin.speak(self.words[w], tq, seed)
        self._check((frames, hop) == (len(self.parts.keywords[self.words[w]]), self.hop),
                    f"SPEAK answered {frames, hop}")
        for k in range(frames + 1):
            self.mix()
            reply = self.send(P.CMD_SPEAK_NEXT)
            if reply is None:
                return
            samples, _ = parse_samples(reply.payload)
            self.stats["samples"] += len(samples)
            self._check(np.array_equal(samples, want[k * hop:(k + 1) * hop]),
                        f"SPEAK_NEXT {k} of {self.words[w]!r} (temperature {tq}/256, seed {seed}) differs")

    def stream(self) -> None:
        """SPEAK_STREAM and a few random frames: each frame's samples the twin's."""
        tq, seed = self.rng.randrange(300), self.rng.getrandbits(32)
        reply = self.send(P.CMD_SPEAK_STREAM, struct.pack("<HI", tq, seed))
        if reply is None:
            self.streaming = None
            return
        self.streaming = True
        self._check(struct.unpack_from("<HHH", reply.payload) == (self.hop, self.mels, self.lpc),
                    f"SPEAK_STREAM answered {struct.unpack_from('<HHH', reply.payload)}")
        features, coefficients = [], []
        for _ in range(self.rng.randint(1, MAX_STREAM)):
            self.mix()
            f, c = self.frame()
            reply = self.send(P.CMD_SPEAK_FRAME, f.tobytes() + c.tobytes())
            if reply is None:
                return
            features.append(f)
            coefficients.append(c)
            want = self.twin.speak_frames(np.array(features), np.array(coefficients) if self.lpc else None, tq, seed)
            samples, _ = parse_samples(reply.payload)
            self.stats["samples"] += len(samples)
            self._check(np.array_equal(samples, want[-self.hop:]),
                        f"SPEAK_FRAME {len(features)} of a stream (temperature {tq}/256, seed {seed}) differs")

    def round(self) -> None:
        episode = self.rng.choices([self.listen_chunks, self.speak, self.stream, self.see], [4, 2, 3, 1])[0]
        episode()
        payload = self.rng.randbytes(self.rng.randrange(64))
        reply = self.send(P.CMD_PING, payload)
        self.stats["pings"] += reply is not None and reply.payload == payload
        self.stats["rounds"] += 1

    def listen_chunks(self) -> None:
        for _ in range(self.rng.randint(1, 4)):
            self.listen()
            if self.rng.random() < 0.2:
                self.see()


def bundle_soak(port, parts, twin, info: dict, n: int, seed: int = 0) -> dict:
    """`n` bundle rounds on an open pyserial port to the bundle's firmware (INFO `info`)."""
    rounds = BundleRounds(port, parts, twin, info, seed)
    t0 = time.monotonic()
    for _ in range(n):
        rounds.round()
    return rounds.stats | {"seconds": time.monotonic() - t0, "problems": rounds.problems}


def _serial(q):
    import serial

    port = serial.serial_for_url(q.port, baudrate=115200, timeout=0.05)
    time.sleep(0.2)
    port.reset_input_buffer()
    return port


def run_on_qemu(model_path: Path, n: int, out: Path, seed: int = 0) -> dict:
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
        port = _serial(q)
        try:
            return soak(port, model, n, seed)
        finally:
            port.close()


def build_bundle(runs: dict, out: Path):
    """The bundle of three trained runs (protobrain.app.small_runs) built for the board's
    fastest kernel tier: (its parts, the Bundle, its host twin, its INFO)."""
    from protobrain.app import bundle
    from protobrain.boards import load_board

    parts = bundle.load_parts(runs["vision"], runs["speech"], runs["synth"], stride=BUNDLE_STRIDE)
    built = bundle.build(parts, load_board(BOARD), out)
    return parts, built, bundle.Twin(parts, built.tier), json.loads((out / "info.json").read_text())


def run_bundle_on_qemu(built, n: int, seed: int = 0, twin=None) -> dict:
    """`n` bundle rounds on `built` (build_bundle's), checked against its twin (or `twin`)."""
    from protobrain.run.qemu import QemuBoard

    parts, bundle, own_twin, info = built
    with QemuBoard(bundle.image.board, bundle.image.elf) as q:
        port = _serial(q)
        try:
            return bundle_soak(port, parts, twin or own_twin, info, n, seed)
        finally:
            port.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    ap.add_argument("--out", type=Path, default=REPO / "build" / "soak")
    ap.add_argument("-n", type=int, default=10_000,
                    help="rounds in all, INVOKE rounds and bundle rounds (default 10,000)")
    ap.add_argument("--small-runs", type=Path, default=REPO / "build" / "small-runs",
                    help="where the bundle's three small trained runs are kept (trained there once, about a minute)")
    args = ap.parse_args()
    if importlib.util.find_spec("tensorflow") is None:   # the bundle's runs are trained
        print("soak: the bundle's small runs need TensorFlow (make setup installs it: pip install -e '.[train]')",
              file=sys.stderr)
        return 1
    n_bundle = round(args.n * BUNDLE_SHARE)
    n_invoke = args.n - n_bundle
    stats = run_on_qemu(args.models / f"{MODEL}.tflite", n_invoke, args.out / "firmware")
    print(f"soak: {stats['invokes']:,}/{n_invoke:,} INVOKE round trips and {stats['malformed']:,} malformed frames "
          f"in {stats['seconds']:.0f} s: {stats['mismatches']} mismatches, {stats['lost']} lost replies, "
          f"{stats['unexpected']} unexpected replies")
    ok = stats["invokes"] == n_invoke and not (stats["mismatches"] or stats["lost"] or stats["unexpected"])
    if n_bundle:
        from protobrain.app.small_runs import small_runs

        b = run_bundle_on_qemu(build_bundle(small_runs(args.small_runs), args.out / "bundle"), n_bundle)
        print(f"soak: {b['rounds']:,} bundle rounds, {b['commands']:,} commands ({b['inferences']:,} speech net "
              f"inferences, {b['samples']:,} samples spoken) and {b['refused']:,} refused or malformed frames in "
              f"{b['seconds']:.0f} s: {b['mismatches']} mismatches with the host twin, {b['lost']} lost replies, "
              f"{b['unexpected']} unexpected replies, {b['pings']:,}/{b['rounds']:,} PINGs answered")
        for problem in b["problems"]:
            print(f"  {problem}")
        ok &= b["pings"] == n_bundle and not (b["mismatches"] or b["lost"] or b["unexpected"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
