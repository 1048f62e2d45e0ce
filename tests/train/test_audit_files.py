"""`protobrain data audit` names the files it suspects (their paths), in its printed list and
in audit.json, when the data came from files; a built-in dataset has no files, so its
examples are indices, and the audit says so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("tensorflow", reason="training needs the train extra: pip install 'protobrain[train]'")

from protobrain.cli import train as cli_train  # noqa: E402
from protobrain.cli.main import main  # noqa: E402
from protobrain.train.data import Dataset, load_image_folder  # noqa: E402


def _images(root: Path, n: int = 8) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(0)
    files = []
    for c, name in enumerate(["dark", "light"]):
        (root / name).mkdir(parents=True)
        for i in range(n):
            img = rng.integers(0, 40, size=(8, 8), dtype=np.uint8) + 200 * c
            files.append(root / name / f"img{i}.png")
            Image.fromarray(img.astype(np.uint8)).save(files[-1])
    return files


def test_image_folder_keeps_each_example_file(tmp_path):
    files = _images(tmp_path / "data")
    ds = load_image_folder(tmp_path / "data")
    assert [Path(f) for f in ds.files] == files
    sub = ds.subset(np.array([9, 2]))
    assert list(sub.files) == [str(files[9]), str(files[2])] and sub.example(0) == str(files[9])


def test_audit_of_a_folder_names_files(tmp_path):
    files = _images(tmp_path / "data")
    out = tmp_path / "audit"
    r = CliRunner().invoke(main, ["data", "audit", "vision", "--data", str(tmp_path / "data"), "--folds", "2",
                                  "--epochs", "1", "--top", "5", "--flip", "0.125", "-o", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    listed = [f for f in map(str, files) if f in r.output.replace("\n", "")]
    assert len(listed) >= 1, r.output  # rich may fold a long path, but some fit whole
    summary = json.loads((out / "audit.json").read_text())
    assert summary["examples_are"] == "files"
    assert sorted(e["example"] for e in summary["ranking"]) == sorted(map(str, files))
    assert all({"label", "net_says", "loss"} <= set(e) for e in summary["ranking"])
    assert len(summary["flipped"]) == 2 and set(summary["flipped"]) <= set(map(str, files))


def test_audit_of_a_built_in_dataset_keeps_indices_and_says_so(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    y = np.arange(16) % 2
    x = (rng.random((16, 8, 8, 1)) * 0.2 + y[:, None, None, None] * 0.8).astype(np.float32)
    monkeypatch.setattr(cli_train.vision, "load", lambda data_dir: Dataset(x, y, ["a", "b"],
                                                                           meta={"source": "sklearn digits"}))
    out = tmp_path / "audit"
    r = CliRunner().invoke(main, ["data", "audit", "vision", "--folds", "2", "--epochs", "1", "-o", str(out),
                                  "--quiet"])
    assert r.exit_code == 0, r.output
    assert "indices into sklearn digits" in r.output
    summary = json.loads((out / "audit.json").read_text())
    assert summary["examples_are"].startswith("indices into sklearn digits")
    assert sorted(e["example"] for e in summary["ranking"]) == list(range(16))


def test_speech_folder_keeps_each_clip_file_through_split_and_augmentation(tmp_path):
    import wave

    from protobrain.train.speech import folder_dataset

    t = np.arange(8000) / 8000
    for c, (name, hz) in enumerate([("low", 300), ("high", 1200)]):
        (tmp_path / name).mkdir()
        for i in range(5):
            pcm = (6000 * np.sin(2 * np.pi * (hz + 10 * i) * t)).astype("<i2")
            with wave.open(str(tmp_path / name / f"c{i}.wav"), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                w.writeframes(pcm.tobytes())
    data = folder_dataset(tmp_path, seed=0, augment_copies=2)
    for ds in (data.train, data.test):
        assert ds.files is not None and len(ds.files) == len(ds)
        # every example's file is in its label's folder
        assert all(Path(f).parent.name == ds.classes[y] for f, y in zip(ds.files, ds.y))
    n = len(data.train) // 3  # the clips, then two augmented copies in the same order
    assert list(data.train.files[:n]) == list(data.train.files[n:2 * n]) == list(data.train.files[2 * n:])
    assert not set(data.train.files) & set(data.test.files)
