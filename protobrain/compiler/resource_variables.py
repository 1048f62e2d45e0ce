"""Resource variables (VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE, CALL_ONCE), as streaming
models keep state between invocations, resolved into variable tensors of the state area.

TFLite Micro's semantics, which the generated code keeps:
- VAR_HANDLE names a variable by (container, shared_name); handles with the same name are
  one variable (a handle without a container matches any container).
- The variable's storage has the size of the first ASSIGN_VARIABLE value prepared (subgraph
  0 first, in operator order, then subgraph 1, ...) and is filled with that value's zero
  point as an int8 byte (0 when unquantized), at start-up and on every reset: a READ before
  any ASSIGN reads those bytes.
- CALL_ONCE runs its initializer subgraph on the first invocation after start-up and never
  again, reset or not: after a reset the variables hold their zero point, not their
  initial values.

After this pass each variable is a variable tensor (`Tensor.is_variable`, in the state area
with that fill), and the operators read, in dataflow form:
- READ_VARIABLE: inputs [variable tensor], outputs [value] (a copy);
- ASSIGN_VARIABLE: inputs [value], outputs [variable tensor] (a copy);
- CALL_ONCE: inputs [initial values, constants], outputs [variable tensors]: the values the
  initializer assigns, computed here (it must be computable at generation time).
A READ whose readers all run before the variable is next written is dropped (they read the
variable itself), and an ASSIGN of a value only read before the next write has the
operator computing the value write the variable directly.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from protobrain.compiler.control_flow import same_layout
from protobrain.compiler.fold import evaluate
from protobrain.compiler.ir import DTYPES, Graph, Operator, Tensor
from protobrain.errors import UnsupportedError

_VARIABLE_OPS = ("VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE")
# Operators protobrain lowers to views of their input (compiler/ops/shape.py): a view cannot
# be of a variable tensor, which lives outside the arena.
_VIEWS = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")


def _text(value) -> str | None:
    """A name as TFLite Micro compares it: a C string, up to its first NUL byte."""
    if value is None:
        return None
    return (value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)).split("\0")[0]


class _Names:
    """Variables by (container, shared_name), matched as TFLite Micro looks them up."""

    def __init__(self):
        self.names: list[tuple[str | None, str]] = []

    def find(self, op: Operator) -> int:
        if op.options.get("shared_name") is None:  # TFLite Micro compares it with strcmp: a crash
            raise UnsupportedError(f"#{op.index} VAR_HANDLE: no shared_name (TFLite Micro needs one to look it up)")
        container, shared = _text(op.options.get("container")), _text(op.options.get("shared_name")) or ""
        for k, (c, s) in enumerate(self.names):
            if s == shared and (container is None or c is None or c == container):
                return k
        self.names.append((container, shared))
        return len(self.names) - 1


def resolve_resource_variables(graph: Graph) -> Graph:
    if not any(op.name in _VARIABLE_OPS for op in graph.operators):
        return graph
    return _Resolver(graph).run()


class _Resolver:
    def __init__(self, graph: Graph):
        self.g = graph
        self.names = _Names()
        self.tensors = list(graph.tensors)

    def fail(self, op: Operator, why: str, sub: int = 0) -> UnsupportedError:
        where = "" if sub == 0 else f" (in subgraph {sub})"
        return UnsupportedError(f"{self.g.name}: #{op.index} {op.name}{where}: {why}")

    def run(self) -> Graph:
        g = self.g
        handles: dict[int, int] = {}  # main VAR_HANDLE output -> variable
        for op in g.operators:
            if op.name in ("VAR_HANDLE", "CALL_ONCE") and op.inputs:
                raise self.fail(op, f"{len(op.inputs)} inputs (expects none)")
            if op.name == "VAR_HANDLE":
                if len(op.outputs) != 1:
                    raise self.fail(op, f"{len(op.outputs)} outputs (expects the one handle)")
                handle = g.tensors[op.outputs[0]]  # as TFLite Micro allocates and ASSIGN_VARIABLE checks it
                if handle.dtype not in ("resource", "int32") or handle.size != 1:
                    raise self.fail(op, f"its handle is {handle.dtype} {handle.shape}, not one resource id")
                handles[op.outputs[0]] = self.names.find(op)
        for i, users in self._handle_users(handles).items():
            if i in g.outputs:
                raise self.fail(g.producer(i), "its handle is a graph output; protobrain keeps variables inside")
            for op in users:
                if op.name not in ("READ_VARIABLE", "ASSIGN_VARIABLE") or op.inputs[0] != i or i in op.inputs[1:]:
                    raise self.fail(op, f"reads the resource handle of tensor {i} ('{g.tensors[i].name}'); "
                                    "protobrain resolves handles read by READ_VARIABLE and ASSIGN_VARIABLE only")
        inits = {op.index: self._initializer(op) for op in g.operators if op.name == "CALL_ONCE"}
        variables = self._variables(handles, inits)
        operators = []
        for op in g.operators:
            if op.name == "VAR_HANDLE":
                continue
            if op.name in ("READ_VARIABLE", "ASSIGN_VARIABLE"):
                if len(op.inputs) < 1 or op.inputs[0] not in handles:
                    raise self.fail(op, "its resource handle does not come from a VAR_HANDLE of the main graph")
                var = variables[handles[op.inputs[0]]]
                value = op.outputs[0] if op.name == "READ_VARIABLE" and len(op.outputs) == 1 else (
                    op.inputs[1] if op.name == "ASSIGN_VARIABLE" and len(op.inputs) == 2 and not op.outputs else None)
                if value is None:
                    raise self.fail(op, f"{len(op.inputs)} inputs and {len(op.outputs)} outputs")
                self._check_bytes(op, self.tensors[var], self.tensors[value])
                ins, outs = ([var], [value]) if op.name == "READ_VARIABLE" else ([value], [var])
                operators.append(dataclasses.replace(op, inputs=ins, outputs=outs))
            elif op.name == "CALL_ONCE":
                assigned = inits[op.index]
                if assigned:
                    consts, outs = [], []
                    for key, value in assigned.items():
                        var = self.tensors[variables[key]]
                        self._check_bytes(op, var, value)
                        consts.append(self._add(dataclasses.replace(value, name=f"{var.name}/initial", is_variable=False)))
                        outs.append(var.index)
                    operators.append(dataclasses.replace(op, inputs=consts, outputs=outs))
            else:
                operators.append(op)
        operators = _fuse_assigns(_alias_reads(operators, self.tensors, g.outputs), self.tensors, g.outputs)
        calls = [op for op in operators if op.name in ("WHILE", "IF", "CALL")]
        return dataclasses.replace(g, tensors=self.tensors, operators=operators, inputs=list(g.inputs),
                                   outputs=list(g.outputs), subgraphs=list(g.subgraphs) if calls else [])

    def _add(self, t: Tensor) -> int:
        t = dataclasses.replace(t, index=len(self.tensors))
        self.tensors.append(t)
        return t.index

    def _handle_users(self, handles: dict[int, int]) -> dict[int, list[Operator]]:
        users: dict[int, list[Operator]] = {i: [] for i in handles}
        for op in self.g.operators:
            for i in set(op.inputs):
                if i in users:
                    users[i].append(op)
        return users

    def _check_bytes(self, op: Operator, var: Tensor, value: Tensor) -> None:
        if value.dtype != var.dtype or value.size != var.size:
            raise self.fail(op, f"'{var.name}' holds {var.dtype} {var.shape} but this value is {value.dtype} "
                            f"{value.shape} (TFLite Micro copies the variable's bytes: they must agree)")

    def _initializer(self, op: Operator) -> dict[int, Tensor]:
        """The values a CALL_ONCE's initializer assigns, by variable, as constant tensors."""
        index = op.options.get("init_subgraph_index")
        if op.inputs or op.outputs:
            raise self.fail(op, f"{len(op.inputs)} inputs and {len(op.outputs)} outputs (expects none)")
        if not isinstance(index, int) or not 1 <= index <= len(self.g.subgraphs):
            raise self.fail(op, f"init_subgraph_index {index} names no subgraph (the model has "
                            f"{len(self.g.subgraphs) + 1}, and 0 is the main graph)")
        sub = self.g.subgraph(index)
        known = {t.index: t.data for t in sub.tensors if t.is_const}
        handles: dict[int, int] = {}
        assigned: dict[int, Tensor] = {}
        for o in sub.operators:
            if o.name == "VAR_HANDLE" and len(o.outputs) == 1:
                handles[o.outputs[0]] = self.names.find(o)
            elif o.name == "ASSIGN_VARIABLE" and len(o.inputs) == 2 and o.inputs[0] in handles:
                if o.inputs[1] not in known or sub.tensors[o.inputs[1]].is_variable:
                    raise self.fail(o, "the value assigned is computed at run time; protobrain evaluates "
                                    f"constant CALL_ONCE initializers only (subgraph {index})", index)
                t = sub.tensors[o.inputs[1]]
                assigned[handles[o.inputs[0]]] = dataclasses.replace(t, data=np.asarray(known[o.inputs[1]]).reshape(t.shape))
            elif o.name == "READ_VARIABLE" and len(o.inputs) == 1 == len(o.outputs) and handles.get(o.inputs[0]) in assigned:
                value = assigned[handles[o.inputs[0]]]
                out = sub.tensors[o.outputs[0]]
                if value.nbytes != out.nbytes or out.dtype != value.dtype:
                    raise self.fail(o, "reads a variable as another type or size", index)
                known[o.outputs[0]] = np.asarray(value.data).reshape(out.shape)
            else:
                values = None if o.name in _VARIABLE_OPS else evaluate(o, sub, known)
                if values is None:
                    raise self.fail(o, "a CALL_ONCE initializer computing this at run time; protobrain evaluates "
                                    "constant initializers only", index)
                known.update(zip(o.outputs, values))
        return assigned

    def _variables(self, handles: dict[int, int], inits: dict) -> dict[int, int]:
        """One variable tensor per variable, laid out as the first ASSIGN_VARIABLE value TFLite
        Micro prepares: in the main graph, then in each subgraph in order."""
        first: dict[int, Tensor] = {}
        fills: dict[int, set[int]] = {}

        def note(key: int, value: Tensor) -> None:
            first.setdefault(key, value)
            fills.setdefault(key, set()).add(_fill(value))

        for op in self.g.operators:
            if op.name == "ASSIGN_VARIABLE" and len(op.inputs) == 2 and op.inputs[0] in handles:
                note(handles[op.inputs[0]], self.g.tensors[op.inputs[1]])
        for k, sub in enumerate(self.g.subgraphs, start=1):
            local = {o.outputs[0]: self.names.find(o) for o in sub.operators if o.name == "VAR_HANDLE" and len(o.outputs) == 1}
            for o in sub.operators:
                if o.name == "ASSIGN_VARIABLE" and len(o.inputs) == 2 and o.inputs[0] in local:
                    note(local[o.inputs[0]], sub.tensors[o.inputs[1]])
        variables = {}
        for key, value in first.items():
            shared = self.names.names[key][1]
            if value.dtype not in DTYPES:
                raise UnsupportedError(f"{self.g.name}: resource variable '{shared}' is assigned a {value.dtype} value")
            if len(fills[key]) > 1:
                raise UnsupportedError(f"{self.g.name}: resource variable '{shared}' is assigned values of different "
                                       "zero points; TFLite Micro resets it to the first one it prepares")
            if value.dtype != "int8" and _fill(value) != 0:
                raise UnsupportedError(f"{self.g.name}: resource variable '{shared}' ({value.dtype}, zero point "
                                       f"{value.quant.zp}): TFLite Micro resets it by filling each byte with "
                                       f"{_fill(value)}, protobrain with zeros")
            t = Tensor(index=len(self.tensors), name=shared or f"variable{key}", shape=tuple(value.shape),
                       dtype=value.dtype, quant=value.quant, is_variable=True)
            variables[key] = self._add(t)
        for op in self.g.operators:
            key = handles.get(op.inputs[0]) if op.name == "READ_VARIABLE" and op.inputs else None
            if key is not None and key not in variables:
                shared = self.names.names[key][1]
                raise self.fail(op, f"reads resource variable '{shared}', which nothing assigns; TFLite Micro has no "
                                "storage for it")
        return variables


def _fill(value: Tensor) -> int:
    """The byte TFLite Micro fills a variable with: its zero point cast to int8."""
    return int(value.quant.zero_point[0]) & 0xFF if value.quant is not None and len(value.quant.zero_point) else 0


def _next_write(ops: list[Operator], var: int, after: int) -> int:
    return next((q for q in range(after + 1, len(ops)) if var in ops[q].outputs), len(ops))


def _readers(ops: list[Operator], tensor: int) -> list[int]:
    return [q for q, op in enumerate(ops) if tensor in op.inputs]


def _rename_inputs(op: Operator, old: int, new: int) -> Operator:
    return dataclasses.replace(op, inputs=[new if i == old else i for i in op.inputs])


def _alias_reads(operators: list[Operator], tensors: list[Tensor], outputs: list[int]) -> list[Operator]:
    """A READ_VARIABLE whose value is read only before the variable's next write (and not
    by a view, nor as a graph output): its readers read the variable itself."""
    ops, drop = list(operators), set()
    for p, op in enumerate(ops):
        if op.name != "READ_VARIABLE":
            continue
        var, out = op.inputs[0], op.outputs[0]
        if out in outputs or not same_layout(tensors[var], tensors[out]):
            continue
        limit = _next_write(ops, var, p)
        readers = _readers(ops, out)
        if any(q >= limit or ops[q].name in _VIEWS for q in readers):
            continue
        for q in readers:
            ops[q] = _rename_inputs(ops[q], out, var)
        drop.add(p)
    return [op for p, op in enumerate(ops) if p not in drop]


def _fuse_assigns(operators: list[Operator], tensors: list[Tensor], outputs: list[int]) -> list[Operator]:
    """ASSIGN_VARIABLE of a value computed by an earlier operator, with nothing touching the
    variable in between and the value read only before the variable's next write: that
    operator writes the variable directly, and the value's readers read the variable."""
    ops, drop = list(operators), set()
    for q, op in enumerate(ops):
        if op.name != "ASSIGN_VARIABLE":
            continue
        val, var = op.inputs[0], op.outputs[0]
        p = next((k for k in range(q) if val in ops[k].outputs), None)
        if p is None or val in outputs or not same_layout(tensors[val], tensors[var]):
            continue
        maker = ops[p]
        if maker.name in _VIEWS or maker.name == "CALL_ONCE" or var in maker.inputs:
            continue
        if any(var in ops[k].inputs or var in ops[k].outputs for k in range(p + 1, q)):
            continue
        limit = _next_write(ops, var, q)
        readers = [k for k in _readers(ops, val) if k != q]
        if any(k >= limit or ops[k].name in _VIEWS for k in readers):
            continue
        ops[p] = dataclasses.replace(maker, outputs=[var if i == val else i for i in maker.outputs])
        for k in readers:
            ops[k] = _rename_inputs(ops[k], val, var)
        drop.add(q)
    return [op for k, op in enumerate(ops) if k not in drop]
