"""Log-mel features of 8 kHz audio, in integer numpy and as generated C, bit-exact.

Both implementations run the same integer pipeline on the same integer tables (computed
once here, in float, and written into the C as constants), so they agree to the last bit.

Integer pipeline, per frame of `window` int16 samples x[n] (G = GUARD_BITS = 8):

1. Window.  xw[n] = (x[n] * w[n] + 2^(14-G)) >> (15-G), w = periodic Hann in Q15 (int16).
   xw is the windowed sample with G extra fractional bits: |xw| <= 2^(15+G), an int32.
2. FFT.  re[bitrev(n)] = xw[n] (zero for n >= window), im = 0; then log2(fft) radix-2
   decimation-in-time stages.  Butterfly on a = (ar, ai), b = (br, bi) with twiddle
   W = c - i*s, c = Q15 cos(2*pi*j/fft), s = Q15 sin(2*pi*j/fft) (int16):
       tr = (c*br + s*bi + 2^14) >> 15          (int64 products, result int32)
       ti = (c*bi - s*br + 2^14) >> 15
       a' = ((ar + tr + 1) >> 1, (ai + ti + 1) >> 1)
       b' = ((ar - tr + 1) >> 1, (ai - ti + 1) >> 1)
   The >> 1 per stage makes the result X = DFT(xw) / fft, so |X| stays <= 2^(15+G).
3. Power.  P[k] = re[k]^2 + im[k]^2 for k = 0..fft/2, uint64 (< 2^49).
4. Mel.  E[m] = (sum_j u[m][j] * P[start[m] + j] + 2^14) >> 15, uint64, u = triangular
   HTK-mel filter weights in Q15 (peak 1.0), stored as one contiguous run per filter.
   Parseval bounds sum_k P[k] by 2^(30+2G), so the sum stays below 2^61.
5. Log.  E = max(E, 1) (silence clamps to the minimum); p = position of E's highest set
   bit; t = the LOG_TABLE_BITS bits below it (zero-filled for small E);
   L = (p << f) + log2_table[t], with f = log_frac_bits, k = LOG_TABLE_BITS = 8 and
   log2_table[i] = round(2^f * log2(1 + (i + 0.5) / 2^k)): the centre of each mantissa
   interval, so the error is <= 0.003 octaves plus the Q(f) rounding.
6. Output.  feature = saturate_int16(L - offset), offset = 2*G << log_frac_bits.

So feature / 2^log_frac_bits (`to_float`) is log2 of the mel energy measured in int16-sample
units of |DFT/fft|^2: the offset removes the 2G guard bits of the squared FFT output.  A
full-scale tone reaches about 27, silence gives -16 (+0.004); the range fits int16 for
log_frac_bits <= 10.  Right shifts of negative values are arithmetic (floor), in numpy and in
the C (GCC, Clang and Arm Compiler all shift signed values arithmetically; the C checks it).
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from protobrain import __version__
from protobrain.codegen.c import c_array_body, env
from protobrain.compiler.fixedpoint import mul_by_quantized_mult_array
from protobrain.compiler.quantization import quantize_multiplier
from protobrain.errors import ProtobrainError
from protobrain.run.host import compile_sources

GUARD_BITS = 8        # extra fractional bits through the FFT: ~48 dB more dynamic range than Q15
LOG_TABLE_BITS = 8    # mantissa bits that index log2_table (256 entries)
MAX_FFT = 4096        # keeps the C's two int32[fft] stack buffers at <= 32 KB
MAX_LOG_FRAC_BITS = 10  # (46 - 2G + 1) octaves must fit int16 after the offset

_WINDOW_SHIFT = 15 - GUARD_BITS


@dataclass(frozen=True)
class FrontendConfig:
    """Framing and mel layout; features are int16 log2(mel energy) in Q(log_frac_bits) (see module doc)."""

    sample_rate: int = 8000
    window: int = 256
    hop: int = 160
    fft: int = 256
    n_mels: int = 20
    fmin: float = 60.0
    fmax: float = 3800.0
    log_frac_bits: int = 8

    def __post_init__(self):
        def bad(msg: str):
            raise ProtobrainError(f"FrontendConfig.{msg}")

        if self.sample_rate <= 0:
            bad(f"sample_rate={self.sample_rate} must be positive; give the audio's rate in Hz")
        if self.window < 2:
            bad(f"window={self.window} is too short; use at least 2 samples (e.g. 256)")
        if self.fft & (self.fft - 1) or not self.window <= self.fft <= MAX_FFT:
            bad(f"fft={self.fft} must be a power of two >= window={self.window} and <= {MAX_FFT}; "
                f"use fft={1 << (self.window - 1).bit_length()}")
        if not 1 <= self.hop <= self.window:
            bad(f"hop={self.hop} must be between 1 and window={self.window}; frames may overlap but not leave gaps")
        if not 0 <= self.fmin < self.fmax:
            bad(f"fmin={self.fmin} must be >= 0 and below fmax={self.fmax}; lower fmin")
        if self.fmax > self.sample_rate / 2:
            bad(f"fmax={self.fmax} is above the Nyquist frequency {self.sample_rate / 2} Hz; lower fmax")
        if self.n_mels < 1:
            bad(f"n_mels={self.n_mels} must be at least 1")
        if not 0 <= self.log_frac_bits <= MAX_LOG_FRAC_BITS:
            bad(f"log_frac_bits={self.log_frac_bits} must be between 0 and {MAX_LOG_FRAC_BITS} "
                "so the log fits int16")
        empty = [m for m, run in enumerate(_mel_runs(self)) if run[1].size == 0]
        if empty:
            bad(f"n_mels={self.n_mels}: mel filter {empty[0]} covers no FFT bin; use fewer mels, "
                "a larger fft or a wider fmin..fmax")

    def frames(self, n_samples: int) -> int:
        """Whole frames in a clip of n_samples (0 if it is shorter than one window)."""
        return 0 if n_samples < self.window else (n_samples - self.window) // self.hop + 1

    @property
    def n_bins(self) -> int:
        return self.fft // 2 + 1

    @property
    def feature_offset(self) -> int:
        """Subtracted from Q(log_frac_bits) log2(E) so features are log2 energy in sample units."""
        return (2 * GUARD_BITS) << self.log_frac_bits


# ---------------------------------------------------------------- tables (float, once)


def _q15(values: np.ndarray) -> np.ndarray:
    """Round to Q15, saturating +1.0 to 32767."""
    return np.clip(np.round(np.asarray(values) * 32768.0), -32768, 32767).astype(np.int16)


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_edges(config: FrontendConfig) -> np.ndarray:
    """n_mels + 2 frequencies (Hz): filter m rises from edge m, peaks at m+1, falls to m+2."""
    return mel_to_hz(np.linspace(hz_to_mel(config.fmin), hz_to_mel(config.fmax), config.n_mels + 2))


def _mel_runs(config: FrontendConfig) -> list[tuple[int, np.ndarray]]:
    """Per filter: first FFT bin and the contiguous run of nonzero Q15 weights (uint16)."""
    freqs = np.arange(config.n_bins) * (config.sample_rate / config.fft)
    edges = mel_edges(config)
    runs = []
    for lo, mid, hi in zip(edges[:-2], edges[1:-1], edges[2:]):
        tri = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0.0, None)
        q = _q15(tri).astype(np.uint16)
        nz = np.flatnonzero(q)
        # a triangle is convex, so its nonzero weights form one run
        runs.append((int(nz[0]), q[nz[0]:nz[-1] + 1]) if nz.size else (0, q[:0]))
    return runs


@dataclass(frozen=True, eq=False)
class FrontendTables:
    """The integer constants both implementations use (read-only arrays)."""

    window: np.ndarray       # int16 [window]: periodic Hann, Q15
    cos: np.ndarray          # int16 [fft/2]: cos(2*pi*j/fft), Q15
    sin: np.ndarray          # int16 [fft/2]: sin(2*pi*j/fft), Q15
    mel_start: np.ndarray    # uint16 [n_mels]: first FFT bin of each filter
    mel_len: np.ndarray      # uint16 [n_mels]: number of weights of each filter
    mel_weights: np.ndarray  # uint16 [sum(mel_len)]: the runs, filter after filter, Q15
    log2_table: np.ndarray   # uint16 [2^LOG_TABLE_BITS]: log2(1 + (i+0.5)/2^k), Q(log_frac_bits)

    def mel_matrix(self, n_bins: int) -> np.ndarray:
        """The filters as a dense uint64 [n_bins, n_mels] matrix of Q15 weights."""
        dense = np.zeros((n_bins, self.mel_start.size), dtype=np.uint64)
        offset = 0
        for m, (start, length) in enumerate(zip(self.mel_start.tolist(), self.mel_len.tolist())):
            dense[start:start + length, m] = self.mel_weights[offset:offset + length]
            offset += length
        return dense


@functools.lru_cache(maxsize=16)
def tables(config: FrontendConfig) -> FrontendTables:
    """Compute the integer tables for a config (cached; arrays are read-only)."""
    n = np.arange(config.window)
    angle = 2.0 * np.pi * np.arange(config.fft // 2) / config.fft
    runs = _mel_runs(config)
    i = np.arange(1 << LOG_TABLE_BITS)
    log2_frac = np.round(np.log2(1.0 + (i + 0.5) / (1 << LOG_TABLE_BITS)) * (1 << config.log_frac_bits))
    t = FrontendTables(
        window=_q15(0.5 - 0.5 * np.cos(2.0 * np.pi * n / config.window)),
        cos=_q15(np.cos(angle)),
        sin=_q15(np.sin(angle)),
        mel_start=np.array([s for s, _ in runs], dtype=np.uint16),
        mel_len=np.array([w.size for _, w in runs], dtype=np.uint16),
        mel_weights=np.concatenate([w for _, w in runs]).astype(np.uint16),
        log2_table=log2_frac.astype(np.uint16),
    )
    for a in vars(t).values():
        a.setflags(write=False)
    return t


# ---------------------------------------------------------------- integer pipeline (numpy)


def _check_audio(audio) -> np.ndarray:
    a = np.asarray(audio)
    if a.dtype != np.int16 or a.ndim != 1:
        raise ProtobrainError(f"audio must be a 1-D int16 array, got {a.dtype} with shape {a.shape}; "
                              "convert float audio with np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)")
    return a


def _bit_reverse(n: int) -> np.ndarray:
    bits = n.bit_length() - 1
    idx = np.arange(n)
    rev = np.zeros(n, dtype=np.int64)
    for b in range(bits):
        rev |= ((idx >> b) & 1) << (bits - 1 - b)
    return rev


def _window(frames: np.ndarray, t: FrontendTables, fft: int) -> np.ndarray:
    """Step 1: int16 frames [F, window] -> int64 [F, fft], windowed, G guard bits, zero padded."""
    x = frames.astype(np.int64) * t.window.astype(np.int64)
    x = (x + (1 << (_WINDOW_SHIFT - 1))) >> _WINDOW_SHIFT
    return np.pad(x, ((0, 0), (0, fft - frames.shape[1])))


def _fft(x: np.ndarray, t: FrontendTables) -> tuple[np.ndarray, np.ndarray]:
    """Step 2: fixed-point radix-2 DIT FFT with a rounding >> 1 per stage; returns (re, im) int64."""
    n_frames, n = x.shape
    re = x[:, _bit_reverse(n)]
    im = np.zeros_like(re)
    half = 1
    while half < n:
        span = 2 * half
        c = t.cos[::n // span].astype(np.int64)  # twiddle j of this stage is table entry j * fft/span
        s = t.sin[::n // span].astype(np.int64)
        r = re.reshape(n_frames, n // span, 2, half)
        i = im.reshape(n_frames, n // span, 2, half)
        ar, br, ai, bi = r[:, :, 0], r[:, :, 1], i[:, :, 0], i[:, :, 1]
        tr = (c * br + s * bi + (1 << 14)) >> 15
        ti = (c * bi - s * br + (1 << 14)) >> 15
        re = np.stack(((ar + tr + 1) >> 1, (ar - tr + 1) >> 1), axis=2).reshape(n_frames, n)
        im = np.stack(((ai + ti + 1) >> 1, (ai - ti + 1) >> 1), axis=2).reshape(n_frames, n)
        half = span
    return re, im


def _mel(re: np.ndarray, im: np.ndarray, t: FrontendTables, n_bins: int) -> np.ndarray:
    """Steps 3-4: power of bins 0..fft/2, Q15 mel weighting with a rounding >> 15; uint64 [F, n_mels]."""
    power = (re[:, :n_bins] ** 2 + im[:, :n_bins] ** 2).astype(np.uint64)
    return (power @ t.mel_matrix(n_bins) + np.uint64(1 << 14)) >> np.uint64(15)


def _highest_bit(v: np.ndarray) -> np.ndarray:
    """Position of the highest set bit of positive int64 values (binary search, like the C)."""
    pos = np.zeros_like(v)
    for bits in (32, 16, 8, 4, 2, 1):
        big = (v >> bits) != 0
        v = np.where(big, v >> bits, v)
        pos += big * bits
    return pos


def _log2_features(energy: np.ndarray, t: FrontendTables, config: FrontendConfig) -> np.ndarray:
    """Steps 5-6: Q(log_frac_bits) log2 via the table, minus the offset, saturated to int16."""
    e = np.maximum(energy, np.uint64(1)).astype(np.int64)  # E < 2^62: exact in int64
    p = _highest_bit(e)
    k = LOG_TABLE_BITS
    mant = np.where(p >= k, e >> np.maximum(p - k, 0), e << np.maximum(k - p, 0)) & ((1 << k) - 1)
    log = (p << config.log_frac_bits) + t.log2_table.astype(np.int64)[mant]
    return np.clip(log - config.feature_offset, -32768, 32767).astype(np.int16)


def _frames_to_features(frames: np.ndarray, config: FrontendConfig) -> np.ndarray:
    t = tables(config)
    re, im = _fft(_window(frames, t, config.fft), t)
    return _log2_features(_mel(re, im, t, config.n_bins), t, config)


def features(audio: np.ndarray, config: FrontendConfig = FrontendConfig()) -> np.ndarray:
    """int16 log-mel features [frames, n_mels] of a whole int16 clip (integer arithmetic only)."""
    audio = _check_audio(audio)
    n = config.frames(audio.size)
    if n == 0:
        return np.zeros((0, config.n_mels), dtype=np.int16)
    frames = np.lib.stride_tricks.sliding_window_view(audio, config.window)[::config.hop][:n]
    return _frames_to_features(frames, config)


def features_batch(clips: np.ndarray, config: FrontendConfig = FrontendConfig(), chunk: int = 256) -> np.ndarray:
    """Features of equal-length clips (n, samples) -> (n, frames, n_mels), computed in
    blocks of `chunk` clips (bounds memory); each row equals `features(clip)`."""
    clips = np.asarray(clips)
    if clips.dtype != np.int16 or clips.ndim != 2:
        raise ProtobrainError(f"clips must be int16 (n, samples), got {clips.dtype} {clips.shape}")
    n = config.frames(clips.shape[1])
    out = np.zeros((len(clips), n, config.n_mels), dtype=np.int16)
    if n == 0:
        return out
    for start in range(0, len(clips), chunk):
        block = clips[start:start + chunk]
        frames = np.lib.stride_tricks.sliding_window_view(block, config.window, axis=1)[:, ::config.hop][:, :n]
        out[start:start + len(block)] = _frames_to_features(
            frames.reshape(-1, config.window), config).reshape(len(block), n, config.n_mels)
    return out


def to_float(feats: np.ndarray, config: FrontendConfig = FrontendConfig()) -> np.ndarray:
    """What the nets see: log2 of mel energy in int16-sample units (feature / 2^log_frac_bits)."""
    return np.asarray(feats, dtype=np.float32) / np.float32(1 << config.log_frac_bits)


_QUANT_DTYPES = {"int8": np.int8, "int16": np.int16}
FEATURE_PRESHIFT = 16  # features enter the multiply as q * 2^16: 16 more bits before rounding
MIN_FEATURE_SHIFT, MAX_FEATURE_SHIFT = FEATURE_PRESHIFT - 31, FEATURE_PRESHIFT - 1


@dataclass(frozen=True)
class FeatureQuantizer:
    """Integer requantization of int16 features (Q(log_frac_bits)) into a net's quantized input.

    (multiplier, shift) = QuantizeMultiplier(1 / (2^log_frac_bits * scale)), and

        y = saturate(zero_point + MultiplyByQuantizedMultiplier(q * 2^16, multiplier, shift - 16))

    with TFLite's double-rounding Q31 arithmetic (protobrain.compiler.fixedpoint). The 2^16 pre-shift
    (|q| * 2^16 <= 2^31 fits int32) is there because TFLite's two roundings (the high multiply,
    then the right shift) are only exact enough for wide accumulators: applied to a bare int16
    with a right shift of 1 they would miss round(q * real) for a quarter of all values. So y
    equals round(q / 2^log_frac_bits / scale) + zero_point but within 2^-16 of a rounding tie.
    The C twin is <prefix>_quantize_s8 / _s16 of the generated frontend; a device needs no float."""

    multiplier: int
    shift: int
    zero_point: int
    dtype: str  # "int8" or "int16"

    def __post_init__(self):
        if self.dtype not in _QUANT_DTYPES:
            raise ProtobrainError(f"FeatureQuantizer.dtype must be int8 or int16, got {self.dtype!r}")
        if not 0 <= self.multiplier < 1 << 31 or not MIN_FEATURE_SHIFT <= self.shift <= MAX_FEATURE_SHIFT:
            raise ProtobrainError(f"FeatureQuantizer: multiplier {self.multiplier} / shift {self.shift} out of range "
                                  f"(0 <= multiplier < 2^31, {MIN_FEATURE_SHIFT} <= shift <= {MAX_FEATURE_SHIFT})")
        info = np.iinfo(_QUANT_DTYPES[self.dtype])
        if not info.min <= self.zero_point <= info.max:
            raise ProtobrainError(f"FeatureQuantizer: zero point {self.zero_point} outside {self.dtype}")

    @classmethod
    def for_input(cls, scale: float, zero_point: int, dtype: str,
                  config: FrontendConfig = FrontendConfig()) -> "FeatureQuantizer":
        """The quantizer into an input of this (scale, zero point); the scale is taken as
        float32, as a .tflite stores it."""
        s = float(np.float32(scale))
        if not (s > 0 and np.isfinite(s)):
            raise ProtobrainError(f"FeatureQuantizer: input scale must be positive and finite, got {scale}")
        multiplier, shift = quantize_multiplier(1.0 / (float(1 << config.log_frac_bits) * s))
        if shift > MAX_FEATURE_SHIFT:
            raise ProtobrainError(f"FeatureQuantizer: input scale {s} is too fine for Q{config.log_frac_bits} "
                                  f"features (every non-zero feature would saturate {dtype})")
        if shift < MIN_FEATURE_SHIFT:
            raise ProtobrainError(f"FeatureQuantizer: input scale {s} is too coarse for Q{config.log_frac_bits} "
                                  "features (every feature would quantize to the zero point)")
        return cls(int(multiplier), int(shift), int(zero_point), dtype)

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        q = np.asarray(feats)
        if q.dtype != np.int16:
            raise ProtobrainError(f"features must be the frontend's int16 values, got {q.dtype}")
        info = np.iinfo(_QUANT_DTYPES[self.dtype])
        x = q.astype(np.int64) << FEATURE_PRESHIFT
        y = mul_by_quantized_mult_array(x, self.multiplier, self.shift - FEATURE_PRESHIFT) + self.zero_point
        return np.clip(y, info.min, info.max).astype(_QUANT_DTYPES[self.dtype])


class StreamingFrontend:
    """Features of audio arriving in chunks; any chunking gives exactly `features(clip)`."""

    def __init__(self, config: FrontendConfig = FrontendConfig()):
        self.config = config
        self.reset()

    def reset(self) -> None:
        self._tail = np.zeros(0, dtype=np.int16)  # starts at the next frame's first sample

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Frames completed by this chunk, [k, n_mels] int16 (k may be 0)."""
        buf = np.concatenate((self._tail, _check_audio(chunk)))
        n = self.config.frames(buf.size)
        self._tail = buf[n * self.config.hop:].copy()
        return features(buf, self.config) if n else np.zeros((0, self.config.n_mels), dtype=np.int16)


# ---------------------------------------------------------------- generated C


def render_texts(config: FrontendConfig = FrontendConfig(), prefix: str = "pb_frontend") -> dict[str, str]:
    """The generated header and source as {filename: text}."""
    if not prefix.isidentifier():
        raise ProtobrainError(f"prefix '{prefix}' is not a C identifier; use letters, digits and _")
    t = tables(config)
    ctx = {
        "version": __version__,
        "prefix": prefix,
        "PREFIX": prefix.upper(),
        "c": config,
        "fft_log2": config.fft.bit_length() - 1,
        "guard_bits": GUARD_BITS,
        "window_shift": _WINDOW_SHIFT,
        "log_table_bits": LOG_TABLE_BITS,
        "n_weights": int(t.mel_weights.size),
        "stack_bytes": 8 * config.fft,
        "edges": ", ".join(f"{f:.0f}" for f in mel_edges(config)[1:-1]),
        "window": c_array_body(t.window, "int16_t"),
        "cos": c_array_body(t.cos, "int16_t"),
        "sin": c_array_body(t.sin, "int16_t"),
        "mel_start": c_array_body(t.mel_start, "uint16_t"),
        "mel_len": c_array_body(t.mel_len, "uint16_t"),
        "mel_weights": c_array_body(t.mel_weights, "uint16_t"),
        "log2_table": c_array_body(t.log2_table, "uint16_t"),
    }
    return {f"{prefix}.{ext}": env().get_template(f"frontend/pb_frontend.{ext}.j2").render(ctx) for ext in ("h", "c")}


def render_c(config: FrontendConfig = FrontendConfig(), out_dir: str | Path = ".",
             prefix: str = "pb_frontend") -> list[Path]:
    """Write <prefix>.h and <prefix>.c into out_dir; returns their paths."""
    texts = render_texts(config, prefix)  # render both before writing either
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in texts.items():
        (out_dir / name).write_text(text)
        paths.append(out_dir / name)
    return paths


class HostFrontend:
    """The generated C compiled for this machine, called through ctypes."""

    def __init__(self, lib_path: Path, config: FrontendConfig):
        self.config = config
        self.lib_path = lib_path
        self._lib = ctypes.CDLL(str(lib_path))

        class State(ctypes.Structure):  # mirrors pb_frontend_state
            _fields_ = [("tail", ctypes.c_int16 * config.window), ("n_tail", ctypes.c_int)]

        self._state = State()
        ptr, n = ctypes.c_void_p, ctypes.c_int
        i32 = ctypes.c_int32
        for name, args in (("compute", [ptr, n, ptr, n]), ("push", [ptr, ptr, n, ptr, n]),
                           ("frame", [ptr, ptr]), ("reset", [ptr]), ("quantize_s8", [ptr, n, i32, i32, i32, ptr]),
                           ("quantize_s16", [ptr, n, i32, i32, i32, ptr])):
            fn = getattr(self._lib, f"pb_frontend_{name}")
            fn.argtypes = args
            fn.restype = ctypes.c_int if name in ("compute", "push") else None
        self.reset()

    def _out(self, frames: int) -> np.ndarray:
        return np.zeros((frames, self.config.n_mels), dtype=np.int16)

    def compute(self, audio: np.ndarray) -> np.ndarray:
        """pb_frontend_compute on a whole clip."""
        audio = np.ascontiguousarray(_check_audio(audio))
        out = self._out(self.config.frames(audio.size))
        rc = self._lib.pb_frontend_compute(audio.ctypes.data, audio.size, out.ctypes.data, out.shape[0])
        if rc != out.shape[0]:
            raise RuntimeError(f"pb_frontend_compute returned {rc}, expected {out.shape[0]} frames")
        return out

    def frame(self, samples: np.ndarray) -> np.ndarray:
        """pb_frontend_frame on exactly one window of samples."""
        samples = np.ascontiguousarray(_check_audio(samples))
        if samples.size != self.config.window:
            raise ValueError(f"a frame is {self.config.window} samples, got {samples.size}")
        out = np.zeros(self.config.n_mels, dtype=np.int16)
        self._lib.pb_frontend_frame(samples.ctypes.data, out.ctypes.data)
        return out

    def reset(self) -> None:
        self._lib.pb_frontend_reset(ctypes.byref(self._state))

    def quantize(self, feats: np.ndarray, fq: FeatureQuantizer) -> np.ndarray:
        """pb_frontend_quantize_s8 / _s16 on int16 features of any shape (same shape out)."""
        q = np.asarray(feats)
        if q.dtype != np.int16:
            raise ProtobrainError(f"features must be the frontend's int16 values, got {q.dtype}")
        q = np.ascontiguousarray(q)
        out = np.zeros(q.shape, _QUANT_DTYPES[fq.dtype])
        fn = self._lib.pb_frontend_quantize_s8 if fq.dtype == "int8" else self._lib.pb_frontend_quantize_s16
        fn(q.ctypes.data, q.size, fq.multiplier, fq.shift, fq.zero_point, out.ctypes.data)
        return out

    @property
    def n_tail(self) -> int:
        return self._state.n_tail

    def push(self, chunk: np.ndarray, max_frames: int | None = None) -> int | np.ndarray:
        """pb_frontend_push; returns the frames, or the C's return code if it is negative."""
        chunk = np.ascontiguousarray(_check_audio(chunk))
        room = self.config.frames(self.n_tail + chunk.size) if max_frames is None else max_frames
        out = self._out(room)
        rc = self._lib.pb_frontend_push(ctypes.byref(self._state), chunk.ctypes.data, chunk.size,
                                        out.ctypes.data, room)
        return rc if rc < 0 else out[:rc]

    def stream(self, chunks) -> np.ndarray:
        """Reset, push every chunk and return all frames, [frames, n_mels]."""
        self.reset()
        return np.concatenate([self._out(0)] + [self.push(c) for c in chunks])


def build_host(config: FrontendConfig = FrontendConfig()) -> HostFrontend:
    """Compile the generated C into a shared library (cached by content hash) and load it."""
    lib = compile_sources("frontend", render_texts(config), what="generated frontend C")
    return HostFrontend(lib, config)
