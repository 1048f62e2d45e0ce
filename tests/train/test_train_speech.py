"""Keyword spotting: espeak data split, training on espeak keywords (small configuration),
WAV-folder training and its errors. Accuracy is the int8 net's, in the generated C."""

from __future__ import annotations

import shutil
import wave

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("tensorflow", reason="training needs the train extra: pip install 'protobrain[train]'")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng not installed (make setup installs it)", allow_module_level=True)

from protobrain.audio.frontend import FrontendConfig, build_host
from protobrain.cli.main import main
from protobrain.train import espeak
from protobrain.train.classifier import TrainConfig
from protobrain.train.data import DataError
from protobrain.train.run import Run
from protobrain.train.speech import SMALL, espeak_clips, espeak_dataset, folder_dataset, train_speech


@pytest.fixture(scope="module")
def small_data():
    return espeak_dataset(SMALL, seed=0, progress=False)


def test_held_out_split_shares_no_voice_kind_with_training():
    clips, labels = espeak_clips(SMALL, 0, False)
    test = espeak.held_out(clips)
    spoken = clips.words != "silence"
    # every held-out spoken clip is a held-out accent or family; no training clip is
    assert np.all(np.isin(clips.accents[test & spoken], espeak.TEST_ACCENTS)
                  | np.isin(clips.families[test & spoken], espeak.TEST_FAMILIES))
    train = ~test & spoken
    assert not np.isin(clips.accents[train], espeak.TEST_ACCENTS).any()
    assert not np.isin(clips.families[train], espeak.TEST_FAMILIES).any()
    assert test[spoken].sum() > 0.2 * spoken.sum()
    # labels: silence, unknown, then the keywords
    assert sorted(set(labels.tolist())) == list(range(2 + len(SMALL.keywords)))


def test_features_are_the_device_frontend(small_data):
    """What the net is trained on is exactly what the generated C frontend computes."""
    clips, _ = espeak_clips(SMALL, 0, False)
    host = build_host(FrontendConfig())
    k = int(np.flatnonzero(clips.words == "yes")[0])
    c_features = host.compute(clips.clips[k]).astype(np.float32) / (1 << FrontendConfig().log_frac_bits)
    from protobrain.train.speech import clip_features

    assert np.array_equal(clip_features(clips.clips[k:k + 1])[0, ..., 0], c_features)
    assert small_data.train.input_shape == (49, 20, 1)


def test_small_keyword_spotter_generalises_to_held_out_voices(small_data, tmp_path):
    result = train_speech(small_data, TrainConfig(width=0.5, epochs=30, progress=False), tmp_path / "speech")
    held_kw = result.scores["test-keywords"]
    assert held_kw.quant_acc >= 0.7, f"held-out keyword accuracy {held_kw.quant_acc:.1%}"
    assert abs(held_kw.quant_acc - held_kw.float_acc) <= 0.03
    assert result.scores["in-distribution"].quant_acc >= 0.8
    info = Run.open(tmp_path / "speech").info
    assert info["classes"] == ["silence", "unknown", "yes", "no", "up", "down"]
    assert info["frontend"]["sample_rate"] == 8000


def _write_wav(path, samples, rate):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())


def _tone_folders(root, rate=16000, n=16, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.6 * rate)) / rate
    for name, (lo, hi) in {"low": (200, 400), "high": (1800, 2600)}.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            f = rng.uniform(lo, hi)
            _write_wav(root / name / f"{i}.wav", 8000 * np.sin(2 * np.pi * f * t) + rng.normal(0, 300, t.size), rate)


def test_wav_folder_is_resampled_and_trains(tmp_path):
    _tone_folders(tmp_path / "data", n=40)
    data = folder_dataset(tmp_path / "data", augment_copies=1)
    assert data.train.classes == ["high", "low"] and data.train.input_shape == (49, 20, 1)
    r = CliRunner().invoke(main, ["train", "speech", "--data", str(tmp_path / "data"), "--width", "0.25",
                                  "--epochs", "40", "-o", str(tmp_path / "run"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert Run.open(tmp_path / "run").info["accuracy"]["test"]["int8"] >= 0.85


@pytest.mark.parametrize("case, message", [
    ("mixed_rates", "resample all files to one rate"),
    ("unreadable", "not a readable WAV"),
    ("eight_bit", "16-bit PCM"),
    ("stereo", "2 channels"),
    ("too_short", "10 ms of audio"),
    ("one_class", "only one class"),
    ("empty", "no class folders"),
])
def test_bad_wav_folders(tmp_path, case, message):
    data = tmp_path / "data"
    data.mkdir()
    if case != "empty":
        _tone_folders(data, n=2)
    if case == "mixed_rates":
        _write_wav(data / "low" / "odd.wav", np.zeros(800, dtype=np.int16), 8000)
    if case == "unreadable":
        (data / "low" / "bad.wav").write_bytes(b"RIFF....not a wave")
    if case == "eight_bit":
        with wave.open(str(data / "low" / "b8.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(1)
            w.setframerate(16000)
            w.writeframes(bytes(100))
    if case == "stereo":
        with wave.open(str(data / "low" / "stereo.wav"), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(np.zeros(2 * 8000, dtype="<i2").tobytes())
    if case == "too_short":
        _write_wav(data / "low" / "short.wav", np.ones(160, dtype=np.int16), 16000)
    if case == "one_class":
        shutil.rmtree(data / "high")
    with pytest.raises(DataError, match=message) as e:
        folder_dataset(data)
    if case in ("stereo", "too_short"):
        assert str(e.value).startswith(str(data / "low"))  # names the file
    r = CliRunner().invoke(main, ["train", "speech", "--data", str(data), "-o", str(tmp_path / "run"), "--quiet"])
    assert r.exit_code == 2 and message in r.output
    assert not (tmp_path / "run").exists()


def test_float_wav_is_converted_with_a_warning(tmp_path, capsys):
    """32-bit float WAVs (Audacity's default export) are read as 16-bit, saying so once per folder."""
    from scipy.io import wavfile

    from protobrain.train.data import load_wav_folder, read_wav

    pcm = (8000 * np.sin(np.arange(4000) / 7)).astype(np.int16)
    pcm[:3] = [-32768, 32767, 0]
    wavfile.write(tmp_path / "f.wav", 16000, pcm.astype(np.float32) / 32768)
    got, rate = read_wav(tmp_path / "f.wav")
    assert rate == 16000 and got.dtype == np.int16 and np.array_equal(got, pcm)
    assert "f.wav: 32-bit float WAV, converted to 16-bit" in capsys.readouterr().err
    _tone_folders(tmp_path / "data", n=2)
    for i in range(3):
        wavfile.write(tmp_path / "data" / "low" / f"float{i}.wav", 16000, pcm.astype(np.float32) / 32768)
    clips, labels, classes, rate = load_wav_folder(tmp_path / "data")
    assert len(clips) == 7 and rate == 16000
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "converted 3 WAV files from 32-bit float" in err[0] and "float0.wav" in err[0]
