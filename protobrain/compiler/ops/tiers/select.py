"""Kernel tiers: the same int8 CONV_2D, FULLY_CONNECTED, DEPTHWISE_CONV_2D and ADD, lowered
for the fastest kernels the board's core runs. Chosen per board at generation time:

- "portable": unchanged (plain C, any core; templates/kernels/portable/).
- "dsp": Arm DSP extension (Cortex-M4/M7/M33): SXTB16 + SMLAD on int16 pairs (dsp.py,
  templates/kernels/dsp/).
- "mve": Helium (Cortex-M55): 16 int8 MACs per VMLADAVA (mve.py, templates/kernels/mve/).
- "armv6m": Cortex-M0/M0+ (Thumb-1, MULS only): unsigned-biased operands, two rows by two
  channels per inner loop (armv6m.py, templates/kernels/armv6m/); matrix multiply and
  depthwise only.

16x8 CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D have their own kernels on both fast
tiers (wide16.py, templates/kernels/<tier>/pb_conv16.c, pb_depthwise_conv16.c).

QUANTIZE int16 -> int8/int16 runs four values a vector on Helium and one SMMLAR a value on
the DSP tier (requant16.py, templates/kernels/<tier>/pb_quantize.c).

The int8 ADD of two same-shape tensors becomes two 256-entry tables and one requantization
on every fast tier (add_lut.py, the DSP tier's kernel on Helium too). Calls the fast
kernels do not cover (grouped convolution, a non-zero weight zero point, a depthwise layer
whose channels are more than one kernel step but not a multiple of it) stay portable: one
program calls kernels of its tier and portable ones.
"""

from __future__ import annotations

from protobrain.compiler.ops.base import KernelCall
from protobrain.compiler.ops.tiers import armv6m as fast_v6m
from protobrain.compiler.ops.tiers import batch_matmul as fast_bmm
from protobrain.compiler.ops.tiers import dsp as fast_dsp
from protobrain.compiler.ops.tiers import mve as fast_mve
from protobrain.compiler.ops.tiers import requant16 as fast_requant16
from protobrain.compiler.ops.tiers import transpose_conv as fast_tconv
from protobrain.compiler.ops.tiers import wide16 as fast_16x8
from protobrain.compiler.ops.tiers.add_lut import accelerate_add
from protobrain.compiler.ops.tiers.common import REQUANT_EXACT, REQUANT_FAST, depthwise_as_conv_pays
from protobrain.compiler.ops.tiers.recurrent import RECURRENT_FUNCTIONS, accelerate_recurrent, recurrent_weight_bytes

TIERS = ("portable", "armv6m", "dsp", "mve")
# The operators with a fast form, and on which tiers (`protobrain ops` shows it).
FAST_OPERATORS = {"CONV_2D": ("armv6m", "dsp", "mve"), "DEPTHWISE_CONV_2D": ("armv6m", "dsp", "mve"),
                  "FULLY_CONNECTED": ("armv6m", "dsp", "mve"), "ADD": ("dsp", "mve"),
                  "UNIDIRECTIONAL_SEQUENCE_LSTM": ("dsp", "mve"), "SVDF": ("dsp", "mve"),
                  "TRANSPOSE_CONV": ("dsp", "mve"), "BATCH_MATMUL": ("dsp", "mve"), "QUANTIZE": ("dsp", "mve")}
# --optimize: what the DSP tier's weight form favours (wide_weights).
OPTIMIZE = ("speed", "size", "balanced")
MATMUL_FUNCTIONS = ("pb_conv_s8", "pb_fully_connected_s8")
FAST_FUNCTIONS = (*MATMUL_FUNCTIONS, "pb_depthwise_conv_s8")


def tier_for(features) -> str:
    """The fastest tier a core with these board features (boards/*.toml) runs."""
    features = set(features)
    if "mve" in features or "dsp" in features:
        return "mve" if "mve" in features else "dsp"
    return "armv6m" if "armv6m" in features else "portable"


def accelerate(call: KernelCall, tier: str, wide_weights: bool = False) -> KernelCall:
    """The tier's fast call for this portable call, or the call itself where none applies.
    wide_weights: (DSP tier) store matrix-multiply weights as int16, twice the flash."""
    if tier not in TIERS:
        raise ValueError(f"unknown kernel tier {tier!r}; choose one of {', '.join(TIERS)}")
    fast = None
    if tier == "armv6m":
        return (fast_v6m.accelerate(call) if call.function in FAST_FUNCTIONS else None) or call
    if tier != "portable" and call.function == "pb_add_s8":
        fast = accelerate_add(call, tier)
    elif tier != "portable" and call.function in RECURRENT_FUNCTIONS:
        fast = accelerate_recurrent(call, tier, wide_weights)
    elif tier == "dsp" and call.function in FAST_FUNCTIONS:
        fast = fast_dsp.accelerate(call, wide_weights)
    elif tier == "mve" and call.function in FAST_FUNCTIONS:
        fast = fast_mve.accelerate(call)
    elif tier != "portable" and call.function in fast_16x8.FUNCTIONS:
        fast = fast_16x8.accelerate(call, tier, wide_weights)
    elif call.function in fast_tconv.FUNCTIONS:
        fast = fast_tconv.accelerate(call, tier, wide_weights)
    elif call.function in fast_bmm.FUNCTIONS:
        fast = fast_bmm.accelerate(call, tier)
    elif call.function in fast_requant16.FUNCTIONS:
        fast = fast_requant16.accelerate(call, tier)
    return fast or call


def wide_weights(calls: list[KernelCall], tier: str, flash_budget: int | None = None,
                 optimize: str = "balanced") -> bool:
    """Whether the DSP tier stores these calls' matrix-multiply weights as int16 (twice the
    flash of the lean int8 form, fewer instructions per MAC). optimize: "size" never does;
    "speed" does when the widened weights fit flash_budget (bytes; None: no flash bounds
    them, as on the host); "balanced" when they take at most half of it (None: never)."""
    if optimize not in OPTIMIZE:
        raise ValueError(f"unknown optimize {optimize!r}; choose one of {', '.join(OPTIMIZE)}")
    mm = [c for c in calls if c.function in (*MATMUL_FUNCTIONS, *fast_tconv.FUNCTIONS, *fast_16x8.MATMUL_FUNCTIONS)]
    # a depthwise layer on fewer channels than the DSP kernel's step runs as the convolution
    # it equals (tiers.common.depthwise_as_conv), whose filter is in_c times the depthwise's
    mm += [c for c in calls if depthwise_as_conv_pays(c, fast_dsp.DW_CHANNELS)]
    widened = (2 * sum(c.fields["filter"].nbytes * (c.fields["in_c"] if c.function == "pb_depthwise_conv_s8" else 1)
                       for c in mm) + 2 * sum(recurrent_weight_bytes(c) for c in calls))
    if not (mm or widened) or tier != "dsp" or optimize == "size":
        return False
    if flash_budget is None:
        return optimize == "speed"
    return widened <= (flash_budget if optimize == "speed" else flash_budget // 2)


def accelerate_all(calls: list[KernelCall], tier: str, flash_budget: int | None = None,
                   optimize: str = "balanced") -> list[KernelCall]:
    """accelerate every call; on the DSP tier with int16 weights where wide_weights says so."""
    wide = wide_weights(calls, tier, flash_budget, optimize)
    fast = [accelerate(c, tier, wide) for c in calls]
    return fast_dsp.shared_instances(calls, fast, wide) if tier == "dsp" else fast
