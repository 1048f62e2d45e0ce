"""Model names become C symbols and file names: a name that is not a C identifier, or would
write outside the output folder, is refused in one line and nothing is written; a name
taken from a file's name is made into one that compiles."""

import shutil
import subprocess

import pytest
from conftest import shared_model
from test_errors import assert_one_line_error, run_cli

BAD_NAMES = {
    "../escape": "has a path separator",
    "sub/dir": "has a path separator",
    "bad name!": "is not a C identifier",
    "2fast": "is not a C identifier",
    "naïve": "is not ASCII",
    "int": "is a C keyword",
    "pb_common": "is taken by protobrain's own files",
    "main": "is taken by protobrain's own files",
    "uart_cmsdk": "would overwrite the firmware's own uart_cmsdk.c",
    "boot2_image": "would overwrite the firmware's own boot2_image.c",
    "": "is not a C identifier",
}


@pytest.mark.parametrize("name", list(BAD_NAMES))
def test_generate_refuses_a_name_that_is_not_a_c_identifier(name, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    out = work / "gen"
    proc = run_cli("generate", shared_model("hello_world_int8"), "-o", out, "--name", name)
    assert_one_line_error(proc, f"model name '{name}' {BAD_NAMES[name]}", "--name")
    assert list(tmp_path.rglob("*")) == [work], "nothing written, inside -o or outside it"


def test_names_from_file_names_compile(tmp_path):
    cc = shutil.which("gcc")
    if cc is None:
        pytest.skip("gcc not installed")
    src = shared_model("hello_world_int8")
    for stem, name in (("int", "m_int"), ("pb_common", "m_pb_common"), ("my model (2)", "my_model__2_"),
                       ("7seg", "m_7seg"), ("startup_cortexm", "m_startup_cortexm")):
        model = tmp_path / f"{stem}.tflite"
        shutil.copyfile(src, model)
        out = tmp_path / f"gen_{name}"
        proc = run_cli("generate", model, "-o", out)
        assert proc.returncode == 0, proc.stderr
        assert (out / f"{name}.h").is_file() and (out / f"{name}.c").is_file()
        for c in out.glob("*.c"):
            subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(out), "-c", str(c),
                            "-o", str(tmp_path / "x.o")], check=True)


def test_no_name_can_overwrite_a_firmware_file():
    """Every file a firmware folder gets from protobrain is out of reach of a model's files,
    whatever the folder holds now (a new driver is covered without a list to keep)."""
    from protobrain.compiler.names import c_name, firmware_files, model_files, name_problem

    assert {"uart_cmsdk.c", "startup_cortexm.c", "main.c", "boot2_image.c"} <= firmware_files()
    for f in firmware_files():
        stem = f.rsplit(".", 1)[0]
        for name in (stem, stem.removesuffix("_weights")):
            if set(model_files(name)) & firmware_files():
                assert name_problem(name) is not None, name
                assert not set(model_files(c_name(name))) & firmware_files(), name
