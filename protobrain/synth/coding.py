"""How the synthesizer codes numbers: mu-law sample classes, and float values to integers
rounded half away from zero (the device's and the converter's rounding)."""

from __future__ import annotations

import math

import numpy as np


def mulaw_encode(x, classes: int = 256) -> np.ndarray:
    """Audio in [-1, 1] to class indices 0 .. classes-1."""
    mu = classes - 1
    x = np.clip(np.asarray(x, np.float64), -1.0, 1.0)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / math.log1p(mu)
    return np.clip(np.floor((y + 1.0) / 2.0 * mu + 0.5), 0, mu).astype(np.int64)


def mulaw_decode(c, classes: int = 256) -> np.ndarray:
    """Class indices to audio in [-1, 1] (float64)."""
    mu = classes - 1
    y = 2.0 * np.asarray(c, np.float64) / mu - 1.0
    return np.sign(y) * ((1.0 + mu) ** np.abs(y) - 1.0) / mu


def quantize(values, scale: float, zero_point: int, dtype) -> np.ndarray:
    """round(v / scale) + zero point, halves away from zero, saturated to dtype."""
    info = np.iinfo(dtype)
    v = np.asarray(values, np.float64) / float(np.float32(scale))
    q = np.sign(v) * np.floor(np.abs(v) + 0.5) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)
