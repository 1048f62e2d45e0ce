"""What the command modules share: the console they print to, the --planner and --kernels
options, whose choices come from the planner's and the kernel tiers' registries,
--name NAME=PATH for commands that take several model files, and the range type every
numeric option is checked with."""

from __future__ import annotations

import math
import sys

import click
from rich.console import Console

from protobrain.compiler import planner
from protobrain.compiler.names import check_name
from protobrain.compiler.ops.tiers.select import OPTIMIZE as OPTIMIZE_CHOICES
from protobrain.compiler.ops.tiers.select import TIERS
from protobrain.errors import ProtobrainError
from protobrain.firmware.programs import AUTO

# Wide tables when piped to a file or CI log; the terminal's own width when interactive.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)

PLANNER = click.option(
    "--planner", default=planner.DEFAULT_STRATEGY, show_default=True,
    type=click.Choice(["best", *planner.PLANNERS]),
    help="Memory planning strategy ('best' tries each and keeps the smallest arena).",
)

KERNELS = click.option(
    "--kernels", default=AUTO, show_default=True, type=click.Choice([AUTO, *TIERS]),
    help="Kernel tier: auto takes the fastest the board's core has (mve on M55, dsp on M4/M7/M33, "
         "armv6m on M0/M0+, portable elsewhere and on the host); dsp and armv6m on the host run "
         "their C form.",
)

OPTIMIZE = click.option(
    "--optimize", default="balanced", show_default=True, type=click.Choice(OPTIMIZE_CHOICES),
    help="What the dsp tier's matrix-multiply weights favour: speed stores them as int16 wherever they fit "
         "the board's flash (fewest instructions, twice the weight flash); size keeps them int8 (the lean "
         "form: about the model's own weight bytes, some more instructions per MAC); balanced takes int16 "
         "when they fit half the flash. On the host (no flash bound) speed takes int16, balanced int8.",
)


def name_pair(value: str) -> tuple[str, str]:
    """NAME=PATH as (name, path), the name checked; a one-line error otherwise."""
    name, sep, path = value.partition("=")
    if not sep or not path:
        raise ProtobrainError(f"--name {value}: give NAME=PATH, the C name for the model file PATH "
                              "(e.g. --name vision=runs/vision/model.tflite)")
    return check_name(name), path


def export_names(values, models, bare_hint: str = "") -> list[tuple[str, str]]:
    """An export's --name values as (name, path) pairs: NAME=PATH (PATH a model file or its
    run's folder), or a bare NAME when one model is exported; a one-line error otherwise."""
    pairs = []
    for v in values:
        if "=" in v:
            pairs.append(name_pair(v))
        elif len(models) == 1:
            pairs.append((check_name(v), str(models[0])))
        else:
            raise ProtobrainError(f"--name {v}: {len(models)} models are exported; name one with NAME=PATH "
                                  f"(e.g. --name {v}={models[0]}){bare_hint}")
    return pairs


EXPORT_NAMES = click.option(
    "--name", "names", multiple=True, metavar="NAME=PATH | NAME",
    help="C name of the model file (or training run's folder) PATH; repeatable. A bare NAME names the only "
         "model exported. Default: the file's name, or the run folder's for a run's model.tflite.",
)

MODEL_NAMES = click.option(
    "--name", "names", multiple=True, metavar="NAME=PATH",
    callback=lambda ctx, param, values: tuple(name_pair(v) for v in values),
    help="C name of the model file PATH; repeatable. Default: the file's name, or the run folder's "
         "for a run's model.tflite (runs/vision/model.tflite is vision).",
)


class Checked:
    """A numeric option's range, checked the same way on every command: a value outside it
    (or not a finite number) is one line naming the option, the value and what it takes."""

    def convert(self, value, param, ctx):
        try:
            rv = super().convert(value, param, ctx)
        except click.BadParameter:
            rv = None
        if rv is None or not math.isfinite(rv):
            opt = param.opts[0] if param is not None else "value"
            raise ProtobrainError(f"{opt} {value}: give {self.wanted()}")
        return rv

    def wanted(self) -> str:
        whole = isinstance(self, click.IntRange)
        kind, fmt = ("a whole number", "{:,}") if whole else ("a number", "{:g}")
        if self.max is None:
            return f"{kind} from {fmt.format(self.min)} up"
        return f"{kind} from {fmt.format(self.min)} to {fmt.format(self.max)}"


class IntRange(Checked, click.IntRange):
    pass


class FloatRange(Checked, click.FloatRange):
    pass


SEEDS = IntRange(0, 2**32 - 1)  # what numpy and the device's generator take
