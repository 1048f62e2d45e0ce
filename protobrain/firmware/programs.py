"""Model files compiled for the boards that will run them: the kernel tier every one of
those cores runs, the smallest flash among them (what a tier may spend on faster
weights), and one Program per file, their names unique within one firmware."""

from __future__ import annotations

from pathlib import Path

from protobrain.boards import load_board
from protobrain.compiler.ops.tiers.select import TIERS, tier_for
from protobrain.compiler.program import Program, build_program
from protobrain.compiler.reader import read_model
from protobrain.errors import ProtobrainError

AUTO = "auto"  # the fastest tier the boards' cores have


def kernel_tier(kernels: str, *boards: str) -> tuple[str, int | None]:
    """The kernel tier for these boards ("host" or a board name), the fastest all of them
    run, and the smallest flash among them (what the tier may spend on faster weights)."""
    loaded = [load_board(b) for b in boards if b != "host"]
    budget = min((b.flash.length for b in loaded), default=None)
    if kernels != AUTO:
        return kernels, budget
    tiers = [tier_for(b.features) for b in loaded] + ["portable"] * (len(boards) - len(loaded))
    return min(tiers, key=TIERS.index) if tiers else "portable", budget


def load_programs(models, planner: str, kernels: str = AUTO, boards=()) -> tuple[list[Program], list[bytes]]:
    """Every model file compiled for the boards (none: portable kernels), and its bytes."""
    tier, budget = kernel_tier(kernels, *boards)
    progs, blobs = [], []
    for m in models:
        progs.append(build_program(read_model(m), planner, tier, budget))
        blobs.append(Path(m).read_bytes())
    names = [p.graph.name for p in progs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ProtobrainError(f"two models are both named {', '.join(sorted(dup))}; rename one of the files")
    return progs, blobs
