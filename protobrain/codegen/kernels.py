"""The kernel files a program needs, and the names they take in the generated folder.

templates/kernels/ holds the headers kernels of several tiers share (pb_common*.h, the LSTM
cell's arithmetic in pb_lstm_cell.h, ...) and one folder per tier, portable/, dsp/ and
mve/, with the same file name for an operator family in every tier that has a kernel for
it (dsp/pb_conv.c beside portable/pb_conv.c), as TensorFlow Lite Micro keeps
kernels/cmsis_nn/conv.cc beside kernels/conv.cc. A KernelCall names its
family and tier; `#include "x.h"` in a kernel file reads its own folder's x.h, or else a
shared one, as a C compiler resolves it.

The generated folder is flat, and one program may call kernels of two tiers (what a fast
tier does not take stays portable; the Helium tier's ADD is the DSP tier's), so a fast
tier's files are written under a tier-qualified name, pb_<tier>_<rest>: dsp/pb_conv.c
becomes pb_dsp_conv.c, dsp/pb_requant.h pb_dsp_requant.h, and the #include lines of the
written files name the written files. Portable and shared files keep their names. The C
function names stay as they are (pb_fast_mm_int8_fast_full is in pb_dsp_conv.c).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from protobrain.compiler.program import Program
from protobrain.resources import kernels_dir

PORTABLE = "portable"
_INCLUDE = re.compile(r'^(\s*#\s*include\s+")([^"]+)(")', re.M)


def output_name(tier: str, filename: str) -> str:
    """A kernel file's name in the generated folder. tier: its folder under
    templates/kernels/, "" for a shared header."""
    if tier in ("", PORTABLE):
        return filename
    return f"pb_{tier}_{filename.removeprefix('pb_')}"


def header_name(tier: str, family: str) -> str:
    """The header a program's weights include for one kernel family of a tier."""
    return output_name(tier, f"{family}.h")


@dataclass(frozen=True)
class KernelFile:
    """One kernel source or header under templates/kernels/ (`source`), written into the
    generated folder as `name` with read_text()'s text."""

    tier: str  # its folder under templates/kernels/; "" for a shared header
    source: Path

    @property
    def name(self) -> str:
        return output_name(self.tier, self.source.name)

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    @property
    def suffix(self) -> str:
        return self.source.suffix

    def includes(self) -> list[str]:
        """The names its #include "..." lines give, as in the source."""
        return [m.group(2) for m in _INCLUDE.finditer(self.source.read_text(encoding="utf-8"))]

    def read_text(self) -> str:
        """The file as written: #include lines that read a kernel file name it as written."""
        def written(m: re.Match) -> str:
            found = resolve(self.tier, m.group(2))
            return m.group(1) + (found.name if found else m.group(2)) + m.group(3)

        return _INCLUDE.sub(written, self.source.read_text(encoding="utf-8"))


def resolve(tier: str, name: str) -> KernelFile | None:
    """The kernel file `#include "name"` reads in a file of `tier`: its folder's, else a
    shared header; None for a header the generator writes (pb_tier.h) or a system one."""
    kdir = kernels_dir()
    if tier and (kdir / tier / name).is_file():
        return KernelFile(tier, kdir / tier / name)
    if (kdir / name).is_file():
        return KernelFile("", kdir / name)
    return None


def kernel_files(program: Program) -> list[KernelFile]:
    """Every kernel file a program needs: the shared headers, each kernel family's .h and
    .c in its tier's folder, and the headers of that folder they include."""
    kdir = kernels_dir()
    files = [KernelFile("", h) for h in sorted(kdir.glob("*.h"))]
    todo = [KernelFile(tier, kdir / tier / f"{family}{ext}") for tier, family in program.kernels()
            for ext in (".h", ".c")]
    while todo:
        f = todo.pop(0)
        if f in files:
            continue
        if not f.source.is_file():
            raise FileNotFoundError(f"kernel file {f.source} not found")
        files.append(f)
        todo += [found for name in f.includes() if (found := resolve(f.tier, name)) is not None]
    return files
