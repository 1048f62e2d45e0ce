"""The window-MLP vocoder's integer side: its configuration, the step model's interface and
the checks that tie its two integer models together.

A vocoder sized for a Cortex-M4 in real time (8 kHz at 168 MHz leaves 21,000 cycles per
sample). With linear prediction (lpc_order > 0, the default; protobrain.synth.lpc) each
sample is a prediction p_t from the frame's coefficients and the last samples, plus an
excitation e_t that a small MLP chooses, LPCNet's split:

    embed  = tanh(W_e frame + b_e)                             once per frame: cond.tflite
    x      = [codes of s_{t-K..t-1} | classes e_{t-K..t-1} | code of p_t | embed]
    h_0    = relu(W_0 x + b_0), h_k = relu(W_k h_{k-1} + b_k)  every sample: step.tflite
    logits = W_out h_last + b_out                              `classes`-way mu-law excitation
    s_t    = p_t + pcm(sampled class)

(codes are mu-law codes of int16 values, evenly spaced in [-1, 1) as inputs). Without
linear prediction (lpc_order = 0) the input is the last `window` sampled classes and the
net chooses the sample itself; that form is cheaper to condition but, measured against
the speech net, far less intelligible at the same size.

Why this shape (the trade-off against the WaveNet of protobrain.synth.wavenet): a WaveNet
layer pays a requantized ADD, MUL and two table lookups per channel besides its matrix
products, about 40 instructions per element on a Cortex-M4; here every operator is a
FULLY_CONNECTED with its activation fused, so the whole step is dot products (SMLAD) and one
requantization per output. The window gives the net the last few milliseconds, the
per-frame embedding the spectral envelope; the cost is a shorter memory than a dilated
stack, so pitch comes from the conditioning, not from the waveform's own past.

Both models are int8 with the step input quantized at scale 1/128 and zero point 0: a
mu-law code c enters as c - 128 (classes = 256) exactly, and the cond model ends in TANH,
whose int8 output TFLite fixes at the same scale and zero point, so the embedding's
integers are copied into the step's input unchanged (check_models refuses anything else).

May import compiler and the rest of synth; never train (no TensorFlow here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from protobrain.compiler.quantization import f32
from protobrain.compiler.reader import read_model_bytes
from protobrain.errors import ProtobrainError
from protobrain.synth.fused import WindowSignature
from protobrain.synth.fused import fuse as fuse_step

INPUT_SCALE = 1.0 / 128  # the step input's quantization: int8 TANH output, and c - 128 for a code c
INPUT_ZERO_POINT = 0


class WindowMlpConfigError(ProtobrainError, ValueError):
    """A window-MLP configuration that cannot be built."""


def _positive(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise WindowMlpConfigError(f"WindowMlpConfig.{name} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class WindowMlpConfig:
    window: int = 16           # past samples (and excitations) the step sees: 2 ms at 8 kHz
    embed: int = 16            # per-frame embedding of the conditioning features
    hidden: tuple = (64, 32)   # widths of the ReLU layers
    classes: int = 256         # 8-bit mu-law
    cond_dim: int = 20         # per-frame features, e.g. 20 log-mel bins
    hop: int = 160             # samples per conditioning frame
    lpc_order: int = 16        # prediction coefficients per frame; 0: no linear prediction

    def __post_init__(self):
        for name in ("window", "embed", "classes", "cond_dim", "hop"):
            _positive(name, getattr(self, name))
        if isinstance(self.lpc_order, bool) or not isinstance(self.lpc_order, (int, np.integer)) \
                or not 0 <= self.lpc_order <= 32:
            raise WindowMlpConfigError(f"WindowMlpConfig.lpc_order must be an integer in [0, 32], got {self.lpc_order!r}")
        hidden = self.hidden
        if isinstance(hidden, (int, np.integer)) or not hasattr(hidden, "__iter__") or not tuple(hidden):
            raise WindowMlpConfigError(f"WindowMlpConfig.hidden must be a non-empty sequence of widths, got {hidden!r}")
        object.__setattr__(self, "hidden", tuple(_positive("hidden", h) for h in hidden))
        if self.classes not in (16, 32, 64, 128, 256):
            raise WindowMlpConfigError(f"WindowMlpConfig.classes must be a power of two from 16 to 256 (codes fit "
                                       f"int8 exactly), got {self.classes}")

    @property
    def history(self) -> int:
        """Step inputs before the embedding."""
        return 2 * self.window + 1 if self.lpc_order else self.window

    @property
    def input_size(self) -> int:
        return self.history + self.embed

    def step_macs(self) -> int:
        """Multiply-accumulates of one sample, the prediction's included."""
        widths = (self.input_size, *self.hidden, self.classes)
        return sum(a * b for a, b in zip(widths, widths[1:])) + self.lpc_order

    def cond_macs(self) -> int:
        """Multiply-accumulates of one frame's embedding."""
        return self.cond_dim * self.embed

    @classmethod
    def from_json(cls, d: dict) -> "WindowMlpConfig":
        return cls(**{"lpc_order": 0, **d, "hidden": tuple(d["hidden"])})  # runs before LPC had none


def signature(cfg: WindowMlpConfig) -> WindowSignature:
    return WindowSignature(window=cfg.window, input_coding="code", lpc_order=cfg.lpc_order)


def _only(g, which: str, what: str):
    ids = getattr(g, which)
    if len(ids) != 1:
        raise ProtobrainError(f"the {what} has {len(ids)} {which}; expected one (build it with window_mlp_nets)")
    return g.tensors[ids[0]]


def check_models(cfg: WindowMlpConfig, step_data: bytes, cond_data: bytes) -> None:
    """The two integer models fit `cfg` and each other: the cond model's one output (the
    embedding) has exactly the step input's type, scale and zero point, which are int8 at
    1/128 and 0, so both fed-back codes and embedding integers enter the step unchanged."""
    step, cond = read_model_bytes(step_data), read_model_bytes(cond_data)
    x, logits = _only(step, "inputs", "step model"), _only(step, "outputs", "step model")
    frame, emb = _only(cond, "inputs", "cond model"), _only(cond, "outputs", "cond model")
    if x.size != cfg.input_size or logits.size != cfg.classes:
        raise ProtobrainError(f"step model takes {x.size} values and gives {logits.size} logits; the config says "
                              f"{cfg.input_size} ({cfg.history} history + embedding {cfg.embed}) and {cfg.classes}")
    if frame.size != cfg.cond_dim or emb.size != cfg.embed:
        raise ProtobrainError(f"cond model maps {frame.size} features to {emb.size} values; the config says "
                              f"{cfg.cond_dim} to {cfg.embed}")
    for t, what in ((x, "step input"), (emb, "cond output")):
        q = t.quant
        if (t.dtype != "int8" or q is None or q.per_channel or f32(q.s) != f32(INPUT_SCALE)
                or q.zp != INPUT_ZERO_POINT):
            got = f"{t.dtype} scale {q.s if q else None} zero point {q.zp if q else None}"
            raise ProtobrainError(f"{what} is {got}; the window MLP needs int8 at scale 1/128, zero point 0 "
                                  "(convert it with window_mlp_nets, which calibrates that range)")


def fuse(cfg: WindowMlpConfig, data: bytes, name: str = "synth"):
    """The fused C step (protobrain.synth.fused.FusedModel) of a converted step model."""
    return fuse_step(data, signature(cfg), name=name)


def cond_output_order(cfg: WindowMlpConfig, cond_data: bytes, step_data: bytes) -> list[int]:
    """The cond model's one output fills the fused step's one cond block."""
    check_models(cfg, step_data, cond_data)
    return [0]


__all__ = ["WindowMlpConfig", "WindowMlpConfigError", "INPUT_SCALE", "INPUT_ZERO_POINT", "signature", "check_models",
           "fuse", "cond_output_order"]
