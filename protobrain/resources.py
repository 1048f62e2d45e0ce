"""Where the templates and board files live, in a source checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PKG / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"protobrain data folder '{name}' not found; reinstall protobrain")


def templates_dir() -> Path:
    return _find("templates")


def kernels_dir() -> Path:
    return templates_dir() / "kernels"


def boards_dir() -> Path:
    return _find("boards")
