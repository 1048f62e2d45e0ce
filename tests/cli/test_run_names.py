"""Every run of `protobrain train` keeps its model as model.tflite: such a model is named
after its run folder, so two runs go in one firmware; `--name NAME=PATH` names a model
explicitly on every command that takes several model files."""

import json
import shutil

import pytest
from conftest import needs_simulator, shared_model
from test_errors import assert_one_line_error, run_cli

BOARD = "qemu-mps2-an386"


def _run(root, folder: str, model: str = "hello_world_int8"):
    """A run folder as `protobrain train` leaves it (only what naming looks at)."""
    run = root / "runs" / folder
    run.mkdir(parents=True)
    shutil.copyfile(shared_model(model), run / "model.tflite")
    (run / "run.json").write_text(json.dumps({"task": "vision"}))
    return run / "model.tflite"


def test_build_names_two_runs_after_their_folders(tmp_path):
    needs_simulator(BOARD)
    vision, speech = _run(tmp_path, "vision"), _run(tmp_path, "my-speech")
    proc = run_cli("build", vision, speech, "--board", BOARD, "-o", tmp_path / "fw")
    assert proc.returncode == 0, proc.stderr
    info = json.loads((tmp_path / "fw" / "info.json").read_text())
    assert [m["name"] for m in info["models"]] == ["vision", "my_speech"]
    assert (tmp_path / "fw" / "vision.h").is_file() and (tmp_path / "fw" / "my_speech.h").is_file()


def test_a_model_file_outside_a_run_keeps_its_own_name(tmp_path):
    (tmp_path / "plain").mkdir()
    model = tmp_path / "plain" / "model.tflite"  # no run.json beside it
    shutil.copyfile(shared_model("hello_world_int8"), model)
    proc = run_cli("export", "library", model, "-o", tmp_path / "lib")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "lib" / "include" / "model.h").is_file()


def test_name_path_pairs_name_models_on_build_and_export(tmp_path):
    a, b = _run(tmp_path, "a"), _run(tmp_path, "b")
    proc = run_cli("export", "platformio", a, b, "--board", "nucleo_f446re", "-o", tmp_path / "pio",
                   "--name", f"kws={a}", "--name", f"vww={b}")
    assert proc.returncode == 0, proc.stderr
    src = tmp_path / "pio" / "src" / "nucleo_f446re"
    assert (src / "kws.c").is_file() and (src / "vww.c").is_file()
    # export library: the library is named with --library, as on export arduino
    proc = run_cli("export", "library", a, b, "-o", tmp_path / "lib", "--library", "mylib", "--name", f"kws={a}")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "lib" / "library.json").read_text())["name"] == "mylib"
    assert sorted(p.name for p in (tmp_path / "lib" / "include").iterdir()) == ["b.h", "kws.h"]


@pytest.mark.parametrize("target", [["platformio", "--board", "nucleo_f446re"], ["library"], ["arduino"]])
@pytest.mark.parametrize("how", ["folder", "file", "bare"])
def test_every_export_target_takes_the_same_name_forms(target, how, tmp_path):
    """NAME=FOLDER (a run's folder), NAME=FILE and, for one model, a bare NAME name the
    model alike on every export target, whether the model was given as its run's folder."""
    model = _run(tmp_path, "vision")
    path = {"folder": f"kws={model.parent}", "file": f"kws={model}", "bare": "kws"}[how]
    out = tmp_path / "out"
    proc = run_cli("export", *target[:1], model.parent, *target[1:], "-o", out, "--name", path)
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in out.rglob("*.h")}
    assert "kws.h" in names and "vision.h" not in names, sorted(names)


@pytest.mark.parametrize("target", [["platformio", "--board", "nucleo_f446re"], ["library"]])
def test_a_bare_name_among_several_models_is_a_one_line_error(target, tmp_path):
    a, b = _run(tmp_path, "a"), _run(tmp_path, "b")
    out = tmp_path / "out"
    words = ["--name kws", "2 models", "NAME=PATH"] + (["--library"] if target == ["library"] else [])
    assert_one_line_error(run_cli("export", *target[:1], a, b, *target[1:], "-o", out, "--name", "kws"), *words)
    assert not out.exists()


def test_build_takes_name_path_pairs(tmp_path):
    needs_simulator(BOARD)
    model = shared_model("hello_world_int8")
    copy = tmp_path / "hello_world_int8.tflite"
    shutil.copyfile(model, copy)
    proc = run_cli("build", model, copy, "--board", BOARD, "-o", tmp_path / "fw", "--name", f"second={copy}")
    assert proc.returncode == 0, proc.stderr
    info = json.loads((tmp_path / "fw" / "info.json").read_text())
    assert [m["name"] for m in info["models"]] == ["hello_world_int8", "second"]


@pytest.mark.parametrize("value, words", [
    ("justaname", ["--name justaname", "NAME=PATH"]),
    ("bad name!={model}", ["model name 'bad name!' is not a C identifier"]),
    ("x={other}", ["is not one of the models given"]),
])
def test_bad_name_path_pairs_are_one_line_errors(value, words, tmp_path):
    model = shared_model("hello_world_int8")
    other = tmp_path / "other.tflite"
    value = value.format(model=model, other=other)
    out = tmp_path / "fw"
    assert_one_line_error(run_cli("build", model, "--board", BOARD, "-o", out, "--name", value), *words)
    assert not out.exists()


def test_two_models_of_one_name_say_how_to_rename_them(tmp_path):
    a, b = _run(tmp_path / "one", "vision"), _run(tmp_path / "two", "vision")
    out = tmp_path / "fw"
    assert_one_line_error(run_cli("build", a, b, "--board", BOARD, "-o", out), "both named vision", "--name NAME=PATH")
    assert not out.exists()
