"""The loop demo: the device says every stored keyword, then listens to what it said.

May import app.demo (the Protobrain client, WAV writing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from protobrain.app.demo import write_wav


def run_loop(pb, seed: int = 1, out_dir=None, progress=None, checks=None) -> list[dict]:
    """Speak every stored keyword, then listen to it: the word centred in the speech net's
    window (as in training), with a quarter second of silence either side. With `checks`
    (protobrain.app.demo.Checks), every utterance and inference is compared as demo "loop"."""
    rate = pb.spec["synth"]["sample_rate"]
    sp = pb.spec["speech"]
    window = (sp["window"] - 1) * sp["hop"] + sp["window_samples"]   # samples the speech net sees
    rows = []
    for word in pb.spec["synth"]["keywords"]:
        spoken = pb.speak(word, seed=seed)
        if out_dir:
            write_wav(Path(out_dir) / f"{word}.wav", spoken.pcm, rate)
        pcm = spoken.pcm[:window]
        clip = np.zeros(window + rate // 2, np.int16)
        start = rate // 4 + (window - len(pcm)) // 2
        clip[start:start + len(pcm)] = pcm
        heard = pb.listen(clip)
        if checks:
            checks.speak("loop", spoken)
            checks.listen("loop", clip, heard, f"{word!r} heard back")
        heard_word, score = heard_as(heard)
        rows.append({"said": word, "heard": heard_word, "score": score, "per_sample": spoken.per_sample,
                     "unit": spoken.unit})
        if progress:
            progress(rows[-1])
    return rows


def heard_as(heard) -> tuple[str, float]:
    """The class with the highest score in any window, silence aside."""
    if not len(heard.times):
        return "nothing", 0.0
    scores = heard.scores.copy()
    if "silence" in heard.classes:
        scores[:, heard.classes.index("silence")] = -1
    k = int(np.argmax(scores.max(axis=0)))
    return heard.classes[k], float(scores[:, k].max())
