"""Integer sampling of a fused step's logits, and its exact Python twin (Sampler).

Sampling (`pb_<name>_sample`, twin: Sampler.pick) is integer-only:
  argmax when temperature_q8 == 0 (first maximum); otherwise each class i gets the weight
  EXP[j_i], EXP[j] = round(65535 exp(-j / 32)) (a table of the few hundred non-zero
  entries), j_i = round((max - logit_i) * scale / T * 32) computed as
  ((max - logit_i) * F + 2^31) >> 32 with F = round(scale * 32 * 256 * 2^32 / temperature_q8)
  (temperature_q8 = T * 256), so a class's probability is exp(-(max - logit_i) * scale / T)
  up to the 1/32 grid of the exponent (within 1.6 %), normalised by the total weight;
  r = (xorshift32() * total) >> 32 picks the first class whose running weight exceeds r.
  The class is mu-law decoded to int16 PCM by a table (pb_<name>_mulaw_pcm) and becomes
  the next step's input through a second table (pb_<name>_mulaw_input): with input coding
  "decoded" the decoded amplitude, with "code" the mu-law code itself, (c - C/2) / (C/2),
  evenly spaced in [-1, 1) so that an int8 input keeps every code apart; either quantized
  with the sample input's scale and zero point. Sampler holds these tables and
  constants: protobrain.synth.fused writes them into the generated C, and Sampler.pick
  reproduces the device's choice exactly.

May import compiler and synth.coding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from protobrain.compiler.quantization import INT_RANGES, f32
from protobrain.errors import ProtobrainError, UnsupportedError
from protobrain.synth.coding import mulaw_decode, quantize

EXP_STEPS = 32  # exponent grid of the sampling table: 1/32
NP_DTYPES = {"int8": np.int8, "int16": np.int16}  # the fused step's integer types
INPUT_CODINGS = ("decoded", "code")  # what a sampled class feeds back: its amplitude, or its code


def xorshift32(x: int) -> int:
    """One step of Marsaglia's xorshift32 (13, 17, 5); state 0 is replaced by 0x9E3779B9."""
    x &= 0xFFFFFFFF
    if x == 0:
        x = 0x9E3779B9
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    return x


def code_value(codes, classes: int) -> np.ndarray:
    """A mu-law code as a network input: (c - C/2) / (C/2), evenly spaced in [-1, 1)."""
    return (np.asarray(codes, np.float64) - classes / 2) / (classes / 2)


def temperature_q8(temperature: float) -> int:
    if temperature < 0 or not math.isfinite(temperature):
        raise ProtobrainError(f"temperature must be >= 0, got {temperature}")
    return int(math.floor(temperature * 256 + 0.5))


@dataclass
class Sampler:
    """Integer sampling from quantized logits, mu-law decoding and the next input: the
    tables and constants of the generated C, and its exact Python twin."""

    classes: int
    dtype: str  # "int8" or "int16": logits and sample input
    logits_scale: float
    input_scale: float
    input_zero_point: int
    input_coding: str = "decoded"
    exp_table: np.ndarray = field(init=False)
    scale_q: int = field(init=False)
    pcm: np.ndarray = field(init=False)
    next_input: np.ndarray = field(init=False)

    def __post_init__(self):
        table = []
        while True:
            v = int(math.floor(65535.0 * math.exp(-len(table) / EXP_STEPS) + 0.5))
            if v == 0:
                break
            table.append(v)
        self.exp_table = np.array(table, np.uint16)
        self.scale_q = int(math.floor(float(f32(self.logits_scale)) * EXP_STEPS * 256 * 2.0**32 + 0.5))
        lo, hi = INT_RANGES[self.dtype]
        if self.scale_q < 1 or self.scale_q * (hi - lo) >= 1 << 63:
            raise UnsupportedError(f"logits scale {self.logits_scale} out of the sampler's range")
        if self.input_coding not in INPUT_CODINGS:
            raise ProtobrainError(f"input coding {self.input_coding!r}: choose one of {', '.join(INPUT_CODINGS)}")
        x = mulaw_decode(np.arange(self.classes), self.classes)
        self.pcm = np.clip(np.floor(np.abs(x) * 32767 + 0.5) * np.sign(x), -32768, 32767).astype(np.int16)
        fed_back = x if self.input_coding == "decoded" else code_value(np.arange(self.classes), self.classes)
        self.next_input = quantize(fed_back, self.input_scale, self.input_zero_point, NP_DTYPES[self.dtype])

    def weights(self, logits, temp_q8: int) -> np.ndarray:
        l = np.asarray(logits).reshape(-1).astype(np.int64)
        diff = (l.max() - l).astype(np.uint64)
        f = np.uint64((self.scale_q + temp_q8 // 2) // temp_q8)
        j = (diff * f + np.uint64(1 << 31)) >> np.uint64(32)
        n = len(self.exp_table)
        return np.where(j < n, self.exp_table[np.minimum(j, n - 1).astype(np.int64)], 0).astype(np.int64)

    def pick(self, logits, temp_q8: int, rng: int) -> tuple[int, int]:
        """(class, new rng state): what pb_<name>_sample returns and leaves in *rng."""
        l = np.asarray(logits).reshape(-1)
        if temp_q8 == 0:
            return int(np.argmax(l)), rng
        w = self.weights(l, temp_q8)
        rng = xorshift32(rng)
        t = (rng * int(w.sum())) >> 32
        return int(np.searchsorted(np.cumsum(w), t, side="right")), rng
