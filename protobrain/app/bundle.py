"""The protobrain: one firmware that sees, listens and speaks.

A bundle is three trained runs (`protobrain train vision|speech|synth`) compiled into one
firmware: the vision net, the speech net behind the integer audio frontend, and the
vocoder (protobrain.synth.vocoders: a small conditioning net run once per frame, then the
fused step run once per sample) with every keyword's feature frames in flash. The three
nets never run at the same time, so they share one arena: RAM is the largest plan, not
the sum. Every net is compiled for the board's fastest kernel tier (DSP on Cortex-M4, M7
and M33, Helium on M55), as `protobrain build` does; the fused step takes its DSP form
wherever the core has the DSP extension.

The host keeps an exact twin of everything the device computes (`Twin`: the same
generated C, compiled for the host; for a DSP or Helium board, the DSP tier's portable C
form, whose results are the same integers) and a second, independent one (`Tflm`: TensorFlow Lite
Micro running the .tflite models the bundle is built from), so every demo can be checked
byte for byte against both.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from protobrain.audio.frontend import FeatureQuantizer, FrontendConfig, features, render_texts
from protobrain.boards import Board
from protobrain.codegen.c import c_array_body
from protobrain.compiler.names import check_name
from protobrain.compiler.ops.tiers.select import tier_for
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.errors import ProtobrainError
from protobrain.firmware import build as firmware
from protobrain.firmware.build import SHARED_ARENA, Apps
from protobrain.run.host import compile_bytes
from protobrain.synth import fused
from protobrain.synth.stepper import FusedStep, ReferenceStepper, reference_generate
from protobrain.synth.vocoders import from_run_info
from protobrain.synth.wavenet import cond_frame, generate_integer
from protobrain.toolchain import elf_symbols
from protobrain.train.synth import ensure_cond, keyword_store
from protobrain.verify.reference import Reference

MODEL_NAMES = ("vision", "speech", "conditioning")  # firmware model indices 0, 1, 2: their default C names
TASKS = ("vision", "speech", "synth")               # the run each of them comes from
SYNTH_NAME = "synth"                                # the fused step: synth.c, pb_synth_*
LISTEN_MAX_SAMPLES = 800                            # samples per LISTEN request (0.1 s at 8 kHz)


class BundleError(ProtobrainError):
    pass


@dataclass
class Parts:
    """Everything the firmware and the host twin are made of."""

    runs: dict            # "vision" | "speech" | "synth" -> run folder
    infos: dict           # the same keys -> run.json
    blobs: list           # .tflite bytes of MODEL_NAMES, in order
    programs: list        # their compiled Programs (portable tier; build() compiles them for its board)
    fused: object         # protobrain.synth.fused.FusedModel of the synth's step
    step: bytes           # the synth's per-step .tflite that `fused` is generated from
    keywords: dict        # keyword -> int16 frontend features (frames, mels)
    keyword_lpc: dict     # keyword -> Q12 prediction coefficients (frames, order); empty without prediction
    speech_quantizer: FeatureQuantizer
    cond_quantizer: FeatureQuantizer
    cond_order: list      # cond_q block k <- conditioning output cond_order[k]
    frontend: FrontendConfig
    stride: int           # the speech net runs every `stride` frames
    vocoder: object       # the synth's protobrain.synth.vocoders.Vocoder
    listen_max_samples: int = LISTEN_MAX_SAMPLES  # samples per LISTEN request (sets the serial buffer)
    names: tuple = MODEL_NAMES  # the nets' C names (files, pb_<name>_*), MODEL_NAMES order

    @property
    def window(self) -> int:
        return int(self.infos["speech"]["input_shape"][0])


def _open_run(path, task: str) -> tuple[Path, dict]:
    path = Path(path)
    meta = path / "run.json"
    if not meta.is_file():
        raise BundleError(f"{path}: not a training run (no run.json); make one with `protobrain train {task}`")
    info = json.loads(meta.read_text())
    if info.get("task") != task:
        raise BundleError(f"{path}: a {info.get('task', 'unknown')} run where a {task} run belongs; "
                          f"give the runs in the order VISION SPEECH SYNTH")
    return path, info


def _frontend_of(info: dict) -> FrontendConfig:
    return FrontendConfig(**info["frontend"]) if "frontend" in info else FrontendConfig()


def _input_quantizer(program, frontend: FrontendConfig) -> FeatureQuantizer:
    t = program.graph.tensors[program.graph.inputs[0]]
    if t.dtype not in ("int8", "int16") or t.quant is None:
        raise BundleError(f"{program.graph.name}: input is {t.dtype} without quantization; the bundle needs an "
                          "int8 or int16 model (protobrain quantize)")
    return FeatureQuantizer.for_input(float(t.quant.s), int(t.quant.zp), t.dtype, frontend)


def net_names(runs: dict, names=()) -> tuple[str, ...]:
    """The nets' C names (MODEL_NAMES order): the defaults, with (name, path) pairs
    (--name NAME=PATH) naming the net of the run at PATH (its folder, or a file in it:
    the synth run's net is its conditioning net); a one-line error for a PATH that is not
    one of the runs, a net named twice, or a name that clashes."""
    where = {p.resolve(): k for k, p in enumerate(runs[t] for t in TASKS)}
    given = {}
    for name, path in names:
        p = Path(path).resolve()
        k = where.get(p, where.get(p.parent) if p.is_file() else None)
        if k is None:
            raise BundleError(f"--name {name}={path}: {path} is not one of the runs given "
                              f"({', '.join(str(runs[t]) for t in TASKS)}); give the same folder")
        if k in given and given[k] != name:
            raise BundleError(f"--name names {path} twice ({given[k]} and {name}); give one name per run")
        given[k] = check_name(name)
    chosen = tuple(given.get(k, default) for k, default in enumerate(MODEL_NAMES))
    for k, name in enumerate(chosen):
        if name == SYNTH_NAME:
            raise BundleError(f"--name {name}: the fused synth step's files are {SYNTH_NAME}.c and .h; "
                              "name the net otherwise")
        if chosen.index(name) != k:
            raise BundleError(f"two of the bundle's nets are both named {name}; name them apart with "
                              "--name NAME=PATH, one for each run")
    return chosen


def load_parts(vision, speech, synth, stride: int = 4, listen_max_samples: int = LISTEN_MAX_SAMPLES,
               names=()) -> Parts:
    """Read and compile the three runs; every mismatch between them is a one-line error.
    listen_max_samples: the most samples one LISTEN request carries (a smaller chunk
    shrinks the firmware's serial buffer and sample buffers, for small RAM). names:
    (name, path) pairs naming the nets of some runs (net_names)."""
    if stride < 1:
        raise BundleError(f"--stride {stride}: the speech net must run every 1 or more frames")
    if not 16 <= listen_max_samples <= 8000:
        raise BundleError(f"listen chunk of {listen_max_samples} samples: choose 16 to 8000")
    runs, infos = {}, {}
    for task, path in (("vision", vision), ("speech", speech), ("synth", synth)):
        runs[task], infos[task] = _open_run(path, task)
    c_names = net_names(runs, names)
    frontend = _frontend_of(infos["speech"])
    vocoder = from_run_info(infos["synth"])
    if vocoder.hop != frontend.hop or vocoder.cond_dim != frontend.n_mels:
        raise BundleError(f"the synth run conditions on {vocoder.cond_dim} mels every {vocoder.hop} samples but the "
                          f"speech run's frontend has {frontend.n_mels} mels every {frontend.hop}; train both "
                          "with the same frontend")
    step = (runs["synth"] / "step.tflite").read_bytes()
    blobs = [(runs["vision"] / "model.tflite").read_bytes(), (runs["speech"] / "model.tflite").read_bytes(),
             ensure_cond(runs["synth"]).read_bytes()]
    programs = compile_nets(blobs, "portable", names=c_names)
    keywords, keyword_lpc = keyword_store(runs["synth"])
    if not keywords:
        raise BundleError(f"{runs['synth']}: no keyword frames (keywords.npz is empty); retrain the synth")
    return Parts(runs=runs, infos=infos, blobs=blobs, programs=programs, fused=vocoder.fuse(step, name=SYNTH_NAME),
                 step=step, keywords=keywords, keyword_lpc=keyword_lpc,
                 speech_quantizer=_input_quantizer(programs[1], frontend),
                 cond_quantizer=_input_quantizer(programs[2], frontend),
                 cond_order=vocoder.cond_output_order(blobs[2], step), frontend=frontend, stride=stride,
                 vocoder=vocoder, listen_max_samples=listen_max_samples, names=c_names)


def compile_nets(blobs: list[bytes], tier: str, flash_budget: int | None = None, names=MODEL_NAMES,
                 optimize: str = "balanced") -> list:
    """The bundle's nets (MODEL_NAMES order) as Programs for a kernel tier, C-named `names`."""
    programs = []
    for name, blob in zip(names, blobs):
        g = read_model_bytes(blob)
        g.name = name
        programs.append(build_program(g, tier=tier, flash_budget=flash_budget, optimize=optimize))
    return programs


def twin_tier(tier: str) -> str:
    """The tier the host twin compiles for a device tier: the DSP tier's portable C form
    stands in for DSP and Helium (the same integers), portable for portable."""
    return "portable" if tier == "portable" else "dsp"


# ---- firmware ------------------------------------------------------------------------------


def _quantize_fn(q: FeatureQuantizer) -> str:
    return "pb_frontend_quantize_" + ("s8" if q.dtype == "int8" else "s16")


def apps(parts: Parts):
    """The firmware's listen and speak apps: sources, template context and INFO fields."""
    speech = parts.programs[1]
    s_in = speech.graph.tensors[speech.graph.inputs[0]]
    if tuple(s_in.shape[1:3]) != (parts.window, parts.frontend.n_mels):
        raise BundleError(f"speech net input {s_in.shape} is not (1, frames, {parts.frontend.n_mels}, ...)")
    s_out = speech.graph.tensors[speech.graph.outputs[0]]
    words = list(parts.keywords)
    first, n = [], 0
    for w in words:
        first.append(n)
        n += len(parts.keywords[w])
    values = np.concatenate([parts.keywords[w].reshape(-1) for w in words])
    fm = parts.fused
    listen = {"model": 1, "window": parts.window, "stride": parts.stride, "max_samples": parts.listen_max_samples,
              "output_bytes": s_out.nbytes, "ctype": f"{s_in.dtype}_t", "quantize": _quantize_fn(parts.speech_quantizer),
              "multiplier": parts.speech_quantizer.multiplier, "shift": parts.speech_quantizer.shift,
              "zero_point": parts.speech_quantizer.zero_point}
    synth = {"name": SYNTH_NAME, "prefix": f"pb_{SYNTH_NAME}", "ctype": fm.ctype, "cond_model": 2,
             "hop": parts.frontend.hop, "keywords": words, "first": first, "frames": [len(parts.keywords[w]) for w in words],
             "n_values": int(values.size), "values_c": c_array_body(values, "int16_t"),
             "order": parts.cond_order, "offsets": [b.offset for b in fm.cond_blocks],
             "quantize": _quantize_fn(parts.cond_quantizer), "multiplier": parts.cond_quantizer.multiplier,
             "shift": parts.cond_quantizer.shift, "zero_point": parts.cond_quantizer.zero_point,
             "lpc_order": getattr(fm.signature, "lpc_order", 0)}
    if synth["lpc_order"]:
        lpc = np.concatenate([parts.keyword_lpc[w].reshape(-1) for w in words])
        synth |= {"n_lpc": int(lpc.size), "lpc_c": c_array_body(lpc, "int16_t")}
    files = dict(render_texts(parts.frontend)) | fused.all_files(fm)
    info = {"protobrain": {
        "vision": {"model": 0, "classes": parts.infos["vision"]["classes"],
                   "input_shape": parts.infos["vision"]["input_shape"]},
        "speech": {"model": 1, "classes": parts.infos["speech"]["classes"], "window": parts.window, "stride": parts.stride,
                   "max_samples": parts.listen_max_samples, "sample_rate": parts.frontend.sample_rate,
                   "hop": parts.frontend.hop, "window_samples": parts.frontend.window},
        "synth": {"model": 2, "keywords": words, "hop": parts.frontend.hop, "sample_rate": parts.frontend.sample_rate,
                  "temperature": parts.infos["synth"].get("temperature", 0.8), "macs_per_sample": fm.macs,
                  "architecture": parts.vocoder.architecture, "lpc_order": synth["lpc_order"],
                  "voice": parts.infos["synth"].get("voice", "en-us"), "frontend": asdict(parts.frontend)},
    }}
    results_bytes = 9 + 1 + (parts.listen_max_samples // parts.frontend.hop + 1) * (8 + s_out.nbytes)
    frame_bytes = 2 * (parts.frontend.n_mels + (synth["lpc_order"] or 0))  # a SPEAK_FRAME payload
    buffer_bytes = max(2 * parts.listen_max_samples, results_bytes, 9 + 2 * parts.frontend.hop, frame_bytes)
    return Apps(files=files, context={"listen": listen, "synth": synth}, info=info, buffer_bytes=buffer_bytes)


@dataclass
class Memory:
    """RAM of a bundle, from its ELF: the shared arena against what separate arenas would take."""

    plans: dict           # net -> planned arena bytes
    shared_arena: int     # bytes of pb_shared_arena
    frontend: int         # frontend state, feature window and sample buffers
    synth: int            # ring buffers, the fused step's scratch, cond and pcm buffers
    stack: int
    ram: int              # .data + .bss
    flash: int

    @property
    def largest_plan(self) -> int:
        return max(self.plans.values())

    @property
    def sum_of_plans(self) -> int:
        return sum(self.plans.values())

    def to_json(self) -> dict:
        return {"plans": self.plans, "largest_plan": self.largest_plan, "sum_of_plans": self.sum_of_plans,
                "shared_arena": self.shared_arena, "frontend": self.frontend, "synth": self.synth,
                "stack": self.stack, "ram": self.ram, "flash": self.flash}


FRONTEND_SYMBOLS = ("listen_frontend", "listen_window", "listen_samples", "listen_features")
SYNTH_SYMBOLS = ("speak_state", "speak_cond", "speak_pcm", f"pb_{SYNTH_NAME}_arena")


def memory(programs: list, image) -> Memory:
    sym = elf_symbols(image.board, image.elf)

    def size(names) -> int:
        return sum(sym[n].size for n in names if n in sym)

    return Memory(plans={p.graph.name: p.arena_size for p in programs}, shared_arena=sym[SHARED_ARENA].size,
                  frontend=size(FRONTEND_SYMBOLS), synth=size(SYNTH_SYMBOLS), stack=image.stack,
                  ram=image.ram_bytes, flash=image.flash_bytes)


@dataclass
class Bundle:
    path: Path
    image: object          # firmware.FirmwareImage
    memory: Memory
    tier: str              # the kernel tier its nets run
    programs: list         # the nets as compiled for the board


def build(parts: Parts, board: Board, out: str | Path, tier: str | None = None,
          optimize: str = "balanced") -> Bundle:
    """Compile the protobrain for `board` into `out` (firmware.elf, info.json, bundle.json),
    its nets for `tier` (default: the board's fastest), the DSP tier's weights as `optimize`
    chooses (select.wide_weights)."""
    out = Path(out)
    tier = tier or tier_for(board.features)
    programs = compile_nets(parts.blobs, tier, board.flash.length, parts.names, optimize=optimize)
    image = firmware.build(board, programs, parts.blobs, out, apps=apps(parts))
    mem = memory(programs, image)
    manifest = {"board": board.name, "tier": tier, "optimize": optimize,
                "runs": {k: str(v.resolve()) for k, v in parts.runs.items()},
                "names": dict(zip(TASKS, parts.names)),
                "memory": mem.to_json(), "elf": image.elf.name}
    (out / "bundle.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return Bundle(out, image, mem, tier, programs)


# ---- what the device computes, computed on the host -------------------------------------------


class _Host:
    """The see and listen paths shared by both host computations: each has `nets`, one
    runner per net, keyed by its default name (MODEL_NAMES: its part, whatever its C name)."""

    parts: Parts
    nets: dict

    def _run(self, name: str, x: np.ndarray):
        return self.nets[name].run(x)

    def see(self, x_q: np.ndarray) -> np.ndarray:
        return np.asarray(self._run("vision", x_q)).reshape(-1)

    def listen(self, samples: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """(newest frame index, speech net output) for every inference the device makes."""
        feats = features(np.asarray(samples, np.int16), self.parts.frontend)
        q = self.parts.speech_quantizer(feats)
        g = self.parts.programs[1].graph
        shape, w, out = g.tensors[g.inputs[0]].shape, self.parts.window, []
        for last in range(w - 1, len(q), self.parts.stride):
            x = q[last - w + 1:last + 1].reshape(shape)
            out.append((last, np.asarray(self._run("speech", x)).reshape(-1)))
        return out


class Twin(_Host):
    """What the device computes, computed on this host by the same generated C (for the
    device's kernel tier `tier`: see twin_tier)."""

    def __init__(self, parts: Parts, tier: str = "portable"):
        self.parts = parts
        self.tier = twin_tier(tier)
        self.nets = {key: compile_bytes(blob, name, tier=self.tier)
                     for key, name, blob in zip(MODEL_NAMES, parts.names, parts.blobs)}
        self.step = FusedStep(parts.fused)

    def speak(self, word: str, temperature_q8: int, seed: int, frames: int | None = None) -> np.ndarray:
        """The samples of `word` (its first `frames` frames only, when given)."""
        p = self.parts
        return self.speak_frames(p.keywords[word][:frames], _lpc_of(p, word, frames), temperature_q8, seed)

    def speak_frames(self, features, coefficients, temperature_q8: int, seed: int) -> np.ndarray:
        """The samples of streamed frames (SPEAK_STREAM, SPEAK_FRAME)."""
        p = self.parts
        return generate_integer(p.vocoder, self.nets["conditioning"], self.step, np.asarray(features, np.int16),
                                p.cond_quantizer, p.cond_order, temperature=temperature_q8 / 256, seed=seed,
                                lpc_frames=coefficients)


class Tflm(_Host):
    """What the device computes, with TensorFlow Lite Micro (protobrain.verify.reference) running
    every .tflite the bundle is built from in place of the generated C: the vision net, the
    speech net, and for speaking the conditioning net once per frame and the synth's
    per-step model (step.tflite, which the fused step is generated from) once per sample,
    its ring buffers held in Python (stepper.ReferenceStepper).

    The parts that are no .tflite are protobrain's own Python here: the audio frontend and
    the feature quantizers (as in the twin), and the synth's integer sampling with its
    mu-law tables (sampling.Sampler, the exact twin of pb_synth_sample; the twin runs the C)."""

    def __init__(self, parts: Parts):
        self.parts = parts
        self.nets = {name: Reference(blob) for name, blob in zip(MODEL_NAMES, parts.blobs)}
        self.stepper = ReferenceStepper(parts.step, parts.fused.signature)

    def speak(self, word: str, temperature_q8: int, seed: int, frames: int | None = None) -> np.ndarray:
        """The samples of `word` (its first `frames` frames only, when given)."""
        p = self.parts
        return self.speak_frames(p.keywords[word][:frames], _lpc_of(p, word, frames), temperature_q8, seed)

    def speak_frames(self, features, coefficients, temperature_q8: int, seed: int) -> np.ndarray:
        """The samples of streamed frames (SPEAK_STREAM, SPEAK_FRAME)."""
        p = self.parts
        rows = np.array([cond_frame(self.nets["conditioning"], f, p.cond_quantizer, p.cond_order)
                         for f in np.asarray(features, np.int16)])
        return reference_generate(self.stepper, p.fused.sampler, rows, p.frontend.hop,
                                  temperature=temperature_q8 / 256, seed=seed, lpc_frames=coefficients)


def _lpc_of(parts: Parts, word: str, frames: int | None):
    """The word's prediction coefficients (its first `frames` frames), or None."""
    return parts.keyword_lpc[word][:frames] if parts.keyword_lpc else None
