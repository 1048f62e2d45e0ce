"""The espeak-ng keyword dataset: synthesis, voices and families, clip sets, the held-out split."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from protobrain.train import espeak
from protobrain.train.data import DataError
from protobrain.train.espeak import ClipSet, Voice

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="espeak-ng is not on PATH (apt-get install espeak-ng)")

US = Voice("en-us", "", "male")
GB_M3 = Voice("en-gb", "m3", "male")
KLATT = Voice("en-us", "klatt2", "klatt")


# --------------------------------------------------------------------------- synthesis

def test_synthesize_int16_8k_plausible_length():
    audio = espeak.synthesize("yes", US)
    assert audio.dtype == np.int16 and audio.ndim == 1
    assert 0.2 * 8000 <= len(audio) <= 1.2 * 8000
    assert np.abs(audio.astype(np.int32)).max() > 1000


def test_synthesize_resamples_to_the_rate_asked():
    a8 = espeak.synthesize("yes", US, sample_rate=8000)
    a16 = espeak.synthesize("yes", US, sample_rate=16000)
    assert abs(len(a16) - 2 * len(a8)) <= 2


def test_synthesize_is_repeatable_and_voices_differ():
    a = espeak.synthesize("yes", US)
    assert np.array_equal(a, espeak.synthesize("yes", US))
    others = [espeak.synthesize("yes", v) for v in (GB_M3, KLATT)]
    others.append(espeak.synthesize("yes", US, speed=210, pitch=80))
    for b in others:
        assert len(a) != len(b) or not np.array_equal(a, b)


def test_synthesize_errors_are_data_errors():
    with pytest.raises(DataError, match="espeak-ng"):
        espeak.synthesize("yes", Voice("xx-nonexistent", "", "male"))
    with pytest.raises(DataError, match="variant"):
        espeak.synthesize("yes", Voice("en-us", "no-such-variant", "other"))


def test_voice_name():
    assert US.name == "en-us"
    assert KLATT.name == "en-us+klatt2"


# --------------------------------------------------------------------------- voices and families

def test_accents_and_variants():
    accents = espeak.english_accents()
    assert "en-us" in accents
    assert all(a.startswith("en") for a in accents)
    assert "variant" not in accents
    names = espeak.variants()
    assert names and "klatt" in names and "whisper" in names and "m3" in names
    assert len(set(names)) == len(names)


def test_families_group_alike_variants():
    names = espeak.variants()
    klatts = [v for v in names if v.startswith("klatt")]
    assert len(klatts) >= 2 and {espeak.family(v) for v in klatts} == {"klatt"}
    whispers = [v for v in names if v.startswith("whisper")]
    assert len(whispers) >= 2 and {espeak.family(v) for v in whispers} == {"whisper"}
    assert espeak.family("m3") == "male" and espeak.family("f2") == "female"
    assert espeak.family("") == "male"
    assert {espeak.family(v) for v in names} <= set(espeak.FAMILIES)


def test_held_out_defaults_exist():
    accents = set(espeak.english_accents())
    families = {espeak.family(v) for v in espeak.variants()}
    assert set(espeak.TEST_ACCENTS) <= accents
    assert set(espeak.TEST_FAMILIES) <= families


def test_held_out_masks_test_accents_or_families_only():
    acc = np.array(["en-us", "en-029", "en-gb", "en-029", "en-us", "en-gb"])
    fam = np.array(["male", "male", "klatt", "whisper", "female", "robot"])
    cs = ClipSet(np.zeros((6, 8000), np.int16), np.array(["yes"] * 6), acc, np.array([""] * 6), fam)
    mask = espeak.held_out(cs)
    assert mask.dtype == bool and mask.shape == (6,)
    assert mask.tolist() == [False, True, True, True, False, False]
    mask = espeak.held_out(cs, test_accents=("en-gb",), test_families=("robot",))
    assert mask.tolist() == [False, False, True, False, False, True]


# --------------------------------------------------------------------------- clips

def test_fit_clip_edges():
    a = np.arange(1, 6, dtype=np.int16)
    assert espeak.fit_clip(a, 8, 0).tolist() == [1, 2, 3, 4, 5, 0, 0, 0]
    assert espeak.fit_clip(a, 8, 2).tolist() == [0, 0, 1, 2, 3, 4, 5, 0]
    assert espeak.fit_clip(a, 8, 5).tolist() == [0, 0, 0, 0, 0, 1, 2, 3]
    assert espeak.fit_clip(a, 8, -2).tolist() == [3, 4, 5, 0, 0, 0, 0, 0]
    assert espeak.fit_clip(a, 3, -1).tolist() == [2, 3, 4]
    assert espeak.fit_clip(a, 4, 8).tolist() == [0, 0, 0, 0]
    assert espeak.fit_clip(a, 4, -9).tolist() == [0, 0, 0, 0]
    assert espeak.fit_clip(a[:0], 3, 1).tolist() == [0, 0, 0]
    assert espeak.fit_clip(a, 8, 1).dtype == np.int16


VOICES = [US, GB_M3, KLATT]


def test_make_clips_shapes_labels_and_determinism(tmp_path):
    one = espeak.make_clips(["yes", "house"], VOICES, per_voice=2, seed=3, progress=False, workers=1)
    two = espeak.make_clips(["yes", "house"], VOICES, per_voice=2, seed=3, progress=False, workers=2)
    assert len(one) == 12
    assert one.clips.shape == (12, 8000) and one.clips.dtype == np.int16
    assert one.words.tolist() == ["yes"] * 6 + ["house"] * 6
    assert one.accents.tolist()[:6] == ["en-us", "en-us", "en-gb", "en-gb", "en-us", "en-us"]
    assert one.variants.tolist()[:6] == ["", "", "m3", "m3", "klatt2", "klatt2"]
    assert one.families.tolist()[:6] == ["male", "male", "male", "male", "klatt", "klatt"]
    for name in ("clips", "words", "accents", "variants", "families"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name
    # every clip holds a word, centred: silence at both ends
    assert (np.abs(one.clips.astype(np.int32)).max(axis=1) > 500).all()
    assert (one.clips[:, :200] == 0).all() and (one.clips[:, -200:] == 0).all()
    # save / load round trip, no pickle
    one.save(tmp_path / "set.npz")
    back = ClipSet.load(tmp_path / "set.npz")
    assert np.array_equal(back.clips, one.clips) and back.families.tolist() == one.families.tolist()


def test_make_clips_seed_changes_renditions():
    a = espeak.make_clips(["go"], [US], per_voice=3, seed=0, progress=False, workers=1)
    b = espeak.make_clips(["go"], [US], per_voice=3, seed=1, progress=False, workers=1)
    assert not np.array_equal(a.clips, b.clips)


def test_make_clips_cache_is_reused(tmp_path, monkeypatch):
    first = espeak.make_clips(["no", "bird"], VOICES, per_voice=1, progress=False, cache=tmp_path)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"

    def no_espeak(*args, **kwargs):
        raise AssertionError("espeak was called although the clips are cached")

    monkeypatch.setattr(espeak, "synthesize", no_espeak)
    second = espeak.make_clips(["no", "bird"], VOICES, per_voice=1, progress=False, cache=tmp_path)
    assert np.array_equal(first.clips, second.clips)
    assert second.words.tolist() == first.words.tolist()
    # other arguments, other file: synthesis is needed (and here refused)
    with pytest.raises(AssertionError):
        espeak.make_clips(["no", "bird"], VOICES, per_voice=1, seed=9, progress=False, cache=tmp_path)
    assert len([f for f in tmp_path.iterdir() if f.suffix == ".npz"]) == 1


def test_make_clips_rejects_empty_input():
    with pytest.raises(DataError, match="no words"):
        espeak.make_clips([], VOICES, progress=False)
    with pytest.raises(DataError, match="no voices"):
        espeak.make_clips(["yes"], [], progress=False)


def test_word_lists():
    assert len(espeak.KEYWORDS) == 10
    assert 25 <= len(espeak.UNKNOWN_WORDS) <= 40
    assert not set(espeak.KEYWORDS) & set(espeak.UNKNOWN_WORDS)
    assert len(set(espeak.UNKNOWN_WORDS)) == len(espeak.UNKNOWN_WORDS)


# --------------------------------------------------------------------------- missing tool

def test_missing_espeak_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    for call in (espeak.english_accents, espeak.variants, lambda: espeak.synthesize("yes", US),
                 lambda: espeak.make_clips(["yes"], [US], progress=False)):
        with pytest.raises(DataError, match=r"espeak-ng not found: apt-get install espeak-ng"):
            call()
