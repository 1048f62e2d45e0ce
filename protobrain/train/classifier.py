"""Train a classifier, quantize it, and measure both on held-out data.

Shared by the vision and speech trainers: they differ only in data and architecture.
The quantized accuracy is measured on protobrain's generated C.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from protobrain.train import progress
from protobrain.train.data import Dataset
from protobrain.train.quantize import QuantizedClassifier, accuracy, float_predict, to_tflite
from protobrain.train.run import Run, save_run, seed_everything


@dataclass
class TrainConfig:
    width: float = 1.0
    epochs: int = 30
    batch: int = 32
    lr: float = 3e-3
    seed: int = 0
    mode: str = "int8"
    progress: bool = True


@dataclass
class Scores:
    float_acc: float
    quant_acc: float


@dataclass
class TrainResult:
    run: Run
    scores: dict[str, Scores] = field(default_factory=dict)   # evaluation set name -> scores

    @property
    def test(self) -> Scores:
        return self.scores["test"]


def fit(model, train: Dataset, cfg: TrainConfig, label: str, augment: Callable | None = None):
    """Adam with cosine learning-rate decay; `augment(x, rng)` makes a fresh variant of the
    training inputs for every epoch (noise, shifts) when given."""
    from tensorflow import keras  # TensorFlow loads only when training

    steps = max(1, -(-len(train) // cfg.batch)) * cfg.epochs
    opt = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(cfg.lr, steps, alpha=0.02))
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    bar = progress.keras_callback(label, cfg.epochs, cfg.progress)
    if augment is None:
        model.fit(train.x, train.y, epochs=cfg.epochs, batch_size=cfg.batch, shuffle=True, verbose=0,
                  callbacks=[bar])
        return model
    rng = np.random.default_rng(cfg.seed)
    bar.set_model(model)
    bar.on_train_begin()
    for epoch in range(cfg.epochs):
        h = model.fit(augment(train.x, rng), train.y, epochs=1, batch_size=cfg.batch, shuffle=True, verbose=0)
        bar.on_epoch_end(epoch, {k: v[-1] for k, v in h.history.items()})
    bar.on_train_end()
    return model


def evaluate(model, tflite: bytes, sets: dict[str, Dataset], name: str) -> dict[str, Scores]:
    quant = QuantizedClassifier(tflite, name)
    return {k: Scores(accuracy(float_predict(model, d.x), d.y), accuracy(quant.predict(d.x), d.y))
            for k, d in sets.items()}


def train_classifier(task: str, build: Callable, train: Dataset, test: Dataset, cfg: TrainConfig,
                     out_dir: str | Path, extra_sets: dict[str, Dataset] | None = None, info: dict | None = None,
                     augment: Callable | None = None) -> TrainResult:
    """build(input_shape, n_classes, width) -> Keras model. Writes the run folder."""
    seed_everything(cfg.seed)
    model = build(train.input_shape, len(train.classes), cfg.width)
    fit(model, train, cfg, f"training {task} (width {cfg.width:g})", augment)
    tflite = to_tflite(model, train.x, cfg.mode, seed=cfg.seed)
    sets = {"test": test, **(extra_sets or {})}
    scores = evaluate(model, tflite, sets, task)
    run_info = {"width": cfg.width, "epochs": cfg.epochs, "seed": cfg.seed, "mode": cfg.mode,
                "params": int(model.count_params()), **(info or {}),
                "sizes": {"train": len(train), **{k: len(d) for k, d in sets.items()}},
                "accuracy": {k: {"float": s.float_acc, cfg.mode: s.quant_acc} for k, s in scores.items()}}
    run = save_run(out_dir, task, model, tflite, train, test, run_info)
    return TrainResult(run, scores)
