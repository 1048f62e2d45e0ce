"""The synth vocoder's training pipeline on a tiny configuration: segments, training,
export, stored keyword frames and generation with the fused C step. (Whether the full-size
net's keywords are recognizable is measured by `make eval`, not here: it trains for ~20 min.)"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("tensorflow", reason="training needs the train extra: pip install 'protobrain[train]'")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng not installed (make setup installs it)", allow_module_level=True)

from protobrain.cli import main  # noqa: E402
from dataclasses import replace  # noqa: E402

from protobrain.train.synth import (FRONTEND, SMALL, Segments, frames_of, keyword_frames, say,  # noqa: E402
                                    train_synth, training_clips)
from protobrain.wavenet import mulaw_decode  # noqa: E402

TINY = replace(SMALL, progress=False)


def test_segments_are_teacher_forced_and_aligned():
    clips = training_clips(TINY).clips
    seg = Segments(clips, TINY)
    a, c, y = seg.batch(np.random.default_rng(0))
    assert a.shape == (4, 800, 1) and c.shape == (4, 800, 20) and y.shape == (4, 800)
    # the input at t is the decoded target of t - 1
    assert np.allclose(a[:, 1:, 0], mulaw_decode(y[:, :-1]).astype(np.float32))
    # every sample's conditioning is one of its clip's frames, constant over a hop
    frames = frames_of(clips)
    for b in range(4):
        rows = {tuple(r) for r in c[b]}
        assert len(rows) <= 800 // FRONTEND.hop + 1
        assert any(np.array_equal(c[b, 0], f) for f in frames.reshape(-1, 20))


def test_keyword_frames_are_a_few_hundred_bytes():
    frames = keyword_frames(TINY, ("yes", "stop"))
    for w, f in frames.items():
        assert f.dtype == np.int16 and f.shape[1] == 20
        assert 100 <= f.size <= 1000, f"{w}: {f.size} values"


def test_tiny_vocoder_learns_and_speaks_deterministically(tmp_path):
    result = train_synth(TINY, tmp_path / "synth")
    info = json.loads((tmp_path / "synth" / "run.json").read_text())
    assert info["loss_last"] < info["loss_first"] - 0.3, "training did not reduce the loss"
    for f in ("vocoder.keras", "step.tflite", "keywords.npz"):
        assert (tmp_path / "synth" / f).stat().st_size > 0
    a = say(result.path, ["yes", "no"], seed=3)
    b = say(result.path, ["yes", "no"], seed=3)
    stored = dict(np.load(result.path / "keywords.npz"))
    for w in ("yes", "no"):
        assert a[w].dtype == np.int16 and len(a[w]) == len(stored[w]) * FRONTEND.hop
        assert np.array_equal(a[w], b[w])
    assert not np.array_equal(say(result.path, ["yes"], seed=4)["yes"], a["yes"])


def test_synth_cli_reports_and_writes_wavs(tmp_path):
    r = CliRunner().invoke(main, ["train", "synth", "--size", "small", "--steps", "5", "-o", str(tmp_path / "s"), "--quiet"])
    assert r.exit_code == 0, r.output
    wavs = sorted(p.name for p in (tmp_path / "s" / "say").glob("*.wav"))
    assert wavs == ["no.wav", "up.wav", "yes.wav"]
    assert "MACs per sample" in r.output
