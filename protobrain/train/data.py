"""Datasets as the trainers see them: float inputs, integer labels, class names.

Loaders for a folder per class (images or WAV files) and for scikit-learn's digits.
Every problem a user can fix (empty folder, unreadable file, one class, mixed sample
rates, colour among greyscale images, stereo or too-short clips) is a `DataError` with one
line naming the file and saying what to do. A 32-bit float WAV is converted to 16-bit with
a warning (read with scipy's reader, which scikit-learn brings).
"""

from __future__ import annotations

import wave
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from protobrain.errors import ProtobrainError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
MIN_CLIP_SECONDS = 0.1     # shorter than this, a training clip is (almost) all padding


class DataError(ProtobrainError):
    """The training data cannot be used as given."""


@dataclass
class Dataset:
    x: np.ndarray                      # float32 inputs, (n, *input_shape)
    y: np.ndarray                      # int64 labels, (n,)
    classes: list[str]
    groups: np.ndarray | None = None   # per-example group (speaker family, ...) for held-out splits
    meta: dict = field(default_factory=dict)
    files: np.ndarray | None = None    # per-example source file (str paths); None for built-in data

    def __len__(self) -> int:
        return len(self.y)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def subset(self, idx) -> "Dataset":
        return Dataset(self.x[idx], self.y[idx], self.classes,
                       None if self.groups is None else self.groups[idx], dict(self.meta),
                       None if self.files is None else self.files[idx])

    def example(self, i: int) -> str | int:
        """Example i as a user finds it: its file, or its index in a built-in dataset."""
        return str(self.files[i]) if self.files is not None else int(i)

    def save(self, path: Path) -> None:
        extra = {} if self.groups is None else {"groups": self.groups}
        np.savez_compressed(path, x=self.x, y=self.y, classes=np.array(self.classes), **extra)

    @classmethod
    def load(cls, path: Path) -> "Dataset":
        with np.load(path, allow_pickle=False) as f:
            return cls(f["x"], f["y"], [str(c) for c in f["classes"]],
                       f["groups"] if "groups" in f else None)


def check_classes(y: np.ndarray, classes: list[str], where: str) -> None:
    present = np.unique(y)
    if len(present) < 2:
        raise DataError(f"{where}: only one class ({classes[int(present[0])] if len(present) else 'none'}); "
                        "a classifier needs at least two: add a folder per class")


def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): the same fraction of every class in the test part."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(len(idx) * test_fraction))
        k = min(max(k, 1), len(idx) - 1) if len(idx) > 1 else 0
        test.extend(idx[:k])
        train.extend(idx[k:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(test, dtype=np.int64))


def typical_examples(train: Dataset, test: Dataset) -> list[int]:
    """Per class present in both splits, in class order: the index of the test example nearest
    (squared distance) the mean of that class's training examples. Chosen from the data alone,
    before any net sees it, so a demo shows each class's most ordinary held-out example."""
    picks = []
    for c in range(len(test.classes)):
        mine, theirs = np.flatnonzero(test.y == c), train.x[train.y == c]
        if len(mine) == 0 or len(theirs) == 0:
            continue
        mean = theirs.astype(np.float64).mean(axis=0)
        dist = ((test.x[mine].astype(np.float64) - mean) ** 2).reshape(len(mine), -1).sum(axis=1)
        picks.append(int(mine[np.argmin(dist)]))
    return picks


def load_digits() -> Dataset:
    """scikit-learn's handwritten digits: 1,797 8x8 grey images, 10 classes, no download."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None]
    return Dataset(x, d.target.astype(np.int64), [str(c) for c in d.target_names], meta={"source": "sklearn digits"})


def _class_folders(root: Path, suffixes: set[str], kind: str) -> list[tuple[str, list[Path]]]:
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; give a folder with one subfolder of {kind} per class")
    out = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in sub.iterdir() if f.is_file() and f.suffix.lower() in suffixes)
        if not files:
            raise DataError(f"{sub}: no {kind} ({', '.join(sorted(suffixes))}) in this class folder; "
                            "add some or remove the folder")
        out.append((sub.name, files))
    if not out:
        raise DataError(f"{root}: no class folders; put the {kind} of each class in its own subfolder")
    if len(out) < 2:
        raise DataError(f"{root}: only one class ({out[0][0]}); a classifier needs at least two class folders")
    return out


def load_image_folder(root: str | Path) -> Dataset:
    """A folder per class of images. All images must have the same size and be all
    colour (3 channels) or all greyscale (1): the net's input follows the data."""
    from PIL import Image, UnidentifiedImageError

    root = Path(root)
    xs, ys, classes, modes, size = [], [], [], [], None
    for label, (name, files) in enumerate(_class_folders(root, IMAGE_SUFFIXES, "images")):
        classes.append(name)
        for f in files:
            try:
                with Image.open(f) as im:
                    im_mode = "L" if im.mode in ("L", "1", "I;16", "I") else "RGB"
                    arr = np.asarray(im.convert(im_mode))
            except (UnidentifiedImageError, OSError) as e:
                raise DataError(f"{f}: cannot read this image ({e.__class__.__name__}); fix or remove it") from None
            if size is None:
                size = arr.shape[:2]
            if arr.shape[:2] != size:
                raise DataError(f"{f}: image is {arr.shape[1]}x{arr.shape[0]}, the others are {size[1]}x{size[0]}; "
                                "resize all images of the dataset to one size")
            xs.append(arr.reshape(*size, -1))
            ys.append(label)
            modes.append((im_mode, f))
    _check_one_mode(modes)
    x = np.stack(xs).astype(np.float32) / 255.0
    return Dataset(x, np.array(ys, dtype=np.int64), classes, meta={"source": str(root)},
                   files=np.array([str(f) for _, f in modes]))


def _check_one_mode(modes: list[tuple[str, Path]]) -> None:
    """Colour and greyscale mixed would silently make the net 1- or 3-channel after whichever
    image came first: name the first image of the fewer kind instead."""
    colour = [f for m, f in modes if m == "RGB"]
    grey = [f for m, f in modes if m == "L"]
    if colour and grey:
        odd, kind, other, n = ((colour[0], "colour", "greyscale", len(grey)) if len(colour) <= len(grey)
                               else (grey[0], "greyscale", "colour", len(colour)))
        raise DataError(f"{odd}: {kind} image among {n} {other} ones ({min(len(colour), len(grey))} {kind} in all); "
                        f"the net's channels follow the data: make every image {other} "
                        f"(PIL: Image.open(f).convert('{'L' if other == 'greyscale' else 'RGB'}').save(f))")


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A mono 16-bit WAV as int16 samples and its sample rate; a 32-bit float WAV is
    converted, with a warning."""
    data, rate, converted = _read_wav(Path(path))
    if converted:
        _warn(f"{path}: 32-bit float WAV, converted to 16-bit PCM (x 32768, clipped)")
    return data, rate


def _warn(line: str) -> None:
    from protobrain.train.progress import console

    console.print(f"warning: {line}", markup=False, highlight=False, soft_wrap=True)


def _read_wav(path: Path) -> tuple[np.ndarray, int, bool]:
    """(int16 samples, rate, whether they were converted from float)."""
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except wave.Error as e:
        return _read_wav_other(path, e)
    except EOFError as e:
        raise DataError(f"{path}: not a readable WAV file ({e}); fix or remove it") from None
    if width != 2:
        raise DataError(f"{path}: {8 * width}-bit samples; protobrain reads 16-bit PCM WAV "
                        "(convert with: sox IN -b 16 OUT.wav)")
    return _mono(path, np.frombuffer(raw, dtype="<i2").reshape(-1, channels)), rate, False


def _read_wav_other(path: Path, wave_error: Exception) -> tuple[np.ndarray, int, bool]:
    """What the standard library's reader does not know: float samples, WAVE_FORMAT_EXTENSIBLE."""
    try:
        from scipy.io import wavfile
    except ImportError:
        raise DataError(f"{path}: not a 16-bit PCM WAV ({wave_error}); convert it "
                        "(sox IN -b 16 -e signed-integer OUT.wav)") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)   # unknown chunks (LIST, ...) are fine
            rate, data = wavfile.read(path)
    except (ValueError, OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable WAV file ({e}); fix or remove it") from None
    data = data.reshape(len(data), -1)
    if data.dtype.kind == "f":
        # the inverse of int16 / 32768: a 16-bit recording saved as float comes back exactly
        pcm = np.clip(np.round(data.astype(np.float64) * 32768), -32768, 32767).astype(np.int16)
        return _mono(path, pcm), rate, True
    if data.dtype != np.int16:
        raise DataError(f"{path}: {8 * data.dtype.itemsize}-bit samples; protobrain reads 16-bit PCM WAV "
                        "(convert with: sox IN -b 16 OUT.wav)")
    return _mono(path, data), rate, False


def _mono(path: Path, frames: np.ndarray) -> np.ndarray:
    if frames.shape[1] != 1:
        raise DataError(f"{path}: {frames.shape[1]} channels; protobrain hears mono audio: "
                        "mix it down (sox IN -c 1 OUT.wav)")
    return frames[:, 0].astype(np.int16)


def wav_files(root: str | Path) -> list[Path]:
    """The files load_wav_folder reads, in its order."""
    return [f for _, files in _class_folders(Path(root), {".wav"}, "WAV files") for f in files]


def load_wav_folder(root: str | Path) -> tuple[list[np.ndarray], np.ndarray, list[str], int]:
    """A folder per keyword of WAV files: (clips, labels, class names, sample rate).
    All files must share one sample rate and hold at least MIN_CLIP_SECONDS of audio."""
    root = Path(root)
    clips, ys, classes, rate, first, floats = [], [], [], None, None, []
    for label, (name, files) in enumerate(_class_folders(root, {".wav"}, "WAV files")):
        classes.append(name)
        for f in files:
            clip, r, converted = _read_wav(f)
            if rate is None:
                rate, first = r, f
            elif r != rate:
                raise DataError(f"{f}: {r} Hz, but {first} is {rate} Hz; resample all files to one rate "
                                f"(sox IN -r {rate} OUT.wav)")
            if len(clip) < MIN_CLIP_SECONDS * r:
                raise DataError(f"{f}: {1000 * len(clip) / r:.0f} ms of audio; a training clip needs at least "
                                f"{1000 * MIN_CLIP_SECONDS:.0f} ms (the net hears 1 s): record a longer one or remove it")
            floats += [f] * converted
            clips.append(clip)
            ys.append(label)
    if floats:
        _warn(f"converted {len(floats)} WAV files from 32-bit float to 16-bit PCM (x 32768, clipped; "
              f"first: {floats[0]})")
    return clips, np.array(ys, dtype=np.int64), classes, rate
