"""An offline spoken-keyword dataset, synthesized with espeak-ng.

No download, no microphone: every English accent espeak-ng has installed, times every
voice variant (male, female, Klatt-synthesized, whispered, robotic, ...), times a few
speaking rates and pitches, says each keyword. Clips are 8 kHz mono int16, exactly one
second long, the word centred. protobrain.train.noise adds background noise and time
shifts so that a net trained on clean synthetic speech copes with real rooms.

A held-out split (`held_out`) keeps whole accents and whole voice families out of
training, so the test score says how well the net generalises to speech it has never
heard anything like, not how well it remembers the training voices.

    voices = all_voices()
    clips = make_clips(KEYWORDS + UNKNOWN_WORDS, voices, cache=Path("~/.cache/protobrain").expanduser())
    test = held_out(clips)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from protobrain.train import progress as _progress
from protobrain.train.data import DataError

SAMPLE_RATE = 8000          # Hz, of every clip this module returns
CLIP_LENGTH = 8000          # samples: exactly 1 s
ESPEAK_RATE = 22050         # Hz, what espeak-ng writes with --stdout
CACHE_FORMAT = 1            # bump when the clip-making recipe changes (invalidates caches)

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")

# Other short words for the "unknown" class. None is a keyword or sounds close to one
# (no "one"/"on", "top"/"stop", "though"/"go", "lift"/"left", "night"/"right", "dawn"/"down").
UNKNOWN_WORDS = ("house", "bird", "seven", "tree", "happy", "bed", "cat", "dog", "eight", "five",
                 "four", "nine", "six", "three", "zero", "wow", "marvin", "sheila", "forward",
                 "backward", "follow", "learn", "visual", "apple", "water", "music", "table",
                 "paper", "garden", "camera")

# Trimming: a sample is speech if its magnitude exceeds this fraction of the word's peak
# (but at least TRIM_FLOOR, so that resampling ripple in silence never counts).
TRIM_FRACTION = 0.02
TRIM_FLOOR = 16

_MISSING = "espeak-ng not found: apt-get install espeak-ng"


@dataclass(frozen=True)
class Voice:
    """One espeak-ng voice: an English accent, optionally with a voice variant."""

    accent: str     # espeak language id, e.g. "en-us"
    variant: str    # espeak variant name, e.g. "m3", "klatt2", "whisper", or "" for the accent's default
    family: str     # variant family (see `family`), used to hold out whole kinds of voice

    @property
    def name(self) -> str:
        """The argument of espeak-ng's `-v`: "en-us" or "en-us+klatt2"."""
        return f"{self.accent}+{self.variant}" if self.variant else self.accent


# ----------------------------------------------------------------------------------------
# The espeak-ng executable and what it has installed


def _exe() -> str:
    """Path of espeak-ng, or DataError telling how to install it."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise DataError(_MISSING)
    return path


def _run(args: list[str], what: str) -> subprocess.CompletedProcess:
    """Run espeak-ng with `args`; a failure is a DataError with espeak's own message."""
    try:
        proc = subprocess.run([_exe(), *args], capture_output=True, check=False)
    except FileNotFoundError:
        raise DataError(_MISSING) from None
    if proc.returncode != 0:
        raise DataError(f"espeak-ng failed on {what}: {_first_line(proc.stderr) or f'exit status {proc.returncode}'}")
    return proc


def _first_line(data: bytes) -> str:
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()
    return ""


@lru_cache(maxsize=None)
def _version_info(exe: str) -> tuple[str, str]:
    out = _run(["--version"], "--version").stdout.decode("utf-8", "replace")
    version = out.strip().splitlines()[0].strip() if out.strip() else ""
    m = re.search(r"Data at:\s*(.+?)\s*$", out, re.MULTILINE)
    return version, (m.group(1) if m else "")


def espeak_version() -> str:
    """The first line of `espeak-ng --version` (part of every cache key)."""
    return _version_info(_exe())[0]


def _data_dir() -> Path | None:
    """espeak-ng's data folder ("Data at:" in --version), None if unknown or not installed."""
    try:
        where = _version_info(_exe())[1]
    except DataError:
        return None
    return Path(where) if where else None


def _voice_rows(option: str) -> list[list[str]]:
    """The rows of `espeak-ng --voices=OPTION`, each split into
    [priority, language, age/gender, voice name, file, other languages...]. The file
    column may contain a space (variant "Mr serious"): it runs up to the "(lang prio)"
    groups of the last column, or the end of the line."""
    out = _run([f"--voices={option}"], f"--voices={option}").stdout.decode("utf-8", "replace")
    rows = []
    for line in out.splitlines()[1:]:      # first line is the header
        head = line.split(None, 4)
        if len(head) < 5:
            continue
        rest = re.sub(r"(\s*\([^()]*\))+\s*$", "", head[4]).strip()
        rows.append(head[:4] + [rest])
    return rows


@lru_cache(maxsize=None)
def _accents(exe: str) -> tuple[str, ...]:
    found = []
    for _, language, _, _, file in _voice_rows("en"):
        # MBROLA voices ("mb/...") need the separate mbrola engine and its voice data;
        # espeak-ng silently falls back to its own voice for them. "variant" rows are
        # voice variants that happen to name English as one of their languages.
        if language == "variant" or file.startswith("mb/") or not language.startswith("en"):
            continue
        if language not in found:
            found.append(language)
    usable = []
    for language in sorted(found):
        try:
            audio = _synthesize_raw("go", language, 175, 50)
        except DataError:
            continue
        if audio.size and np.abs(audio.astype(np.int32)).max() > TRIM_FLOOR:
            usable.append(language)
    return tuple(usable)


def english_accents() -> list[str]:
    """The English accents (espeak language ids) installed and working, sorted, e.g.
    ["en-029", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
    "en-gb-x-rp", "en-us", "en-us-nyc"]. MBROLA voices and accents that fail to
    synthesize are left out."""
    return list(_accents(_exe()))


@lru_cache(maxsize=None)
def _variants(exe: str) -> tuple[str, ...]:
    names = []
    for row in _voice_rows("variant"):
        file = row[4]
        # The file column reads "!v/NAME"; NAME (the file under voices/!v/) is what
        # espeak's "-v accent+NAME" takes.
        if "/" in file:
            name = file.split("/", 1)[1]
            if name and name not in names:
                names.append(name)
    return tuple(names)


def variants() -> list[str]:
    """The voice variant names installed: the file names under espeak-ng's voices/!v/
    ("m1".."m8", "f1".."f5", "klatt".."klatt6", "whisper", "whisperf", "Andy",
    "Mr serious", ...; 101 in espeak-ng 1.51), in espeak's listing order (by voice name)."""
    return list(_variants(_exe()))


# ----------------------------------------------------------------------------------------
# Voice families


FAMILIES = ("male", "female", "klatt", "whisper", "robot", "other")


def _variant_settings(variant: str) -> dict[str, list[str]] | None:
    """The keyword lines of a variant file ({"pitch": ["82", "118"], ...}), None if unreadable."""
    data = _data_dir()
    if data is None:
        return None
    path = data / "voices" / "!v" / variant
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        words = line.split("//", 1)[0].split()
        if words:
            settings[words[0].lower()] = [w.lower() for w in words[1:]]
    return settings


def _number(values: list[str] | None, index: int, default: float) -> float:
    try:
        return float(values[index]) if values else default
    except (IndexError, ValueError):
        return default


def _family_by_name(variant: str) -> str:
    v = variant.lower()
    if v.startswith("klatt"):
        return "klatt"
    if v.startswith("whisper"):
        return "whisper"
    if "robo" in v:
        return "robot"
    if re.fullmatch(r"m\d+|male\d*", v):
        return "male"
    if re.fullmatch(r"f\d+|female\d*", v):
        return "female"
    return "other"


@lru_cache(maxsize=None)
def family(variant: str) -> str:
    """The family of a voice variant, one of FAMILIES. Families group variants that sound
    alike, so that holding one out leaves the test set with voices unlike any trained on:

    - "klatt": voices made by the Klatt formant synthesizer (a `klatt N` line in the
      variant file: klatt..klatt6 and the named ones built on it, e.g. adam, david,
      edward, announcer, UniRobot, robosoft..robosoft3), whatever their other settings;
    - "whisper": unvoiced, breathy voices (voicing <= 25 with breath noise: whisper, whisperf);
    - "robot": voices made metallic by a strong echo (echo amplitude >= 500 %:
      robosoft4..8, RicishayMax*, anikaRobot, Demonic);
    - "female": variants declaring `gender female` (f1..f5, Alicia, Annie, steph, grandma, ...);
    - "male": the rest of the ordinary voices: declared male, or no gender (espeak's
      default voice is male) with a normal pitch (m1..m8, Andy, john, iven, quincy, ...),
      and "" (the accent's own default voice);
    - "other": no declared gender but a child-like base pitch >= 150 Hz (zac).

    The variant file (espeak-ng's voices/!v/NAME) decides; when it cannot be read (other
    installs, espeak missing) the name does: klatt*, whisper*, *robo*, mN, fN, else "other".
    """
    if variant == "":
        return "male"
    settings = _variant_settings(variant)
    if settings is None:
        return _family_by_name(variant)
    if "klatt" in settings and _number(settings["klatt"], 0, 0) > 0:
        return "klatt"
    if "breath" in settings and _number(settings.get("voicing"), 0, 100) <= 25:
        return "whisper"
    if _number(settings.get("echo"), 1, 0) >= 500:
        return "robot"
    gender = (settings.get("gender") or [""])[0]
    if gender == "female":
        return "female"
    if gender == "male" or _number(settings.get("pitch"), 0, 82) < 150:
        return "male"
    return "other"


def all_voices(accents: list[str] | None = None, variant_names: list[str] | None = None,
               include_default: bool = True) -> list[Voice]:
    """Every accent (default: all `english_accents()`) with every variant (default: all
    `variants()`), plus each accent's own default voice if `include_default`."""
    accents = english_accents() if accents is None else list(accents)
    names = variants() if variant_names is None else list(variant_names)
    if include_default:
        names = [""] + [n for n in names if n != ""]
    return [Voice(a, v, family(v)) for a in accents for v in names]


# ----------------------------------------------------------------------------------------
# Synthesis


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    from scipy.signal import resample_poly

    if rate_in == rate_out or audio.size == 0:
        return audio.astype(np.float64)
    g = math.gcd(rate_in, rate_out)
    return resample_poly(audio.astype(np.float64), rate_out // g, rate_in // g)


def _synthesize_raw(text: str, voice_name: str, speed: int, pitch: int) -> np.ndarray:
    """espeak-ng's output as int16 at the rate it wrote (22050 Hz), not resampled."""
    audio, _ = _espeak_wav(text, voice_name, speed, pitch)
    return audio


def _espeak_wav(text: str, voice_name: str, speed: int, pitch: int) -> tuple[np.ndarray, int]:
    # A text starting with "-" would be read as an option; a leading space is harmless.
    arg = f" {text}" if text.startswith("-") else text
    proc = _run(["-v", voice_name, "-s", str(int(speed)), "-p", str(int(pitch)), "--stdout", arg],
                f"{text!r} with voice {voice_name}")
    try:
        # espeak streams: its header claims ~2**30 frames; readframes returns what is there.
        with wave.open(io.BytesIO(proc.stdout), "rb") as w:
            if w.getsampwidth() != 2:
                raise DataError(f"espeak-ng wrote {8 * w.getsampwidth()}-bit audio; expected 16-bit")
            channels, rate = w.getnchannels(), w.getframerate()
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    except (wave.Error, EOFError) as e:
        raise DataError(f"espeak-ng wrote no readable WAV for {text!r} with voice {voice_name} ({e}); "
                        f"{_first_line(proc.stderr)}".rstrip("; ")) from None
    if channels > 1:
        data = data[: len(data) // channels * channels].reshape(-1, channels)[:, 0]
    return data.astype(np.int16), rate


def synthesize(text: str, voice: Voice, speed: int = 160, pitch: int = 50,
               sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """`text` spoken by `voice` as int16 samples at `sample_rate` (espeak's 22050 Hz
    resampled with an exact polyphase filter). `speed` is in words per minute (espeak
    -s, 80..500), `pitch` 0..99 (espeak -p). Nothing is trimmed: espeak's own leading
    and trailing silence is kept. Unknown variants and espeak errors are DataErrors."""
    if voice.variant and voice.variant not in _variants(_exe()):
        raise DataError(f"no espeak-ng voice variant {voice.variant!r}; see: espeak-ng --voices=variant")
    data, rate = _espeak_wav(text, voice.name, speed, pitch)
    out = np.rint(resample(data, rate, sample_rate))
    return np.clip(out, -32768, 32767).astype(np.int16)


def fit_clip(audio: np.ndarray, length: int, offset: int) -> np.ndarray:
    """`audio` placed into a zero clip of `length` samples starting at `offset`. A negative
    offset cuts that many samples off the start; whatever runs past the end is cut."""
    audio = np.asarray(audio)
    out = np.zeros(length, dtype=audio.dtype)
    src = max(0, -offset)
    dst = max(0, offset)
    n = min(len(audio) - src, length - dst)
    if n > 0:
        out[dst:dst + n] = audio[src:src + n]
    return out


def trim(audio: np.ndarray, fraction: float = TRIM_FRACTION, floor: int = TRIM_FLOOR) -> np.ndarray:
    """`audio` without leading and trailing silence: the span from the first to the last
    sample whose magnitude exceeds max(fraction * peak, floor). Empty if all is silence."""
    mag = np.abs(audio.astype(np.int32))
    if mag.size == 0:
        return audio[:0]
    threshold = max(fraction * int(mag.max()), floor)
    loud = np.flatnonzero(mag > threshold)
    if loud.size == 0:
        return audio[:0]
    return audio[loud[0]:loud[-1] + 1]


def centred(audio: np.ndarray, length: int = CLIP_LENGTH) -> np.ndarray:
    word = trim(audio)
    return fit_clip(word, length, (length - len(word)) // 2)


# ----------------------------------------------------------------------------------------
# Clip sets


@dataclass
class ClipSet:
    """Labelled one-second clips with the voice that spoke each."""

    clips: np.ndarray      # (n, 8000) int16
    words: np.ndarray      # (n,) str
    accents: np.ndarray    # (n,) str: espeak language id
    variants: np.ndarray   # (n,) str: variant name, "" for the accent's default voice
    families: np.ndarray   # (n,) str: variant family

    def __len__(self) -> int:
        return len(self.words)

    def subset(self, idx) -> "ClipSet":
        """The clips at `idx` (indices or boolean mask)."""
        return ClipSet(self.clips[idx], self.words[idx], self.accents[idx], self.variants[idx],
                       self.families[idx])

    def save(self, path: str | Path) -> None:
        """Write as a compressed .npz (plain arrays, no pickle). Writes to exactly `path`."""
        with open(path, "wb") as f:
            np.savez_compressed(f, clips=self.clips, words=self.words.astype(str),
                                accents=self.accents.astype(str), variants=self.variants.astype(str),
                                families=self.families.astype(str))

    @classmethod
    def load(cls, path: str | Path) -> "ClipSet":
        """Read a file written by `save`."""
        try:
            with np.load(path, allow_pickle=False) as f:
                return cls(f["clips"], f["words"], f["accents"], f["variants"], f["families"])
        except (OSError, KeyError, ValueError) as e:
            raise DataError(f"{path}: not a clip set ({e}); delete it to make it again") from None


def _str_array(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=str) if values else np.zeros(0, dtype="<U1")


def _cache_key(words, voices, speeds, pitches, per_voice, seed) -> str:
    spec = {
        "format": CACHE_FORMAT, "espeak": espeak_version(), "rate": SAMPLE_RATE, "length": CLIP_LENGTH,
        "trim": [TRIM_FRACTION, TRIM_FLOOR], "words": list(words),
        "voices": [[v.accent, v.variant, v.family] for v in voices],
        "speeds": [int(s) for s in speeds], "pitches": [int(p) for p in pitches],
        "per_voice": int(per_voice), "seed": int(seed),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:24]


def make_clips(words, voices, speeds=(120, 150, 180, 210), pitches=(25, 50, 75), per_voice: int = 2,
               seed: int = 0, progress: bool = True, cache: Path | None = None, workers: int = 2) -> ClipSet:
    """Every word spoken by every voice `per_voice` times, each time at a speed and pitch
    drawn from `speeds` and `pitches` (seeded), trimmed of silence and centred in a
    one-second clip (cut if longer). Order: word, then voice, then rendition.

    espeak-ng runs in `workers` threads; the result is the same for any number of them.
    With `cache` (a folder), the clip set is stored under a name hashed from all the
    arguments and the espeak-ng version, and read back instead of synthesizing again."""
    words, voices = list(words), list(voices)
    speeds, pitches = list(speeds), list(pitches)
    if not words:
        raise DataError("make_clips: no words to synthesize")
    if not voices:
        raise DataError("make_clips: no voices; see english_accents() and variants()")
    if not speeds or not pitches or per_voice < 1:
        raise DataError("make_clips: need at least one speed, one pitch and per_voice >= 1")

    path = None
    if cache is not None:
        cache = Path(cache)
        path = cache / f"espeak-clips-{_cache_key(words, voices, speeds, pitches, per_voice, seed)}.npz"
        if path.exists():
            try:
                return ClipSet.load(path)
            except DataError:
                pass            # damaged: make it again below

    _variants(_exe())       # fill the cache once, before the threads need it
    rng = np.random.default_rng(seed)
    n = len(words) * len(voices) * per_voice
    # All random draws happen here, in job order, so threads cannot change them.
    speed_draw = rng.choice(np.array(speeds, dtype=np.int64), size=n)
    pitch_draw = rng.choice(np.array(pitches, dtype=np.int64), size=n)
    jobs = [(w, v) for w in words for v in voices for _ in range(per_voice)]

    def job(i: int) -> np.ndarray:
        word, voice = jobs[i]
        return centred(synthesize(word, voice, int(speed_draw[i]), int(pitch_draw[i])))

    clips = np.zeros((n, CLIP_LENGTH), dtype=np.int16)
    with _progress.task("synthesizing speech", n, progress) as advance:
        if workers <= 1:
            for i in range(n):
                clips[i] = job(i)
                advance(1, status=jobs[i][0])
        else:
            pool = ThreadPoolExecutor(max_workers=workers)
            futures = [pool.submit(job, i) for i in range(n)]
            try:
                for i, fut in enumerate(futures):
                    clips[i] = fut.result()
                    advance(1, status=jobs[i][0])
            finally:
                pool.shutdown(wait=True, cancel_futures=True)

    result = ClipSet(clips, _str_array([w for w, _ in jobs]), _str_array([v.accent for _, v in jobs]),
                     _str_array([v.variant for _, v in jobs]), _str_array([v.family for _, v in jobs]))
    if path is not None:
        _save_atomic(result, path)
    return result


def _save_atomic(clipset: ClipSet, path: Path) -> None:
    """Write to a temporary file in the same folder, then rename over `path`: readers
    never see half a file, and concurrent writers leave one whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        clipset.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------------------------------
# Held-out split


# Defaults of `held_out`, all present in espeak-ng 1.51: en-029 (Caribbean) has its own
# phoneme table and intonation and is spoken by none of the other accents, while the
# common en-us and en-gb stay in training; "klatt" (a different synthesizer altogether)
# and "whisper" (no voicing at all) are the families least like the rest.
TEST_ACCENTS = ("en-029",)
TEST_FAMILIES = ("klatt", "whisper")


def held_out(clipset: ClipSet, test_accents=TEST_ACCENTS, test_families=TEST_FAMILIES) -> np.ndarray:
    """Boolean mask of the clips in the held-out test split: spoken in one of
    `test_accents` OR by a variant of one of `test_families`. Nothing else is held out,
    so no test clip shares both its accent and its kind of voice with training clips.

    Defaults: the Caribbean accent (en-029: its own phoneme table and intonation, unlike
    the British and American ones that dominate training) and the Klatt and whisper
    families (a different synthesizer, and speech without voicing): the score on them
    measures generalisation to unfamiliar speech, not recall of the training voices."""
    return (np.isin(clipset.accents, np.array(list(test_accents), dtype=str))
            | np.isin(clipset.families, np.array(list(test_families), dtype=str)))
