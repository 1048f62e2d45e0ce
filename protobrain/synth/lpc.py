"""Linear prediction for the window-MLP vocoder: the spectral envelope the net does not
have to learn.

Each 20 ms frame carries `order` prediction coefficients a_1..a_order (Q12 int16, A(z) =
1 + sum a_k z^-k), computed on the host from the audio the frame describes (analysis):
for a stored keyword when the bundle is built, for any text when `demo speak` streams it.
Sample by sample, the device predicts

    p_t = clamp16((-(sum_k a_k s_{t-k}) + 2^11) >> 12)        (int64 sum, arithmetic shift)

and the net only chooses the excitation e_t (a mu-law class); the sample is
s_t = clamp16(p_t + pcm(e_t)). This is LPCNet's split: the all-pole filter gives the
formants for free, so a net small enough for a Cortex-M4 in real time can still be
understood. `predict` and `encode` are the exact twins of the generated C (templates/fused/
step.c.j2), used by training, the TFLite Micro stepper and the tests.

May import synth.coding only.
"""

from __future__ import annotations

import numpy as np

from protobrain.synth.coding import mulaw_encode

Q = 12                 # coefficient fraction bits
WINDOW = 320           # analysis window: 40 ms around the frame's 20 ms
LAG_WINDOW_HZ = 60.0   # Gaussian lag window (smooths the envelope, keeps the filter stable)
BANDWIDTH = 0.97       # a_k *= BANDWIDTH^k: widens the formants a little, for the same reason


def analyse(audio, n_frames: int, hop: int, order: int, rate: int = 8000) -> np.ndarray:
    """(n_frames, order) int16 Q12 coefficients of int16 `audio`; frame k covers samples
    k*hop .. (k+1)*hop - 1 and is analysed over WINDOW samples centred on them."""
    x = np.asarray(audio, np.float64) / 32768.0
    win = np.hanning(WINDOW)
    lag = np.exp(-0.5 * (2 * np.pi * LAG_WINDOW_HZ / rate * np.arange(order + 1)) ** 2)
    expand = BANDWIDTH ** np.arange(1, order + 1)
    out = np.zeros((n_frames, order), np.int16)
    for k in range(n_frames):
        start = k * hop + hop // 2 - WINDOW // 2
        seg = np.zeros(WINDOW)
        lo, hi = max(start, 0), min(start + WINDOW, len(x))
        if hi > lo:
            seg[lo - start:hi - start] = x[lo:hi]
        seg *= win
        r = np.array([seg[:WINDOW - j] @ seg[j:] for j in range(order + 1)]) * lag
        if r[0] <= 1e-9:
            continue  # silence: no prediction
        r[0] *= 1.0001  # a white-noise floor of -40 dB keeps the recursion well conditioned
        a, err = np.zeros(order + 1), r[0]
        a[0] = 1.0
        for i in range(1, order + 1):  # Levinson-Durbin
            k_i = -(r[i] + a[1:i] @ r[i - 1:0:-1]) / err
            a[1:i + 1] += k_i * np.concatenate([a[i - 1:0:-1], [1.0]])
            err *= 1.0 - k_i * k_i
        out[k] = np.clip(np.round(a[1:] * expand * (1 << Q)), -32768, 32767)
    return out


def predict(history, coefficients) -> int:
    """p_t from the last samples (newest first, `order` of them) and a frame's coefficients."""
    acc = -int(np.dot(np.asarray(coefficients, np.int64), np.asarray(history, np.int64)))
    return int(np.clip((acc + (1 << (Q - 1))) >> Q, -32768, 32767))


def predict_all(audio, coefficients, hop: int) -> np.ndarray:
    """p_t for every sample of int16 audio (teacher forcing: the true past samples), frame
    k's coefficients for its hop samples; int64."""
    s = np.asarray(audio, np.int64)
    order = coefficients.shape[1]
    padded = np.concatenate([np.zeros(order, np.int64), s])
    t = np.arange(len(s))
    hist = np.stack([padded[order + t - k] for k in range(1, order + 1)], axis=1)
    a = np.asarray(coefficients, np.int64)[np.minimum(t // hop, len(coefficients) - 1)]
    return np.clip((-(hist * a).sum(axis=1) + (1 << (Q - 1))) >> Q, -32768, 32767)


def thresholds(classes: int) -> np.ndarray:
    """int16 decision thresholds of the mu-law encoder: code(x) = the number of thresholds
    <= x, equal to mulaw_encode(x / 32768) for every int16 x."""
    x = np.arange(-32768, 32768)
    codes = mulaw_encode(x / 32768.0, classes)
    steps = np.flatnonzero(np.diff(codes)) + 1
    if len(steps) != classes - 1 or np.any(np.diff(codes) > 1):
        raise ValueError(f"mu-law with {classes} classes does not reach every code on int16 input")
    return x[steps].astype(np.int16)


def encode(x, table: np.ndarray) -> np.ndarray:
    """mu-law codes of int16 values by the threshold table (the device's search)."""
    return np.searchsorted(table, np.asarray(x), side="right")
