"""Renode: a .resc script and a Robot test that load protobrain firmware on a board Renode models."""

from __future__ import annotations

from pathlib import Path

from protobrain import __version__
from protobrain.boards import Board, board_names, load_board
from protobrain.codegen.c import env
from protobrain.errors import ProtobrainError


def renode_boards() -> list[str]:
    return [b for b in board_names() if load_board(b).renode]


def write_renode(board: Board, elf: Path, out: Path, models: list[str]) -> list[Path]:
    if not board.renode:
        raise ProtobrainError(f"Renode has no platform for {board.name}; boards with one: {', '.join(renode_boards())}")
    out.mkdir(parents=True, exist_ok=True)
    name = board.name.replace("-", "_")
    ctx = {"board": board, "version": __version__, "elf": str(elf.resolve()), "name": name,
           "pty": f"/tmp/protobrain-{name}-uart", "models": models}
    files = []
    for template, suffix in (("board.resc.j2", ".resc"), ("test.robot.j2", ".robot")):
        path = out / f"{name}{suffix}"
        path.write_text(env().get_template(f"renode/{template}").render(ctx))
        files.append(path)
    return files
