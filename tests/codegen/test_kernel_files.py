"""The kernel templates' layout (templates/kernels/<tier>/, one file name per operator family)
and the names codegen/kernels.py gives them in a flat output folder: distinct across tiers,
with #include lines that name the written files."""

import re
from collections import defaultdict
from dataclasses import dataclass

from protobrain.codegen.kernels import KernelFile, kernel_files, output_name
from protobrain.resources import kernels_dir

TIERS = ("portable", "dsp", "mve")
GENERATED = {"pb_tier.h"}  # headers render() writes, not copied from templates/kernels/


@dataclass
class Calls:
    """A stand-in Program: only the (tier, family) pairs its steps call."""

    pairs: list

    def kernels(self):
        return sorted(self.pairs)


def _families(tier: str) -> list[str]:
    return sorted(p.stem for p in (kernels_dir() / tier).glob("*.c"))


def test_every_tier_folder_holds_families_with_a_header_each():
    for tier in TIERS:
        families = _families(tier)
        assert families, tier
        for family in families:
            assert (kernels_dir() / tier / f"{family}.h").is_file(), f"{tier}/{family}.c has no header"
    # a fast tier's family has the portable family's file name (the 16x8 forms of one
    # that name and 16: pb_conv16)
    for tier in ("dsp", "mve"):
        names = {f.removesuffix("16") for f in _families(tier)}
        assert names <= set(_families("portable")), tier


def test_every_family_of_every_tier_in_one_folder_keeps_distinct_names_and_resolvable_includes():
    program = Calls([(tier, family) for tier in TIERS for family in _families(tier)])
    files = kernel_files(program)
    names = [f.name for f in files]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    for f in files:
        for name in re.findall(r'^\s*#\s*include\s+"([^"]+)"', f.read_text(), re.M):
            assert name in names or name in GENERATED, f"{f.source} includes {name}, which is not written"


def test_fast_tier_files_take_the_tier_name_and_portable_ones_keep_theirs():
    assert output_name("portable", "pb_conv.c") == "pb_conv.c"
    assert output_name("", "pb_common.h") == "pb_common.h"
    assert output_name("dsp", "pb_conv.c") == "pb_dsp_conv.c"
    assert output_name("mve", "pb_depthwise_conv.h") == "pb_mve_depthwise_conv.h"
    files = {f.name: f for f in kernel_files(Calls([("portable", "pb_conv"), ("dsp", "pb_conv")]))}
    assert {"pb_conv.c", "pb_conv.h", "pb_dsp_conv.c", "pb_dsp_conv.h", "pb_dsp_requant.h",
            "pb_dsp_simd.h"} <= set(files)
    assert '#include "pb_dsp_conv.h"' in files["pb_dsp_conv.c"].read_text()
    assert '#include "pb_conv.h"' in files["pb_conv.c"].read_text()


def test_a_portable_file_is_written_as_it_is():
    for family in _families("portable"):
        f = KernelFile("portable", kernels_dir() / "portable" / f"{family}.c")
        assert f.read_text() == f.source.read_text()


# A C function definition at the start of a line: its name before the parameter list, then `{`.
_DEFINITION = re.compile(r"^(?:static\s+)?[A-Za-z_][\w \t*()]*?\b(pb_\w+)\s*\([^;{]*\)\s*\{", re.M)


def test_no_function_is_written_in_two_kernel_files():
    """Arithmetic the tiers share lives in one shared header (pb_lstm_cell.h, say), and what
    is a tier's own takes the tier's name (pb_dsp_dot4, pb_mve_dot4): a copy in a second
    file would drift from the first."""
    files = defaultdict(set)  # one file may define a function twice, under #if and #else
    for path in sorted(kernels_dir().rglob("*")):
        if path.suffix in (".c", ".h"):
            for name in _DEFINITION.findall(path.read_text()):
                files[name].add(str(path.relative_to(kernels_dir())))
    assert len(files) > 100, sorted(files)  # the pattern finds the kernels' functions
    copies = {name: sorted(where) for name, where in files.items() if len(where) > 1}
    assert not copies, copies
