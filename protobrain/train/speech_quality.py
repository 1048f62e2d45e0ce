"""Objective measures of synthesized speech, besides what the device's own speech net hears.

A vocoder and a recognizer trained on the same voices can agree on sounds nobody would
understand, so `make eval` also measures the synth's keywords two other ways:

- Mel-cepstral distortion (MCD, dB) of each synthesized keyword against the espeak-ng clip
  its stored frames were computed from (synth.keyword_material): mel-cepstra c1..c13 of
  both (c0, the loudness, left out), aligned by dynamic time warping, averaged along the
  path. Beside it, anchors that say what a number means: the original against itself
  re-encoded to 8-bit mu-law (the vocoder's own output coding: a floor no vocoder beats),
  against the same word by another voice, and against another word.
- Recognition by a speech net trained only on voices the synth never heard: no voice of
  the synth's accent family (en-us, en-us-nyc for en-us) and none of its voice family
  (for en-us's default voice: every male variant and every accent's default voice).

The cepstra are a plain filterbank's (24 triangular mel bands over 0-4 kHz, natural-log
amplitude, orthonormal DCT-II), not SPTK's all-pass mel-cepstrum that published MCD figures
use, so compare figures with the anchors here rather than with papers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from protobrain.audio.frontend import features_batch, to_float
from protobrain.synth.coding import mulaw_decode, mulaw_encode
from protobrain.train import espeak, noise
from protobrain.train.data import DataError, Dataset

MCD_CONSTANT = 10.0 / math.log(10.0) * math.sqrt(2.0)   # dB per unit of cepstral distance (ln amplitude)


@dataclass(frozen=True)
class CepstrumConfig:
    sample_rate: int = 8000
    window: int = 200          # 25 ms
    hop: int = 80              # 10 ms
    fft: int = 256
    bands: int = 24            # triangular mel bands over fmin..fmax
    fmin: float = 0.0
    fmax: float = 4000.0
    coefficients: int = 13     # c1..c13 (c0 left out)
    floor: float = 1e-7        # band power floor (audio in [-1, 1)): -70 dB, below espeak's quietest speech


def _mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)


def mel_filterbank(cfg: CepstrumConfig = CepstrumConfig()) -> np.ndarray:
    """(bands, fft // 2 + 1) triangular filters, evenly spaced on the mel scale."""
    edges = 700.0 * (10 ** (np.linspace(_mel(cfg.fmin), _mel(cfg.fmax), cfg.bands + 2) / 2595.0) - 1.0)
    freqs = np.arange(cfg.fft // 2 + 1) * cfg.sample_rate / cfg.fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))


def mel_cepstra(audio: np.ndarray, cfg: CepstrumConfig = CepstrumConfig()) -> np.ndarray:
    """(frames, coefficients) mel-cepstra c1..cN of int16 audio; c0 (loudness) left out.
    Each frame's mean is removed first, so a DC offset (mu-law's code for silence is not
    exactly zero) does not count as a spectral difference."""
    from scipy.fft import dct

    x = np.asarray(audio, np.float64) / 32768.0
    if len(x) < cfg.window:
        x = np.pad(x, (0, cfg.window - len(x)))
    n = 1 + (len(x) - cfg.window) // cfg.hop
    frames = x[np.arange(cfg.window)[None, :] + cfg.hop * np.arange(n)[:, None]]
    frames = (frames - frames.mean(axis=1, keepdims=True)) * np.hanning(cfg.window)
    power = np.abs(np.fft.rfft(frames, cfg.fft)) ** 2
    log_amplitude = 0.5 * np.log(np.maximum(power @ mel_filterbank(cfg).T, cfg.floor))
    # The cepstrum of the band log-amplitudes read as one half of an even sequence of
    # 2 x bands: then 2 * sum(c_d^2, d >= 1) is their variance over the bands, the scale
    # MCD's constant assumes (an orthonormal DCT alone would sum over the bands instead).
    c = dct(log_amplitude, type=2, norm="ortho", axis=1) / math.sqrt(2 * cfg.bands)
    return c[:, 1:cfg.coefficients + 1]


def dtw(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The minimum-cost alignment of two sequences of vectors (Euclidean distance; steps
    (1, 0), (0, 1), (1, 1); both ends matched): index arrays (i, j) along the path."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    if not len(a) or not len(b):
        raise ValueError("dtw: an empty sequence has no alignment")
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        up, diag, row = acc[i - 1, 1:], acc[i - 1, :-1], acc[i]
        best = np.minimum(up, diag) + cost[i - 1]
        for j in range(1, m + 1):        # the left neighbour is this row's own result
            row[j] = min(best[j - 1], row[j - 1] + cost[i - 1, j - 1])
    i, j, path = n, m, []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        k = int(np.argmin((acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])))
        i, j = (i - 1, j - 1) if k == 0 else (i - 1, j) if k == 1 else (i, j - 1)
    p = np.array(path[::-1])
    return p[:, 0], p[:, 1]


def mcd(reference: np.ndarray, test: np.ndarray, cfg: CepstrumConfig = CepstrumConfig()) -> float:
    """Mel-cepstral distortion (dB) of `test` against `reference` (int16 audio, any two
    lengths): the mean over the DTW path of 10/ln10 * sqrt(2 * sum_d (c_d - c'_d)^2), d >= 1."""
    a, b = mel_cepstra(reference, cfg), mel_cepstra(test, cfg)
    i, j = dtw(a, b)
    return float(MCD_CONSTANT * np.sqrt(((a[i] - b[j]) ** 2).sum(axis=1)).mean())


def mulaw_8bit(audio: np.ndarray) -> np.ndarray:
    """int16 audio through 8-bit mu-law and back: the vocoder's output coding."""
    y = mulaw_decode(mulaw_encode(np.asarray(audio, np.float64) / 32768.0)) * 32768.0
    return np.clip(np.rint(y), -32768, 32767).astype(np.int16)


# ---- the espeak originals ------------------------------------------------------------------


def spoken(word: str, voice: espeak.Voice, speed: int = 150, pitch: int = 50) -> np.ndarray:
    """The samples of `word` that a synth stores frames of: espeak-ng's clip, centred in a
    second, cut to the speech span of its log-mel frames (synth.keyword_material's clip)."""
    from protobrain.train.synth import FRONTEND, speech_frames

    clip = espeak.centred(espeak.synthesize(word, voice, speed=speed, pitch=pitch))
    span = speech_frames(to_float(features_batch(clip[None], FRONTEND)[0], FRONTEND))
    return clip[span.start * FRONTEND.hop:span.stop * FRONTEND.hop]


@dataclass
class KeywordMcd:
    word: str
    synthesized: float      # the vocoder's keyword against the original
    mulaw: float            # the original through 8-bit mu-law: the floor
    other_rendition: float  # the same word by the same voice at another speed and pitch
    other_voices: dict      # voice name -> the same word by that voice
    other_word: float       # another word by the same voice
    other_word_name: str


def keyword_mcd(voice: espeak.Voice, audio: dict[str, np.ndarray], other_voices=(),
                rendition: tuple[int, int] = (130, 40), cfg: CepstrumConfig = CepstrumConfig()) -> list[KeywordMcd]:
    """MCD of each synthesized keyword in `audio` against its original by `voice` (the
    synth's, at 150 wpm and pitch 50), with the anchors: the original through mu-law, the
    word at `rendition` (speed, pitch) and by each of `other_voices`, and the next keyword
    of `audio` by `voice`."""
    words = list(audio)
    originals = {w: spoken(w, voice) for w in words}
    rows = []
    for k, w in enumerate(words):
        ref, other = originals[w], words[(k + 1) % len(words)]
        rows.append(KeywordMcd(w, mcd(ref, audio[w], cfg), mcd(ref, mulaw_8bit(ref), cfg),
                               mcd(ref, spoken(w, voice, *rendition), cfg),
                               {v.name: mcd(ref, spoken(w, v), cfg) for v in other_voices},
                               mcd(ref, originals[other], cfg), other))
    return rows


# ---- a recognizer that never heard the synth's voice -----------------------------------------


@lru_cache(maxsize=None)
def _sound(voice_name: str) -> bytes:
    """A short word in `voice_name` (espeak-ng's -v), as bytes to compare voices by."""
    return espeak.synthesize("yes", espeak.Voice(voice_name, "", ""), speed=150, pitch=50).tobytes()


def same_accent(accent: str, root: str) -> bool:
    """Whether `accent` is `root`, one of its regional forms (en-us-nyc of en-us), or
    speaks exactly as `root` does (espeak-ng 1.51's en-us-nyc is en-us, sample for sample)."""
    return accent == root or accent.startswith(root + "-") or _sound(accent) == _sound(root)


def variants_apply(accent: str, probe: str = "f2") -> bool:
    """Whether espeak-ng applies voice variants to `accent`: espeak-ng 1.51 ignores them for
    en-gb (en-gb+f2 and en-gb+klatt are en-gb's default male voice, sample for sample)."""
    return _sound(f"{accent}+{probe}") != _sound(accent)


def unheard_voices(synth_voice: espeak.Voice, accents=None, variant_names=None) -> list[espeak.Voice]:
    """Every voice (of `accents` x `variant_names`, default: all installed, plus each
    accent's default voice) that shares neither its accent family nor its voice family with
    `synth_voice`, by what espeak-ng really speaks: an accent that ignores variants speaks
    only its default voice (family espeak.family(""), "male"), whatever the variant."""
    accents = espeak.english_accents() if accents is None else list(accents)
    names = espeak.variants() if variant_names is None else list(variant_names)
    voices = []
    for accent in accents:
        if same_accent(accent, synth_voice.accent):
            continue
        spoken_as = espeak.all_voices([accent], names) if variants_apply(accent) else espeak.all_voices([accent], [])
        voices += [v for v in spoken_as if v.family != synth_voice.family]
    return voices


@dataclass(frozen=True)
class UnheardConfig:
    """The independent recognizer's data; training sizes chosen for a few minutes on 2 cores."""
    keywords: tuple[str, ...] = espeak.KEYWORDS
    unknown_words: tuple[str, ...] = espeak.UNKNOWN_WORDS
    accents: tuple[str, ...] | None = None      # None: every installed English accent (minus the synth's)
    variants: tuple[str, ...] | None = None     # None: every installed variant (minus the synth's family)
    per_voice: int = 1
    unknown_per_word: int = 40
    silence: int = 300
    augment_copies: int = 1
    test_renditions: int = 6                    # the synth's own voice, per keyword: the test set


def _concat(parts: list[espeak.ClipSet]) -> espeak.ClipSet:
    return espeak.ClipSet(*(np.concatenate([getattr(p, f) for p in parts])
                            for f in ("clips", "words", "accents", "variants", "families")))


def unheard_speech_data(synth_voice: espeak.Voice, cfg: UnheardConfig = UnheardConfig(), seed: int = 0,
                        speeds=(130, 150, 170), pitches=(40, 50, 60), progress: bool = True):
    """speech.SpeechData for a net that never hears `synth_voice`'s accent or voice family:
    it trains on unheard_voices, and its test set is the synth's own voice (keywords at
    `speeds` and `pitches`, some unknown words, a little noise): how well it understands
    the real voice the synth imitates."""
    from protobrain.train.speech import SILENCE, UNKNOWN, SpeechData, cache_dir, classes_for, clip_features, keywords_only

    voices = unheard_voices(synth_voice, cfg.accents, cfg.variants)
    if not voices:
        raise DataError(f"no installed voice is outside {synth_voice.name}'s accent and voice family")
    rng = np.random.default_rng(seed)
    parts = [espeak.make_clips(cfg.keywords, voices, per_voice=cfg.per_voice, seed=seed, progress=progress,
                               cache=cache_dir())]
    for i, word in enumerate(cfg.unknown_words):
        pick = rng.choice(len(voices), size=min(cfg.unknown_per_word, len(voices)), replace=False)
        parts.append(espeak.make_clips([word], [voices[j] for j in sorted(pick)], seed=seed + 1 + i,
                                       per_voice=1, progress=False, cache=cache_dir()))
    train = _concat(parts)
    test = _concat([espeak.make_clips(cfg.keywords, [synth_voice], speeds=speeds, pitches=pitches,
                                      per_voice=cfg.test_renditions, seed=seed, progress=False, cache=cache_dir()),
                    espeak.make_clips(cfg.unknown_words[::3], [synth_voice], speeds=speeds, pitches=pitches,
                                      per_voice=1, seed=seed, progress=False, cache=cache_dir())])
    classes = classes_for(cfg.keywords)

    def labelled(clips: espeak.ClipSet, n_silence: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.array([classes.index(w) if w in cfg.keywords else classes.index(UNKNOWN) for w in clips.words])
        x = np.concatenate([clips.clips, noise.noise(n_silence, espeak.CLIP_LENGTH, rng)])
        return x, np.concatenate([y, np.full(n_silence, classes.index(SILENCE))]).astype(np.int64)

    x, y = labelled(train, cfg.silence)
    aug = np.random.default_rng(seed + 7)
    x = np.concatenate([x, *(noise.augment(x, aug) for _ in range(cfg.augment_copies))])
    y = np.tile(y, cfg.augment_copies + 1)
    tx, ty = labelled(test, max(1, cfg.silence // 10))
    meta = {"kind": "audio"}
    test_set = Dataset(clip_features(tx), ty, classes, meta=meta)
    return SpeechData(Dataset(clip_features(x), y, classes, meta=meta), test_set,
                      {"test-keywords": keywords_only(test_set)}), voices


def train_unheard(synth_voice: espeak.Voice, out_dir: str | Path, seed: int = 0, epochs: int = 12,
                  cfg: UnheardConfig = UnheardConfig(), progress: bool = True):
    """Train the independent recognizer into `out_dir`; its TrainResult and training voices."""
    from protobrain.train.classifier import TrainConfig
    from protobrain.train.speech import train_speech

    data, voices = unheard_speech_data(synth_voice, cfg, seed=seed, progress=progress)
    return train_speech(data, TrainConfig(epochs=epochs, seed=seed, progress=progress), out_dir), voices

