"""A training run's folder: what `protobrain train` writes and `quantize`/`sweep` read.

    model.keras    the float model
    model.tflite   the quantized model (int8, or 16x8 after `quantize --mode 16x8`)
    train.npz      training split (inputs, labels, class names): also the calibration set
    test.npz       held-out split
    run.json       task, classes, width, seed, accuracies (float and quantized)
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from protobrain.errors import ProtobrainError
from protobrain.train.data import Dataset


def seed_everything(seed: int) -> None:
    """Same seed, same model: seeds Python, numpy and TensorFlow and makes TF's ops deterministic."""
    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")   # retracing notices are not the user's concern
    tf.keras.backend.clear_session()    # fresh layer-name counters: same names, same .tflite bytes
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


@dataclass
class Run:
    path: Path
    info: dict

    @classmethod
    def open(cls, path: str | Path) -> "Run":
        path = Path(path)
        meta = path / "run.json"
        if not meta.is_file():
            raise ProtobrainError(f"{path}: not a training run (no run.json); make one with `protobrain train ...`")
        return cls(path, json.loads(meta.read_text()))

    @property
    def task(self) -> str:
        return self.info["task"]

    def keras_model(self):
        from tensorflow import keras

        return keras.models.load_model(self.path / "model.keras", compile=False)

    def tflite(self) -> bytes:
        return (self.path / "model.tflite").read_bytes()

    def split(self, name: str) -> Dataset:
        return Dataset.load(self.path / f"{name}.npz")

    def update(self, **fields) -> None:
        self.info.update(fields)
        (self.path / "run.json").write_text(json.dumps(self.info, indent=2, sort_keys=True) + "\n")


def save_run(out_dir: str | Path, task: str, model, tflite: bytes, train: Dataset, test: Dataset,
             info: dict) -> Run:
    """Write every file of a run at once, into a temporary folder renamed at the end,
    so a failed or interrupted training never leaves a half-written run behind."""
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save(tmp / "model.keras")
    (tmp / "model.tflite").write_bytes(tflite)
    train.save(tmp / "train.npz")
    test.save(tmp / "test.npz")
    full = {"task": task, "classes": train.classes, "input_shape": list(train.input_shape), **info}
    (tmp / "run.json").write_text(json.dumps(full, indent=2, sort_keys=True, default=_plain) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return Run(out, full)


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(type(v).__name__)
