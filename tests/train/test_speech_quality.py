"""The objective measures of synthesized speech: mel-cepstral distortion with DTW, and the
choice of voices for a recognizer that never heard the synth's voice. (The figures of the
full-size synth are measured by `make eval`, not here.)"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("scipy", reason="the cepstra need scipy (the train extra: pip install 'protobrain[train]')")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng not installed (make setup installs it)", allow_module_level=True)

from protobrain.train import espeak  # noqa: E402
from protobrain.train.speech_quality import (  # noqa: E402
    UnheardConfig,
    dtw,
    keyword_mcd,
    mcd,
    mel_cepstra,
    mulaw_8bit,
    spoken,
    unheard_speech_data,
    unheard_voices,
    variants_apply,
)
from protobrain.train.synth import FRONTEND, SynthConfig, keyword_frames  # noqa: E402
from protobrain.audio.frontend import features_batch  # noqa: E402

SYNTH_VOICE = SynthConfig().voice   # en-us, its default (male) voice


def test_mcd_is_zero_for_identical_audio_and_ignores_loudness():
    yes = spoken("yes", SYNTH_VOICE)
    assert mcd(yes, yes) == 0.0
    quieter = (yes.astype(np.float64) * 0.5).astype(np.int16)
    assert mcd(yes, quieter) < 0.1        # c0, the loudness, is left out


def test_another_word_is_farther_than_the_same_word_re_encoded():
    yes, no = spoken("yes", SYNTH_VOICE), spoken("no", SYNTH_VOICE)
    floor = mcd(yes, mulaw_8bit(yes))
    assert 0.0 < floor < 2.0
    assert mcd(yes, no) > 3 * floor
    # another rendition of the same word sits between them
    assert floor / 2 < mcd(yes, spoken("yes", SYNTH_VOICE, speed=130, pitch=40)) < mcd(yes, no)


def test_dtw_aligns_sequences_of_different_lengths():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 3))
    b = np.repeat(a, 3, axis=0)[:-1]          # 20 frames: each of a's held ~3 times
    i, j = dtw(a, b)
    assert (i[0], j[0]) == (0, 0) and (i[-1], j[-1]) == (6, 19)
    assert np.all(np.diff(i) >= 0) and np.all(np.diff(j) >= 0) and np.all(np.diff(i) + np.diff(j) >= 1)
    assert set(j.tolist()) == set(range(20))
    assert np.allclose(a[i], b[j])            # the warp finds the copy exactly
    # audio: a word against the same word spoken slower (more frames) is aligned, not cut
    fast, slow = spoken("left", SYNTH_VOICE, speed=170), spoken("left", SYNTH_VOICE, speed=120)
    assert len(mel_cepstra(slow)) > len(mel_cepstra(fast)) + 5
    assert mcd(fast, slow) < mcd(fast, spoken("right", SYNTH_VOICE, speed=170))


def test_the_original_is_the_clip_the_stored_frames_come_from():
    cfg = SynthConfig()
    stored = keyword_frames(cfg, ("stop",))["stop"]
    clip = spoken("stop", cfg.voice)
    assert len(clip) == len(stored) * FRONTEND.hop
    # the clip's own frames equal the stored ones (all but the last, whose window runs past the span)
    own = features_batch(clip[None], FRONTEND)[0]
    assert len(own) == len(stored) - 1 and np.array_equal(own, stored[:-1])


def test_keyword_mcd_reports_the_synth_and_its_anchors():
    voice = SYNTH_VOICE
    audio = {"yes": mulaw_8bit(spoken("yes", voice)), "no": spoken("no", espeak.Voice("en-gb-x-rp", "", "male"))}
    rows = keyword_mcd(voice, audio, [espeak.Voice("en-us", "f2", "female")])
    assert [r.word for r in rows] == ["yes", "no"] and [r.other_word_name for r in rows] == ["no", "yes"]
    assert rows[0].synthesized == pytest.approx(rows[0].mulaw)
    assert list(rows[0].other_voices) == ["en-us+f2"]
    assert rows[0].other_word > rows[0].other_rendition > 0


def test_the_unheard_voices_exclude_the_synth_accent_and_voice_family():
    voices = unheard_voices(SYNTH_VOICE)
    assert len(voices) >= 100
    accents = {v.accent for v in voices}
    assert not any(a == "en-us" or a.startswith("en-us-") for a in accents)
    assert all(v.family != "male" and v.variant != "" for v in voices)
    # en-gb ignores variants in espeak-ng 1.51: every en-gb voice is its default (male) one
    if not variants_apply("en-gb"):
        assert "en-gb" not in accents
    # none of them speaks like the synth's voice, by what espeak-ng really outputs
    synth = espeak.synthesize("yes", SYNTH_VOICE, 150, 50)
    for v in voices[:: max(1, len(voices) // 12)]:
        assert not np.array_equal(espeak.synthesize("yes", v, 150, 50), synth), v.name


def test_the_unheard_net_data_holds_no_synth_voice():
    cfg = UnheardConfig(keywords=("yes", "no"), unknown_words=("house",), accents=("en-us", "en-us-nyc", "en-gb",
                        "en-gb-x-rp"), variants=("m1", "f2", "klatt", "whisper"), unknown_per_word=2, silence=4,
                        augment_copies=0, test_renditions=1)
    data, voices = unheard_speech_data(SYNTH_VOICE, cfg, progress=False)
    # en-us-nyc is en-us; en-gb speaks its default male voice whatever the variant; m1 is male
    assert sorted(v.name for v in voices) == ["en-gb-x-rp+f2", "en-gb-x-rp+klatt", "en-gb-x-rp+whisper"]
    assert len(data.train) == 3 * 2 + 2 + 4
    # the test set is the synth's own voice: its keywords, one unknown word, a little noise
    assert data.train.classes == ["silence", "unknown", "yes", "no"]
    assert len(data.extra["test-keywords"]) == 2


def test_an_accent_that_ignores_variants_counts_as_its_default_voice():
    if variants_apply("en-gb"):
        pytest.skip("this espeak-ng applies variants to en-gb")
    female = espeak.Voice("en-gb-x-rp", "f2", "female")
    voices = unheard_voices(female, accents=("en-gb", "en-gb-x-rp", "en-us"), variant_names=("f2", "m1", "klatt"))
    # en-gb's "+f2" is its default male voice: kept once, as that; nothing of en-gb-x-rp; no female voice
    assert sorted(v.name for v in voices) == ["en-gb", "en-us", "en-us+klatt", "en-us+m1"]
