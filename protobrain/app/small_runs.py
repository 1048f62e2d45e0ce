"""Three small trained runs, a vision, a speech and a synth run, enough to build a protobrain
bundle in about a minute: what the bundle's tests, the protocol fuzzer and the soak test
build their bundle from. The nets are small and barely trained (the SMALL configurations):
they exercise every path of the firmware, not its accuracy.

Kept in a folder: a second call with the same folder and seed reuses the runs, and callers
in several processes at once (test workers) wait for one to train them.
"""

from __future__ import annotations

import fcntl
import json
import shutil
from dataclasses import replace
from pathlib import Path

TASKS = ("vision", "speech", "synth")
RECIPE = 1          # raise when the recipe below changes: runs of another recipe are trained again
STAMP = "small_runs.json"


def small_runs(folder: str | Path, seed: int = 0) -> dict[str, Path]:
    """The runs in `folder` ("vision" | "speech" | "synth" -> run folder), trained there first
    unless a previous call with this seed left them whole."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    runs = {task: folder / task for task in TASKS}
    want = {"recipe": RECIPE, "seed": seed}
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # one trains, the others then find the runs made
        stamp = folder / STAMP
        done = json.loads(stamp.read_text()) if stamp.is_file() else {}
        for task in TASKS:
            if done.get(task) == want and (runs[task] / "run.json").is_file():
                continue
            shutil.rmtree(runs[task], ignore_errors=True)
            _TRAIN[task](runs[task], seed)
            done[task] = want   # stamped only once whole: an interrupted run is trained again
            stamp.write_text(json.dumps(done, indent=2) + "\n")
    return runs


def _vision(out: Path, seed: int) -> None:
    from protobrain.train.classifier import TrainConfig
    from protobrain.train.vision import load, train_vision

    train_vision(load(None), TrainConfig(epochs=4, width=0.5, seed=seed, progress=False), out)


def _speech(out: Path, seed: int) -> None:
    from protobrain.train.classifier import TrainConfig
    from protobrain.train.speech import SMALL, load, train_speech

    data = load(None, seed, progress=False, cfg=SMALL)
    train_speech(data, TrainConfig(epochs=2, width=0.5, seed=seed, progress=False), out)


def _synth(out: Path, seed: int) -> None:
    from protobrain.train.synth import SMALL, train_synth

    train_synth(replace(SMALL, seed=seed, progress=False), out)


_TRAIN = {"vision": _vision, "speech": _speech, "synth": _synth}
