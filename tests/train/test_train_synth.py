"""The WaveNet vocoder's training pipeline on a tiny configuration: segments, training,
export (step and cond models), stored keyword frames and generation with the fused C step,
float-conditioned and integer-only. (Whether the full-size
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

from dataclasses import replace  # noqa: E402

from protobrain.cli.main import main
from protobrain.run.host import compile_bytes
from protobrain.synth.coding import mulaw_decode
from protobrain.synth.wavenet import cond_feature_quantizer, cond_frame, cond_output_order, fuse
from protobrain.train.synth import (
    FRONTEND,
    SMALL_WAVENET,
    Segments,
    _run_config,
    ensure_cond,
    frames_of,
    keyword_frames,
    say,
    say_integer,
    train_synth,
    training_clips,
)
from protobrain.train.wavenet_nets import cond_projection

TINY = replace(SMALL_WAVENET, progress=False)


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


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny trained run, shared (training takes most of this module's time)."""
    return train_synth(TINY, tmp_path_factory.mktemp("run") / "synth")


def test_tiny_vocoder_learns_and_speaks_deterministically(run):
    info = json.loads((run.path / "run.json").read_text())
    assert info["loss_last"] < info["loss_first"] - 0.3, "training did not reduce the loss"
    for f in ("vocoder.keras", "step.tflite", "cond.tflite", "keywords.npz"):
        assert (run.path / f).stat().st_size > 0
    a = say(run.path, ["yes", "no"], seed=3)
    b = say(run.path, ["yes", "no"], seed=3)
    stored = dict(np.load(run.path / "keywords.npz"))
    for w in ("yes", "no"):
        assert a[w].dtype == np.int16 and len(a[w]) == len(stored[w]) * FRONTEND.hop
        assert np.array_equal(a[w], b[w])
    assert not np.array_equal(say(run.path, ["yes"], seed=4)["yes"], a["yes"])


def _integer_and_float_cond(path):
    """cond_q of every stored keyword frame: integer path (generated C) and float projection."""
    from tensorflow import keras

    _, vocoder = _run_config(path)
    wcfg = vocoder.config
    step, cond = (path / "step.tflite").read_bytes(), (path / "cond.tflite").read_bytes()
    model = fuse(wcfg, step, name="synth_check")
    net, fq = compile_bytes(cond, name="synth_cond_check"), cond_feature_quantizer(cond, FRONTEND)
    order = cond_output_order(wcfg, cond, step)
    feats = np.concatenate(list(np.load(path / "keywords.npz").values()))
    got = np.array([cond_frame(net, f, fq, order) for f in feats])
    vocoder = keras.models.load_model(path / "vocoder.keras", compile=False)
    return got, model.quantize_cond(cond_projection(wcfg, vocoder, feats / 256.0))


def test_cond_model_of_a_trained_run_matches_the_float_projection(run):
    """The integer conditioning of the stored keywords is within a fraction of an LSB of
    the float projection on average (measured on TINY: about 0.3 LSB, max 2)."""
    got, want = _integer_and_float_cond(run.path)
    diff = np.abs(got.astype(np.int64) - want)
    assert diff.mean() < 0.6 and diff.max() <= 3, (diff.mean(), diff.max())


def test_say_integer_is_deterministic(run):
    a = say_integer(run.path, ["yes", "no"], seed=3)
    b = say_integer(run.path, ["yes", "no"], seed=3)
    stored = dict(np.load(run.path / "keywords.npz"))
    for w in ("yes", "no"):
        assert a[w].dtype == np.int16 and len(a[w]) == len(stored[w]) * FRONTEND.hop
        assert np.array_equal(a[w], b[w])
    assert not np.array_equal(say_integer(run.path, ["yes"], seed=4)["yes"], a["yes"])
    assert sorted(say_integer(run.path, seed=3)) == sorted(stored)


def test_ensure_cond_builds_it_for_older_runs(run, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(run.path, old)
    (old / "cond.tflite").unlink()  # a run made before train_synth wrote it
    path = ensure_cond(old)
    assert path == old / "cond.tflite" and path.stat().st_size > 0
    stamp = path.stat().st_mtime_ns
    assert ensure_cond(old) == path and path.stat().st_mtime_ns == stamp  # built once
    got, want = _integer_and_float_cond(old)
    assert np.abs(got.astype(np.int64) - want).mean() < 0.6
    audio = say_integer(old, ["yes"], seed=3)["yes"]
    assert audio.dtype == np.int16 and len(audio) == len(np.load(old / "keywords.npz")["yes"]) * FRONTEND.hop


def test_synth_cli_reports_and_writes_wavs(tmp_path):
    r = CliRunner().invoke(main, ["train", "synth", "--size", "small", "--architecture", "wavenet", "--steps", "5",
                                  "-o", str(tmp_path / "s"), "--quiet"])
    assert r.exit_code == 0, r.output
    wavs = sorted(p.name for p in (tmp_path / "s" / "say").glob("*.wav"))
    assert wavs == ["no.wav", "up.wav", "yes.wav"]
    assert "MACs per sample" in r.output
