"""Background noise and augmentation of keyword clips: levels, colours, shifts, SNR."""

from __future__ import annotations

import numpy as np

from protobrain.train import noise


def test_noise_levels():
    x = noise.noise(200, 8000, np.random.default_rng(0))
    assert x.shape == (200, 8000) and x.dtype == np.int16
    peaks = np.abs(x.astype(np.int32)).max(axis=1)
    assert peaks.min() >= 40 and peaks.max() <= 6100
    assert peaks.max() / peaks.min() > 20              # very quiet to loud
    assert np.abs(x.astype(np.float64).mean(axis=1)).max() < 0.5 * peaks.max()
    assert np.array_equal(x, noise.noise(200, 8000, np.random.default_rng(0)))
    # spectra differ from row to row (colours mixed at random)
    spec = np.abs(np.fft.rfft(x.astype(np.float64), axis=1)) ** 2
    low = spec[:, 1:200].sum(axis=1) / spec.sum(axis=1)   # energy below 200 Hz
    assert low.min() < 0.1 and low.max() > 0.5


def _impulses(n=64, length=8000):
    clips = np.zeros((n, length), np.int16)
    clips[:, length // 2] = 10000
    return clips


def test_augment_shape_dtype_determinism_and_change():
    clips = _impulses()
    clips[:, 3000:5000] = (np.sin(np.arange(2000) * 0.3) * 8000).astype(np.int16)
    before = clips.copy()
    a = noise.augment(clips, np.random.default_rng(5))
    b = noise.augment(clips, np.random.default_rng(5))
    assert a.shape == clips.shape and a.dtype == np.int16
    assert np.array_equal(a, b)
    assert not np.array_equal(a, clips)
    assert (a != clips).any(axis=1).mean() > 0.9
    assert np.array_equal(clips, before)                     # input untouched


def test_augment_shift_is_bounded():
    clips = _impulses()
    out = noise.augment(clips, np.random.default_rng(1), max_shift=300, noise_prob=0.0)
    where = np.argmax(out, axis=1)
    assert (out.max(axis=1) == 10000).all()                 # nothing lost, nothing added
    assert (np.count_nonzero(out, axis=1) == 1).all()
    shift = where - 4000
    assert np.abs(shift).max() <= 300 and len(np.unique(shift)) > 10
    # shifted past the end: zero filled, not wrapped
    edge = np.zeros((16, 100), np.int16)
    edge[:, 0] = 1
    moved = noise.augment(edge, np.random.default_rng(2), max_shift=50, noise_prob=0.0)
    assert (moved.sum(axis=1) <= 1).all() and (moved.sum(axis=1) == 0).any()


def test_augment_noise_follows_snr():
    rng = np.random.default_rng(3)
    clips = (np.sin(np.arange(8000) * 0.2)[None, :] * 5000 * np.ones((32, 1))).astype(np.int16)
    out = noise.augment(clips, rng, max_shift=0, snr_db=(20, 20), noise_prob=1.0)
    added = out.astype(np.float64) - clips
    signal_rms = np.sqrt(np.mean(clips.astype(np.float64) ** 2, axis=1))
    snr = 20 * np.log10(signal_rms / np.sqrt(np.mean(added ** 2, axis=1)))
    assert np.allclose(snr, 20, atol=0.5)
    silent = noise.augment(np.zeros((32, 8000), np.int16), rng, max_shift=0, noise_prob=1.0)
    rms = np.sqrt(np.mean(silent.astype(np.float64) ** 2, axis=1))
    assert (rms > 1).all() and (rms < 100).all()
