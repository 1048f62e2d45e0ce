"""`protobrain train speech`: keyword spotting (DS-CNN) on log-mel features of 8 kHz audio.

Data: a folder per keyword of WAV files, or, by default, keywords spoken offline by
espeak-ng in every English accent and voice variant it has. The default test split is
hard: whole accents and voice families never heard in training (see espeak.held_out);
an in-distribution split (unseen clips of the training voices) is reported beside it.

The features are protobrain's integer log-mel frontend (protobrain.audio.frontend), the
same computation the device runs in generated C, so training and device agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from protobrain.audio.frontend import FrontendConfig, features_batch, to_float
from protobrain.toolchain import cache_dir as host_cache
from protobrain.train import espeak, noise
from protobrain.train.classifier import TrainConfig, TrainResult, train_classifier
from protobrain.train.data import DataError, Dataset, check_classes, load_wav_folder, stratified_split, wav_files
from protobrain.train.nets import dscnn

SAMPLE_RATE = espeak.SAMPLE_RATE
CLIP = espeak.CLIP_LENGTH
SILENCE, UNKNOWN = "silence", "unknown"


@dataclass
class SpeechDataConfig:
    """How big the espeak dataset is. The defaults are the full-size set of `make eval`."""
    keywords: tuple[str, ...] = espeak.KEYWORDS
    unknown_words: tuple[str, ...] = espeak.UNKNOWN_WORDS
    accents: tuple[str, ...] | None = None        # None: every installed English accent
    variants: tuple[str, ...] | None = None       # None: every installed voice variant
    per_voice: int = 1                            # renditions of each keyword per voice
    unknown_per_word: int = 48                    # voices (drawn at random) per unknown word
    silence: int = 1000                           # noise-only clips
    augment_copies: int = 2                       # noisy, shifted copies of each training clip
    indist_fraction: float = 0.1                  # unseen clips of training voices, for the in-distribution figure


# A quick configuration: 4 keywords, 4 accents, 12 voices (tests, first looks).
SMALL = SpeechDataConfig(
    keywords=("yes", "no", "up", "down"), unknown_words=("house", "bird", "tree", "cat"),
    accents=("en-us", "en-gb", "en-029", "en-gb-scotland"),
    variants=("m1", "m3", "m5", "f1", "f2", "f4", "Andy", "linda", "croak", "klatt", "klatt2", "whisper"),
    per_voice=2, unknown_per_word=20, silence=60, augment_copies=1)


@dataclass
class SpeechData:
    train: Dataset
    test: Dataset                        # held-out accents and voice families
    extra: dict[str, Dataset] = field(default_factory=dict)


def classes_for(keywords) -> list[str]:
    return [SILENCE, UNKNOWN, *keywords]


def clip_features(clips: np.ndarray, config: FrontendConfig = FrontendConfig()) -> np.ndarray:
    """(n, 8000) int16 clips -> (n, frames, mels, 1) float32, what the net sees."""
    return to_float(features_batch(np.asarray(clips, dtype=np.int16), config), config)[..., None]


def cache_dir() -> Path:
    p = host_cache().parent / "speech"
    p.mkdir(parents=True, exist_ok=True)
    return p


def espeak_clips(cfg: SpeechDataConfig, seed: int, progress: bool) -> tuple[espeak.ClipSet, np.ndarray]:
    """Keyword, unknown-word and silence clips with their labels (indices into classes_for)."""
    voices = espeak.all_voices(list(cfg.accents) if cfg.accents else None,
                               list(cfg.variants) if cfg.variants else None)
    kw = espeak.make_clips(cfg.keywords, voices, per_voice=cfg.per_voice, seed=seed, progress=progress,
                           cache=cache_dir())
    rng = np.random.default_rng(seed)
    unknown_parts = []
    for i, word in enumerate(cfg.unknown_words):
        pick = rng.choice(len(voices), size=min(cfg.unknown_per_word, len(voices)), replace=False)
        unknown_parts.append(espeak.make_clips([word], [voices[j] for j in sorted(pick)], per_voice=1,
                                               seed=seed + 1 + i, progress=False, cache=cache_dir()))
    unk = _concat(unknown_parts) if unknown_parts else None
    n_sil = cfg.silence
    sil = espeak.ClipSet(noise.noise(n_sil, CLIP, rng), np.full(n_sil, SILENCE), np.full(n_sil, ""),
                         np.full(n_sil, ""), np.full(n_sil, ""))
    parts = [kw] + ([unk] if unk is not None else []) + [sil]
    clips = _concat(parts)
    classes = classes_for(cfg.keywords)
    index = {w: classes.index(w) for w in cfg.keywords}
    labels = np.array([index.get(str(w), classes.index(UNKNOWN)) for w in clips.words], dtype=np.int64)
    labels[clips.words == SILENCE] = classes.index(SILENCE)
    return clips, labels


def _concat(parts: list[espeak.ClipSet]) -> espeak.ClipSet:
    return espeak.ClipSet(*(np.concatenate([getattr(p, f) for p in parts])
                            for f in ("clips", "words", "accents", "variants", "families")))


def _dataset(clips: np.ndarray, labels: np.ndarray, classes: list[str], groups=None, files=None) -> Dataset:
    return Dataset(clip_features(clips), labels, classes, groups, meta={"kind": "audio"}, files=files)


def _with_augmented(clips: np.ndarray, labels: np.ndarray, copies: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 7)
    extra = [noise.augment(clips, rng) for _ in range(copies)]
    return np.concatenate([clips, *extra]), np.concatenate([labels] * (copies + 1))


def espeak_dataset(cfg: SpeechDataConfig, seed: int = 0, progress: bool = True) -> SpeechData:
    clips, labels = espeak_clips(cfg, seed, progress)
    classes = classes_for(cfg.keywords)
    rng = np.random.default_rng(seed)
    test = espeak.held_out(clips)
    silence = labels == classes.index(SILENCE)
    test[silence] = rng.random(int(silence.sum())) < 0.2       # noise has no accent: a random fifth
    rest = np.flatnonzero(~test)
    indist = np.zeros(len(labels), dtype=bool)
    indist[rng.choice(rest, size=int(round(len(rest) * cfg.indist_fraction)), replace=False)] = True
    train = ~test & ~indist
    if not test.any() or not train.any():
        raise DataError("the chosen accents and voices leave no held-out (or no training) speech: include "
                        f"{', '.join(espeak.TEST_ACCENTS + espeak.TEST_FAMILIES)} and others")
    tr_clips, tr_labels = _with_augmented(clips.clips[train], labels[train], cfg.augment_copies, seed)
    train_set = _dataset(tr_clips, tr_labels, classes)
    test_set = _dataset(clips.clips[test], labels[test], classes)
    indist_set = _dataset(clips.clips[indist], labels[indist], classes)
    return SpeechData(train_set, test_set, {
        "test-keywords": keywords_only(test_set), "in-distribution": indist_set,
        "in-distribution-keywords": keywords_only(indist_set)})


def keywords_only(ds: Dataset) -> Dataset:
    keep = np.flatnonzero(~np.isin(np.array(ds.classes)[ds.y], [SILENCE, UNKNOWN]))
    return ds.subset(keep)


def fit_length(clip: np.ndarray) -> np.ndarray:
    """Centre a clip in one second (cut if longer)."""
    return espeak.fit_clip(clip, CLIP, (CLIP - len(clip)) // 2)


def folder_dataset(root: str | Path, seed: int = 0, augment_copies: int = 2) -> SpeechData:
    """A folder per keyword of WAV files (any one sample rate; resampled to 8 kHz)."""
    clips, labels, classes, rate = load_wav_folder(root)
    check_classes(labels, classes, str(root))
    if rate != SAMPLE_RATE:
        clips = [espeak.resample(c, rate, SAMPLE_RATE) for c in clips]
    clips = np.stack([fit_length(c) for c in clips])
    files = np.array([str(f) for f in wav_files(root)])
    tr, te = stratified_split(labels, 0.2, seed)
    tr_clips, tr_labels = _with_augmented(clips[tr], labels[tr], augment_copies, seed)
    return SpeechData(_dataset(tr_clips, tr_labels, classes, files=np.tile(files[tr], augment_copies + 1)),
                      _dataset(clips[te], labels[te], classes, files=files[te]))


def load(data_dir: str | Path | None, seed: int = 0, progress: bool = True,
         cfg: SpeechDataConfig | None = None, augment_copies: int | None = None) -> SpeechData:
    """The user's folder, or the espeak dataset; `augment_copies` overrides the number of
    augmented copies (0 for one example per clip, as the data audit needs)."""
    cfg = cfg or SpeechDataConfig()
    copies = cfg.augment_copies if augment_copies is None else augment_copies
    if data_dir is not None:
        return folder_dataset(data_dir, seed, copies)
    return espeak_dataset(replace(cfg, augment_copies=copies), seed, progress)


def train_speech(data: SpeechData, cfg: TrainConfig, out_dir: str | Path) -> TrainResult:
    info = {"frontend": FrontendConfig().__dict__, "sample_rate": SAMPLE_RATE}
    return train_classifier("speech", dscnn, data.train, data.test, cfg, out_dir, extra_sets=data.extra, info=info)
