"""Every command that builds code takes --kernels and says which tier it used; `auto`
(the default) is the board's fastest tier, as on `build`."""

import subprocess
import sys

import pytest
from conftest import needs_instruction_counter, shared_model

CLI = [sys.executable, "-m", "protobrain.cli.main"]


def _cli(*args, timeout=300):
    proc = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("args, tier", [((), "portable"), (("--kernels", "dsp"), "dsp"),
                                        (("--board", "qemu-mps2-an386"), "dsp"),
                                        (("--board", "qemu-mps2-an386", "--kernels", "portable"), "portable")])
def test_generate_takes_kernels_and_board_and_says_the_tier(args, tier, tmp_path):
    out = _cli("generate", shared_model("kws_ref_model"), "-o", tmp_path / "gen", *args)
    assert f"kernels      {tier}" in out, out
    files = {p.name for p in (tmp_path / "gen").iterdir()}
    assert ("pb_dsp_conv.c" in files) == (tier == "dsp"), files


def test_export_library_takes_kernels_and_says_the_tier(tmp_path):
    out = _cli("export", "library", shared_model("kws_ref_model"), "-o", tmp_path / "lib", "--kernels", "dsp")
    assert "dsp kernels" in out, out
    assert (tmp_path / "lib" / "src" / "pb_dsp_conv.c").exists()
    out = _cli("export", "library", shared_model("kws_ref_model"), "-o", tmp_path / "lib2")
    assert "portable kernels" in out and not (tmp_path / "lib2" / "src" / "pb_dsp_conv.c").exists(), out
    out = _cli("export", "library", shared_model("kws_ref_model"), "-o", tmp_path / "lib3", "--board", "qemu-mps3-an547")
    assert "mve kernels" in out and (tmp_path / "lib3" / "src" / "pb_mve_conv.c").exists(), out


@pytest.mark.parametrize("kernels", ["portable", "dsp"])
def test_verify_says_the_tier_it_checked(kernels):
    out = _cli("verify", shared_model("kws_ref_model"), "-n", "1", "--kernels", kernels)
    assert f"verify on host ({kernels} kernels" in out, out


def test_bench_says_the_tier_it_measured(small_model, tmp_path):
    board = needs_instruction_counter("qemu-mps2-an386")
    out = _cli("bench", small_model, "-b", board.name, "-n", "1", "-o", tmp_path)
    assert f"bench on {board.name} (cortex-m4, dsp kernels with int16 weights (--optimize balanced))" in out, out
