"""Any text as the frames a protobrain vocodes: espeak-ng says it on this host in the synth's
voice, the same integer audio frontend turns the audio into int16 log-mel frames, and (a
vocoder with linear prediction) each frame gets its Q12 prediction coefficients from the
same audio. `protobrain demo speak "any text"` streams these frames to the device
(SPEAK_STREAM, SPEAK_FRAME), which vocodes each as it arrives.

May import audio, synth and train (espeak-ng, the speech span).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from protobrain.audio.frontend import FrontendConfig, features, to_float
from protobrain.errors import ProtobrainError
from protobrain.synth import lpc
from protobrain.train import espeak
from protobrain.train.synth import speech_frames

MAX_CHARACTERS = 400   # about 30 s of speech: a demo sentence, not a book


@dataclass
class TextFrames:
    text: str
    features: np.ndarray            # (frames, mels) int16
    coefficients: np.ndarray | None  # (frames, order) int16 Q12, or None without prediction


def voice_of(name: str) -> espeak.Voice:
    """The espeak voice a synth run was trained on, from its name ("en-us" or "en-us+m3")."""
    accent, _, variant = name.partition("+")
    return espeak.Voice(accent, variant, espeak.family(variant) if variant else "male")


def text_frames(text: str, voice: espeak.Voice, frontend: FrontendConfig, lpc_order: int,
                speed: int = 150, pitch: int = 50) -> TextFrames:
    """The frames of `text` said by `voice`, speech span only (a frame of margin each side)."""
    text = " ".join(str(text).split())
    if not text:
        raise ProtobrainError("nothing to say: give some text, e.g. protobrain demo speak \"hello world\"")
    if len(text) > MAX_CHARACTERS:
        raise ProtobrainError(f"the text has {len(text)} characters; say at most {MAX_CHARACTERS} at a time")
    audio = espeak.synthesize(text, voice, speed=speed, pitch=pitch, sample_rate=frontend.sample_rate)
    feats = features(np.asarray(audio, np.int16), frontend)
    span = speech_frames(to_float(feats, frontend))
    if span.stop <= span.start:
        raise ProtobrainError(f"espeak-ng said nothing audible for {text!r}; try words it can pronounce")
    coefficients = lpc.analyse(audio, len(feats), frontend.hop, lpc_order)[span] if lpc_order else None
    return TextFrames(text, np.ascontiguousarray(feats[span]), coefficients)
