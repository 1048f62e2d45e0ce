"""`protobrain train vision`: a small ConvNet on a folder of images, or on scikit-learn's digits."""

from __future__ import annotations

from pathlib import Path

from protobrain.train.classifier import TrainConfig, TrainResult, train_classifier
from protobrain.train.data import Dataset, check_classes, load_digits, load_image_folder, stratified_split
from protobrain.train.nets import vision_net

TEST_FRACTION = 0.25


def load(data_dir: str | Path | None) -> Dataset:
    return load_digits() if data_dir is None else load_image_folder(data_dir)


def split(ds: Dataset, seed: int) -> tuple[Dataset, Dataset]:
    check_classes(ds.y, ds.classes, ds.meta.get("source", "data"))
    tr, te = stratified_split(ds.y, TEST_FRACTION, seed)
    return ds.subset(tr), ds.subset(te)


def train_vision(ds: Dataset, cfg: TrainConfig, out_dir: str | Path) -> TrainResult:
    train, test = split(ds, cfg.seed)
    return train_classifier("vision", vision_net, train, test, cfg, out_dir,
                            info={"source": ds.meta.get("source", "")})
