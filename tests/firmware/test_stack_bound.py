"""Build-time memory guarantees: no heap allocator in the image, and a static worst-case
stack depth (protobrain/stackbound.py) that covers what the device really uses."""

import subprocess

import numpy as np
import pytest
from conftest import needs_simulator as needs
from conftest import shared_model

from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model

MODELS = ["hello_world_int8", "micro_speech_quantized", "kws_ref_model"]


def test_stack_bound_covers_measured_high_water_mark(tmp_path):
    from protobrain.firmware.build import build
    from protobrain.run.device import Device
    from protobrain.run.qemu import QemuBoard

    board = needs("qemu-mps2-an386")
    paths = [shared_model(n) for n in MODELS]
    progs = [build_program(read_model(p)) for p in paths]
    image = build(board, progs, [p.read_bytes() for p in paths], tmp_path / "fw")
    assert image.stack_bound is not None, image.stack_note
    assert image.stack_bound <= image.stack
    with QemuBoard(board, image.elf) as q, Device(q.port) as dev:
        used = 0
        for k, prog in enumerate(progs):
            xs = [np.zeros(prog.graph.tensors[i].shape, prog.graph.tensors[i].dtype) for i in prog.graph.inputs]
            dev.invoke(k, *xs)
            used = max(used, dev.profile().stack_used)
    assert used <= image.stack_bound < 4 * used, f"measured {used} B, bound {image.stack_note}"


def test_heap_allocator_in_image_fails_the_build(tmp_path):
    from protobrain.firmware.build import DoesNotFit, check_no_heap, libc_flags
    from protobrain.toolchain import cross_tool

    board = needs("qemu-mps2-an386")
    src = tmp_path / "m.c"
    src.write_text("#include <stdlib.h>\nint main(void) { return malloc(8) != 0; }\n")
    elf = tmp_path / "m.elf"
    subprocess.run([cross_tool(board, "gcc"), *board.cflags, *libc_flags(board), "-o", str(elf), str(src)], check=True,
                   capture_output=True)
    with pytest.raises(DoesNotFit, match="heap allocator .*malloc"):
        check_no_heap(board, elf)


def test_recursion_is_reported_unbounded(tmp_path):
    from protobrain.firmware import stackbound
    from protobrain.toolchain import cross_tool

    board = needs("qemu-mps2-an386")
    src = tmp_path / "r.c"
    src.write_text("int f(int n);\nint f(int n) { return n ? 1 + f(n - 1) : 0; }\n"
                   "void Reset_Handler(void);\nvoid Reset_Handler(void) { f(3); for (;;) {} }\n")
    elf = tmp_path / "r.elf"
    subprocess.run([cross_tool(board, "gcc"), *board.cflags, "-O0", "-nostdlib", "-fcallgraph-info=su",
                    "-Wl,-eReset_Handler", "-o", str(elf), str(src)], check=True, capture_output=True, cwd=tmp_path)
    bound = stackbound.analyse("arm", cross_tool(board, "objdump"), elf, tmp_path, [])
    assert bound.bytes is None and "recursion" in bound.reason


def test_stack_bound_beyond_the_reserved_stack_fails_the_build(tmp_path):
    import dataclasses

    from protobrain.firmware.build import DoesNotFit, build

    board = dataclasses.replace(needs("qemu-mps2-an386"), stack_bytes=128)
    path = shared_model("hello_world_int8")
    with pytest.raises(DoesNotFit, match="worst-case stack .* exceeds the reserved 128 B"):
        build(board, [build_program(read_model(path))], [path.read_bytes()], tmp_path / "fw")


def test_nm_and_size_run_once_per_image(tmp_path, monkeypatch):
    """Every question about one linked image (symbols, functions, heap, sections) is answered
    from one nm and one size run; a relinked image is read again."""
    import protobrain.toolchain as toolchain
    from protobrain.firmware.build import libc_flags

    board = needs("qemu-mps2-an386")
    src = tmp_path / "m.c"
    src.write_text("#include <stdlib.h>\nint main(void) { return malloc(8) != 0; }\n")
    elf = tmp_path / "m.elf"
    link = [toolchain.cross_tool(board, "gcc"), *board.cflags, *libc_flags(board), "-o", str(elf), str(src)]
    subprocess.run(link, check=True, capture_output=True)
    runs = []
    real_run = subprocess.run
    monkeypatch.setattr(toolchain.subprocess, "run", lambda cmd, **kw: runs.append(cmd[0]) or real_run(cmd, **kw))
    for _ in range(2):
        assert "main" in toolchain.elf_symbols(board, elf)
        assert any(name == "main" for _, _, name in toolchain.function_symbols(board, elf))
        assert "malloc" in toolchain.heap_symbols(board, elf)
        assert toolchain.section_sizes(board, elf)[0] > 0
    assert sorted(runs) == sorted([toolchain.cross_tool(board, "nm"), toolchain.cross_tool(board, "size")])
    src.write_text("int main(void) { return 0; }\n")
    real_run(link, check=True, capture_output=True)
    assert toolchain.heap_symbols(board, elf) == []
