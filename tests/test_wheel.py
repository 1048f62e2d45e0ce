"""The package as a user installs it: build the wheel, install it into a fresh virtual
environment outside the checkout, and with that install generate C, build firmware for
qemu-mps2-an386 and verify a model bit-exact in QEMU. An editable install reads templates
from the checkout and would hide a file the wheel lacks; this test cannot."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import REPO
from conftest import needs_simulator as needs


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python, protobrain) of a fresh venv holding only the wheel. The dependencies come from
    the test environment's site-packages by a path entry (its .pth files, among them the
    editable install's, are not run), so the wheel's protobrain is the one imported."""
    tmp = tmp_path_factory.mktemp("wheel")
    dist = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist), str(REPO)], check=True, capture_output=True, text=True)
    wheel = next(dist.glob("protobrain-*.whl"))
    env_dir = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, text=True)
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir / "bin" / "protobrain", wheel, tmp


def _run(cli, tmp, *args):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(cli), *args], cwd=tmp, capture_output=True, text=True, env=env, timeout=600)


def test_wheel_ships_every_template_kernel_board_and_plugin_source(installed):
    _, wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    want = {f"protobrain/templates/{p.relative_to(REPO / 'templates')}" for p in (REPO / "templates").rglob("*")
            if p.is_file() and p.suffix in (".j2", ".c", ".h", ".S")}
    want |= {f"protobrain/boards/{p.name}" for p in (REPO / "boards").glob("*.toml")}
    want |= {f"{p.relative_to(REPO)}" for p in (REPO / "protobrain").rglob("*.py")}
    assert want and not (want - names), sorted(want - names)[:10]


def test_the_installed_wheel_generates_builds_and_verifies_in_qemu(installed, small_model):
    cli, _, tmp = installed
    where = subprocess.run([str(cli.parent / "python"), "-c", "import protobrain; print(protobrain.__file__)"], cwd=tmp,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(tmp / "venv"), f"imported {where}, not the wheel's copy"
    gen = _run(cli, tmp, "generate", str(small_model), "-o", str(tmp / "gen"))
    assert gen.returncode == 0, gen.stderr
    assert (tmp / "gen" / "small_net.c").is_file()
    board = needs("qemu-mps2-an386")
    built = _run(cli, tmp, "build", str(small_model), "--board", board.name, "-o", str(tmp / "fw"))
    assert built.returncode == 0, built.stderr
    assert (tmp / "fw" / "firmware.elf").is_file()
    verified = _run(cli, tmp, "verify", str(small_model), "--board", board.name, "-n", "5")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "small_net" in verified.stdout  # exit 0: every output byte equal to TFLite Micro's (1 on a mismatch)
