"""What a training run says about its model: `protobrain train` writes model.tflite beside a
run.json that names the task, the classes (in the order of the net's outputs) and, for a
speech net, the audio frontend's settings. A MODEL argument may name the run's folder.

Code generation ships what the run knows with the model's C: a classifier's labels in its
header, a speech net's audio frontend (protobrain/audio/companion.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from protobrain.compiler.ir import Graph
from protobrain.compiler.names import RUN_INFO, RUN_MODEL
from protobrain.errors import ProtobrainError


@dataclass(frozen=True)
class RunInfo:
    path: Path                 # the run.json
    task: str                  # "vision", "speech", "synth", ...
    classes: tuple[str, ...]   # class names in the order of the net's output values
    frontend: dict | None      # a speech run's FrontendConfig fields ({}: the defaults); else None


def model_path(arg: str | Path) -> Path:
    """The .tflite a MODEL argument names: the file itself, or a training run's model.tflite
    when it names the run's folder."""
    path = Path(arg)
    if path.is_dir():
        if not (path / RUN_MODEL).is_file():
            raise ProtobrainError(f"{path} is a folder without {RUN_MODEL}; give a .tflite file, or a training "
                                  "run's folder (protobrain train ... -o FOLDER)")
        return path / RUN_MODEL
    return path


def run_info(model: str | Path) -> RunInfo | None:
    """The run.json beside a run's model.tflite (or in the run's folder), or None for a
    model file of any other origin."""
    path = model_path(model)
    meta = path.parent / RUN_INFO
    if path.name != RUN_MODEL or not meta.is_file():
        return None
    try:
        info = json.loads(meta.read_text())
        classes = tuple(str(c) for c in info.get("classes", ()))
        task = str(info.get("task", ""))
    except (ValueError, TypeError, AttributeError) as e:
        raise ProtobrainError(f"{meta} is not a training run's run.json ({type(e).__name__}: {e}); "
                              "rerun protobrain train, or move the model out of that folder") from None
    frontend = info.get("frontend", {}) if task == "speech" else None
    return RunInfo(meta, task, classes, frontend)


def classifier_labels(graph: Graph, info: RunInfo | None) -> tuple[str, ...]:
    """The run's class names when the net is a classifier of them (one output, one value per
    class), else ()."""
    if info is None or not info.classes or len(graph.outputs) != 1:
        return ()
    return info.classes if graph.tensors[graph.outputs[0]].size == len(info.classes) else ()
