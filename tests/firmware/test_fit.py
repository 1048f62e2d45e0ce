"""The fit check counts every static buffer the firmware has (arenas, state areas, the
protocol buffer, the stamps, the stack), fails with the numbers before anything is written,
and a build that fails later (at link) leaves nothing either, with the linker's numbers."""

import dataclasses
import subprocess
import sys

import pytest
from conftest import needs_simulator, shared_model

from protobrain.boards import Region, load_board
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model

CLI = [sys.executable, "-m", "protobrain.cli.main"]


def _files(folder):
    return sorted(str(p) for p in folder.rglob("*"))


def test_build_counts_the_protocol_buffer_fails_with_the_numbers_and_writes_nothing(tmp_path):
    """vww_96_int8 on the Stellaris: arena and stack fit its 64 KB, but not with the
    27,649-byte buffer its 96x96x3 input needs."""
    needs_simulator("qemu-lm3s6965evb")
    out = tmp_path / "fw"
    proc = subprocess.run([*CLI, "build", str(shared_model("vww_96_int8")), "-b", "qemu-lm3s6965evb", "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert "vww_96_int8 does not fit qemu-lm3s6965evb: RAM needs" in err
    assert "protocol buffer 27,649" in err and "65,536 B" in err, err
    assert _files(tmp_path) == []


def test_static_ram_counts_state_areas_and_the_protocol_buffer():
    from protobrain.firmware.build import static_ram

    board = load_board("qemu-mps2-an386")
    prog = build_program(read_model(shared_model("keyword_scrambled_8bit")))
    assert prog.state_size > 0
    parts = dict(static_ram(board, [prog]))
    assert parts[f"arena {prog.graph.name}"] == prog.arena_size
    assert parts[f"state {prog.graph.name}"] >= prog.state_size
    assert parts["protocol buffer"] >= 1 + sum(prog.graph.tensors[i].nbytes for i in prog.graph.inputs)
    assert parts["stack"] == board.stack_bytes


@pytest.mark.parametrize("region", ["RAM", "flash"])
def test_a_link_overflow_is_reported_with_the_numbers_and_leaves_nothing(region, tmp_path):
    """A board with room for everything the check counts, but not for what only the linker
    knows (the C library's variables; the code): the linker's overflow, as numbers, and no
    build folder; an earlier build in the same folder is kept."""
    from protobrain.firmware.build import DoesNotFit, build, static_ram

    base = needs_simulator("qemu-mps2-an386")
    path = shared_model("hello_world_int8")
    prog = build_program(read_model(path))
    out = tmp_path / "fw"
    build(base, [prog], [path.read_bytes()], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    if region == "RAM":
        counted = sum(n for _, n in static_ram(base, [prog]))
        board = dataclasses.replace(base, ram=Region(base.ram.origin, counted))
        length = board.ram.length
    else:
        board = dataclasses.replace(base, flash=Region(base.flash.origin, prog.const_bytes + 64))
        length = board.flash.length
    with pytest.raises(DoesNotFit) as e:
        build(board, [prog], [path.read_bytes()], out)
    msg = str(e.value)
    assert msg.startswith(f"{prog.graph.name} does not fit {board.name}: {region} needs "), msg
    assert f"as linked but {board.name} has {length:,} B" in msg, msg
    needed = int(msg.split(f"{region} needs ")[1].split(" B")[0].replace(",", ""))
    assert needed > length
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the earlier build, untouched


def test_a_model_that_does_not_fit_replaces_no_earlier_build(tmp_path):
    from protobrain.firmware.build import DoesNotFit, build

    board = needs_simulator("qemu-microbit")
    small, big = shared_model("hello_world_int8"), shared_model("vww_96_int8")
    out = tmp_path / "fw"
    build(board, [build_program(read_model(small))], [small.read_bytes()], out)
    before = _files(out)
    with pytest.raises(DoesNotFit, match="vww_96_int8 does not fit qemu-microbit: RAM needs"):
        build(board, [build_program(read_model(big))], [big.read_bytes()], out)
    assert _files(out) == before
