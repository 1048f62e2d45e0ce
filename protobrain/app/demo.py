"""The protobrain demos: see, listen, speak and loop, talking to a running bundle firmware.

`Protobrain.open(bundle, port)` starts the bundle in QEMU (with the instruction-counting
plugin, so every figure is an exact instruction count) or talks to a device over `port`.
There the figures are what the firmware's timer counts, named by the kind it reports
(`unit`): cycles on a real board ("cycles (DWT)", "cycles (SysTick)", "cycles (mcycle)");
on a simulated board (a QEMU started by `protobrain flash`) the timers count virtual time,
so its counts become instructions ("instructions (from the virtual clock)"). Everything the
host needs to know (class names, keywords, quantization) comes from the firmware's INFO reply.
"""

from __future__ import annotations

import json
import tempfile
import wave
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from protobrain.app.client import BundleDevice
from protobrain.boards import board_names, load_board
from protobrain.errors import ProtobrainError
from protobrain.measure.icount import InstructionCounter
from protobrain.run.qemu import VIRTUAL_CLOCK, QemuBoard, virtual_clock_instructions
from protobrain.synth.sampling import temperature_q8
from protobrain.train.data import DataError
from protobrain.train.data import read_wav as read
from protobrain.train.espeak import resample


class DemoError(ProtobrainError):
    pass


@dataclass
class Seen:
    label: str
    score: float            # the class's probability (dequantized output)
    raw: np.ndarray         # quantized outputs, as the device sent them
    count: int              # in `unit`: instructions (simulator) or cycles (board)
    unit: str
    sent: np.ndarray | None = None   # the quantized image the device was given


@dataclass
class Listened:
    times: np.ndarray       # seconds: end of each inference's window
    scores: np.ndarray      # (inferences, classes) probabilities
    raw: list               # (newest frame, raw scores) per inference, as sent
    classes: list
    per_inference: int      # instructions (or cycles: `unit`) of one speech-net inference
    unit: str
    detections: list = field(default_factory=list)   # (time, keyword, probability)


@dataclass
class Spoken:
    word: str
    pcm: np.ndarray         # int16 at sample_rate
    sample_rate: int
    per_sample: float       # instructions (or cycles: `unit`) per sample, conditioning included
    unit: str
    temperature_q8: int = 0  # what the device was asked: temperature * 256, the seed, and
    seed: int = 0            # the frames to say (None: the whole word)
    max_frames: int | None = None
    features: np.ndarray | None = None      # streamed speech: the frames sent (word is the text)
    coefficients: np.ndarray | None = None


def dequantize(raw: np.ndarray, out: dict) -> np.ndarray:
    return (np.asarray(raw, np.float64) - out["zero_point"]) * out["scale"]


def detections(times, scores, classes, threshold: float = 0.6, ignore=("silence", "unknown")) -> list:
    """One detection per run of consecutive inferences whose top class is the same keyword
    above `threshold`: (time of the best one, keyword, its probability)."""
    found, run = [], None
    for t, row in zip(times, scores):
        k = int(np.argmax(row))
        hit = classes[k] not in ignore and row[k] >= threshold
        if hit and run and run[1] == k:
            if row[k] > run[2]:
                run = (t, k, float(row[k]))
        else:
            if run:
                found.append((run[0], classes[run[1]], run[2]))
            run = (t, k, float(row[k])) if hit else None
    if run:
        found.append((run[0], classes[run[1]], run[2]))
    return found


class Protobrain:
    """A running bundle firmware, talked to through `device` (an app.client.BundleDevice)."""

    def __init__(self, device, counter=None):
        self.dev = device
        self.counter = counter     # icount.InstructionCounter on a simulator, else None
        info = device.info()
        if "protobrain" not in info:
            raise DemoError(f"the firmware on {device.port_name} is not a protobrain bundle (its models: "
                            f"{', '.join(m['name'] for m in info['models'])}); build one with `protobrain bundle`")
        self.info = info
        self.spec = info["protobrain"]
        name = info.get("board", "")
        self.board = load_board(name) if name in board_names() else None
        # Without the plugin the figures are the firmware's timer: its kind is in every count
        # header (PROFILE's too), fixed for the firmware.
        self.kind = None if counter else device.profile().count_kind
        if counter:
            self.unit = "instructions"
        elif self.kind == "none":
            self.unit = "(no timer on this core)"
        elif self.board is not None and self.board.simulated:
            self.unit = VIRTUAL_CLOCK
        else:
            self.unit = self.kind

    def figure(self, count: int) -> int:
        """A count from the device in `unit`: a simulated board's timer counts virtual time,
        which becomes instructions; a real board's are its cycles, as counted."""
        if self.unit == VIRTUAL_CLOCK:
            return virtual_clock_instructions(self.board, count)
        return int(count)

    @classmethod
    @contextmanager
    def open(cls, bundle: str | Path | None = None, port: str | None = None):
        """Talk to `port`, or start the bundle folder's firmware in QEMU."""
        if port:
            with BundleDevice(port, timeout=60.0) as dev:
                yield cls(dev)
            return
        folder = Path(bundle or "")
        manifest = folder / "bundle.json"
        if not manifest.is_file():
            raise DemoError(f"{folder}: not a protobrain bundle (no bundle.json); build one with "
                            "`protobrain bundle VISION SPEECH SYNTH --board qemu-mps2-an386 -o DIR`, or give --port")
        spec = json.loads(manifest.read_text())
        board = load_board(spec["board"])
        if "machine" not in board.run:
            raise DemoError(f"{board.name} is a real board: flash {folder} and pass its serial port with --port")
        elf = folder / spec["elf"]
        with tempfile.TemporaryDirectory(prefix="pb-demo-") as tmp:
            counter = InstructionCounter(board, elf, Path(tmp) / "marks.log")
            with QemuBoard(board, elf, extra_args=counter.qemu_args) as q, BundleDevice(q.port, timeout=120.0) as dev:
                yield cls(dev, counter)

    def _marks(self) -> list[int]:
        return self.counter.new_marks() if self.counter else []

    # --- see ----------------------------------------------------------------------------
    def quantize_image(self, image: np.ndarray) -> np.ndarray:
        """Floats in [0, 1] of the vision net's input shape -> its quantized input tensor."""
        t = self.info["models"][self.spec["vision"]["model"]]["inputs"][0]
        x = np.asarray(image, np.float32).reshape(t["shape"])
        info = np.iinfo(np.int8 if t["dtype"] == "int8" else np.int16)
        return np.clip(np.round(x / t["scale"]) + t["zero_point"], info.min, info.max).astype(info.dtype)

    def see(self, image: np.ndarray) -> Seen:
        """Classify an image given as floats in [0, 1] of the vision net's input shape."""
        m = self.info["models"][self.spec["vision"]["model"]]
        q = self.quantize_image(image)
        self._marks()
        res = self.dev.invoke(self.spec["vision"]["model"], q)
        marks = self._marks()
        raw = res.outputs[0].reshape(-1)
        probs = dequantize(raw, m["outputs"][0])
        k = int(np.argmax(raw))
        count = marks[-1] - marks[0] if len(marks) >= 2 else self.figure(res.count)
        return Seen(self.spec["vision"]["classes"][k], float(probs[k]), raw, int(count), self.unit, q)

    # --- listen -------------------------------------------------------------------------
    def listen(self, samples: np.ndarray, progress=None) -> Listened:
        """Stream int16 audio at the speech sample rate to the device, chunk by chunk."""
        sp = self.spec["speech"]
        out = self.info["models"][sp["model"]]["outputs"][0]
        samples = np.asarray(samples, np.int16)
        self.dev.listen_reset()
        self._marks()
        raw, counts, per = [], [], []
        for start in range(0, len(samples), sp["max_samples"]):
            heard = self.dev.listen(samples[start:start + sp["max_samples"]])
            marks = self._marks()
            if heard.results and marks:
                each = len(marks) // len(heard.results)   # marks per inference: start, every step, end
                per += [marks[i * each + each - 1] - marks[i * each] for i in range(len(heard.results))]
            for frame, count, scores in heard.results:
                raw.append((frame, scores))
                counts.append(count)
            if progress:
                progress(min(len(samples), start + sp["max_samples"]), len(samples))
        rate, hop = sp["sample_rate"], sp["hop"]
        window = sp["window_samples"]
        times = np.array([(f * hop + window) / rate for f, _ in raw])
        probs = np.stack([dequantize(s, out) for _, s in raw]) if raw else np.zeros((0, len(sp["classes"])))
        per_inference = int(per[0]) if per else self.figure(counts[0]) if counts else 0
        return Listened(times, probs, raw, sp["classes"], per_inference, self.unit,
                        detections(times, probs, sp["classes"]))

    # --- speak --------------------------------------------------------------------------
    def keyword_index(self, word: str) -> int:
        words = self.spec["synth"]["keywords"]
        if word not in words:
            raise DemoError(f"the protobrain cannot say '{word}'; it knows: {', '.join(words)}")
        return words.index(word)

    def speak(self, word: str, temperature: float | None = None, seed: int = 1, progress=None,
              max_frames: int | None = None) -> Spoken:
        """Vocode a stored keyword (its first `max_frames` frames only, when given)."""
        sy = self.spec["synth"]
        tq = temperature_q8(sy["temperature"] if temperature is None else temperature)
        frames, hop = self.dev.speak(self.keyword_index(word), tq, seed)
        whole = max_frames is None or max_frames >= frames
        frames = frames if whole else max_frames
        pcm, per = self._frames(lambda f: self.dev.speak_next(), frames, hop, f"of '{word}'", progress)
        tail, _ = self.dev.speak_next() if whole else (np.zeros(0), 0)
        if len(tail):
            raise DemoError(f"the device kept speaking after {frames} frames of '{word}'")
        return Spoken(word, pcm, sy["sample_rate"], per, self.unit, tq, seed, None if whole else frames)

    def _frames(self, next_frame, n_frames: int, hop: int, what: str, progress) -> tuple[np.ndarray, float]:
        """The samples of n_frames replies (next_frame(f) -> (samples, count)), each `hop`
        long, and the instructions (or cycles: `unit`) per sample."""
        self._marks()
        pcm, counts, instr = [], [], 0
        for f in range(n_frames):
            chunk, count = next_frame(f)
            marks = self._marks()
            if len(chunk) != hop:
                raise DemoError(f"the device sent {len(chunk)} samples for frame {f} {what}, expected {hop}")
            pcm.append(chunk)
            counts.append(count)
            instr += marks[-1] - marks[0] if len(marks) >= 2 else 0
            if progress:
                progress(f + 1, n_frames)
        n = n_frames * hop
        per = (instr if self.counter else self.figure(sum(counts))) / n if n else 0.0
        return (np.concatenate(pcm) if pcm else np.zeros(0, np.int16)), per

    def say(self, frames, temperature: float | None = None, seed: int = 1, progress=None) -> Spoken:
        """Vocode streamed frames (protobrain.app.text.TextFrames: any text, computed on this
        host), one SPEAK_FRAME each, as the device would in real time."""
        sy = self.spec["synth"]
        tq = temperature_q8(sy["temperature"] if temperature is None else temperature)
        hop, mels, order = self.dev.speak_stream(tq, seed)
        feats = np.asarray(frames.features, np.int16)
        coefficients = None if frames.coefficients is None else np.asarray(frames.coefficients, np.int16)
        if feats.ndim != 2 or feats.shape[1] != mels or (order and (coefficients is None or coefficients.shape
                                                                    != (len(feats), order))):
            raise DemoError(f"the device takes frames of {mels} features and {order} coefficients; "
                            f"these have {feats.shape[1:]} and {None if coefficients is None else coefficients.shape[1:]}")
        pcm, per = self._frames(lambda f: self.dev.speak_frame(feats[f], coefficients[f] if order else None),
                                len(feats), hop, "streamed", progress)
        return Spoken(frames.text, pcm, sy["sample_rate"], per, self.unit, tq, seed, None, feats,
                      coefficients if order else None)


# ---- checks ------------------------------------------------------------------------------------

TWIN = "host twin"
TFLM = "TensorFlow Lite Micro"


@dataclass
class Tally:
    """How many device results equal one host computation's, byte for byte."""

    agreed: int = 0
    total: int = 0
    mismatches: list = field(default_factory=list)   # the results that differ, in words

    @property
    def ok(self) -> bool:
        return self.agreed == self.total


class Checks:
    """Device results compared byte for byte with each host computation, counted per demo
    and per kind of result (images, inferences, utterances).

    `hosts` maps a check's name to what the device should compute: an object with
    see/listen/speak like protobrain.app.bundle.Twin (the same C on the host, TWIN) and
    protobrain.app.bundle.Tflm (TensorFlow Lite Micro on the .tflite models, TFLM)."""

    def __init__(self, hosts: dict):
        self.hosts = hosts
        self.tallies: dict = {}     # demo -> unit -> check name -> Tally

    def _tally(self, demo: str, unit: str, check: str) -> Tally:
        return self.tallies.setdefault(demo, {}).setdefault(unit, {}).setdefault(check, Tally())

    def see(self, demo: str, seen: Seen, what: str) -> None:
        for name, host in self.hosts.items():
            t = self._tally(demo, "images", name)
            t.total += 1
            if np.array_equal(np.asarray(host.see(seen.sent)).reshape(-1), seen.raw):
                t.agreed += 1
            else:
                t.mismatches.append(what)

    def listen(self, demo: str, samples: np.ndarray, heard: Listened, what: str) -> None:
        """Every inference: the newest frame it ran on and its scores."""
        got = heard.raw
        for name, host in self.hosts.items():
            want = host.listen(samples)
            n = max(len(want), len(got))
            bad = [i for i in range(n) if i >= min(len(want), len(got)) or want[i][0] != got[i][0]
                   or not np.array_equal(want[i][1], got[i][1])]
            t = self._tally(demo, "inferences", name)
            t.total += n
            t.agreed += n - len(bad)
            if bad:
                t.mismatches.append(f"{what}: inference {', '.join(map(str, bad[:4]))}{', ...' if len(bad) > 4 else ''}"
                                    f" of {n}" + (f" (the device made {len(got)}, expected {len(want)})"
                                                  if len(got) != len(want) else ""))

    def speak(self, demo: str, spoken: Spoken, what: str = "") -> None:
        """The whole utterance (or the frames the device was asked for)."""
        for name, host in self.hosts.items():
            if spoken.features is not None:
                want = np.asarray(host.speak_frames(spoken.features, spoken.coefficients, spoken.temperature_q8,
                                                    spoken.seed))
            else:
                want = np.asarray(host.speak(spoken.word, spoken.temperature_q8, spoken.seed, spoken.max_frames))
            t = self._tally(demo, "utterances", name)
            t.total += 1
            if np.array_equal(want, spoken.pcm):
                t.agreed += 1
                continue
            n = min(len(want), len(spoken.pcm))
            first = next((i for i in range(n) if want[i] != spoken.pcm[i]), n)
            t.mismatches.append(f"{what or repr(spoken.word)}: from sample {first} of {len(want)}"
                                + (f" (the device sent {len(spoken.pcm)})" if len(spoken.pcm) != len(want) else ""))

    def ok(self, demo: str | None = None) -> bool:
        demos = [demo] if demo else list(self.tallies)
        return all(t.ok for d in demos for by_check in self.tallies.get(d, {}).values() for t in by_check.values())

    def summary(self, demo: str) -> str:
        """One sentence: "device = host twin = TensorFlow Lite Micro on 6 of 6 images" when
        every check agrees on every result, else each check's count and what differs."""
        units = self.tallies.get(demo, {})
        if not units:
            return "nothing compared"

        def counts(check: str) -> str:
            return " and ".join(f"{units[u][check].agreed} of {units[u][check].total} {u}" for u in units)

        if self.ok(demo):
            return f"device = {' = '.join(self.hosts)} on {counts(next(iter(self.hosts)))}"
        parts = []
        for check in self.hosts:
            wrong = [m for u in units for m in units[u][check].mismatches]
            parts.append(f"device = {check} on {counts(check)}" + (f" (MISMATCH: {'; '.join(wrong)})" if wrong else ""))
        return "; ".join(parts)

    def to_json(self) -> dict:
        return {d: {u: {c: {"agreed": t.agreed, "total": t.total, "mismatches": t.mismatches}
                        for c, t in by_check.items()} for u, by_check in units.items()}
                for d, units in self.tallies.items()}


# ---- files and pictures ------------------------------------------------------------------------


def read_image(path: str | Path, shape) -> np.ndarray:
    """An image file as floats in [0, 1], resized to the vision net's (height, width, channels)."""
    from PIL import Image, UnidentifiedImageError

    h, w, c = (list(shape) + [1])[:3]
    try:
        with Image.open(path) as im:
            im = im.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
            arr = np.asarray(im, np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as e:
        raise DemoError(f"{path}: not a readable image ({e}); give a PNG or JPEG file") from None
    return arr.reshape(h, w, c)


def read_wav(path: str | Path, rate: int) -> np.ndarray:
    """A 16-bit WAV as int16 at `rate` (resampled when it was recorded at another rate)."""
    try:
        audio, sr = read(Path(path))
    except DataError as e:
        raise DemoError(str(e)) from None
    return audio if sr == rate else resample(audio, sr, rate)


def write_wav(path: str | Path, pcm: np.ndarray, rate: int) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(pcm, "<i2").tobytes())
    return path


def plot_listen(heard: Listened, audio: np.ndarray, rate: int, path: str | Path, title: str = "") -> Path:
    """Waveform on top, every keyword's score against time below, detections marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, gridspec_kw={"height_ratios": [1, 2]})
    t = np.arange(len(audio)) / rate
    a.plot(t, np.asarray(audio) / 32768.0, lw=0.5, color="0.3")
    a.set_ylabel("audio")
    a.set_title(title or "what the device heard")
    for k, name in enumerate(heard.classes):
        if name in ("silence", "unknown"):
            b.plot(heard.times, heard.scores[:, k], lw=1, ls=":", label=name)
        else:
            b.plot(heard.times, heard.scores[:, k], lw=1.5, label=name)
    for when, word, p in heard.detections:
        b.annotate(word, (when, p), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8)
    b.set_ylim(0, 1.05)
    b.set_xlabel("time (s)")
    b.set_ylabel("score")
    b.legend(fontsize=7, ncol=6, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
