"""Host-side logic of the demos: detections over time, what a clip was heard as, and the
files the demos read and write."""

from __future__ import annotations

import numpy as np
import pytest

from protobrain.bundle_cli import heard_as
from protobrain.demo import DemoError, Listened, detections, read_image, read_wav, write_wav

CLASSES = ["silence", "unknown", "yes", "no"]


def _rows(*tops):
    """One score row per (class index, probability); the rest shared evenly."""
    rows = []
    for k, p in tops:
        row = np.full(len(CLASSES), (1 - p) / (len(CLASSES) - 1))
        row[k] = p
        rows.append(row)
    return np.array(rows)


def test_detections_merge_a_run_and_keep_its_best_moment():
    times = np.arange(7) * 0.1
    scores = _rows((0, 0.9), (2, 0.7), (2, 0.95), (2, 0.8), (1, 0.9), (3, 0.65), (3, 0.5))
    found = detections(times, scores, CLASSES, threshold=0.6)
    assert [(w, round(t, 1)) for t, w, _ in found] == [("yes", 0.2), ("no", 0.5)]
    assert found[0][2] == pytest.approx(0.95)


def test_detections_ignore_silence_unknown_and_weak_scores():
    times = np.arange(3) * 0.1
    assert detections(times, _rows((0, 0.99), (1, 0.99), (2, 0.4)), CLASSES, threshold=0.6) == []


def test_heard_as_takes_the_best_window_but_never_silence():
    heard = Listened(np.arange(3) * 0.1, _rows((0, 0.99), (3, 0.6), (1, 0.5)), [], CLASSES, 0, "instructions")
    assert heard_as(heard) == ("no", pytest.approx(0.6))
    empty = Listened(np.zeros(0), np.zeros((0, 4)), [], CLASSES, 0, "instructions")
    assert heard_as(empty) == ("nothing", 0.0)


def test_wav_round_trip_and_resampling(tmp_path):
    pcm = (1000 * np.sin(np.arange(1600) / 5)).astype(np.int16)
    path = write_wav(tmp_path / "a.wav", pcm, 8000)
    assert np.array_equal(read_wav(path, 8000), pcm)
    path16 = write_wav(tmp_path / "b.wav", np.repeat(pcm, 2), 16000)
    assert abs(len(read_wav(path16, 8000)) - len(pcm)) <= 1


def test_unreadable_inputs_are_one_line_errors(tmp_path):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(DemoError, match="not a readable image"):
        read_image(bad, [8, 8, 1])
    wav = tmp_path / "x.wav"
    wav.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(DemoError):
        read_wav(wav, 8000)


def test_image_is_resized_to_the_net_input(tmp_path):
    from PIL import Image

    path = tmp_path / "big.png"
    Image.fromarray(np.full((32, 32, 3), 255, np.uint8)).save(path)
    x = read_image(path, [8, 8, 1])
    assert x.shape == (8, 8, 1) and np.allclose(x, 1.0)
