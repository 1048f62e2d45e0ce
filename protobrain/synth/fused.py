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
  but INT32_MIN (checked here): the saturating rounding doubling high multiply is
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

Sampling (`pb_<name>_sample`, twin: Sampler.pick) is integer-only:
  argmax when temperature_q8 == 0 (first maximum); otherwise each class i gets the weight
  EXP[j_i], EXP[j] = round(65535 exp(-j / 32)) (a table of the few hundred non-zero
  entries), j_i = round((max - logit_i) * scale / T * 32) computed as
  ((max - logit_i) * F + 2^31) >> 32 with F = round(scale * 32 * 256 * 2^32 / temperature_q8)
  (temperature_q8 = T * 256), so a class's probability is exp(-(max - logit_i) * scale / T)
  up to the 1/32 grid of the exponent (within 1.6 %), normalised by the total weight;
  r = (xorshift32() * total) >> 32 picks the first class whose running weight exceeds r.
  The class is mu-law decoded to int16 PCM by a table (pb_<name>_mulaw_pcm) and becomes
  the next step's input through a second table (pb_<name>_mulaw_input: the decoded value
  quantized with the sample input's scale and zero point). Python twins of everything
  (Sampler, ReferenceStepper, reference_generate) reproduce the device's samples exactly.
"""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from protobrain import __version__
from protobrain.codegen.render import _env, c_array_body, c_literal
from protobrain.compiler import planner
from protobrain.compiler.ops.base import ConstArray
from protobrain.compiler.ops.elementwise import broadcast_loops
from protobrain.compiler.program import Program, build_program
from protobrain.compiler.quantization import INT_RANGES, f32
from protobrain.compiler.reader import read_model_bytes
from protobrain.errors import ProtobrainError, UnsupportedError
from protobrain.resources import kernels_dir
from protobrain.run.host import compile_sources
from protobrain.synth.coding import mulaw_decode, quantize
from protobrain.verify.reference import Reference

SUPPORTED = ("FULLY_CONNECTED", "ADD", "SUB", "MUL", "int8 table functions (TANH, LOGISTIC, RELU, RELU6, "
             "LEAKY_RELU, int8 QUANTIZE)", "int16 TANH, LOGISTIC, RELU, RELU6", "RESHAPE/SQUEEZE/EXPAND_DIMS views")
EXP_STEPS = 32  # exponent grid of the sampling table: 1/32
_NP = {"int8": np.int8, "int16": np.int16}


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


@dataclass
class CondBlock:
    offset: int  # elements into cond_q
    size: int
    scale: float
    zero_point: int


# ---- sampling (shared by the C generator and the Python twin) ------------------------------


def xorshift32(x: int) -> int:
    """One step of Marsaglia's xorshift32 (13, 17, 5); state 0 is replaced by 0x9E3779B9."""
    x &= 0xFFFFFFFF
    if x == 0:
        x = 0x9E3779B9
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    return x


def temperature_q8(temperature: float) -> int:
    if temperature < 0 or not math.isfinite(temperature):
        raise ProtobrainError(f"temperature must be >= 0, got {temperature}")
    return int(math.floor(temperature * 256 + 0.5))


@dataclass
class Sampler:
    """Integer sampling from quantized logits, mu-law decoding and the next input: the
    tables and constants of the generated C, and its exact Python twin."""

    classes: int
    dtype: str  # "int8" or "int16": logits and sample input
    logits_scale: float
    input_scale: float
    input_zero_point: int
    exp_table: np.ndarray = field(init=False)
    scale_q: int = field(init=False)
    pcm: np.ndarray = field(init=False)
    next_input: np.ndarray = field(init=False)

    def __post_init__(self):
        table = []
        while True:
            v = int(math.floor(65535.0 * math.exp(-len(table) / EXP_STEPS) + 0.5))
            if v == 0:
                break
            table.append(v)
        self.exp_table = np.array(table, np.uint16)
        self.scale_q = int(math.floor(float(f32(self.logits_scale)) * EXP_STEPS * 256 * 2.0**32 + 0.5))
        lo, hi = INT_RANGES[self.dtype]
        if self.scale_q < 1 or self.scale_q * (hi - lo) >= 1 << 63:
            raise UnsupportedError(f"logits scale {self.logits_scale} out of the sampler's range")
        x = mulaw_decode(np.arange(self.classes), self.classes)
        self.pcm = np.clip(np.floor(np.abs(x) * 32767 + 0.5) * np.sign(x), -32768, 32767).astype(np.int16)
        self.next_input = quantize(x, self.input_scale, self.input_zero_point, _NP[self.dtype])

    def weights(self, logits, temp_q8: int) -> np.ndarray:
        l = np.asarray(logits).reshape(-1).astype(np.int64)
        diff = (l.max() - l).astype(np.uint64)
        f = np.uint64((self.scale_q + temp_q8 // 2) // temp_q8)
        j = (diff * f + np.uint64(1 << 31)) >> np.uint64(32)
        n = len(self.exp_table)
        return np.where(j < n, self.exp_table[np.minimum(j, n - 1).astype(np.int64)], 0).astype(np.int64)

    def pick(self, logits, temp_q8: int, rng: int) -> tuple[int, int]:
        """(class, new rng state): what pb_<name>_sample returns and leaves in *rng."""
        l = np.asarray(logits).reshape(-1)
        if temp_q8 == 0:
            return int(np.argmax(l)), rng
        w = self.weights(l, temp_q8)
        rng = xorshift32(rng)
        t = (rng * int(w.sum())) >> 32
        return int(np.searchsorted(np.cumsum(w), t, side="right")), rng


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
        return _NP[self.dtype]

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


class _Consts:
    """Static const arrays of the fused file, identical contents emitted once."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.items: list[dict] = []
        self._by_key: dict = {}

    def add(self, values, ctype: str, what: str) -> str:
        values = np.asarray(values).reshape(-1)
        key = (ctype, values.astype(np.int64 if ctype != "float" else np.float64).tobytes())
        if key not in self._by_key:
            name = f"{self.prefix}_{what}{len(self.items)}"
            self._by_key[key] = name
            self.items.append({"name": name, "ctype": ctype, "count": int(values.size),
                               "body": c_array_body(values, ctype)})
        return self._by_key[key]


def _check_signature(g, sig: StepSignature) -> str:
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
    if len(dtypes) != 1 or next(iter(dtypes)) not in _NP:
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


def fuse(data: bytes, sig: StepSignature, name: str = "wavenet", strategy: str = planner.DEFAULT_STRATEGY) -> FusedModel:
    """Generate the fused C step of a per-step .tflite model."""
    if not name.isidentifier() or not name.isascii():
        raise ProtobrainError(f"name {name!r} is not a C identifier")
    graph = read_model_bytes(data, name)
    dtype = _check_signature(graph, sig)
    program = build_program(graph, strategy)
    g = program.graph
    T = f"{dtype}_t"
    prefix = f"pb_{name}"
    tin = [g.inputs[i] for i in range(len(g.inputs))]
    tout = [g.outputs[i] for i in range(len(g.outputs))]

    # -- where every tensor lives: caller memory, ring slots, or the arena ------------------
    external: dict[int, str] = {tin[sig.sample]: "(&sample_q)"}
    blocks, offset = [], 0
    for p in sig.cond:
        t = g.tensors[tin[p]]
        external[t.index] = f"(cond_q + {offset})"
        blocks.append(CondBlock(offset, t.size, float(t.quant.s), t.quant.zp))
        offset += t.size
    for k, p in enumerate(sig.state):
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
    for k, p in enumerate(sig.state):
        x = tout[p.output]
        pk = producer.get(x)
        if pk is None or program.steps[pk].call is None or x in external:
            continue
        past = group(tin[p.input])
        readers = [j for j, s in enumerate(program.steps) if past & set(s.op.inputs)]
        if all(j < pk for j in readers) and not (past & set(g.outputs)):
            external[x] = f"past{k}"
            direct.add(k)
    logits_t = tout[sig.logits]
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
    consts = _Consts(prefix)
    ops, problems = [], []
    for s in program.steps:
        if s.call is None:
            continue
        try:
            ops.append(_emit(s, g, ptr, consts))
        except UnsupportedError as e:
            problems.append(str(e))
    if problems:
        raise UnsupportedError(f"{name}: the fused step cannot specialise: " + "; ".join(problems)
                               + ". Supported: " + ", ".join(SUPPORTED))

    sample_t, logits_tt = g.tensors[tin[sig.sample]], g.tensors[logits_t]
    sampler = Sampler(logits_tt.size, dtype, float(logits_tt.quant.s), float(sample_t.quant.s), sample_t.quant.zp)
    states, ring_off = [], 0
    for k, p in enumerate(sig.state):
        t = g.tensors[tin[p.input]]
        states.append({"k": k, "depth": int(p.depth), "width": t.size, "offset": ring_off, "zp": t.quant.zp,
                       "direct": k in direct, "src": None if k in direct else ptr(tout[p.output]),
                       "pow2": p.depth & (p.depth - 1) == 0})
        ring_off += int(p.depth) * t.size
    ctx = {
        "version": __version__, "name": name, "NAME": name.upper(), "prefix": prefix, "T": T, "dtype": dtype,
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
    bodies = "\n".join(o["body"] for o in ops)
    ctx["helpers"] = [h for h in ("pbf_add(", "pbf_sub(", "pbf_mul(", "pbf_logistic_s16(", "pbf_tanh_s16(")
                      if h in bodies]
    env = _env()
    texts = {
        f"{name}.h": env.get_template("fused/step.h.j2").render(ctx),
        f"{name}.c": env.get_template("fused/step.c.j2").render(ctx),
    }
    return FusedModel(
        name=name, texts=texts, program=program, signature=sig, dtype=dtype, cond_blocks=blocks,
        sample_scale=float(sample_t.quant.s), sample_zero_point=sample_t.quant.zp,
        logits_scale=float(logits_tt.quant.s), logits_zero_point=logits_tt.quant.zp, classes=logits_tt.size,
        state_depths=[st["depth"] for st in states], state_widths=[st["width"] for st in states],
        state_zero_points=[st["zp"] for st in states], sampler=sampler, arena_size=plan.size,
        tflite_operators=len(graph.operators), fused_operators=len(ops), direct_state_writes=len(direct))


# ---- per-operator emitters -----------------------------------------------------------------


def _lit(v) -> str:
    return c_literal(int(v))


def _plus(v) -> str:
    """ + v, written as a subtraction for negative v."""
    v = int(v)
    return "" if v == 0 else f" + {v}" if v > 0 else f" - {-v}"


def _values(v) -> np.ndarray:
    return np.asarray(v.values if isinstance(v, ConstArray) else v).reshape(-1)


def _comment(s, g) -> str:
    op = s.op
    shapes = ", ".join("x".join(map(str, g.tensors[i].shape)) for i in op.inputs if i >= 0 and not g.tensors[i].is_const)
    outs = ", ".join("x".join(map(str, g.tensors[i].shape)) for i in op.outputs)
    act = op.options.get("fused_activation_function")
    return f"#{op.index} {op.name} {shapes} -> {outs}" + (f" ({act})" if act and act != "NONE" else "")


def _emit(s, g, ptr, consts: _Consts) -> dict:
    c, f = s.call, s.call.fields
    base = {"comment": _comment(s, g)}
    fn = c.function
    if fn in ("pb_fully_connected_s8", "pb_fully_connected_s16"):
        return base | _emit_fc(c, f, g, ptr, consts, wide=fn.endswith("s16"))
    if fn.startswith(("pb_add_", "pb_sub_", "pb_mul_")):
        return base | _emit_elementwise(s, f, g, ptr, consts)
    if fn == "pb_lut_s8":
        table = consts.add(_values(f["table"]), "int8_t", "lut")
        body = (f"const int8_t *in = {ptr(c.inputs[0])};\nint8_t *out = {ptr(c.outputs[0])};\nint32_t i;\n"
                f"for (i = 0; i < {_lit(f['size'])}; ++i) {{\n    out[i] = {table}[in[i] + 128];\n}}")
        return base | {"body": body}
    if fn in ("pb_tanh_s16", "pb_logistic_s16"):
        table = consts.add(_values(f["table"]), "uint16_t", "sigmoid")
        helper = "pbf_tanh_s16" if fn == "pb_tanh_s16" else "pbf_logistic_s16"
        body = (f"const int16_t *in = {ptr(c.inputs[0])};\nint16_t *out = {ptr(c.outputs[0])};\nint32_t i;\n"
                f"for (i = 0; i < {_lit(f['size'])}; ++i) {{\n"
                f"    out[i] = {helper}(in[i], {_lit(f['multiplier'])}, {_lit(f['shift'])}, {table});\n}}")
        return base | {"body": body}
    if fn == "pb_relu_s16":
        _check_multipliers([f["mult"]])
        body = (f"const int16_t *in = {ptr(c.inputs[0])};\nint16_t *out = {ptr(c.outputs[0])};\nint32_t i;\n"
                f"for (i = 0; i < {_lit(f['size'])}; ++i) {{\n"
                f"    const int32_t v = {_lit(f['output_offset'])} + pbf_mulq(in[i] - "
                f"({_lit(f['input_offset'])}), {_lit(f['mult'])}, {_lit(f['shift'])});\n"
                f"    out[i] = (int16_t)pbf_clamp(v, {_lit(f['act_min'])}, {_lit(f['act_max'])});\n}}")
        return base | {"body": body}
    if fn == "pb_clamp_s16":
        body = (f"const int16_t *in = {ptr(c.inputs[0])};\nint16_t *out = {ptr(c.outputs[0])};\nint32_t i;\n"
                f"for (i = 0; i < {_lit(f['size'])}; ++i) {{\n    const int32_t v = in[i];\n"
                f"    out[i] = (int16_t)(v > {_lit(f['hi'])} ? {_lit(f['hi'])} : (v < {_lit(f['lo'])} ? {_lit(f['lo'])} : v));\n}}")
        return base | {"body": body}
    raise UnsupportedError(f"#{s.op.index} {s.op.name} ({fn})")


def _check_multipliers(values) -> None:
    """pbf_mulq equals pb_mul_by_quantized_mult for every multiplier but INT32_MIN."""
    if np.any(np.asarray(values, np.int64) == -(1 << 31)):
        raise UnsupportedError("a requantization multiplier of INT32_MIN")


def _emit_fc(c, f, g, ptr, consts: _Consts, wide: bool) -> dict:
    depth, out_depth, batches = int(f["accum_depth"]), int(f["output_depth"]), int(f["batches"])
    w = _values(f["filter"]).astype(np.int64).reshape(out_depth, depth)
    fo, io = int(f["filter_offset"]), int(f["input_offset"])
    T = "int16_t" if wide else "int8_t"
    wname = consts.add(w, "int8_t", "w")
    head = [f"const {T} *in = {ptr(c.inputs[0])};", f"{T} *out = {ptr(c.outputs[0])};", "int32_t oc, d;"]
    if batches > 1:
        head.append("int32_t b;")
    # requantization: per channel (arrays, indexed by the channel) or per tensor (literals)
    per_channel = isinstance(f["mults"], ConstArray)
    m_values = _values(f["mults"]) if per_channel else np.array([f["mult"]])
    s_values = _values(f["shifts"]) if per_channel else np.array([f["shift"]])
    _check_multipliers(m_values)
    right_only = bool(np.all(s_values <= 0)) and not wide  # 16x8 keeps pb_mul_by_quantized_mult64's shift
    mulq = "pbf_mulq_right" if right_only else "pbf_mulq"
    if per_channel:
        mults = consts.add(m_values, "int32_t", "mult")
        shifts = consts.add(-s_values if right_only else s_values, "int8_t", "rshift" if right_only else "shift")

        def mult(k):
            return f"{mults}[{k}]"

        def shift(k):
            return f"{shifts}[{k}]"
    else:
        def mult(k):
            return _lit(f["mult"])

        def shift(k):
            return _lit(-int(f["shift"]) if right_only else f["shift"])
    lo, hi, zo = _lit(f["act_min"]), _lit(f["act_max"]), _plus(f["output_offset"])
    wterm = "w[d]" if fo == 0 else f"(w[d] + {_lit(fo)})"
    if not wide:
        bias = _values(f["bias"]).astype(np.int64) if isinstance(f["bias"], ConstArray) else np.zeros(out_depth, np.int64)
        if fo == 0:  # fold the input offset into the bias
            bias = bias + io * w.sum(axis=1)
            term = "in[d] * w[d]"
            bound = depth * 128 * 128 + int(np.abs(bias).max(initial=0))
        else:
            term = f"(in[d] + {_lit(io)}) * {wterm}"
            bound = depth * 255 * 256 + int(np.abs(bias).max(initial=0))
        if bound >= 1 << 31:
            raise UnsupportedError(f"FULLY_CONNECTED depth {depth}: accumulator bound {bound} overflows int32")
        bname = consts.add(bias, "int32_t", "bias") if np.any(bias) else None
        acc_t, narrow = "int32_t", True

        def init(k):
            return f"{bname}[{k}]" if bname else "0"

        def store(acc, k):
            return [f"{acc} = {mulq}({acc}, {mult(k)}, {shift(k)}){zo};",
                    f"out[{k}] = (int8_t)pbf_clamp({acc}, {lo}, {hi});"]
    else:
        narrow = depth * (128 + abs(fo)) * 32768 < (1 << 31)
        acc_t = "int32_t" if narrow else "int64_t"
        term = f"{wterm} * in[d]" if narrow else f"(int64_t){wterm} * in[d]"
        bname = (consts.add(_values(f["bias64"]), "int64_t", "bias")
                 if isinstance(f["bias64"], ConstArray) and np.any(_values(f["bias64"])) else None)

        def init(k):
            return "0"

        def store(acc, k):
            total = f"(int64_t){acc}" + (f" + {bname}[{k}]" if bname else "")
            return [f"out[{k}] = (int16_t)pbf_clamp(pb_mul_by_quantized_mult64({total}, {mult(k)}, {shift(k)}){zo}, "
                    f"{lo}, {hi});"]
    generic = [f"for (oc = 0; oc < {out_depth}; ++oc) {{", f"    const int8_t *w = {wname} + oc * {depth};",
               f"    {acc_t} acc = {init('oc')};", f"    for (d = 0; d < {depth}; ++d) {{", f"        acc += {term};",
               "    }"] + ["    " + ln for ln in store("acc", "oc")] + ["}"]
    if batches > 1:
        generic = [f"for (b = 0; b < {batches}; ++b) {{"] + ["    " + ln for ln in generic] + [
            f"    in += {depth};", f"    out += {out_depth};", "}"]
    groups = depth // 4
    if fo != 0 or batches > 1 or groups == 0 or not narrow:
        return {"body": "\n".join(head + generic)}
    # Arm DSP (Cortex-M4 and up): the input is unpacked once into 16-bit pairs (x0, x2), (x1, x3)
    # of each group of four; each weight word gives the matching pairs (w0, w2), (w1, w3) through
    # SXTB16, and SMLAD does two multiply-accumulates. Two output channels share the input loads.
    dsp = [f"uint32_t xp[{2 * groups}];", f"for (d = 0; d < {groups}; ++d) {{"]
    if wide:
        dsp += ["    xp[2 * d] = (uint32_t)(uint16_t)in[4 * d] | ((uint32_t)(uint16_t)in[4 * d + 2] << 16);",
                "    xp[2 * d + 1] = (uint32_t)(uint16_t)in[4 * d + 1] | ((uint32_t)(uint16_t)in[4 * d + 3] << 16);"]
    else:
        dsp += ["    uint32_t v;", "    memcpy(&v, in + 4 * d, 4);", "    xp[2 * d] = pbf_sxtb16(v);",
                "    xp[2 * d + 1] = pbf_sxtb16_ror8(v);"]
    dsp.append("}")
    tail = depth % 4
    tail_term = "in[d] * {w}[d]" if not wide else "{w}[d] * in[d]"

    def channels(ks: list[str], ws: list[str], accs: list[str]) -> list[str]:
        out = [f"const int8_t *{wv} = {wname} + ({k}) * {depth};" for wv, k in zip(ws, ks)]
        out += [f"int32_t {a} = {init(k)};" for a, k in zip(accs, ks)]
        out += [f"for (d = 0; d < {groups}; ++d) {{", "    uint32_t " + ", ".join(f"v{j}" for j in range(len(ws))) + ";"]
        for j, wv in enumerate(ws):
            out.append(f"    memcpy(&v{j}, {wv} + 4 * d, 4);")
        for j, a in enumerate(accs):
            out += [f"    {a} = pbf_smlad(xp[2 * d], pbf_sxtb16(v{j}), {a});",
                    f"    {a} = pbf_smlad(xp[2 * d + 1], pbf_sxtb16_ror8(v{j}), {a});"]
        out.append("}")
        if tail:
            out.append(f"for (d = {4 * groups}; d < {depth}; ++d) {{")
            out += [f"    {a} += " + tail_term.format(w=wv) + ";" for a, wv in zip(accs, ws)]
            out.append("}")
        for a, k in zip(accs, ks):
            out += store(a, k)
        return out

    dsp += [f"for (oc = 0; oc + 1 < {out_depth}; oc += 2) {{"]
    dsp += ["    " + ln for ln in channels(["oc", "oc + 1"], ["wa", "wb"], ["acc0", "acc1"])] + ["}"]
    if out_depth % 2:
        dsp += ["{"] + ["    " + ln for ln in channels([str(out_depth - 1)], ["wa"], ["acc0"])] + ["}"]
    return {"body": "\n".join(head + ["#if PBF_DSP"] + dsp + ["#else"] + generic + ["#endif"])}


def _emit_elementwise(s, f, g, ptr, consts: _Consts) -> dict:
    op = s.op
    in1, in2 = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]]
    out = g.tensors[op.outputs[0]]
    wide = out.dtype == "int16"
    T = "int16_t" if wide else "int8_t"
    shape, st1, st2 = broadcast_loops(out.shape, in1.shape, in2.shape)
    levels = [(n, a, b) for n, a, b in zip(shape, st1, st2) if n != 1] or [(1, 0, 0)]

    def operand(t) -> str:
        if t.is_const:
            return consts.add(np.asarray(t.data).reshape(-1), T, "operand")
        return ptr(t.index)

    def index(strides) -> str:
        parts = [f"i{j}" if st == 1 else f"i{j} * {st}" for j, (_, st) in enumerate(strides) if st]
        return " + ".join(parts) or "0"

    ia = index([(n, a) for n, a, _ in levels])
    ib = index([(n, b) for n, _, b in levels])
    kind = op.name.lower()
    _check_multipliers([f[k] for k in ("input1_mult", "input2_mult", "output_mult")])
    if kind in ("add", "sub"):
        args = [f["input1_offset"], f["input2_offset"], f["left_shift"], f["input1_mult"], f["input1_shift"],
                f["input2_mult"], f["input2_shift"], f["output_mult"], f["output_shift"], f["output_offset"],
                f["act_min"], f["act_max"]]
    else:
        args = [f["input1_offset"], f["input2_offset"], f["output_mult"], f["output_shift"], f["output_offset"],
                f["act_min"], f["act_max"]]
    lines = [f"const {T} *a = {operand(in1)};", f"const {T} *b = {operand(in2)};", f"{T} *o = {ptr(out.index)};",
             "int32_t " + ", ".join(f"i{j}" for j in range(len(levels))) + ";"]
    depth = 0
    for j, (n, _, _) in enumerate(levels):
        lines.append("    " * depth + f"for (i{j} = 0; i{j} < {n}; ++i{j}) {{")
        depth += 1
    pad = "    " * depth
    lines.append(pad + f"*o++ = ({T})pbf_{kind}(a[{ia}], b[{ib}], {', '.join(_lit(v) for v in args)});")
    for j in range(len(levels)):
        depth -= 1
        lines.append("    " * depth + "}")
    return {"body": "\n".join(lines)}


# ---- files, build, ctypes ----------------------------------------------------------------


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


def build(model: FusedModel, extra_cflags: list[str] | None = None) -> Path:
    """Compile the fused step into a shared library for this host (cached by content)."""
    return compile_sources(f"fused-{model.name}", all_files(model), extra_cflags, what="fused step")


class FusedStep:
    """The fused C step loaded into this process, with one state instance."""

    def __init__(self, model: FusedModel, lib_path: Path | None = None):
        self.model = model
        self.lib_path = lib_path or build(model)
        self._lib = ctypes.CDLL(str(self.lib_path))
        p = model.name
        self._ct = ctypes.c_int8 if model.dtype == "int8" else ctypes.c_int16
        vp, u32p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)
        self._step = self._fn(f"pb_{p}_step", None, [vp, self._ct, vp, vp])
        self._reset = self._fn(f"pb_{p}_reset", None, [vp])
        self._newest = self._fn(f"pb_{p}_newest", vp, [vp, ctypes.c_int32])
        self._sample = self._fn(f"pb_{p}_sample", ctypes.c_int32, [vp, ctypes.c_uint32, u32p])
        self._generate = self._fn(f"pb_{p}_generate", None, [vp, vp, ctypes.c_int32, ctypes.c_uint32, u32p, vp])
        size = self._fn(f"pb_{p}_state_bytes", ctypes.c_uint32, [])()
        self._state = ctypes.create_string_buffer(size)
        self.reset()

    def _fn(self, name, restype, argtypes):
        fn = getattr(self._lib, name)
        fn.restype, fn.argtypes = restype, argtypes
        return fn

    def reset(self) -> None:
        self._reset(self._state)

    def _vec(self, x, n: int) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=self.model.np_dtype).reshape(-1)
        if x.size != n:
            raise ValueError(f"expected {n} values, got {x.size}")
        return x

    def step(self, sample_q: int, cond_q) -> np.ndarray:
        cond = self._vec(cond_q, self.model.cond_size)
        logits = np.zeros(self.model.classes, self.model.np_dtype)
        self._step(self._state, int(sample_q), cond.ctypes.data, logits.ctypes.data)
        return logits

    def newest(self, k: int) -> np.ndarray:
        """What the last step pushed into ring k (state output k)."""
        n = self.model.state_widths[k]
        addr = self._newest(self._state, k)
        return np.frombuffer(ctypes.string_at(addr, n * self.model.np_dtype().itemsize), self.model.np_dtype).copy()

    def sample(self, logits_q, temp_q8: int, rng: int) -> tuple[int, int]:
        logits = self._vec(logits_q, self.model.classes)
        state = ctypes.c_uint32(rng)
        c = self._sample(logits.ctypes.data, temp_q8, ctypes.byref(state))
        return int(c), int(state.value)

    def generate_frame(self, cond_q, n: int, temp_q8: int, rng: int) -> tuple[np.ndarray, int]:
        cond = self._vec(cond_q, self.model.cond_size)
        pcm = np.zeros(n, np.int16)
        state = ctypes.c_uint32(rng)
        self._generate(self._state, cond.ctypes.data, n, temp_q8, ctypes.byref(state), pcm.ctypes.data)
        return pcm, int(state.value)


def generate(fused: FusedStep, cond_q_frames, hop: int, temperature: float = 1.0, seed: int = 1,
             reset: bool = True) -> np.ndarray:
    """int16 audio: `hop` samples per row of quantized conditioning (n_frames, cond_size),
    generated on this host by the fused C (pb_<name>_generate). cond_q_frames may also be
    any iterable of rows, e.g. a generator computing each row when its frame starts."""
    frames = cond_q_frames
    if isinstance(frames, (np.ndarray, list, tuple)):
        frames = np.asarray(frames).reshape(-1, fused.model.cond_size)
    if reset:
        fused.reset()
    rng, out = seed & 0xFFFFFFFF, []
    tq = temperature_q8(temperature)
    for row in frames:
        pcm, rng = fused.generate_frame(row, hop, tq, rng)
        out.append(pcm)
    return np.concatenate(out) if out else np.zeros(0, np.int16)


# ---- the Python twin: TFLite Micro with ring buffers in Python ---------------------------------


class ReferenceStepper:
    """TFLite Micro running the per-step model, its state kept in Python ring buffers
    exactly as the fused C keeps it (reset to the state inputs' zero points)."""

    def __init__(self, data: bytes, sig: StepSignature):
        self.ref = Reference(data)
        self.graph = read_model_bytes(data)
        self.sig = sig
        g = self.graph
        self.dtype = _check_signature(g, sig)
        self.np_dtype = _NP[self.dtype]
        self.shapes = [g.tensors[i].shape for i in g.inputs]
        self.cond_sizes = [g.tensors[g.inputs[p]].size for p in sig.cond]
        self.widths = [g.tensors[g.inputs[p.input]].size for p in sig.state]
        self.zps = [g.tensors[g.inputs[p.input]].quant.zp for p in sig.state]
        self.reset()

    def reset(self) -> None:
        self.rings = [np.full((p.depth, w), zp, self.np_dtype) for p, w, zp in zip(self.sig.state, self.widths, self.zps)]
        self.heads = [0] * len(self.rings)

    def step(self, sample_q: int, cond_q) -> tuple[np.ndarray, list[np.ndarray]]:
        cond_q = np.asarray(cond_q, self.np_dtype).reshape(-1)
        xs = [None] * len(self.shapes)
        xs[self.sig.sample] = np.array([sample_q], self.np_dtype)
        offset = 0
        for p, n in zip(self.sig.cond, self.cond_sizes):
            xs[p] = cond_q[offset:offset + n]
            offset += n
        for k, p in enumerate(self.sig.state):
            xs[p.input] = self.rings[k][self.heads[k]]
        outs = self.ref.run(*[np.asarray(x, self.np_dtype).reshape(s) for x, s in zip(xs, self.shapes)])
        outs = outs if isinstance(outs, list) else [outs]
        new = []
        for k, p in enumerate(self.sig.state):
            x = np.asarray(outs[p.output], self.np_dtype).reshape(-1)
            self.rings[k][self.heads[k]] = x
            self.heads[k] = (self.heads[k] + 1) % p.depth
            new.append(x.copy())
        return np.asarray(outs[self.sig.logits]).reshape(-1), new


def reference_generate(stepper: ReferenceStepper, sampler: Sampler, cond_q_frames, hop: int,
                       temperature: float = 1.0, seed: int = 1) -> np.ndarray:
    """The twin of generate(): TFLite Micro steps and Python sampling, same samples."""
    g = stepper.graph
    last = g.tensors[g.inputs[stepper.sig.sample]].quant.zp
    rng, tq, out = seed & 0xFFFFFFFF, temperature_q8(temperature), []
    stepper.reset()
    for row in np.asarray(cond_q_frames).reshape(len(cond_q_frames), -1):
        for _ in range(hop):
            logits, _ = stepper.step(last, row)
            c, rng = sampler.pick(logits, tq, rng)
            out.append(sampler.pcm[c])
            last = int(sampler.next_input[c])
    return np.array(out, np.int16)


__all__ = ["StatePair", "StepSignature", "Sampler", "FusedModel", "FusedStep", "ReferenceStepper", "fuse", "build",
           "write", "generate", "reference_generate", "xorshift32"]
