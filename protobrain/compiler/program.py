"""From graph IR to a Program: every operator lowered to a kernel call, memory planned.

This is the middle of the pipeline: reader -> passes -> lowering -> planning. It knows
neither files on disk nor C syntax; codegen turns a Program into source files.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from protobrain.compiler import passes, planner
from protobrain.compiler.ir import Graph, Operator
from protobrain.compiler.ops import REGISTRY, Alias, ConstArray, KernelCall, Unsupported
from protobrain.compiler.ops.base import ARITY, LITERT_GOLDEN, OUTPUT_ARITY, TYPES, type_signature
from protobrain.compiler.ops.tiers import select as fast
from protobrain.compiler.quantization import OutOfRange
from protobrain.errors import ModelError, UnsupportedError


@dataclass
class Step:
    op: Operator
    call: KernelCall | None = None  # the kernel that runs, or
    alias: Alias | None = None  # a pure view: output shares the input's memory


@dataclass
class StateSlot:
    """Bytes that persist from one invocation to the next, in the model's static state area
    (not the arena): a variable tensor (LSTM/SVDF state, resource variables) or one call's
    private state. Reset sets them as TFLite Micro does: `fill` bytes, or `init`'s bytes."""

    name: str
    size: int
    offset: int
    fill: int = 0
    init: ConstArray | None = None
    tensor: int | None = None  # the variable tensor, None for a call's own state
    kept: bool = False  # zero at start-up only; reset leaves it (KernelCall.state_kept)


@dataclass
class Program:
    graph: Graph
    steps: list[Step]
    plan: planner.Plan
    buffers: list[planner.Buffer]
    scratch: dict[int, int] = field(default_factory=dict)  # step index -> scratch buffer offset
    tier: str = "portable"  # kernel tier the calls were generated for (ops/tiers/select.py)
    state: list[StateSlot] = field(default_factory=list)
    call_state: dict[int, int] = field(default_factory=dict)  # step index -> its state offset
    optimize: str = "balanced"  # what the DSP tier's weight form favoured (select.OPTIMIZE)
    wide_weights: bool = False  # the DSP tier stored the matrix-multiply weights as int16

    @property
    def state_size(self) -> int:
        return max((s.offset + s.size for s in self.state), default=0)

    def state_offset(self, tensor_index: int) -> int | None:
        """Where a variable tensor lives in the state area; None for arena tensors."""
        for s in self.state:
            if s.tensor == tensor_index:
                return s.offset
        return None

    @property
    def weights_form(self) -> str:
        """On the DSP tier, the matrix-multiply weights' form and the --optimize that chose it,
        e.g. "int8 weights (--optimize size)" (int8: the lean form); "" on other tiers."""
        if self.tier != "dsp":
            return ""
        return f"{'int16' if self.wide_weights else 'int8'} weights (--optimize {self.optimize})"

    @property
    def kernels_text(self) -> str:
        """The kernels as figures name them, e.g. "dsp kernels with int16 weights (--optimize speed)"."""
        return f"{self.tier} kernels" + (f" with {self.weights_form}" if self.weights_form else "")

    @property
    def arena_size(self) -> int:
        return self.plan.size

    @property
    def lower_bound(self) -> int:
        """The activation lower bound: the largest total of tensors alive at one step. The
        fast kernels' scratch is left out (see largest_scratch), so this is the model's own
        bound whatever tier runs it; the arena holds both."""
        return planner.lower_bound([b for b in self.buffers if b.tensors])  # scratch buffers hold no tensor

    @property
    def largest_scratch(self) -> int:
        """Bytes of the largest scratch buffer one step's kernel has in the arena. Each lives
        for its step only, so they share space with each other and with dead activations."""
        return max((s.call.scratch_bytes for s in self.steps if s.call), default=0)

    @property
    def macs(self) -> int:
        return sum(s.call.macs for s in self.steps if s.call)

    @property
    def const_bytes(self) -> int:
        """Flash bytes of the calls' constant arrays; identical arrays (an unrolled loop's
        weights) count once, as codegen stores them once."""
        arrays = {(c.ctype, np.asarray(c.values).astype(c.ctype_numpy).tobytes()): c.nbytes
                  for s in self.steps if s.call for c in s.call.consts}
        return sum(arrays.values())

    def kernels(self) -> list[tuple[str, str]]:
        """(tier, kernel family) of every kernel the steps call; a fast tier's program calls
        portable kernels too, where its own do not apply."""
        return sorted({(s.call.tier, s.call.kernel) for s in self.steps if s.call})


def supported_operators() -> list[str]:
    return sorted(REGISTRY)


def lower_graph(graph: Graph) -> list[Step]:
    """Lower every operator; collect every unsupported one into a single one-line error."""
    steps, problems, floats = [], [], []
    for op in graph.operators:
        fn = REGISTRY.get(op.name)
        try:
            if fn is None:
                raise Unsupported("")
            _check_arity(op)
            result = fn(op, graph)
        except (Unsupported, OutOfRange) as e:
            if str(e).startswith("types ") and _float_without_kernel(op, graph):  # refused for its types
                floats.append(op.name)
            else:
                problems.append(f"#{op.index} {op.name} ({type_signature(op, graph)}{f': {e}' if str(e) else ''})")
            continue
        consts = [i for i in (result.inputs if isinstance(result, KernelCall) else [result.input])
                  if graph.tensors[i].is_const]
        if consts:
            problems.append(f"#{op.index} {op.name} ({type_signature(op, graph)}: constant data input tensor "
                            f"{consts[0]}; fold it in the converter)")
            continue
        if isinstance(result, Alias):
            steps.append(Step(op, alias=result))
        else:
            steps.append(Step(op, call=result))
    if floats:
        raise _float_error(graph.name, floats, problems)
    if problems:
        raise UnsupportedError(
            f"{graph.name}: unsupported operator{'s' if len(problems) > 1 else ''}: "
            + "; ".join(problems)
            + f". `protobrain ops` lists the {len(REGISTRY)} supported operators and their types"
        )
    return steps


QUANTIZE_HINT = ("protobrain compiles integer models: quantize it with `protobrain quantize RUN` (a run of "
                 "`protobrain train`) or in TensorFlow's converter with full-integer quantization "
                 "(optimizations=[tf.lite.Optimize.DEFAULT], a representative dataset, "
                 "target_spec.supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8])")


def _float_without_kernel(op: Operator, graph: Graph) -> bool:
    """An operator protobrain has integer kernels for only, reading or writing float32
    activations: what a model converted without quantization has."""
    return op.name in TYPES and "float32" not in TYPES[op.name] and any(
        i >= 0 and graph.tensors[i].dtype == "float32" and not graph.tensors[i].is_const
        for i in (*op.inputs, *op.outputs))


def _float_error(name: str, floats: list[str], problems: list[str]) -> UnsupportedError:
    """Float operators protobrain has no kernel for: an unquantized model. Say so and how to
    quantize it first, then the operators by name (each type signature would say float32)."""
    counts = {n: floats.count(n) for n in dict.fromkeys(floats)}
    short = ", ".join(n + (f" x{k}" if k > 1 else "") for n, k in counts.items())
    lead = f"{name} is a float32 model" if not problems else f"{name} has float32 operators"
    rest = (f"; also unsupported: {'; '.join(problems)}. `protobrain ops` lists the supported operators and their "
            "types") if problems else ""
    return UnsupportedError(f"{lead} (not quantized): {QUANTIZE_HINT}. Float32 operators without a kernel: {short}{rest}")


def _check_arity(op: Operator) -> None:
    """The operand counts TFLite Micro accepts; the leading `least` inputs must be present."""
    least, most = ARITY.get(op.name, (1, 1))
    if not least <= len(op.inputs) <= most or any(i < 0 for i in op.inputs[:least]):
        want = f"{least}" if least == most else f"{least} to {most}"
        raise Unsupported(f"{len(op.inputs)} inputs {op.inputs}, expects {want} (the first {least} present)")
    least, most = OUTPUT_ARITY.get(op.name, (1, 1))
    if not least <= len(op.outputs) <= most:
        want = f"{least}" if least == most else f"{least} to {most}"
        raise Unsupported(f"{len(op.outputs)} outputs, expects {want}")


def _state(graph: Graph, steps: list[Step]) -> tuple[list[StateSlot], dict[int, int]]:
    """The static state area: every variable tensor, then each call's private state, one
    after another (all live for the program's whole life, so nothing shares space)."""
    slots, call_state, offset = [], {}, 0
    for t in graph.activations():
        if t.is_variable:
            fill = t.quant.zp & 0xFF if t.dtype == "int8" and t.quant is not None else 0
            slots.append(StateSlot(t.name, t.nbytes, offset, fill=fill, tensor=t.index))
            offset = planner.align(offset + t.nbytes)
    for k, s in enumerate(steps):
        if s.call is not None and s.call.state_bytes:
            slots.append(StateSlot(f"op{s.op.index}", s.call.state_bytes, offset, init=s.call.state_init,
                                   kept=s.call.state_kept))
            call_state[k] = offset
            offset = planner.align(offset + s.call.state_bytes)
    return slots, call_state


def _buffers(graph: Graph, steps: list[Step]) -> tuple[list[planner.Buffer], dict[int, int]]:
    """Activation buffers with lifetimes; aliased tensors (views) share one buffer. Variable
    tensors live in the state area instead (_state)."""
    root = {t.index: t.index for t in graph.activations() if not t.is_variable}

    def find(i: int) -> int:
        while root[i] != i:
            i = root[i]
        return i

    for s in steps:
        if s.alias is not None:
            if s.alias.output not in root or s.alias.input not in root:
                raise UnsupportedError(f"#{s.op.index} {s.op.name}: a view of a variable tensor; "
                                       "protobrain keeps variables in the state area")
            root[find(s.alias.output)] = find(s.alias.input)

    last = len(steps)
    life: dict[int, list[int]] = {}

    def touch(t: int, step: int) -> None:
        r = find(t)
        lo_hi = life.setdefault(r, [step, step])
        lo_hi[0], lo_hi[1] = min(lo_hi[0], step), max(lo_hi[1], step)

    for t in graph.inputs + graph.outputs:
        if t not in root:
            raise UnsupportedError(f"{graph.name}: graph input or output tensor {t} ('{graph.tensors[t].name}') is a "
                                   "variable tensor; protobrain keeps variables in the state area")
    for t in graph.inputs:
        touch(t, 0)
    for t in graph.outputs:
        touch(t, last)
    for k, s in enumerate(steps):
        for t in s.op.inputs + s.op.outputs:
            if t >= 0 and t in root:
                touch(t, k)

    members: dict[int, list[int]] = {}
    for t in root:
        if find(t) in life:
            members.setdefault(find(t), []).append(t)
    buffers = [
        planner.Buffer(
            name=graph.tensors[r].name,
            size=max(graph.tensors[t].nbytes for t in ts),
            first=life[r][0],
            last=life[r][1],
            tensors=sorted(ts),
        )
        for r, ts in members.items()
    ]
    scratch_index = {}
    for k, s in enumerate(steps):
        if s.call and s.call.scratch_bytes:
            scratch_index[k] = len(buffers)
            buffers.append(planner.Buffer(f"scratch{k}", s.call.scratch_bytes, k, k, []))
    return buffers, scratch_index


def _tflm_kernel(name: str) -> bool:
    """Whether TFLite Micro has a kernel for some type the operator takes (else LiteRT's
    reference is its golden for all of them)."""
    golden = LITERT_GOLDEN.get(name, "")
    return golden != "all types" and not set(TYPES.get(name, ())) <= {t.strip() for t in golden.split(",")}


def _check_output_shapes(graph: Graph) -> None:
    """TFLite Micro takes an operator output with a zero dimension for a dynamic tensor (a
    lone 0 is its legacy scalar) and refuses the model, also where nothing reads it (where
    folding drops the operator unlowered). Operators it has no kernel for keep LiteRT's
    empty tensors."""
    for sub in [graph, *graph.subgraphs]:
        for op in sub.operators:
            for i in op.outputs:
                shape = sub.tensors[i].shape if i >= 0 else ()
                if 0 in shape and shape != (0,) and _tflm_kernel(op.name):
                    raise ModelError(f"{graph.name}: operator {op.index} ({op.name}) writes tensor {i} of shape {shape}, "
                                     "with a zero dimension; TFLite Micro refuses it, re-export the model")


def _check_unread(before: Graph, graph: Graph) -> None:
    """Operators folding dropped as unread (their outputs neither computed at generation
    time nor read) are lowered all the same, and what their lowering refuses is refused:
    TFLite Micro prepares every operator, read or not."""
    kept = {op.index for op in graph.operators}
    computed = {i for op in graph.operators if op.name == "CONSTANT" for i in op.outputs}
    unread = [op for op in before.operators if op.index not in kept and op.name in REGISTRY and op.outputs
              and op.outputs[0] < len(graph.tensors)
              and not all(i in computed or graph.tensors[i].is_const for i in op.outputs if i >= 0)]
    if unread:
        lower_graph(dataclasses.replace(graph, operators=unread))


def build_program(graph: Graph, strategy: str = planner.DEFAULT_STRATEGY, tier: str = "portable",
                  flash_budget: int | None = None, optimize: str = "balanced") -> Program:
    """tier: "portable" (plain C, any core), "dsp" or "mve" (ops/tiers/select.py; fast.tier_for(board.features)).
    flash_budget: the board's flash bytes, which lets the DSP tier trade flash for speed;
    optimize: how it trades (speed, size or balanced; select.wide_weights)."""
    _check_output_shapes(graph)
    for step in passes.PASSES:
        before, graph = graph, step(graph)
        if step is passes.fold_constants:
            _check_unread(before, graph)
    steps = lower_graph(graph)
    lowered = [s for s in steps if s.call is not None]
    calls = [s.call for s in lowered]
    wide = fast.wide_weights(calls, tier, flash_budget, optimize)
    for s, call in zip(lowered, fast.accelerate_all(calls, tier, flash_budget, optimize)):
        s.call = call
    buffers, scratch_index = _buffers(graph, steps)
    plan = planner.plan(buffers, strategy)
    scratch = {k: plan.buffers[i].offset for k, i in scratch_index.items()}
    state, call_state = _state(graph, steps)
    return Program(graph, steps, plan, buffers, scratch, tier, state, call_state, optimize, wide)
