"""`protobrain train synth`: a vocoder on espeak-ng speech, conditioned on the same
integer log-mel frames the speech net hears, so a device can store each keyword as a few
hundred bytes of frames and say it (or be sent the frames of any text).

Two architectures (protobrain.synth.vocoders): the window MLP (default; sized to run in
real time on a Cortex-M4: protobrain.synth.window_mlp) and the WaveNet. Both are trained
teacher-forced on one espeak voice speaking many words at several speeds and pitches: the
input is the past samples (8-bit mu-law), the target the next sample's mu-law class, and
every sample sees the log-mel frame it belongs to (frame k covers samples k*hop ..
(k+1)*hop - 1). The WaveNet trains on random segments; the window MLP, which has no
recurrence, on random single positions (Positions). Generation runs the int8 per-step
model as protobrain's fused C step (protobrain.synth.fused) sample by sample.

A run holds step.tflite (the per-step model) and cond.tflite (the per-frame conditioning
projection as an integer model whose outputs are the step's cond inputs: wavenet_nets.cond_tflite).
`say` conditions in float on the host; `say_integer` is what a device does, integers only:
stored int16 frames -> FeatureQuantizer -> the cond model's generated C -> the fused step.
"""

from __future__ import annotations

import json
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from protobrain.audio.frontend import FrontendConfig, features_batch, to_float
from protobrain.errors import ProtobrainError
from protobrain.run.host import compile_bytes
from protobrain.synth.coding import mulaw_decode, mulaw_encode
from protobrain.synth import lpc
from protobrain.synth.coding import quantize
from protobrain.synth.sampling import code_value
from protobrain.synth.stepper import FusedStep
from protobrain.synth.stepper import generate as fused_generate
from protobrain.synth.vocoders import ARCHITECTURES, Vocoder, from_run_info
from protobrain.synth.wavenet import WaveNetConfig, cond_feature_quantizer, generate_integer
from protobrain.synth.window_mlp import WindowMlpConfig
from protobrain.train import espeak, progress, window_mlp_nets
from protobrain.train.converter import native_output_captured
from protobrain.train.quantize import QuantizedClassifier
from protobrain.train.run import Run, seed_everything
from protobrain.train.speech import cache_dir, clip_features, fit_length
from protobrain.train.wavenet_nets import cond_tflite, export, generate, training_model

FRONTEND = FrontendConfig()
SILENCE_FLOOR = -15.0  # log2 mel energy; frames whose loudest bin is below this are silence


@dataclass
class SynthConfig:
    architecture: str = "window_mlp"  # or "wavenet" (protobrain.synth.vocoders)
    window_mlp: WindowMlpConfig = field(default_factory=WindowMlpConfig)
    wavenet: WaveNetConfig = field(default_factory=lambda: WaveNetConfig(
        layers=10, dilation_cycle=(1, 2, 4, 8, 16), residual=24, skip=48, hidden=64))
    accent: str = "en-us"
    variant: str = ""                 # the accent's own default voice
    words: tuple[str, ...] = espeak.KEYWORDS + espeak.UNKNOWN_WORDS
    speeds: tuple[int, ...] = (130, 150, 170)
    pitches: tuple[int, ...] = (40, 50, 60)
    renditions: int = 6               # per word (speed and pitch drawn at random)
    steps: int = 3000                 # optimiser steps (WaveNet: about 25 CPU-minutes on 2 cores)
    batch: int = 16                   # WaveNet: segments per step
    segment: int = 1600               # WaveNet: samples per training segment (0.2 s)
    examples: int = 1024              # window MLP: positions per step
    lr: float = 2e-3
    seed: int = 0
    mode: str = "int8"
    temperature: float = 0.8
    progress: bool = True

    @property
    def vocoder(self) -> Vocoder:
        if self.architecture not in ARCHITECTURES:
            raise ProtobrainError(f"--architecture {self.architecture}: choose one of {', '.join(ARCHITECTURES)}")
        return Vocoder(self.architecture, getattr(self, self.architecture))

    @property
    def voice(self) -> espeak.Voice:
        return espeak.Voice(self.accent, self.variant, espeak.family(self.variant) if self.variant else "male")


# Quick configurations (tests, first looks): tiny nets on three words.
SMALL = SynthConfig(window_mlp=WindowMlpConfig(window=8, embed=4, hidden=(16,)),
                    words=("yes", "no", "up"), renditions=2, steps=80, examples=256, lr=5e-3)
SMALL_WAVENET = SynthConfig(architecture="wavenet",
                            wavenet=WaveNetConfig(layers=3, dilation_cycle=(1, 2, 4), residual=8, skip=8, hidden=16),
                            words=("yes", "no", "up"), renditions=2, steps=80, batch=4, segment=800, lr=5e-3)


def frames_of(clips: np.ndarray) -> np.ndarray:
    """Float log-mel frames (n, frames, mels) of int16 clips: the conditioning."""
    return to_float(features_batch(np.asarray(clips, np.int16), FRONTEND), FRONTEND)


def speech_frames(frames: np.ndarray, margin: int = 1) -> slice:
    """The span of frames that hold speech (plus `margin` on each side)."""
    loud = np.flatnonzero(frames.max(axis=1) > SILENCE_FLOOR + 6.0)
    if loud.size == 0:
        return slice(0, 0)
    return slice(max(0, loud[0] - margin), min(len(frames), loud[-1] + 1 + margin))


def training_clips(cfg: SynthConfig) -> espeak.ClipSet:
    return espeak.make_clips(cfg.words, [cfg.voice], speeds=cfg.speeds, pitches=cfg.pitches,
                             per_voice=cfg.renditions, seed=cfg.seed, progress=cfg.progress, cache=cache_dir())


class Segments:
    """Random training segments: (previous samples, per-sample frames, next-sample class)."""

    def __init__(self, clips: np.ndarray, cfg: SynthConfig):
        self.cfg = cfg
        self.audio = mulaw_decode(mulaw_encode(clips.astype(np.float64) / 32768.0)).astype(np.float32)
        self.target = mulaw_encode(clips.astype(np.float64) / 32768.0)
        self.frames = frames_of(clips)
        hop, seg = cfg.wavenet.hop, cfg.segment
        n_samples = self.frames.shape[1] * hop            # samples that have a frame
        self.spans = []
        for f in self.frames:
            s = speech_frames(f)
            lo = max(1, s.start * hop - seg // 2)
            hi = max(lo, min(n_samples - seg, s.stop * hop - seg // 2))
            self.spans.append((lo, hi))

    def batch(self, rng: np.random.Generator):
        cfg, hop, seg = self.cfg, self.cfg.wavenet.hop, self.cfg.segment
        a = np.zeros((cfg.batch, seg, 1), np.float32)
        c = np.zeros((cfg.batch, seg, cfg.wavenet.cond_dim), np.float32)
        y = np.zeros((cfg.batch, seg), np.int64)
        for b in range(cfg.batch):
            i = rng.integers(len(self.audio))
            lo, hi = self.spans[i]
            s = int(rng.integers(lo, hi + 1))
            a[b, :, 0] = self.audio[i, s - 1:s - 1 + seg]
            y[b] = self.target[i, s:s + seg]
            c[b] = self.frames[i][(s + np.arange(seg)) // hop]
        return a, c, y


class Positions:
    """Random training positions for the window MLP: (history before the position, the
    position's frame, the target class), positions within each clip's speech span (plus
    half a segment either side, as Segments does)."""

    def __init__(self, clips: np.ndarray, cfg: SynthConfig):
        self.cfg, w = cfg, cfg.window_mlp
        self.frames = frames_of(clips)
        n_frames = self.frames.shape[1]
        self.streams = [window_mlp_nets.code_streams(w, c, lpc.analyse(c, n_frames, w.hop, w.lpc_order)
                                                     if w.lpc_order else None) for c in clips]
        n_samples = n_frames * w.hop
        spans = []
        for i, f in enumerate(self.frames):
            s = speech_frames(f)
            lo, hi = max(0, s.start * w.hop - cfg.segment // 2), min(n_samples, s.stop * w.hop + cfg.segment // 2)
            spans.append(np.stack([np.full(max(0, hi - lo), i), np.arange(lo, hi)], axis=1))
        self.positions = np.concatenate(spans) if spans else np.zeros((0, 2), np.int64)
        if not len(self.positions):
            raise ProtobrainError("no speech in the training clips; check that espeak-ng speaks the words")

    def batch(self, rng: np.random.Generator):
        w = self.cfg.window_mlp
        p = self.positions[rng.integers(len(self.positions), size=self.cfg.examples)]
        order = np.argsort(p[:, 0], kind="stable")
        hist = np.zeros((len(p), w.history), np.float32)
        target = np.zeros(len(p), np.int64)
        for clip in np.unique(p[:, 0]):
            rows = order[p[order, 0] == clip]
            hist[rows] = window_mlp_nets.histories(w, self.streams[clip], p[rows, 1])
            target[rows] = self.streams[clip]["target"][p[rows, 1]]
        return hist, self.frames[p[:, 0], p[:, 1] // w.hop], target


def _fit(model, batches, cfg: SynthConfig, what: str) -> list[float]:
    """Adam with cosine decay over cfg.steps steps of batches(rng); the loss curve."""
    import tensorflow as tf

    opt = tf.keras.optimizers.Adam(tf.keras.optimizers.schedules.CosineDecay(cfg.lr, cfg.steps, alpha=0.05))
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function(reduce_retracing=True)
    def step(a, c, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model([a, c], training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    rng = np.random.default_rng(cfg.seed)
    curve = []
    with progress.task(what, cfg.steps, cfg.progress) as advance:
        for k in range(cfg.steps):
            curve.append(float(step(*batches(rng))))
            if k % 20 == 19 or k == cfg.steps - 1:
                advance(k % 20 + 1, status=f"loss={np.mean(curve[-20:]):.3f}")
    return curve


def train_window_mlp(cfg: SynthConfig, clips: np.ndarray):
    """The window MLP on random positions; returns the Keras training model and the loss curve."""
    seed_everything(cfg.seed)
    data = Positions(clips, cfg)
    model = window_mlp_nets.training_model(cfg.window_mlp)
    return model, _fit(model, data.batch, cfg, "training synth (window MLP)")


def train_vocoder(cfg: SynthConfig, clips: np.ndarray):
    """The WaveNet, teacher-forced on segments; returns the Keras training model and the loss curve."""
    seed_everything(cfg.seed)
    data = Segments(clips, cfg)
    model = training_model(cfg.wavenet)
    return model, _fit(model, data.batch, cfg, "training synth (WaveNet)")


def calibration_sequences(cfg: SynthConfig, clips: np.ndarray, n: int = 6):
    """Real (audio, frames) pairs for int8 calibration: whole spoken spans of some clips."""
    frames = frames_of(clips[:n])
    audio = mulaw_decode(mulaw_encode(clips[:n].astype(np.float64) / 32768.0)).astype(np.float32)
    out = []
    hop = cfg.vocoder.hop
    for a, f in zip(audio, frames):
        s = speech_frames(f)
        out.append((a[s.start * hop:s.stop * hop], f[s]))
    return out


def keyword_material(cfg: SynthConfig, words=espeak.KEYWORDS) -> tuple[dict, dict]:
    """What a device stores to say each keyword, from the synth voice at middle speed and
    pitch, speech span only: its int16 log-mel frames, and (a vocoder with linear
    prediction) each frame's Q12 prediction coefficients; else an empty dict."""
    frames, coefficients = {}, {}
    order = cfg.window_mlp.lpc_order if cfg.architecture == "window_mlp" else 0
    for w in words:
        clip = espeak.centred(espeak.synthesize(w, cfg.voice, speed=150, pitch=50))
        feats = features_batch(clip[None], FRONTEND)[0]
        span = speech_frames(to_float(feats, FRONTEND))
        frames[w] = feats[span]
        if order:
            coefficients[w] = lpc.analyse(clip, len(feats), FRONTEND.hop, order)[span]
    return frames, coefficients


def keyword_frames(cfg: SynthConfig, words=espeak.KEYWORDS) -> dict[str, np.ndarray]:
    """The int16 log-mel frames of keyword_material."""
    return keyword_material(cfg, words)[0]


@dataclass
class SynthResult:
    path: Path
    info: dict
    recognized: dict[str, str] = field(default_factory=dict)   # keyword -> what the speech net heard


def _export_wavenet(cfg: SynthConfig, model, clips: np.ndarray) -> tuple[bytes, bytes]:
    tflite, _ = export(cfg.wavenet, model, mode=cfg.mode, sequences=calibration_sequences(cfg, clips), seed=cfg.seed)
    # the cond model's input range: every frame of the training clips
    cond = cond_tflite(cfg.wavenet, model, frames_of(clips).reshape(-1, cfg.wavenet.cond_dim), tflite,
                       mode=cfg.mode, seed=cfg.seed)
    return tflite, cond


def _export_window_mlp(cfg: SynthConfig, model, clips: np.ndarray, n: int = 6) -> tuple[bytes, bytes]:
    """Calibrated on every step of the spoken span of some clips, teacher-forced."""
    w = cfg.window_mlp
    frames = frames_of(clips)
    rows = []
    for clip, f in zip(clips[:n], frames[:n]):
        coefficients = lpc.analyse(clip, len(f), w.hop, w.lpc_order) if w.lpc_order else None
        span = speech_frames(f)
        steps = window_mlp_nets.step_inputs(w, clip, window_mlp_nets.embed(w, model, f), coefficients)
        rows.append(steps[span.start * w.hop:span.stop * w.hop])
    frames = frames.reshape(-1, w.cond_dim)  # the cond model's input range: every frame
    return window_mlp_nets.export(w, model, np.concatenate(rows), frames, seed=cfg.seed)


def train_synth(cfg: SynthConfig, out_dir: str | Path) -> SynthResult:
    """Train, quantize the per-step and cond models, and store the keywords' frames."""
    vocoder = cfg.vocoder
    if cfg.mode not in ("int8", "16x8"):
        raise ProtobrainError(f"--mode {cfg.mode}: choose int8 or 16x8")
    if vocoder.architecture == "window_mlp" and cfg.mode != "int8":
        raise ProtobrainError(f"--mode {cfg.mode}: the window MLP is int8 only (its codes and embedding share "
                              "the int8 scale 1/128); use --architecture wavenet for 16x8")
    clips = training_clips(cfg)
    train, export_models = ((train_window_mlp, _export_window_mlp) if vocoder.architecture == "window_mlp"
                            else (train_vocoder, _export_wavenet))
    model, curve = train(cfg, clips.clips)
    with native_output_captured():
        tflite, cond = export_models(cfg, model, clips.clips)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "vocoder.keras")
    (out / "step.tflite").write_bytes(tflite)
    (out / "cond.tflite").write_bytes(cond)
    kw, kw_lpc = keyword_material(cfg, [w for w in cfg.words if w in espeak.KEYWORDS])
    window = max(1, min(50, len(curve) // 4))     # loss averaged over the first and last steps
    np.savez(out / "keywords.npz", **kw)
    if kw_lpc:
        np.savez(out / "keywords_lpc.npz", **kw_lpc)
    info = {"task": "synth", "architecture": vocoder.architecture, vocoder.architecture: asdict(vocoder.config),
            "voice": cfg.voice.name, "words": len(cfg.words), "steps": cfg.steps, "seed": cfg.seed,
            "mode": cfg.mode, "temperature": cfg.temperature, "params": int(model.count_params()),
            "step_macs": vocoder.step_macs(), "loss_first": float(np.mean(curve[:window])),
            "loss_last": float(np.mean(curve[-window:])), "clips": len(clips),
            "keyword_frame_values": {w: int(f.size) for w, f in kw.items()}}   # 20 mels x speech frames
    info |= ({"examples": cfg.examples} if vocoder.architecture == "window_mlp"
             else {"batch": cfg.batch, "segment": cfg.segment})
    (out / "run.json").write_text(json.dumps(info, indent=2) + "\n")
    return SynthResult(out, info)


def _run_config(run_dir: Path) -> tuple[dict, Vocoder]:
    info = json.loads((run_dir / "run.json").read_text())
    return info, from_run_info(info)


def say(run_dir: str | Path, words=None, seed: int = 1) -> dict[str, np.ndarray]:
    """Audio (int16, 8 kHz) of each stored keyword, generated by the quantized fused step
    (conditioning projected in float on the host)."""
    from tensorflow import keras

    run_dir = Path(run_dir)
    info, vocoder = _run_config(run_dir)
    model = keras.models.load_model(run_dir / "vocoder.keras", compile=False)
    fused = FusedStep(vocoder.fuse((run_dir / "step.tflite").read_bytes(), name="synth"))
    frames, coefficients = keyword_store(run_dir)
    out = {}
    for w in (words or frames):
        feats = to_float(frames[w], FRONTEND)
        if vocoder.architecture == "wavenet":
            out[w] = generate(vocoder.config, model, fused, feats, temperature=info["temperature"], seed=seed)
            continue
        block = fused.model.cond_blocks[0]
        cond_q = quantize(window_mlp_nets.embed(vocoder.config, model, feats), block.scale, block.zero_point,
                          fused.model.np_dtype)
        out[w] = fused_generate(fused, cond_q, vocoder.hop, temperature=info["temperature"], seed=seed,
                                lpc_frames=coefficients.get(w))
    return out


def keyword_store(run_dir: str | Path) -> tuple[dict, dict]:
    """A run's stored keywords: {word: int16 log-mel frames}, {word: Q12 prediction
    coefficients per frame} (empty for a vocoder without linear prediction)."""
    run_dir = Path(run_dir)
    frames = {w: np.asarray(f, np.int16) for w, f in np.load(run_dir / "keywords.npz").items()}
    path = run_dir / "keywords_lpc.npz"
    coefficients = {w: np.asarray(a, np.int16) for w, a in np.load(path).items()} if path.exists() else {}
    if coefficients and sorted(coefficients) != sorted(frames):
        raise ProtobrainError(f"{path} and keywords.npz hold different words; retrain the synth")
    return frames, coefficients


def ensure_cond(run_dir: str | Path) -> Path:
    """The run's cond.tflite, built first for runs made before train_synth wrote it: from
    vocoder.keras and step.tflite, in the run's mode. Such a run keeps no training clips,
    so the input is calibrated on its stored keyword frames, the frames it says (the
    outputs take the step's quantization either way; only the input range is calibrated)."""
    from tensorflow import keras

    run_dir = Path(run_dir)
    path = run_dir / "cond.tflite"
    if path.exists():
        return path
    info, vocoder = _run_config(run_dir)
    if vocoder.architecture != "wavenet":
        raise ProtobrainError(f"{run_dir}: the synth run has no cond.tflite; retrain it with `protobrain train synth`")
    wcfg = vocoder.config
    model = keras.models.load_model(run_dir / "vocoder.keras", compile=False)
    stored = dict(np.load(run_dir / "keywords.npz"))
    if not stored:
        raise ProtobrainError(f"{run_dir / 'keywords.npz'} holds no keyword frames to calibrate the cond model on")
    frames = to_float(np.concatenate(list(stored.values())), FRONTEND)
    with native_output_captured():
        data = cond_tflite(wcfg, model, frames, (run_dir / "step.tflite").read_bytes(), mode=info["mode"],
                           seed=info.get("seed", 0))
    tmp = path.with_suffix(".tflite.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # never leave a half-written cond.tflite behind
    return path


def say_integer(run_dir: str | Path, words=None, seed: int = 1) -> dict[str, np.ndarray]:
    """Audio (int16, 8 kHz) of each stored keyword the way a device makes it, integers only:
    the stored int16 frames, requantized by FeatureQuantizer, run through the cond model's
    generated C, fill the fused step's cond_q (wavenet.generate_integer)."""
    run_dir = Path(run_dir)
    info, vocoder = _run_config(run_dir)
    step = (run_dir / "step.tflite").read_bytes()
    cond = ensure_cond(run_dir).read_bytes()
    fused = FusedStep(vocoder.fuse(step, name="synth"))
    net = compile_bytes(cond, name="synth_cond")
    fq = cond_feature_quantizer(cond, FRONTEND)
    order = vocoder.cond_output_order(cond, step)
    frames, coefficients = keyword_store(run_dir)
    return {w: generate_integer(vocoder.config, net, fused, frames[w], fq, order, temperature=info["temperature"],
                                seed=seed, lpc_frames=coefficients.get(w)) for w in (words or frames)}


def recognize(speech_run: str | Path, audio: dict[str, np.ndarray]) -> dict[str, str]:
    """What the int8 speech net (generated C) hears in each clip."""
    run = Run.open(speech_run)
    net = QuantizedClassifier(run.tflite(), "speech")
    words = list(audio)
    x = clip_features(np.stack([fit_length(audio[w]) for w in words]))
    pred = net.predict(x)
    return {w: run.info["classes"][p] for w, p in zip(words, pred)}


def write_wavs(audio: dict[str, np.ndarray], folder: Path, rate: int = 8000) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for w, a in audio.items():
        p = folder / f"{w}.wav"
        with wave.open(str(p), "wb") as f:
            f.setnchannels(1)
            f.setsampwidth(2)
            f.setframerate(rate)
            f.writeframes(np.asarray(a, "<i2").tobytes())
        paths.append(p)
    return paths
