"""`protobrain data audit`: find the training examples most likely mislabeled.

Each example's loss is measured by a net that never saw it (k-fold: train on the other
folds, score the held-out one), so a wrong label cannot be memorised away: mislabeled
examples rise to the top of the ranking.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from protobrain.train import progress
from protobrain.train.classifier import TrainConfig, fit
from protobrain.train.data import Dataset
from protobrain.train.run import seed_everything


@dataclass
class AuditResult:
    losses: np.ndarray      # held-out cross-entropy per example
    predicted: np.ndarray   # the held-out net's class per example
    ranking: np.ndarray     # example indices, most suspicious first

    def top(self, fraction: float) -> np.ndarray:
        return self.ranking[:max(1, int(round(len(self.ranking) * fraction)))]


def held_out_losses(ds: Dataset, build: Callable, cfg: TrainConfig, folds: int = 4) -> AuditResult:
    seed_everything(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    fold_of = rng.permutation(len(ds)) % folds
    losses = np.zeros(len(ds), dtype=np.float64)
    predicted = np.zeros(len(ds), dtype=np.int64)
    quiet = TrainConfig(**{**cfg.__dict__, "progress": False})
    with progress.task("auditing (k-fold)", folds, cfg.progress) as advance:
        for k in range(folds):
            held = np.flatnonzero(fold_of == k)
            model = build(ds.input_shape, len(ds.classes), cfg.width)
            fit(model, ds.subset(np.flatnonzero(fold_of != k)), quiet, "")
            p = np.asarray(model.predict(ds.x[held], verbose=0, batch_size=256), dtype=np.float64)
            losses[held] = -np.log(np.clip(p[np.arange(len(held)), ds.y[held]], 1e-12, 1.0))
            predicted[held] = p.argmax(axis=1)
            advance(1, status=f"fold {k + 1}/{folds}")
    return AuditResult(losses, predicted, np.argsort(-losses, kind="stable"))


def flip_labels(y: np.ndarray, fraction: float, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels with `fraction` of them changed to another class at random, and the changed indices."""
    rng = np.random.default_rng(seed + 1)
    idx = np.sort(rng.choice(len(y), size=int(round(len(y) * fraction)), replace=False))
    y = y.copy()
    y[idx] = (y[idx] + rng.integers(1, n_classes, size=len(idx))) % n_classes
    return y, idx


def picture(ds: Dataset, result: AuditResult, path: Path, n: int = 24) -> Path:
    """A grid of the most suspicious examples, each titled with its label, the net's
    guess and the loss. Images are drawn as images; audio features as spectrograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    idx = result.ranking[:n]
    cols = 6
    rows = -(-len(idx) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, idx):
        x = ds.x[i]
        img = x[..., 0] if x.shape[-1] == 1 else x
        ax.imshow(img.T if ds.meta.get("kind") == "audio" else img,
                  cmap="gray_r" if x.shape[-1] == 1 else None, origin="lower" if ds.meta.get("kind") == "audio" else "upper",
                  aspect="auto" if ds.meta.get("kind") == "audio" else "equal")
        name = Path(ds.files[i]).name if ds.files is not None else f"#{i}"
        ax.set_title(f"{name} label {ds.classes[ds.y[i]]}\nnet says {ds.classes[result.predicted[i]]} "
                     f"loss {result.losses[i]:.1f}", fontsize=8)
    fig.suptitle("Most likely mislabeled (held-out loss, highest first)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
