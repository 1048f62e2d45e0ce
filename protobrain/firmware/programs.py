"""Model files compiled for the boards that will run them: the kernel tier every one of
those cores runs, the smallest flash among them (what a tier may spend on faster
weights), and one Program per file, their names unique within one firmware; or, for a
project with one firmware per board, each board's own."""

from __future__ import annotations

from pathlib import Path

from protobrain.boards import load_board
from protobrain.compiler.ops.tiers.select import TIERS, tier_for
from protobrain.compiler.program import Program, build_program
from protobrain.compiler.reader import read_model
from protobrain.compiler.run_info import model_path
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


def load_programs(models, planner: str, kernels: str = AUTO, boards=(),
                  names=(), optimize: str = "balanced") -> tuple[list[Program], list[bytes]]:
    """Every model file compiled for the boards (none: portable kernels), and its bytes.
    names: (name, path) pairs naming some of the models (--name NAME=PATH); optimize: how
    the DSP tier trades flash for speed (--optimize, select.wide_weights)."""
    tier, budget = kernel_tier(kernels, *boards)
    given = given_names(models, names)
    progs, blobs = [], []
    for k, m in enumerate(models):
        progs.append(build_program(read_model(m, given.get(k)), planner, tier, budget, optimize))
        blobs.append(Path(m).read_bytes())
    names = [p.graph.name for p in progs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ProtobrainError(f"two models are both named {', '.join(sorted(dup))}; name them with "
                              "--name NAME=PATH, one for each model file")
    return progs, blobs


def programs_per_board(models, planner: str, kernels: str = AUTO, boards=(),
                       names=(), optimize: str = "balanced") -> tuple[dict[str, list[Program]], list[bytes]]:
    """The model files compiled for each board on its own (by board name), as `build`
    compiles them for it: its own tier (with kernels auto, the fastest its core runs) and
    its own flash. Boards that take the same tier and flash share one compilation."""
    done, per_board, blobs = {}, {}, []
    for b in boards:
        key = kernel_tier(kernels, b)
        if key not in done:
            done[key], blobs = load_programs(models, planner, kernels, [b], names, optimize)
        per_board[load_board(b).name] = done[key]
    return per_board, blobs


def given_names(models, names) -> dict[int, str]:
    """{index in models: name} of the (name, path) pairs; each path must be one of models,
    either as a file or as the training run's folder that holds it."""
    where = {}
    for k, m in enumerate(models):
        where.setdefault(model_path(m).resolve(), k)
    given = {}
    for name, path in names:
        k = where.get(model_path(path).resolve())
        if k is None:
            raise ProtobrainError(f"--name {name}={path}: {path} is not one of the models given "
                                  f"({', '.join(map(str, models))}); give the same path")
        if k in given and given[k] != name:
            raise ProtobrainError(f"--name names {path} twice ({given[k]} and {name}); give one name per model")
        given[k] = name
    return given
