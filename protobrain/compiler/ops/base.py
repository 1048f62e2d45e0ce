"""The contract between one operator's lowering and the code generator.

A lowering turns one IR operator into one kernel call: which kernel family (a real
.c/.h pair in templates/kernels/<tier>/), which C function, and a const parameter struct whose
fields are literals or const arrays (weights, per-channel multipliers, lookup tables).
Everything that can be computed before run time is computed here, in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from protobrain.compiler.ir import C_TYPES, Graph, Operator, Tensor


class Unsupported(Exception):
    """Raised by a lowering when this operator instance (types, options) is not supported."""


@dataclass
class ConstArray:
    """A const array emitted into flash. `name` is a short suffix; codegen makes it unique."""

    name: str
    ctype: str
    values: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(np.asarray(self.values).size) * _CTYPE_SIZES[self.ctype]

    @property
    def ctype_numpy(self) -> np.dtype:
        return _CTYPE_NUMPY[self.ctype]


_CTYPE_SIZES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4,
                "uint32_t": 4, "int64_t": 8, "float": 4}


_CTYPE_NUMPY = {"int8_t": np.dtype("<i1"), "uint8_t": np.dtype("<u1"), "int16_t": np.dtype("<i2"),
                "uint16_t": np.dtype("<u2"), "int32_t": np.dtype("<i4"), "uint32_t": np.dtype("<u4"),
                "int64_t": np.dtype("<i8"), "float": np.dtype("<f4")}


def const(name: str, values, ctype: str) -> ConstArray:
    return ConstArray(name, ctype, np.asarray(values).reshape(-1))


@dataclass
class KernelCall:
    """One straight-line call: `function(&params, inputs..., outputs...)`, or with
    inputs_as_array `function(&params, (const void *const[]){inputs...}, outputs...)`
    for kernels that take a variable number of inputs (outputs_as_array: of outputs).

    fields: designated-initializer fields of the params struct; values are Python ints,
    floats, C expression strings, or ConstArray (rendered as the array's name).
    inputs/outputs: activation tensor indices passed as arena pointers, in call order.
    """

    kernel: str  # kernel family: templates/kernels/<tier>/<kernel>.c and .h
    function: str
    struct: str
    fields: dict
    inputs: list[int]
    outputs: list[int]
    macs: int = 0  # multiply-accumulates of CONV/DEPTHWISE/FULLY_CONNECTED (MLPerf Tiny's count)
    scratch_bytes: int = 0  # planned in the arena alongside activations (0 = none)
    takes_scratch: bool = False  # the function has a scratch argument even when none is planned (NULL)
    inputs_as_array: bool = False  # pass the inputs as one `const void *const[]` argument
    outputs_as_array: bool = False  # pass the outputs as one `void *const[]` argument
    tier: str = "portable"  # the kernel tier whose folder holds the family (ops/tiers/ rewrite calls to dsp, mve)
    # Bytes this call keeps from one invocation to the next (a filter's delay line, a noise
    # estimate), in the model's static state area; passed last, as `void *state`. Reset
    # zeroes them, or copies state_init's bytes when given.
    state_bytes: int = 0
    state_init: ConstArray | None = None
    # The state is zero at start-up and reset leaves it alone (CALL_ONCE's has-run flag:
    # TFLite Micro runs an initializer once per interpreter, not once per reset).
    state_kept: bool = False
    # The C function the generated code calls when not `function` itself: the one instance
    # of a kernel family (e.g. pb_fast_mm_s8, whose instances are pb_fast_mm_int8_fast_full,
    # ...) the layer's constants select, with the family's arguments, so a firmware links
    # only the instances its models call. `function` then names the family, not a symbol.
    entry: str = ""

    @property
    def computed_macs(self) -> int:
        """Of macs, those the kernel computes: a fast tier's matrix multiply (tiers/common.py's
        matmul_fields) computes out_c of the layer's out_stride output channels and skips the
        rest, whose weights are all zero (their output is a constant)."""
        f = self.fields
        if f.get("out_stride") and isinstance(f.get("out_c"), int):
            return self.macs * f["out_c"] // f["out_stride"]
        return self.macs

    @property
    def consts(self) -> list[ConstArray]:
        return [v for v in self.fields.values() if isinstance(v, ConstArray)]

    @property
    def const_bytes(self) -> int:
        return sum(c.nbytes for c in self.consts)


@dataclass
class Alias:
    """The operator is a pure view (RESHAPE, SQUEEZE): its output shares its input's memory."""

    output: int
    input: int


Lowering = Callable[[Operator, Graph], "KernelCall | Alias"]

REGISTRY: dict[str, Lowering] = {}

# (fewest, most) inputs of each operator, as TFLite Micro's kernels accept them; the
# compiler checks this (and that the first `fewest` are present) before lowering.
ARITY: dict[str, tuple[int, int]] = {}
# (fewest, most) outputs; all of them must be present.
OUTPUT_ARITY: dict[str, tuple[int, int]] = {}
# The activation types each operator takes (`protobrain ops`, README's table), and the
# operators whose golden is LiteRT's reference kernels because TFLite Micro has none.
TYPES: dict[str, tuple[str, ...]] = {}
LITERT_GOLDEN: dict[str, str] = {}


def register(*names: str, inputs: tuple[int, int] = (1, 1), outputs: tuple[int, int] = (1, 1),
             types: tuple[str, ...] = (), litert_golden: str = ""):
    """types: the activation types the lowering takes ("int8", "int16", "int32", "float32",
    "bool", ...). litert_golden: which cases TFLite Micro has no kernel for, checked against
    LiteRT's reference kernels instead (e.g. "int16")."""
    def wrap(fn: Lowering) -> Lowering:
        for n in names:
            REGISTRY[n] = fn
            ARITY[n] = inputs
            OUTPUT_ARITY[n] = outputs
            TYPES[n] = tuple(types)
            if litert_golden:
                LITERT_GOLDEN[n] = litert_golden
        return fn

    return wrap


# ---- helpers shared by lowerings -------------------------------------------------------


def tensors(op: Operator, g: Graph) -> tuple[list[Tensor | None], list[Tensor]]:
    return [g.tensor(i) for i in op.inputs], [g.tensors[i] for i in op.outputs]


def require(cond: bool, reason: str) -> None:
    if not cond:
        raise Unsupported(reason)


def require_types(op: Operator, g: Graph, allowed: set[tuple[str, ...]]) -> None:
    """Check the (input..., output) dtype signature; raise Unsupported naming what was seen."""
    ins, outs = tensors(op, g)
    sig = tuple(t.dtype if t is not None else "none" for t in ins + outs)
    if not any(sig[: len(a)] == a for a in allowed):
        raise Unsupported("types " + ",".join(sig))


def require_int32_accumulator(weights, filter_offset: int, input_offset: int, bias, shifts,
                              input_max: int | None = None) -> None:
    """int8 kernels sum (x + input_offset) * (w + filter_offset) over each output's taps, add
    the bias, requantize and add the output zero point, all in int32 as TFLite Micro does.
    Refuse parameters for which some int8 input overflows that: undefined behaviour in the
    reference too. weights: one row of taps per output channel; shifts: one or per channel;
    input_max: the largest |x + input_offset| (default: of int8 inputs)."""
    w = np.asarray(weights, np.int64).reshape(len(weights), -1) + int(filter_offset)
    xmax = max(abs(-128 + int(input_offset)), abs(127 + int(input_offset))) if input_max is None else input_max
    peak = [int(v) * xmax for v in np.abs(w).sum(axis=1)]
    if bias is not None:
        peak = [p + abs(int(b)) for p, b in zip(peak, np.asarray(bias, np.int64).reshape(-1))]
    shifts = np.broadcast_to(np.asarray(shifts, np.int64).reshape(-1), (len(peak),))
    worst = max((p << max(int(s), 0) for p, s in zip(peak, shifts)), default=0)
    require(worst + 128 < 2**31, f"the int32 accumulator can reach {worst} (weights, bias and scales overflow it)")


def require_int64_accumulator(weights, bias, mults, shifts) -> None:
    """16x8 kernels sum int16 inputs (zero point 0) times int8 weights over each output's
    taps and add the bias in int64, then requantize with the 64-bit
    MultiplyByQuantizedMultiplier (the multiplier rounded to 16 bits, times the sum, plus a
    rounding term, in int64), as TFLite Micro does. Refuse parameters for which some input
    overflows that, or whose shift makes the rounding term undefined: undefined behaviour
    in the reference too. weights: one row of taps per output channel; mults, shifts: one
    or per channel."""
    rows = np.abs(np.asarray(weights, np.int64).reshape(len(weights), -1)).sum(axis=1)
    biases = [0] * len(rows) if bias is None else [abs(int(b)) for b in np.asarray(bias).reshape(-1)]
    mults = np.broadcast_to(np.asarray(mults, np.int64).reshape(-1), (len(rows),))
    shifts = np.broadcast_to(np.asarray(shifts, np.int64).reshape(-1), (len(rows),))
    for row, b, m, s in zip(rows, biases, mults, shifts):
        require(s <= 14, f"requantization shift {int(s)} (the 64-bit rounding needs 14 at most)")
        reduced = (int(m) + (1 << 15)) >> 16 if m < 0x7FFF0000 else 0x7FFF
        peak = int(row) * 32768 + b
        require(peak * reduced + (1 << (14 - int(s))) < 2**63,
                f"the int64 accumulator can reach {peak} (weights, bias and scales overflow its requantization)")


def ctype_of(t: Tensor) -> str:
    return C_TYPES[t.dtype]


def type_signature(op: Operator, g: Graph) -> str:
    ins, outs = tensors(op, g)
    return ",".join(t.dtype if t is not None else "-" for t in ins) + "->" + ",".join(t.dtype for t in outs)
