"""Board descriptions: one TOML file per board in boards/. Target facts live there, not in code."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from protobrain.errors import ProtobrainError
from protobrain.resources import boards_dir


@dataclass
class Region:
    origin: int
    length: int


@dataclass
class Board:
    name: str
    description: str
    core: str
    arch: str  # "arm" or "riscv"
    cflags: list[str]
    clock_hz: int
    stack_bytes: int
    features: list[str]
    flash: Region
    ram: Region
    uart: dict
    timer: str
    run: dict
    soc: str = ""  # chip bring-up beyond the core (clocks, resets, pins, boot loader): "rp2040"
    platformio: dict = field(default_factory=dict)
    renode: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def simulated(self) -> bool:
        return self.run.get("method") == "qemu"

    @property
    def toolchain_prefix(self) -> str:
        return "arm-none-eabi-" if self.arch == "arm" else "riscv64-unknown-elf-"


def board_names() -> list[str]:
    return sorted(p.stem for p in boards_dir().glob("*.toml"))


def load_board(name: str) -> Board:
    path = Path(name) if name.endswith(".toml") else boards_dir() / f"{name}.toml"
    if not path.exists():
        raise ProtobrainError(f"unknown board '{name}'; choose one of: {', '.join(board_names())} (or pass a .toml file)")
    try:
        d = tomllib.loads(path.read_text())
        mem = d.pop("memory")
        return Board(flash=Region(**mem["flash"]), ram=Region(**mem["ram"]), path=path, **d)
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as e:
        raise ProtobrainError(f"board file {path} is invalid ({type(e).__name__}: {e}); compare it with boards/qemu-mps2-an386.toml") from None
