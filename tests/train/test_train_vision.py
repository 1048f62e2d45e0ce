"""Vision training, quantization, audit and sweep: real training on scikit-learn's digits
(small configurations), accuracy measured on the generated C."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("tensorflow", reason="training needs the train extra: pip install 'protobrain[train]'")

from protobrain.cli.main import main
from protobrain.compiler.reader import read_model_bytes
from protobrain.train.classifier import TrainConfig
from protobrain.train.data import DataError, load_digits, load_image_folder
from protobrain.train.run import Run
from protobrain.train.vision import train_vision


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("vision") / "run"
    return train_vision(load_digits(), TrainConfig(epochs=15, progress=False), out)


def test_digits_int8_in_generated_c(digits_run):
    s = digits_run.test
    assert s.quant_acc >= 0.95, f"int8 accuracy {s.quant_acc:.2%} on held-out digits"
    assert abs(s.quant_acc - s.float_acc) <= 0.02, "int8 lost more than 2 points against float"
    run = Run.open(digits_run.run.path)
    assert run.info["sizes"] == {"train": 1347, "test": 450}
    assert run.info["accuracy"]["test"]["int8"] == s.quant_acc
    g = read_model_bytes(run.tflite(), "vision")
    assert [g.tensors[i].dtype for i in g.inputs + g.outputs] == ["int8", "int8"]
    assert g.tensors[g.inputs[0]].shape == (1, 8, 8, 1)
    # the splits are disjoint and cover the data
    assert len(run.split("train")) + len(run.split("test")) == 1797


def test_same_seed_same_model_other_seed_other_model(tmp_path):
    ds = load_digits()
    a = train_vision(ds, TrainConfig(epochs=2, seed=3, progress=False), tmp_path / "a").run.tflite()
    b = train_vision(ds, TrainConfig(epochs=2, seed=3, progress=False), tmp_path / "b").run.tflite()
    c = train_vision(ds, TrainConfig(epochs=2, seed=4, progress=False), tmp_path / "c").run.tflite()
    assert a == b
    assert a != c


def test_width_scales_channels(tmp_path):
    half = train_vision(load_digits(), TrainConfig(width=0.5, epochs=1, progress=False), tmp_path / "w")
    full_params = 14378  # width 1: 16/32/32 channels
    assert half.run.info["params"] < full_params / 3


def _write_images(root, classes, size=(12, 10), mode="RGB", n=12, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        d = root / name
        d.mkdir(parents=True)
        for i in range(n):
            img = rng.integers(0, 60, size=(size[1], size[0], 3), dtype=np.uint8)
            img[:, :, c % 3] += 150  # each class has its own dominant colour
            Image.fromarray(img).convert(mode).save(d / f"{i}.png")


def test_image_folder_sets_input_shape(tmp_path):
    _write_images(tmp_path / "data", ["red", "green", "blue"])
    ds = load_image_folder(tmp_path / "data")
    assert ds.input_shape == (10, 12, 3) and ds.classes == ["blue", "green", "red"]
    r = CliRunner().invoke(main, ["train", "vision", "--data", str(tmp_path / "data"), "-o", str(tmp_path / "run"),
                                  "--epochs", "25", "--quiet"])
    assert r.exit_code == 0, r.output
    run = Run.open(tmp_path / "run")
    g = read_model_bytes(run.tflite(), "v")
    assert g.tensors[g.inputs[0]].shape == (1, 10, 12, 3)
    assert run.info["accuracy"]["test"]["int8"] >= 0.8  # colours are trivially separable


@pytest.mark.parametrize("case, message", [
    ("missing", "not a folder"),
    ("no_classes", "no class folders"),
    ("empty_class", "no images"),
    ("one_class", "only one class"),
    ("unreadable", "cannot read this image"),
    ("mixed_sizes", "resize all images"),
    ("mixed_channels", "colour image among 3 greyscale"),
])
def test_bad_image_folders(tmp_path, case, message):
    data = tmp_path / "data"
    if case != "missing":
        data.mkdir()
    if case in ("empty_class", "unreadable", "mixed_sizes"):
        _write_images(data, ["a", "b"], n=2)
    if case == "mixed_channels":
        # the colour image sorts first: it used to make every image (and the net) 3-channel
        _write_images(data, ["a", "b"], n=2, mode="L")
        _write_images(tmp_path / "rgb", ["a"], n=1)
        (tmp_path / "rgb" / "a" / "0.png").replace(data / "a" / "0.png")
    if case == "empty_class":
        (data / "c").mkdir()
    if case == "one_class":
        _write_images(data, ["a"], n=2)
    if case == "unreadable":
        (data / "a" / "broken.png").write_bytes(b"not a png")
    if case == "mixed_sizes":
        _write_images(data / "b", ["big"], size=(20, 20), n=1)
        (data / "b" / "big" / "0.png").rename(data / "b" / "odd.png")
    with pytest.raises(DataError, match=message) as e:
        load_image_folder(data)
    if case == "mixed_channels":
        assert str(e.value).startswith(str(data / "a" / "0.png"))
    r = CliRunner().invoke(main, ["train", "vision", "--data", str(data), "-o", str(tmp_path / "run"), "--quiet"])
    assert r.exit_code == 2
    assert message in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()


def test_quantize_16x8_side_by_side(digits_run, tmp_path):
    out = tmp_path / "m16.tflite"
    r = CliRunner().invoke(main, ["quantize", str(digits_run.run.path), "--mode", "16x8", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "float (Keras)" in r.output and "16x8 (generated C)" in r.output
    g = read_model_bytes(out.read_bytes(), "m16")
    assert g.tensors[g.inputs[0]].dtype == "int16"
    accs = [float(line.split("│")[2].strip().rstrip("%")) for line in r.output.splitlines()
            if "(Keras)" in line or "(generated C)" in line]
    assert accs[1] >= 95.0 and abs(accs[0] - accs[1]) <= 2.0


def test_quantize_refuses_a_folder_that_is_not_a_run(tmp_path):
    r = CliRunner().invoke(main, ["quantize", str(tmp_path)])
    assert r.exit_code == 2 and "not a training run" in r.output


def test_audit_finds_flipped_labels(tmp_path):
    r = CliRunner().invoke(main, ["data", "audit", "vision", "--flip", "0.05", "--folds", "3", "--epochs", "12",
                                  "-o", str(tmp_path), "--quiet"])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "audit.json").read_text())
    flipped = len(summary["flipped"])
    assert flipped == 90
    assert summary["caught_in_top_10pct"] >= 0.7 * flipped
    assert (tmp_path / "audit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_rejects_bad_widths():
    r = CliRunner().invoke(main, ["sweep", "vision", "--widths", "0.1,1"])
    assert r.exit_code == 2 and "between 0.25 and 2" in r.output
    r = CliRunner().invoke(main, ["sweep", "vision", "--widths", "half"])
    assert r.exit_code == 2 and "numbers separated by commas" in r.output


def test_sweep_cost_follows_width_squared(tmp_path):
    from conftest import needs_simulator

    needs_simulator("qemu-mps2-an386")
    r = CliRunner().invoke(main, ["sweep", "vision", "--widths", "0.5,1", "--epochs", "3", "-o", str(tmp_path),
                                  "--quiet", "--workers", "1"])
    assert r.exit_code == 0, r.output
    points = {p["width"]: p for p in json.loads((tmp_path / "sweep.json").read_text())["points"]}
    half, full = points[0.5], points[1.0]
    mac_ratio = half["conv_macs"] / full["conv_macs"]
    instr_ratio = half["conv_instructions"] / full["conv_instructions"]
    assert 0.25 <= mac_ratio < 0.3          # width squared, plus the first layer's linear term
    assert 0.25 <= instr_ratio < 0.5        # half the channels: well under half the instructions
    assert half["instructions"] < full["instructions"] and half["params"] < full["params"]
    assert "| 0.5 |" in (tmp_path / "sweep.md").read_text()
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_sweep_on_ray_gives_the_sequential_models_and_table(tmp_path):
    """Trials fanned out through Ray Tune (local Ray, two at once) train the same models and
    write the same table as one worker running them one after another here."""
    from conftest import needs_simulator

    pytest.importorskip("ray.tune", reason="Ray is in the scale extra: pip install 'protobrain[scale]'")
    needs_simulator("qemu-mps2-an386")
    outs = {}
    for how, extra in (("sequential", ["--workers", "1"]), ("ray", ["--workers", "2"])):
        outs[how] = tmp_path / how
        r = CliRunner().invoke(main, ["sweep", "vision", "--widths", "0.25,0.5", "--epochs", "2",
                                      "-o", str(outs[how]), "--quiet", *extra])
        assert r.exit_code == 0, r.output
        assert "one after another" not in r.output
    seq, par = outs["sequential"], outs["ray"]
    assert (seq / "sweep.md").read_text() == (par / "sweep.md").read_text()
    assert json.loads((seq / "sweep.json").read_text()) == json.loads((par / "sweep.json").read_text())
    for w in ("0.25", "0.5"):
        assert (seq / f"width-{w}" / "model.tflite").read_bytes() == (par / f"width-{w}" / "model.tflite").read_bytes()


def test_sweep_refuses_a_real_board_before_training(tmp_path):
    r = CliRunner().invoke(main, ["sweep", "vision", "-b", "nucleo_f446re", "-o", str(tmp_path / "s"), "--quiet"])
    assert r.exit_code == 2 and "real board" in r.output
    assert not (tmp_path / "s").exists()
