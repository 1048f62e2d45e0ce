"""Test helpers for firmware on simulated boards: group models into firmwares that fit, run
one firmware in QEMU, and compare a model on the device with TensorFlow Lite Micro (one
model, or a whole list of them: mismatches_on_device)."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path


def pack(board, programs):
    """Group models into firmwares that fit the board (arenas, state, stack, I/O buffer; weights and
    about 24 KB of code, 64 KB with the fast tiers' kernels). A model too big on its own is
    left out."""
    def need(group):
        io = max(max(sum(p.graph.tensors[i].nbytes for i in p.graph.inputs),
                     sum(p.graph.tensors[i].nbytes for i in p.graph.outputs)) for p in group)
        ram = sum(p.arena_size + p.state_size for p in group) + board.stack_bytes + io + 2048
        code = (64 if any(p.tier != "portable" for p in group) else 24) * 1024
        flash = sum(p.const_bytes for p in group) + code
        return ram <= board.ram.length and flash <= board.flash.length

    groups = []
    for prog in programs:
        if not need([prog]):
            continue
        if groups and need(groups[-1] + [prog]):
            groups[-1].append(prog)
        else:
            groups.append([prog])
    return groups


def verify_on_device(dev, reference, prog, n_random: int, seed: int = 0):
    """The model's n random inputs and its three edge inputs (all-min, all-max, zeros), run on
    the device and by `reference` (a protobrain.verify.reference.Reference or a RecordedReference)."""
    from protobrain.verify.compare import compare, test_inputs

    index = dev.model_index(prog.graph.name)
    cases = test_inputs([prog.graph.tensors[i] for i in prog.graph.inputs], n_random, seed)

    def run(*xs):
        out = dev.invoke(index, *xs).outputs
        return out[0] if len(out) == 1 else out

    return compare(run, reference, cases, prog.graph.name)


@contextmanager
def running_firmware(board, programs, blobs, out: Path):
    """Build one firmware holding `programs` and run it in QEMU: yields a Device."""
    from protobrain.firmware.build import build
    from protobrain.run.device import Device
    from protobrain.run.qemu import QemuBoard

    image = build(board, programs, blobs, out)
    with QemuBoard(board, image.elf) as q, Device(q.port) as dev:
        yield dev


def build_fitting(board, programs, blobs, out: Path) -> list:
    """Firmwares for all programs, as (programs, blobs, image): one if it fits, else halves,
    recursively."""
    from protobrain.firmware.build import DoesNotFit, build

    try:
        return [(programs, blobs, build(board, programs, blobs, out))]
    except DoesNotFit:
        if len(programs) == 1:
            raise
        h = len(programs) // 2
        return (build_fitting(board, programs[:h], blobs[:h], out.with_name(out.name + "a"))
                + build_fitting(board, programs[h:], blobs[h:], out.with_name(out.name + "b")))


def mismatches_on_device(board, programs, blobs, out: Path, n_random: int = 3, seed: int = 0,
                         describe=None) -> tuple[list[str], int]:
    """Every program (blobs: their .tflite bytes) in firmwares that fit the board, run in QEMU
    on its n random and three edge inputs and compared with TensorFlow Lite Micro byte for
    byte. Returns one line per program that differs (describe(prog) names it; default its
    graph's name) with its first differing value, and the number of cases compared."""
    from protobrain.run.device import Device
    from protobrain.run.qemu import QemuBoard
    from protobrain.verify.reference import Reference

    failures, compared, ran = [], 0, []
    for progs, datas, image in build_fitting(board, programs, blobs, out):
        with QemuBoard(board, image.elf) as q, Device(q.port) as dev:
            assert [m["name"] for m in dev.info()["models"]] == [p.graph.name for p in progs]
            for prog, data in zip(progs, datas):
                ran.append(prog.graph.name)
                result = verify_on_device(dev, Reference(data), prog, n_random, seed)
                compared += result.cases
                if not result.ok:
                    m = result.mismatches[0]
                    failures.append(f"{describe(prog) if describe else prog.graph.name}: {len(result.mismatches)} of "
                                    f"{result.cases} cases differ; case {m.case} output {m.output}: {m.count} values, "
                                    f"first at index {m.index}: device {m.got} vs TFLite Micro {m.want}")
    assert ran == [p.graph.name for p in programs], "not every program ran on the device"
    return failures, compared


# One rounding constant per fast tier, corrupted: the DSP requantization adds its rounding
# term twice (2^shift instead of 2^(shift-1)); Helium's rounding right shift (VRSHL)
# becomes a plain one (VSHL: no rounding constant at all) in both of its kernels' assembly.
# A check that does not fail on these cannot see a kernel bug. Paths are under
# templates/kernels/.
KERNEL_CORRUPTIONS = {
    # the C requantization and the channel-loop routine's (the rounding doubled in both)
    "dsp": [("dsp/pb_requant.h", "q.mult, q.round - ", "q.mult, q.round + (1 << (q.shift - 1)) - "),
            ("dsp/pb_conv.c", '"sub    " rd ", r8, " ra ", lsr #31\\n\\t"', '"add    " rd ", r8, r8\\n\\t"')],
    "mve": [("mve/pb_conv.c", "vrshl.s32", "vshl.s32"), ("mve/pb_depthwise_conv.c", "vrshl.s32", "vshl.s32")],
}


def corrupt_kernels(monkeypatch, tmp_path: Path, tier: str) -> Path:
    """A copy of the kernel sources with KERNEL_CORRUPTIONS[tier] applied, which every code
    generation in this test then uses instead of the real ones."""
    import protobrain.codegen.kernels
    from protobrain.resources import kernels_dir

    kdir = tmp_path / "corrupted-kernels"
    shutil.copytree(kernels_dir(), kdir)
    for name, old, new in KERNEL_CORRUPTIONS[tier]:
        source = (kdir / name).read_text()
        assert old in source, f"{name} no longer contains {old!r}: update KERNEL_CORRUPTIONS"
        (kdir / name).write_text(source.replace(old, new))
    monkeypatch.setattr(protobrain.codegen.kernels, "kernels_dir", lambda: kdir)
    return kdir
