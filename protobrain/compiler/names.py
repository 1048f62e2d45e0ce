"""Model names. Every C symbol (pb_<name>_invoke, PB_<NAME>_...) and every file of a model's
generated code (<name>.h, <name>.c, ...) is named after the model, so a name must be a C
identifier that names no file of protobrain's own: then it compiles, and its files stay in
the output folder."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from protobrain.errors import ProtobrainError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# C11 and C23 keywords (a name of its own would do, but `int.h` and `PB_INT_...` read badly).
C_KEYWORDS = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if inline int
    long register restrict return short signed sizeof static struct switch typedef union unsigned void
    volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert
    _Thread_local alignas alignof bool constexpr false nullptr static_assert thread_local true typeof
    typeof_unqual _BitInt _Decimal32 _Decimal64 _Decimal128
""".split())

# Kernel and firmware files are pb_*.c/.h and main.c in the same folder as the model's, with
# the board's drivers (uart_cmsdk.c, startup_cortexm.c, ...) and the RP2040's boot2_image.c.
RESERVED_PREFIX = "pb_"
RESERVED = frozenset({"main"})
GENERATED_FIRMWARE_FILES = ("boot2_image.c",)


def model_files(name: str) -> tuple[str, ...]:
    """The files of a model's generated code (codegen/render.py)."""
    return f"{name}.h", f"{name}.c", f"{name}_weights.h", f"{name}_weights.c"


@lru_cache(maxsize=1)
def firmware_files() -> frozenset[str]:
    """Every file name a firmware folder gets from protobrain: its templates (less .j2)."""
    from protobrain.resources import templates_dir

    folder = templates_dir() / "firmware"
    return frozenset({p.name.removesuffix(".j2") for p in folder.iterdir()} | set(GENERATED_FIRMWARE_FILES))

# A run of `protobrain train` keeps its model as model.tflite beside its run.json.
RUN_MODEL, RUN_INFO = "model.tflite", "run.json"


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a model, or None when it can."""
    if "/" in name or "\\" in name or name in (".", ".."):
        return "has a path separator (the name is a C identifier, not a path)"
    if not name.isascii():
        return "is not ASCII"
    if not _IDENTIFIER.fullmatch(name):
        return "is not a C identifier"
    if name in C_KEYWORDS:
        return "is a C keyword"
    if name.startswith(RESERVED_PREFIX) or name in RESERVED:
        return f"is taken by protobrain's own files (names starting with {RESERVED_PREFIX}, and main)"
    clash = sorted(set(model_files(name)) & firmware_files())
    if clash:
        return f"would overwrite the firmware's own {clash[0]}"
    return None


def check_name(name: str) -> str:
    """`name`, or a one-line error saying what is wrong with it and what would do."""
    why = name_problem(name)
    if why is not None:
        hint = c_name(re.split(r"[/\\]", name)[-1])  # ../escape -> escape
        raise ProtobrainError(f"model name '{name}' {why}: a model name is a C identifier (ASCII letters, digits "
                              f"and _, not starting with a digit), e.g. --name {hint}")
    return name


def c_name(text: str) -> str:
    """A model name made from any text (a file's stem): lower case, every other character
    an underscore, prefixed with m_ where it would start with a digit or be taken."""
    name = re.sub(r"[^0-9a-z_]", "_", text.lower(), flags=re.ASCII)
    return name if name and name_problem(name) is None else f"m_{name}"


def model_name(path: str | Path) -> str:
    """The default name of a model file: its run folder's for a run's model.tflite (every
    run's file has that name), else the file's own."""
    path = Path(path)
    if path.name == RUN_MODEL and (path.parent / RUN_INFO).is_file():
        return c_name(path.resolve().parent.name)
    return c_name(path.stem)
