"""Operators that call subgraphs (WHILE, IF), resolved at generation time into the one
straight-line graph protobrain compiles.

WHILE: TFLite Micro runs the cond subgraph on the loop values and, while its boolean output
is true, the body subgraph, whose outputs become the next loop values (byte copies). When
the condition is known at generation time at every step (a counter compared with a
constant, as TensorFlow writes keras GRU and SimpleRNN layers over a fixed sequence length),
the loop is unrolled: the body's operators are copied into the main graph once per
iteration, each copy reading the tensors the previous one wrote. IF whose condition is
known takes its branch the same way. Values computable at generation time (the counters,
the condition, the gather positions they select) are computed with the constant folder's
`evaluate`; an operator repeated on the same operands (the loop-invariant work a body
holds, such as quantizing the whole input sequence) is computed once, and copies whose
results nothing reads are dropped. A condition that depends on run-time data is refused,
naming the operator.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from protobrain.compiler.fold import evaluate
from protobrain.compiler.ir import DTYPES, Graph, Operator, Tensor
from protobrain.errors import ModelError, UnsupportedError

# Unrolling stops (and the model is refused) past this many copied operators.
MAX_UNROLLED_OPERATORS = 20000
# Subgraphs calling subgraphs: deeper than this is taken for a cycle.
MAX_DEPTH = 16

# Values of these types computed at generation time from a loop's values (its initial
# state) are written into the arena by a CONSTANT operator where an operator reads them as
# data; integer and boolean values (counters, positions) stay constants.
_DATA_TYPES = ("float32", "int8", "int16", "uint8")

# Operators with an effect beyond their outputs: never merged with an identical one, never
# dropped for being unread.
_EFFECTS = ("ASSIGN_VARIABLE", "READ_VARIABLE", "VAR_HANDLE", "CALL_ONCE", "CALL", "WHILE", "IF")


def inline_control_flow(graph: Graph) -> Graph:
    """WHILE and IF of the main graph (and of the subgraphs they call) replaced by the
    operators they run; UnsupportedError when that depends on run-time data."""
    if not any(op.name in ("WHILE", "IF") for op in graph.operators):
        return graph
    return _Inliner(graph).run()


def same_layout(a: Tensor, b: Tensor) -> bool:
    """Same type, shape and quantization: one tensor may stand for the other."""
    if a.dtype != b.dtype or tuple(a.shape) != tuple(b.shape) or (a.quant is None) != (b.quant is None):
        return False
    return a.quant is None or (np.array_equal(np.asarray(a.quant.scale, np.float32), np.asarray(b.quant.scale, np.float32))
                               and np.array_equal(a.quant.zero_point, b.quant.zero_point)
                               and (len(a.quant.scale) == 1 or a.quant.axis == b.quant.axis))


def _quant_key(t: Tensor) -> tuple:
    if t.quant is None:
        return ()
    return (tuple(np.asarray(t.quant.scale, np.float32).tolist()), tuple(int(z) for z in t.quant.zero_point), t.quant.axis)


def quantize_constant(op: Operator, g: Graph, known: dict) -> list[np.ndarray] | None:
    """QUANTIZE of a known float32 value into int8/int16, as TFLite Micro computes it: the
    float quotient by the float scale, rounded half away from zero, plus the zero point,
    clamped. (A loop's initial state: TensorFlow quantizes a float zeros constant.)"""
    if op.name != "QUANTIZE" or len(op.inputs) != 1 or len(op.outputs) != 1 or op.inputs[0] not in known:
        return None
    inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    if inp.dtype != "float32" or out.dtype not in ("int8", "int16") or out.quant is None or out.quant.per_channel:
        return None
    q = np.asarray(known[op.inputs[0]], np.float32) / np.float32(out.quant.s)
    if q.size != out.size or not np.all(np.abs(q) < 2**30):
        return None
    r = np.sign(q.astype(np.float64)) * np.floor(np.abs(q.astype(np.float64)) + 0.5)
    info = np.iinfo(out.dtype)
    v = np.clip(r.astype(np.int64) + out.quant.zp, info.min, info.max)
    return [v.astype(out.dtype).reshape(out.shape)]


class _Inliner:
    def __init__(self, graph: Graph):
        self.g = graph
        self.tensors = list(graph.tensors)
        self.view = dataclasses.replace(graph, tensors=self.tensors)  # sees the tensors added
        self.ops: list[Operator] = []
        self.next_op = max(op.index for op in graph.operators) + 1
        self.rename: dict[int, int] = {}  # main tensor -> the tensor holding its value now
        self.shared: dict[tuple, int] = {}  # a subgraph's variable tensor -> its one main tensor
        self.consts: dict[tuple, int] = {}  # (layout, bytes) -> main constant tensor
        self.pure: dict[tuple, list[int]] = {}  # an emitted operator's operands -> its outputs
        self.emitted: set[int] = set()
        self.created: set[int] = set()  # tensors this pass made for copied operators' outputs
        self.moved: dict[int, int] = {}  # such a tensor -> the operator output now standing for it
        self.calls = 0

    # ---- the main graph ----------------------------------------------------------------

    def run(self) -> Graph:
        known = {t.index: t.data for t in self.g.tensors if t.is_const}
        for op in self.g.operators:
            op = dataclasses.replace(op, inputs=[self.rename.get(i, i) for i in op.inputs])
            if op.name in ("WHILE", "IF"):
                if any(i < 0 for i in op.inputs):
                    raise ModelError(f"{self.g.name}: #{op.index} {op.name} has an omitted input (tensor -1)")
                values = self._control(op, self.g, 0, [known[i] if i in known else i for i in op.inputs], 0)
                for out, v in zip(op.outputs, values):
                    self._bind_main_output(op, out, v, known)
                continue
            self.ops.append(op)
            values = evaluate(op, self.view, known)
            if values is not None:  # for later loop bounds; the folding pass removes the operator
                known.update(zip(op.outputs, values))
        self._drop_dead()
        return dataclasses.replace(self.g, tensors=self.tensors, operators=self.ops, inputs=list(self.g.inputs),
                                   outputs=list(self.g.outputs))

    def _bind_main_output(self, op: Operator, out: int, v, known: dict) -> None:
        t = self.tensors[out]
        if isinstance(v, np.ndarray):
            if out in self.g.outputs or t.dtype in _DATA_TYPES:
                self._append(Operator(self.next_op, "CONSTANT", [self._constant(t, v)], [out], {}))
            else:
                self.tensors[out] = dataclasses.replace(t, data=np.asarray(v).reshape(t.shape))
                known[out] = self.tensors[out].data
        else:
            v = self.moved.get(v, v)
            if v in self.created and same_layout(self.tensors[v], t):
                self._move(v, out)  # the copied operator writes the output itself
            elif out in self.g.outputs or not same_layout(self.tensors[v], t):
                self._emit_view(v, out)
            else:
                self.rename[out] = v

    # ---- calling subgraphs -----------------------------------------------------------------

    def _fail(self, op: Operator, sub: int, why: str) -> UnsupportedError:
        where = "" if sub == 0 else f" (in subgraph {sub})"
        return UnsupportedError(f"{self.g.name}: #{op.index} {op.name}{where}: {why}")

    def _subgraph(self, op: Operator, sub: int, key: str) -> tuple[int, Graph]:
        index = op.options.get(key)
        if not isinstance(index, int) or not 1 <= index <= len(self.g.subgraphs):
            raise ModelError(f"{self.g.name}: #{op.index} {op.name}: {key} {index} names no subgraph "
                             f"(the model has {len(self.g.subgraphs) + 1}, and 0 is the main graph)")
        return index, self.g.subgraph(index)

    def _control(self, op: Operator, g: Graph, sub: int, args: list, depth: int) -> list:
        if depth >= MAX_DEPTH:
            raise self._fail(op, sub, f"subgraphs nest deeper than {MAX_DEPTH} (a cycle?)")
        if op.name == "IF":
            cond = args[0] if args else None
            if not isinstance(cond, np.ndarray) or cond.dtype != np.bool_ or cond.size != 1:
                raise self._fail(op, sub, "the branch taken depends on run-time data (the condition is not known at "
                                 "generation time); protobrain compiles straight-line code only")
            index, branch = self._subgraph(op, sub, "then_subgraph_index" if bool(cond.reshape(-1)[0])
                                           else "else_subgraph_index")
            self._check_arity(op, sub, branch, len(args) - 1, len(op.outputs))
            return self._run(branch, index, args[1:], depth + 1)
        cond_index, cond_g = self._subgraph(op, sub, "cond_subgraph_index")
        body_index, body_g = self._subgraph(op, sub, "body_subgraph_index")
        self._check_arity(op, sub, cond_g, len(args), 1)
        self._check_arity(op, sub, body_g, len(args), len(args))
        if len(op.outputs) != len(args):
            raise ModelError(f"{self.g.name}: #{op.index} WHILE has {len(args)} inputs but {len(op.outputs)} outputs")
        values = list(args)
        for n in range(MAX_UNROLLED_OPERATORS + 1):
            (cond,) = self._run(cond_g, cond_index, values, depth + 1)
            if not isinstance(cond, np.ndarray) or cond.size != 1:
                raise self._fail(op, sub, f"the loop condition (subgraph {cond_index}) depends on run-time data, so "
                                 "its trip count is unknown at generation time; protobrain unrolls only loops "
                                 "whose condition is a known counter")
            if not bool(cond.reshape(-1)[0]):
                return values
            values = self._run(body_g, body_index, values, depth + 1)
        raise self._fail(op, sub, f"the loop runs more than {MAX_UNROLLED_OPERATORS} times; too long to unroll")

    def _check_arity(self, op: Operator, sub: int, g: Graph, n_in: int, n_out: int) -> None:
        if len(g.inputs) != n_in or len(g.outputs) != n_out:
            raise ModelError(f"{self.g.name}: #{op.index} {op.name} passes {n_in} values to a subgraph of "
                             f"{len(g.inputs)} inputs and {len(g.outputs)} outputs (expects {n_out})")

    def _run(self, g: Graph, index: int, args: list, depth: int) -> list:
        """Run subgraph `index` on the given values: what is known is computed, the rest is
        copied into the main graph. Returns the values of its outputs."""
        self.calls += 1
        known = {t.index: t.data for t in g.tensors if t.is_const}
        where: dict[int, int] = {}
        carried = {i for i, v in zip(g.inputs, args) if isinstance(v, np.ndarray)}  # known loop values
        for i, v in zip(g.inputs, args):
            t = g.tensors[i]
            if isinstance(v, np.ndarray):
                if t.dtype not in DTYPES or v.dtype != np.dtype(DTYPES[t.dtype]) or v.size != t.size:
                    raise UnsupportedError(f"{self.g.name}: subgraph {index} input {i} ('{t.name}', {t.dtype} "
                                           f"{t.shape}) receives a {v.dtype} value of {v.size} elements")
                known[i] = v.reshape(t.shape)
            else:
                where[i] = self._as(v, t, index)
        for op in g.operators:
            if op.name in ("WHILE", "IF"):
                ins = [known[i] if i in known else self._read(op, g, index, i, where) for i in op.inputs]
                for out, v in zip(op.outputs, self._control(op, g, index, ins, depth)):
                    if isinstance(v, np.ndarray):
                        known[out] = v
                    else:
                        where[out] = self._as(v, g.tensors[out], index)
                continue
            if op.name not in _EFFECTS:
                values = evaluate(op, g, known) or quantize_constant(op, g, known)
                if values is not None:
                    known.update(zip(op.outputs, values))
                    if carried.intersection(op.inputs):
                        carried.update(op.outputs)
                    continue
            self._emit(op, g, index, known, where, carried)
        return [known[i] if i in known else where[i] if i in where else self._shared(g, index, i)
                for i in g.outputs]

    # ---- writing the main graph ------------------------------------------------------------

    def _emit(self, op: Operator, g: Graph, index: int, known: dict, where: dict, carried: set) -> None:
        ins = []
        for i in op.inputs:
            if i < 0:
                ins.append(-1)
            elif i in where:
                ins.append(where[i])
            elif i in known and i in carried and g.tensors[i].dtype in _DATA_TYPES:
                ins.append(self._written(g.tensors[i], known[i]))
            elif i in known:
                ins.append(self._constant(g.tensors[i], known[i]))
            else:
                ins.append(self._read(op, g, index, i, where))
        outs_meta = [g.tensors[i] for i in op.outputs]
        pure = op.name not in _EFFECTS and not op.name.startswith("CUSTOM") and not any(
            t.is_variable for t in outs_meta) and not any(i >= 0 and self.tensors[i].is_variable for i in ins)
        key = (op.name, tuple(ins), repr(sorted(op.options.items())),
               tuple((t.dtype, tuple(t.shape), _quant_key(t)) for t in outs_meta))
        if pure and key in self.pure:
            for i, main in zip(op.outputs, self.pure[key]):
                where[i] = main
            return
        outs = []
        for i, t in zip(op.outputs, outs_meta):
            outs.append(self._shared(g, index, i) if t.is_variable else self._new(t, f"{t.name}:{self.calls}"))
            where[i] = outs[-1]
        self._append(Operator(self.next_op, op.name, ins, outs, dict(op.options)))
        if pure:
            self.pure[key] = outs

    def _read(self, op: Operator, g: Graph, index: int, i: int, where: dict) -> int:
        """The main tensor holding subgraph tensor i, which is not known now."""
        if i in where:
            return where[i]
        if i >= 0 and g.tensors[i].is_variable:
            return self._shared(g, index, i)
        raise ModelError(f"{self.g.name}: subgraph {index} operator {op.index} ({op.name}) reads tensor {i} "
                         "before any operator writes it")

    def _append(self, op: Operator) -> None:
        if len(self.emitted) >= MAX_UNROLLED_OPERATORS:
            raise UnsupportedError(f"{self.g.name}: unrolling the model's loops gives more than "
                                   f"{MAX_UNROLLED_OPERATORS} operators; too long to unroll")
        self.ops.append(op)
        self.emitted.add(op.index)
        self.next_op += 1

    def _new(self, like: Tensor, name: str, data=None) -> int:
        t = dataclasses.replace(like, index=len(self.tensors), name=name, data=data, is_variable=False)
        self.tensors.append(t)
        if data is None:
            self.created.add(t.index)
        return t.index

    def _move(self, v: int, out: int) -> None:
        """Tensor v, made here for a copied operator, replaced by the main graph's tensor out."""
        self.ops = [dataclasses.replace(op, inputs=[out if i == v else i for i in op.inputs],
                                        outputs=[out if i == v else i for i in op.outputs])
                    if v in op.inputs or v in op.outputs else op for op in self.ops]
        self.pure = {k: [out if i == v else i for i in outs] for k, outs in self.pure.items()}
        self.created.discard(v)
        self.moved[v] = out

    def _constant(self, like: Tensor, value: np.ndarray) -> int:
        value = np.ascontiguousarray(np.asarray(value).reshape(like.shape))
        key = (like.dtype, tuple(like.shape), _quant_key(like), value.tobytes())
        if key not in self.consts:
            self.consts[key] = self._new(like, like.name, data=value)
        return self.consts[key]

    def _written(self, like: Tensor, value: np.ndarray) -> int:
        """A known value as an activation, written by a CONSTANT operator (once)."""
        c = self._constant(like, value)
        key = ("CONSTANT", (c,), "[]", ())
        if key not in self.pure:
            self.pure[key] = [self._new(like, f"{like.name}:{self.calls}")]
            self._append(Operator(self.next_op, "CONSTANT", [c], self.pure[key], {}))
        return self.pure[key][0]

    def _shared(self, g: Graph, index: int, i: int) -> int:
        """A subgraph's variable tensor: one state for every copy of its operators."""
        if (index, i) not in self.shared:
            t = g.tensors[i]
            self.shared[(index, i)] = len(self.tensors)
            self.tensors.append(dataclasses.replace(t, index=len(self.tensors), name=f"{t.name}:subgraph{index}"))
        return self.shared[(index, i)]

    def _as(self, v: int, t: Tensor, index: int) -> int:
        """Main tensor v as a value of subgraph tensor t: itself when the layouts agree, else
        a view with t's shape and quantization (TFLite Micro copies the bytes)."""
        have = self.tensors[v]
        if same_layout(have, t):
            return v
        if have.dtype != t.dtype or t.dtype not in DTYPES or have.nbytes != t.nbytes:
            raise UnsupportedError(f"{self.g.name}: subgraph {index} tensor '{t.name}' ({t.dtype} {t.shape}) receives "
                                   f"'{have.name}' ({have.dtype} {have.shape}); the sizes differ")
        out = self._new(t, f"{t.name}:{self.calls}")
        self._emit_view(v, out)
        return out

    def _emit_view(self, v: int, out: int) -> None:
        """RESHAPE without a shape operand: the bytes of v seen as tensor `out`."""
        self._append(Operator(self.next_op, "RESHAPE", [v], [out], {}))

    def _drop_dead(self) -> None:
        """Copied operators whose outputs nothing reads (a loop's unused per-iteration values)."""
        while True:
            read = set(self.g.outputs)
            for op in self.ops:
                read.update(op.inputs)
            keep = [op for op in self.ops if op.index not in self.emitted or op.name in _EFFECTS
                    or op.name.startswith("CUSTOM") or not op.outputs or any(i in read for i in op.outputs)
                    or any(self.tensors[i].is_variable for i in op.inputs + op.outputs if i >= 0)]
            if len(keep) == len(self.ops):
                return
            self.ops = keep


PASSES = [inline_control_flow]
