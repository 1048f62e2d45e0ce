"""What the command modules share: the console they print to, and the --planner and
--kernels options, whose choices come from the planner's and the kernel tiers' registries."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from protobrain.compiler import planner
from protobrain.compiler.ops.tiers.select import TIERS
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
         "portable elsewhere and on the host); dsp on the host runs the DSP kernels' C form.",
)
