"""Background noise and augmentation for keyword clips (protobrain.train.espeak's 8 kHz
int16 clips), so that a net trained on clean synthetic speech copes with real rooms:
`noise` makes noise-only clips (white, pink and brown noise mixed at random, sometimes
mains hum), `augment` shifts clips in time and mixes noise in at a random SNR.

May import numpy and train.espeak (for the clips' sample rate).
"""

from __future__ import annotations

import numpy as np

from protobrain.train.espeak import SAMPLE_RATE

_CHUNK = 512    # rows per vectorised block (bounds memory for large sets)


def _unit_noise(n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """(n, length) float64 noise with unit RMS per row: a random mix of white, pink (1/f)
    and brown (1/f^2) noise, made by shaping the spectrum of white noise, plus mains hum
    (50 or 60 Hz and harmonics) in about a third of the rows."""
    freqs = np.fft.rfftfreq(length, 1.0 / SAMPLE_RATE)
    f = np.maximum(freqs, 20.0) / 1000.0              # below 20 Hz: flat, no DC blow-up
    shapes = np.stack([np.ones_like(f), 1.0 / np.sqrt(f), 1.0 / f])    # amplitude: white, pink, brown
    shapes /= np.sqrt(np.mean(shapes ** 2, axis=1, keepdims=True))     # equal power per colour
    shapes[:, 0] = 0.0                                                 # no DC

    weights = rng.random((n, 3)) ** 2                  # squared: often one colour dominates
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
    spectrum = np.fft.rfft(rng.standard_normal((n, length)), axis=1)
    out = np.fft.irfft(spectrum * (weights @ shapes), n=length, axis=1)
    out /= np.maximum(np.sqrt(np.mean(out ** 2, axis=1, keepdims=True)), 1e-12)

    hum_on = rng.random(n) < 0.35
    hum_level = rng.uniform(0.2, 3.0, n) * hum_on     # relative to the noise RMS
    mains = rng.choice(np.array([50.0, 60.0]), size=n)
    t = np.arange(length) / SAMPLE_RATE
    harmonics = np.arange(1, 6)
    amps = rng.random((n, len(harmonics))) / harmonics          # fall off with the harmonic number
    phases = rng.uniform(0, 2 * np.pi, (n, len(harmonics)))
    if hum_on.any():
        hum = np.zeros((n, length))
        for k, h in enumerate(harmonics):
            hum += amps[:, k:k + 1] * np.sin(2 * np.pi * h * mains[:, None] * t[None, :] + phases[:, k:k + 1])
        hum /= np.maximum(np.sqrt(np.mean(hum ** 2, axis=1, keepdims=True)), 1e-12)
        out += hum_level[:, None] * hum
        out /= np.maximum(np.sqrt(np.mean(out ** 2, axis=1, keepdims=True)), 1e-12)
    return out


def noise(n: int, length: int, rng) -> np.ndarray:
    """(n, length) int16 background noise, for the "silence" class and for augmentation:
    white, pink and brown noise mixed at random and sometimes mains hum, each row scaled
    to a peak drawn log-uniformly from 50 (barely audible) to 6000 (loud)."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    out = np.zeros((n, length), dtype=np.int16)
    peaks = np.exp(rng.uniform(np.log(50.0), np.log(6000.0), n))
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        x = _unit_noise(stop - start, length, rng)
        x *= (peaks[start:stop] / np.maximum(np.abs(x).max(axis=1), 1e-12))[:, None]
        out[start:stop] = np.clip(np.rint(x), -32768, 32767).astype(np.int16)
    return out


def _shift_rows(clips: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Each row moved right by its shift (left if negative), zero filled."""
    n, length = clips.shape
    src = np.arange(length)[None, :] - shifts[:, None]
    valid = (src >= 0) & (src < length)
    picked = np.take_along_axis(clips, np.clip(src, 0, length - 1), axis=1)
    return np.where(valid, picked, 0).astype(clips.dtype)


def _speech_rms(clips: np.ndarray) -> np.ndarray:
    """RMS over each row's span from first to last nonzero sample (0 for silent rows), so
    that a short word padded with silence is measured as the word, not as the padding."""
    x = clips.astype(np.float64)
    nz = clips != 0
    any_nz = nz.any(axis=1)
    first = np.argmax(nz, axis=1)
    last = clips.shape[1] - 1 - np.argmax(nz[:, ::-1], axis=1)
    span = np.where(any_nz, last - first + 1, 1)
    return np.where(any_nz, np.sqrt(np.sum(x * x, axis=1) / span), 0.0)


def augment(clips: np.ndarray, rng, max_shift: int = 1600, snr_db=(5, 30), noise_prob: float = 0.8) -> np.ndarray:
    """New int16 clips: each of `clips` (n, length) shifted in time by a random offset in
    [-max_shift, max_shift] samples (zero filled), then, with probability `noise_prob`,
    background noise (`noise` colours and hum) added at a signal-to-noise ratio drawn
    uniformly from `snr_db` relative to the RMS of the spoken part. Silent clips get
    quiet noise (RMS 3..60). Deterministic for a seeded `rng`."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    clips = np.asarray(clips)
    if clips.ndim != 2:
        raise ValueError(f"augment: clips must be (n, length), got shape {clips.shape}")
    n, length = clips.shape
    max_shift = max(0, int(max_shift))
    shifts = rng.integers(-max_shift, max_shift + 1, size=n)
    noisy = rng.random(n) < noise_prob
    snr = rng.uniform(float(snr_db[0]), float(snr_db[1]), size=n)
    quiet = np.exp(rng.uniform(np.log(3.0), np.log(60.0), size=n))

    out = np.empty((n, length), dtype=np.int16)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        block = _shift_rows(clips[start:stop].astype(np.int16), shifts[start:stop])
        rows = np.flatnonzero(noisy[start:stop])
        if rows.size:
            rms = _speech_rms(clips[start:stop][rows])
            target = np.where(rms > 1.0, rms / 10.0 ** (snr[start:stop][rows] / 20.0), quiet[start:stop][rows])
            mixed = block[rows].astype(np.float64) + _unit_noise(rows.size, length, rng) * target[:, None]
            block[rows] = np.clip(np.rint(mixed), -32768, 32767).astype(np.int16)
        out[start:stop] = block
    return out
