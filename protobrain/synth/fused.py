"""One fused, specialised C function for a per-step model with explicit state.

An autoregressive model (a WaveNet vocoder: protobrain.synth.wavenet) exported per step is a
few hundred tiny operators per sample; called through the regular generated code each
one costs a call, a parameter struct and generic loops. Here the whole step becomes ONE
C function, `pb_<name>_step(state, sample_q, cond_q, logits_q)`, in which

* every operator is a loop nest with literal shapes, offsets, multipliers and shifts,
  its weights and tables in `static const` arrays (no parameter structs, no dispatch);
  the per-element arithmetic is protobrain's own (pb_common.h, and the helpers in
  templates/fused/step.c.j2 that mirror templates/kernels/*.c), inlined with constant
  arguments so the compiler specialises it;
* lowering, quantization parameters (KernelCall.fields) and memory planning come from
  protobrain's compiler (read_model_bytes -> build_program), so the arithmetic is the
  one already verified bit-exact against TensorFlow Lite Micro;
* int8 FULLY_CONNECTED folds the input zero point into the bias at generation time
  (sum (x + zx) w + b = sum x w + (b + zx sum w), exact in integers), and 16x8
  FULLY_CONNECTED accumulates in 32 bits when the depth provably cannot overflow;
  on cores with the Arm DSP extension (Cortex-M4 and up) the dot products use
  SXTB16/SMLAD, two output channels at a time over an input unpacked once (`#if PBF_DSP`;
  the same integer sums, so the same results);
* requantization uses pbf_mulq, equal to pb_mul_by_quantized_mult for every multiplier
  but INT32_MIN (checked in emit.py): the saturating rounding doubling high multiply is
  floor((a m + 2^30) / 2^31) unless a = m = INT32_MIN (proof in the template), which is
  one 64-bit multiply-add; clamps are comparisons (SSAT or conditional moves);
* the state lives in ring buffers in a caller-owned struct: state pair k (input `past`
  <-> output `x`, depth d_k) is d_k slots of the tensor's width. The slot at head_k
  holds the value written d_k steps ago: it is read as `past`, and then overwritten with
  this step's `x`, and head_k advances by one (no memmove). When every reader of `past`
  runs before the operator producing `x`, that operator writes straight into the slot;
  otherwise `x` is copied in after the graph;
* graph inputs are read where the caller has them (sample, cond_q, ring slot) and the
  logits are written straight to logits_q; everything else lives in one static arena,
  planned by protobrain's planner over the remaining buffers.

Sampling (`pb_<name>_sample`) is integer-only: protobrain.synth.sampling, whose Sampler
is its exact twin. The per-operator C comes from protobrain.synth.emit; protobrain.synth.stepper
runs the fused step on this host (ctypes) next to its TFLite Micro twin.

May import compiler, codegen and the rest of synth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from protobrain import __version__
from protobrain.codegen.c import c_array_body, c_literal, env
from protobrain.compiler import planner
from protobrain.compiler.program import Program, build_program
from protobrain.compiler.quantization import f32
from protobrain.compiler.reader import read_model_bytes
from protobrain.errors import ProtobrainError, UnsupportedError
from protobrain.resources import kernels_dir
from protobrain.synth import lpc
from protobrain.synth.coding import quantize
from protobrain.synth.emit import SUPPORTED, Consts, emit_operator
from protobrain.synth.sampling import NP_DTYPES, Sampler


@dataclass(frozen=True)
class StatePair:
    """A state tensor pair: graph input `input` reads what graph output `output` wrote
    `depth` steps earlier (positions in graph.inputs / graph.outputs)."""

    input: int
    output: int
    depth: int


@dataclass(frozen=True)
class StepSignature:
    """The roles of a step model's inputs and outputs (positions in graph.inputs/outputs).

    cond: inputs fed from the caller's cond_q, concatenated in this order."""

    sample: int
    cond: tuple
    logits: int
    state: tuple


@dataclass(frozen=True)
class WindowSignature:
    """A step model with one input and one output (the logits), its input being
    [the last `window` fed-back samples, oldest first | the frame's conditioning].

    The fused step keeps that input vector in its state: each step shifts the window by
    one, appends the new sample and copies cond_q behind it, so the graph reads its input
    in place. No rings: the history is the window. `input_coding` is what a sampled class
    feeds back (protobrain.synth.sampling.INPUT_CODINGS)."""

    window: int
    input_coding: str = "code"
    lpc_order: int = 0  # > 0: linear prediction (protobrain.synth.lpc), input [s codes | e codes | p code | cond]

    @property
    def history(self) -> int:
        """Input values before the conditioning."""
        return 2 * self.window + 1 if self.lpc_order else self.window


@dataclass
class CondBlock:
    offset: int  # elements into cond_q
    size: int
    scale: float
    zero_point: int


# ---- the fused model -----------------------------------------------------------------------


@dataclass
class FusedModel:
    name: str
    texts: dict  # file name -> text (plus pb_common.h, copied by write())
    program: Program
    signature: StepSignature
    dtype: str
    cond_blocks: list
    sample_scale: float
    sample_zero_point: int
    logits_scale: float
    logits_zero_point: int
    classes: int
    state_depths: list
    state_widths: list
    state_zero_points: list
    sampler: Sampler
    arena_size: int
    tflite_operators: int  # operators in the .tflite
    fused_operators: int  # operators that run code in the fused step (views cost nothing)
    direct_state_writes: int  # state outputs written straight into their ring slot

    @property
    def np_dtype(self):
        return NP_DTYPES[self.dtype]

    @property
    def ctype(self) -> str:
        return f"{self.dtype}_t"

    @property
    def macs(self) -> int:
        return self.program.macs

    @property
    def cond_size(self) -> int:
        return sum(b.size for b in self.cond_blocks)

    @property
    def ring_elements(self) -> int:
        return sum(d * w for d, w in zip(self.state_depths, self.state_widths))

    def quantize_cond(self, values) -> np.ndarray:
        """Float conditioning (..., cond_size) -> integers, each block with its own quantization."""
        v = np.asarray(values, np.float32)
        out = np.empty(v.shape, self.np_dtype)
        for b in self.cond_blocks:
            out[..., b.offset:b.offset + b.size] = quantize(v[..., b.offset:b.offset + b.size], b.scale,
                                                             b.zero_point, self.np_dtype)
        return out


def check_window_signature(g, sig: WindowSignature) -> str:
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise ProtobrainError(f"a window step model has one input and one output (the logits), this one "
                              f"{len(g.inputs)} and {len(g.outputs)}")
    x, y = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
    if x.dtype != y.dtype or x.dtype not in NP_DTYPES:
        raise UnsupportedError(f"step input and logits must both be int8 or both int16, got {x.dtype} and {y.dtype}")
    for t in (x, y):
        if t.quant is None or t.quant.per_channel:
            raise UnsupportedError(f"tensor {t.index} ({t.name}) is not per-tensor quantized")
    if isinstance(sig.window, bool) or not isinstance(sig.window, (int, np.integer)) or not 1 <= sig.window:
        raise ProtobrainError(f"window {sig.window!r} must be a positive integer")
    if sig.history >= x.size:
        raise ProtobrainError(f"window {sig.window} ({sig.history} history values) leaves no room for the "
                              f"conditioning in the step input's {x.size} values")
    if sig.lpc_order:
        if not 1 <= sig.lpc_order <= 32:
            raise ProtobrainError(f"lpc_order {sig.lpc_order} must be in [1, 32]")
        if x.dtype != "int8" or sig.input_coding != "code" or y.size & (y.size - 1) or not 16 <= y.size <= 256:
            raise UnsupportedError("linear prediction needs int8 code input and 16..256 (a power of two) classes")
    return x.dtype


def check_signature(g, sig) -> str:
    """The step's integer type, after checking that `sig` fits the graph."""
    if isinstance(sig, WindowSignature):
        return check_window_signature(g, sig)
    n_in, n_out = len(g.inputs), len(g.outputs)
    ins = [sig.sample, *sig.cond, *(p.input for p in sig.state)]
    outs = [sig.logits, *(p.output for p in sig.state)]
    if not sig.state:
        raise ProtobrainError("a fused step needs at least one state pair")
    if any(not 0 <= i < n_in for i in ins) or any(not 0 <= o < n_out for o in outs):
        raise ProtobrainError(f"step signature names positions outside the model's {n_in} inputs / {n_out} outputs")
    if sorted(ins) != list(range(n_in)):
        raise ProtobrainError(f"step signature must assign each of the {n_in} inputs exactly once (sample, cond, state)")
    if sorted(outs) != list(range(n_out)):
        raise ProtobrainError(f"step signature must assign each of the {n_out} outputs exactly once (logits, state)")
    tensors = [g.tensors[g.inputs[i]] for i in ins] + [g.tensors[g.outputs[o]] for o in outs]
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) != 1 or next(iter(dtypes)) not in NP_DTYPES:
        raise UnsupportedError(f"step inputs and outputs must all be int8 or all int16, got {sorted(dtypes)}")
    for t in tensors:
        if t.quant is None or t.quant.per_channel:
            raise UnsupportedError(f"tensor {t.index} ({t.name}) is not per-tensor quantized")
    if g.tensors[g.inputs[sig.sample]].size != 1:
        raise ProtobrainError("the sample input must hold one value")
    for k, p in enumerate(sig.state):
        a, b = g.tensors[g.inputs[p.input]], g.tensors[g.outputs[p.output]]
        if isinstance(p.depth, bool) or not isinstance(p.depth, (int, np.integer)) or not 1 <= p.depth <= 65535:
            raise ProtobrainError(f"state pair {k}: depth {p.depth!r} is not an integer in [1, 65535]")
        if a.size != b.size:
            raise ProtobrainError(f"state pair {k}: input {a.name} has {a.size} values, output {b.name} {b.size}")
        if f32(a.quant.s) != f32(b.quant.s) or a.quant.zp != b.quant.zp:
            raise ProtobrainError(f"state pair {k}: {a.name} (scale {a.quant.s}, zp {a.quant.zp}) and {b.name} "
                                  f"(scale {b.quant.s}, zp {b.quant.zp}) differ; tie them (wavenet.tie_state_quantization)")
    return next(iter(dtypes))


def fuse(data: bytes, sig: StepSignature | WindowSignature, name: str = "wavenet", strategy: str = planner.DEFAULT_STRATEGY) -> FusedModel:
    """Generate the fused C step of a per-step .tflite model."""
    if not name.isidentifier() or not name.isascii():
        raise ProtobrainError(f"name {name!r} is not a C identifier")
    graph = read_model_bytes(data, name)
    dtype = check_signature(graph, sig)
    program = build_program(graph, strategy)
    g = program.graph
    T = f"{dtype}_t"
    prefix = f"pb_{name}"
    tin = [g.inputs[i] for i in range(len(g.inputs))]
    tout = [g.outputs[i] for i in range(len(g.outputs))]

    windowed = isinstance(sig, WindowSignature)
    pairs = () if windowed else sig.state
    # -- where every tensor lives: caller memory, ring slots, or the arena ------------------
    if windowed:  # the whole input lives in the state: [history | cond]
        t = g.tensors[tin[0]]
        external: dict[int, str] = {t.index: "s->in"}
        offset = t.size - sig.history
        blocks = [CondBlock(0, offset, float(t.quant.s), t.quant.zp)]
    else:
        external = {tin[sig.sample]: "(&sample_q)"}
        blocks, offset = [], 0
        for p in sig.cond:
            t = g.tensors[tin[p]]
            external[t.index] = f"(cond_q + {offset})"
            blocks.append(CondBlock(offset, t.size, float(t.quant.s), t.quant.zp))
            offset += t.size
    for k, p in enumerate(pairs):
        external[tin[p.input]] = f"past{k}"

    producer = {}
    for k, s in enumerate(program.steps):
        for t in (s.call.outputs if s.call else [s.alias.output]):
            producer[t] = k

    def group(t: int) -> set[int]:  # a tensor and every view of it
        out, changed = {t}, True
        while changed:
            changed = False
            for s in program.steps:
                if s.alias and s.alias.input in out and s.alias.output not in out:
                    out.add(s.alias.output)
                    changed = True
        return out

    direct = set()
    for k, p in enumerate(pairs):
        x = tout[p.output]
        pk = producer.get(x)
        if pk is None or program.steps[pk].call is None or x in external:
            continue
        past = group(tin[p.input])
        readers = [j for j, s in enumerate(program.steps) if past & set(s.op.inputs)]
        if all(j < pk for j in readers) and not (past & set(g.outputs)):
            external[x] = f"past{k}"
            direct.add(k)
    logits_t = tout[0 if windowed else sig.logits]
    lp = producer.get(logits_t)
    logits_direct = lp is not None and program.steps[lp].call is not None and logits_t not in external
    if logits_direct:
        external[logits_t] = "logits_q"
    for s in program.steps:
        if s.alias and s.alias.input in external:
            external[s.alias.output] = external[s.alias.input]

    kept = [b for b in program.buffers if not b.name.startswith("scratch") and any(t not in external for t in b.tensors)]
    if any(b.name.startswith("scratch") for b in program.buffers):
        raise UnsupportedError("an operator needs scratch memory, which the fused step does not provide")
    plan = planner.plan(kept, strategy)

    def ptr(t: int) -> str:
        if t in external:
            return external[t]
        return f"(({T} *)A({plan.offset_of(t)}))"

    # -- one specialised block per operator --------------------------------------------------
    consts = Consts(prefix)
    ops, problems = [], []
    for s in program.steps:
        if s.call is None:
            continue
        try:
            ops.append(emit_operator(s, g, ptr, consts))
        except UnsupportedError as e:
            problems.append(str(e))
    if problems:
        raise UnsupportedError(f"{name}: the fused step cannot specialise: " + "; ".join(problems)
                               + ". Supported: " + ", ".join(SUPPORTED))

    sample_t, logits_tt = g.tensors[tin[0 if windowed else sig.sample]], g.tensors[logits_t]
    sampler = Sampler(logits_tt.size, dtype, float(logits_tt.quant.s), float(sample_t.quant.s), sample_t.quant.zp,
                      input_coding=sig.input_coding if windowed else "decoded")
    states, ring_off = [], 0
    for k, p in enumerate(pairs):
        t = g.tensors[tin[p.input]]
        states.append({"k": k, "depth": int(p.depth), "width": t.size, "offset": ring_off, "zp": t.quant.zp,
                       "direct": k in direct, "src": None if k in direct else ptr(tout[p.output]),
                       "pow2": p.depth & (p.depth - 1) == 0})
        ring_off += int(p.depth) * t.size
    ctx = {
        "window": sig.window if windowed else 0, "history": sig.history if windowed else 0,
        "lpc_order": sig.lpc_order if windowed else 0, "version": __version__, "name": name, "NAME": name.upper(), "prefix": prefix, "T": T, "dtype": dtype,
        "ops": ops, "consts": consts.items, "states": states, "ring_size": ring_off,
        "arena_size": plan.size, "arena_used": any("A(" in o["body"] for o in ops) or any(
            st["src"] and "A(" in st["src"] for st in states) or (not logits_direct and "A(" in ptr(logits_t)),
        "logits_direct": logits_direct, "logits_src": None if logits_direct else ptr(logits_t),
        "classes": logits_tt.size, "cond_size": offset, "cond_blocks": blocks,
        "sample_scale": c_literal(sample_t.quant.s, "float"), "sample_zp": sample_t.quant.zp,
        "logits_scale": c_literal(logits_tt.quant.s, "float"), "logits_zp": logits_tt.quant.zp,
        "macs": program.macs, "tflite_ops": len(graph.operators), "fused_ops": len(ops),
        "exp_table": c_array_body(sampler.exp_table, "uint16_t"), "exp_len": len(sampler.exp_table),
        "scale_q": sampler.scale_q, "pcm": c_array_body(sampler.pcm, "int16_t"),
        "next_input": c_array_body(sampler.next_input, T),
    }
    if windowed and sig.lpc_order:
        table = lpc.thresholds(logits_tt.size)
        ctx |= {"thresholds": c_array_body(table, "int16_t"), "code_scale": 256 // logits_tt.size,
                "silence": (int(lpc.encode(0, table)) - logits_tt.size // 2) * (256 // logits_tt.size)}
    bodies = "\n".join(o["body"] for o in ops)
    ctx["helpers"] = [h for h in ("pbf_add(", "pbf_sub(", "pbf_mul(", "pbf_logistic_s16(", "pbf_tanh_s16(")
                      if h in bodies]
    jinja = env()
    texts = {
        f"{name}.h": jinja.get_template("fused/step.h.j2").render(ctx),
        f"{name}.c": jinja.get_template("fused/step.c.j2").render(ctx),
    }
    return FusedModel(
        name=name, texts=texts, program=program, signature=sig, dtype=dtype, cond_blocks=blocks,
        sample_scale=float(sample_t.quant.s), sample_zero_point=sample_t.quant.zp,
        logits_scale=float(logits_tt.quant.s), logits_zero_point=logits_tt.quant.zp, classes=logits_tt.size,
        state_depths=[1] if windowed else [st["depth"] for st in states],
        state_widths=[sig.window] if windowed else [st["width"] for st in states],
        state_zero_points=[sample_t.quant.zp] if windowed else [st["zp"] for st in states], sampler=sampler, arena_size=plan.size,
        tflite_operators=len(graph.operators), fused_operators=len(ops), direct_state_writes=len(direct))


# ---- files ----------------------------------------------------------------------------


def all_files(model: FusedModel) -> dict[str, str]:
    return dict(model.texts) | {"pb_common.h": (kernels_dir() / "pb_common.h").read_text()}


def write(model: FusedModel, out_dir: str | Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fname, text in all_files(model).items():
        (out_dir / fname).write_text(text)
        written.append(out_dir / fname)
    return written


__all__ = ["StatePair", "StepSignature", "WindowSignature", "CondBlock", "FusedModel", "check_signature", "fuse", "all_files", "write"]
