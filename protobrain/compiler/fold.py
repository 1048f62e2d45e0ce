"""Constant folding: operators whose inputs are all known before run time, computed here
with numpy, so they disappear from the generated C.

This is the shape arithmetic converters write around a dynamic batch dimension (Keras 3
exported with batch 1 writes SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE for a Flatten),
transposed or reshaped constants, and the like. SHAPE and ZEROS_LIKE of any static tensor
are known even when its values are not. Each value is what TFLite Micro computes: int32
arithmetic wraps, integer casts truncate, and an operator TFLite Micro would refuse or
compute out of bounds (a zero divisor, an index outside its axis, an option it ignores)
is left alone. `fold_graph` is the pass; `evaluate` computes one operator.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from protobrain.compiler.ir import DTYPES, Graph, Operator, Tensor
from protobrain.compiler.ops.base import ARITY, OUTPUT_ARITY
from protobrain.compiler.ops.strided_slice import iterations, resolve_axis
from protobrain.errors import UnsupportedError

_INTS = ("int32", "int64")
# Operators whose effect is more than their outputs: never removed as dead.
_EFFECTS = ("ASSIGN_VARIABLE", "VAR_HANDLE", "READ_VARIABLE", "CALL_ONCE", "CALL", "IF", "WHILE")
MAX_GROWN = 4096  # elements a folded value may have beyond its inputs' (ZEROS_LIKE, FILL, TILE)
_ACTIVATION_RANGE = {"NONE": None, "RELU": (0, None), "RELU6": (0, 6), "RELU_N1_TO_1": (-1, 1)}


class _Skip(Exception):
    """This operator instance is left to run (or be refused) as it is."""


def _need(cond: bool) -> None:
    if not cond:
        raise _Skip


def _ints(a: np.ndarray) -> list[int]:
    return [int(v) for v in np.asarray(a).reshape(-1)]


def _axis(value: int, rank: int) -> int:
    axis = value + rank if value < 0 else value
    _need(0 <= axis < rank)
    return axis


def _wrap(values, dtype: str) -> np.ndarray:
    """Python integers reduced to the type's width, as the C arithmetic wraps."""
    half = 1 << (np.dtype(DTYPES[dtype]).itemsize * 8 - 1)
    v = np.asarray(values, dtype=object)
    flat = [(int(a) + half) % (2 * half) - half for a in v.reshape(-1)]
    return np.asarray(flat, dtype=DTYPES[dtype]).reshape(v.shape)


def _binary(op: Operator, a: np.ndarray, b: np.ndarray, out: Tensor) -> np.ndarray:
    _need(a.dtype == b.dtype and str(a.dtype) in _INTS and out.dtype == str(a.dtype))
    x, y = np.broadcast_arrays(a.astype(object), b.astype(object))
    name = op.name
    if name in ("DIV", "FLOOR_DIV", "FLOOR_MOD"):
        _need(not np.any(y == 0))
    if name == "ADD":
        r = x + y
    elif name == "SUB":
        r = x - y
    elif name == "MUL":
        r = x * y
    elif name == "DIV":  # C division truncates toward zero
        q = abs(x) // abs(y)
        r = np.where((x < 0) != (y < 0), -q, q)
    elif name == "FLOOR_DIV":
        r = x // y
    elif name == "FLOOR_MOD":
        r = x % y
    elif name == "MINIMUM":
        r = np.minimum(x, y)
    else:
        r = np.maximum(x, y)
    r = _wrap(r, out.dtype)
    act = op.options.get("fused_activation_function", "NONE")
    _need(act in _ACTIVATION_RANGE)
    if name in ("SUB", "MUL") and _ACTIVATION_RANGE[act]:  # int32 ADD ignores it in TFLite Micro
        lo, hi = _ACTIVATION_RANGE[act]
        r = np.clip(r, lo, hi if hi is not None else np.iinfo(r.dtype).max).astype(r.dtype)
    return r


def _strided_slice(op: Operator, x, begin, end, strides) -> np.ndarray:
    o = op.options
    _need(not o.get("ellipsis_mask", 0) and not o.get("new_axis_mask", 0) and not o.get("offset", False))
    rank = x.ndim
    begin, end, strides = _ints(begin), _ints(end), _ints(strides)
    _need(len(begin) == len(end) == len(strides) == rank and all(strides))
    bm, em, sm = (int(o.get(k, 0)) for k in ("begin_mask", "end_mask", "shrink_axis_mask"))
    index, kept = [], []
    for k, n in enumerate(x.shape):
        start, stop = resolve_axis(n, begin[k], end[k], strides[k], bool(bm >> k & 1), bool(em >> k & 1),
                                   bool(sm >> k & 1))
        count = iterations(start, stop, strides[k])
        idx = start + strides[k] * np.arange(count)
        _need(np.all((idx >= 0) & (idx < n)))
        index.append(idx)
        if not sm >> k & 1:
            kept.append(count)
    return x[np.ix_(*index)].reshape(kept)


def _gather(op: Operator, x, idx) -> np.ndarray:
    _need(str(idx.dtype) in _INTS)
    axis = _axis(int(op.options.get("axis", 0)), x.ndim)
    batch_dims = int(op.options.get("batch_dims", 0))
    batch_dims = batch_dims + idx.ndim if batch_dims < 0 else batch_dims
    _need(0 <= batch_dims <= axis and batch_dims <= idx.ndim and x.shape[:batch_dims] == idx.shape[:batch_dims])
    _need(np.all((idx >= 0) & (idx < x.shape[axis])))
    if batch_dims == 0:
        return np.take(x, idx, axis=axis)
    lead = x.shape[:batch_dims]
    xs = x.reshape(-1, *x.shape[batch_dims:])
    ids = idx.reshape(-1, *idx.shape[batch_dims:])
    parts = [np.take(xs[b], ids[b], axis=axis - batch_dims) for b in range(xs.shape[0])]
    return np.stack(parts).reshape(*lead, *parts[0].shape) if parts else np.zeros(0, x.dtype)


def _gather_nd(x, idx) -> np.ndarray:
    _need(str(idx.dtype) in _INTS and idx.ndim >= 1 and x.ndim >= 1)
    nd = idx.shape[-1]
    _need(1 <= nd <= x.ndim)
    inner = x.shape[nd:]
    slice_size = int(np.prod(inner, dtype=np.int64))
    flat = x.reshape(-1)
    counts = [int(np.prod(x.shape[j + 1:], dtype=np.int64)) for j in range(nd)]
    rows = []
    for tup in idx.reshape(-1, nd).astype(np.int64):
        pos = int(sum(int(v) * c for v, c in zip(tup, counts)))  # TFLite Micro checks the flat position only
        _need(0 <= pos and pos + slice_size <= flat.size)
        rows.append(flat[pos:pos + slice_size])
    return np.asarray(rows, x.dtype).reshape(*idx.shape[:-1], *inner)


def _cast(x: np.ndarray, out: Tensor) -> np.ndarray:
    to = np.dtype(DTYPES[out.dtype])
    if out.dtype == "bool":
        return x != 0
    if x.dtype.kind == "f" and to.kind in "iu":
        _need(np.all(np.isfinite(x)))
        info = np.iinfo(to)
        t = np.trunc(x.astype(np.float64))
        _need(np.all((t >= info.min) & (t <= info.max)))  # out of range: undefined in C
        return t.astype(to)
    if x.dtype.kind in "iub" and to.kind in "iu":
        return _wrap(x.astype(np.int64), out.dtype)
    return x.astype(to)


def _reduce(op: Operator, x, axes) -> np.ndarray:
    axes = sorted({_axis(a, x.ndim) for a in _ints(axes)}) if x.ndim else []
    keep = bool(op.options.get("keep_dims", False))
    if op.name in ("REDUCE_MAX", "REDUCE_MIN"):
        _need(str(x.dtype) in _INTS and all(x.shape[a] > 0 for a in axes))
        fn = np.max if op.name == "REDUCE_MAX" else np.min
        return fn(x, axis=tuple(axes), keepdims=keep)
    _need(str(x.dtype) in _INTS)
    v = x.astype(object)
    r = np.prod(v, axis=tuple(axes), keepdims=keep) if op.name == "REDUCE_PROD" else \
        np.sum(v, axis=tuple(axes), keepdims=keep)
    return _wrap(r, str(x.dtype))


def _same_values_quant(g: Graph, op: Operator) -> bool:
    """Raw copies (CONCATENATION, PACK) are exact when every operand has one quantization."""
    ts = [g.tensors[i] for i in op.inputs + op.outputs if i >= 0]
    qs = {None if t.quant is None else (tuple(np.asarray(t.quant.scale, np.float32)), tuple(t.quant.zero_point))
          for t in ts}
    return len(qs) == 1


def _compare(name: str, a, b):
    return {"EQUAL": np.equal, "NOT_EQUAL": np.not_equal, "LESS": np.less, "LESS_EQUAL": np.less_equal,
            "GREATER": np.greater, "GREATER_EQUAL": np.greater_equal}[name](a, b)


def _compute(op: Operator, g: Graph, ins: list[np.ndarray | None], outs: list[Tensor]) -> list[np.ndarray]:
    name, o = op.name, op.options
    x = ins[0] if ins else None
    out = outs[0]
    if name in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
        _need(x.size == out.size)
        return [x.reshape(out.shape)]
    if name == "PACK":
        _need(len(ins) == int(o.get("values_count", 0)) and _same_values_quant(g, op))
        return [np.stack(ins, axis=_axis(int(o.get("axis", 0)), x.ndim + 1))]
    if name == "UNPACK":
        axis = _axis(int(o.get("axis", 0)), x.ndim)
        _need(int(o.get("num", 0)) == len(outs) == x.shape[axis])
        return [np.take(x, k, axis=axis) for k in range(len(outs))]
    if name == "STRIDED_SLICE":
        return [_strided_slice(op, *ins)]
    if name == "SLICE":
        begin, size = _ints(ins[1]), _ints(ins[2])
        _need(len(begin) == len(size) == x.ndim)
        stop = [n if s == -1 else b + s for n, b, s in zip(x.shape, begin, size)]
        _need(all(0 <= b <= e <= n for b, e, n in zip(begin, stop, x.shape)))
        return [x[tuple(slice(b, e) for b, e in zip(begin, stop))]]
    if name == "GATHER":
        return [_gather(op, x, ins[1])]
    if name == "GATHER_ND":
        return [_gather_nd(x, ins[1])]
    if name == "CAST":
        return [_cast(x, out)]
    if name == "CONCATENATION":
        _need(o.get("fused_activation_function", "NONE") == "NONE" and _same_values_quant(g, op))
        _need(len({a.dtype for a in ins}) == 1)
        return [np.concatenate(ins, axis=_axis(int(o.get("axis", 0)), x.ndim))]
    if name == "FILL":
        _need(ins[1].ndim == 0 and tuple(_ints(x)) == tuple(out.shape))
        return [np.full(out.shape, ins[1], dtype=ins[1].dtype)]
    if name in ("ADD", "SUB", "MUL", "DIV", "FLOOR_DIV", "FLOOR_MOD", "MINIMUM", "MAXIMUM"):
        _need(len(ins) == 2)
        return [_binary(op, ins[0], ins[1], out)]
    if name in ("EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL"):
        _need(ins[0].dtype == ins[1].dtype and str(ins[0].dtype) in (*_INTS, "bool"))
        return [_compare(name, ins[0], ins[1])]
    if name in ("LOGICAL_AND", "LOGICAL_OR"):
        return [np.logical_and(*ins) if name == "LOGICAL_AND" else np.logical_or(*ins)]
    if name == "LOGICAL_NOT":
        return [np.logical_not(x)]
    if name in ("SELECT", "SELECT_V2"):
        _need(ins[1].dtype == ins[2].dtype and (name == "SELECT_V2" or ins[0].shape == ins[1].shape))
        return [np.where(ins[0], ins[1], ins[2])]
    if name == "NEG":
        _need(str(x.dtype) in _INTS)
        return [_wrap(-x.astype(object), str(x.dtype))]
    if name == "BROADCAST_ARGS":
        _need(str(x.dtype) in _INTS and str(ins[1].dtype) == str(x.dtype) and np.all(x >= 0) and np.all(ins[1] >= 0))
        try:
            shape = np.broadcast_shapes(tuple(_ints(x)), tuple(_ints(ins[1])))
        except ValueError:
            raise _Skip from None
        return [np.asarray(shape, x.dtype)]
    if name == "BROADCAST_TO":
        _need(tuple(_ints(ins[1])) == tuple(out.shape))
        return [np.broadcast_to(x, out.shape).copy()]
    if name == "TRANSPOSE":
        perm = _ints(ins[1])
        _need(sorted(perm) == list(range(x.ndim)))
        return [np.transpose(x, perm)]
    if name == "REVERSE_V2":
        return [np.flip(x, axis=tuple(sorted({_axis(a, x.ndim) for a in _ints(ins[1])})))]
    if name == "TILE":
        reps = _ints(ins[1])
        _need(len(reps) == x.ndim and tuple(n * r for n, r in zip(x.shape, reps)) == tuple(out.shape))
        return [np.tile(x, reps)]
    if name == "RANGE":
        _need(all(str(a.dtype) in _INTS and a.ndim == 0 for a in ins) and int(ins[2]) != 0)
        start, limit, delta = int(ins[0]), int(ins[1]), int(ins[2])
        _need(len(range(start, limit, delta)) == out.size)
        return [np.arange(start, limit, delta, dtype=x.dtype)]
    if name in ("SUM", "REDUCE_PROD", "REDUCE_MAX", "REDUCE_MIN"):
        return [_reduce(op, x, ins[1])]
    if name in ("SPLIT", "SPLIT_V"):
        data, axis_v = (ins[1], ins[0]) if name == "SPLIT" else (ins[0], ins[2])
        axis = _axis(_ints(axis_v)[0], data.ndim)
        sizes = [t.shape[axis] if len(t.shape) == data.ndim else -1 for t in outs]
        _need(min(sizes) >= 0 and sum(sizes) == data.shape[axis])
        return np.split(data, np.cumsum(sizes)[:-1], axis=axis)
    raise _Skip


def _shape_only(op: Operator, g: Graph, outs: list[Tensor]) -> list[np.ndarray] | None:
    """SHAPE, RANK and ZEROS_LIKE depend on the input's static shape only."""
    inp = g.tensor(op.inputs[0]) if op.inputs else None
    if inp is None or len(outs) != 1:
        return None
    if op.name == "SHAPE" and outs[0].dtype in _INTS:
        return [np.asarray(inp.shape, DTYPES[outs[0].dtype])]
    if op.name == "RANK" and outs[0].dtype in _INTS:
        return [np.asarray(len(inp.shape), DTYPES[outs[0].dtype])]
    if op.name == "ZEROS_LIKE" and inp.size != outs[0].size:
        # TFLite Micro writes the input's count of zeros into the output, unchecked, even
        # where nothing reads it (where folding would drop the operator unlowered).
        raise UnsupportedError(f"{g.name}: #{op.index} ZEROS_LIKE: input of {inp.size} elements, output of "
                               f"{outs[0].size}: TFLite Micro writes the input's count into the output")
    if op.name == "ZEROS_LIKE" and inp.dtype in ("int8", "int32", "int64", "float32") and inp.size <= MAX_GROWN:
        return [np.zeros(inp.shape, DTYPES[inp.dtype])]
    return None


def evaluate(op: Operator, g: Graph, known: dict[int, np.ndarray]) -> list[np.ndarray] | None:
    """The operator's outputs, typed and shaped as its output tensors, or None when it is
    not computed here (an input unknown, or a case TFLite Micro would not compute)."""
    outs = [g.tensors[i] for i in op.outputs]
    if any(g.tensors[i].is_variable for i in op.inputs + op.outputs if i >= 0):
        return None
    if op.name in ARITY:  # a registered operator: the counts its lowering (and TFLite Micro) takes
        (least, most), (fewest, at_most) = ARITY[op.name], OUTPUT_ARITY.get(op.name, (1, 1))
        if not (least <= len(op.inputs) <= most and fewest <= len(op.outputs) <= at_most):
            return None  # left to lowering, which refuses the operator as TFLite Micro's Prepare does
    values = _shape_only(op, g, outs)
    if values is None:
        if not op.inputs or any(i >= 0 and i not in known for i in op.inputs):
            return None
        ins = [known[i] if i >= 0 else None for i in op.inputs]
        # Values that grow (FILL, TILE, BROADCAST_TO of a few constants) stay computed at
        # run time beyond a size: flash is dearer than the few instructions.
        if sum(t.size for t in outs) > max(sum(a.size for a in ins if a is not None), MAX_GROWN):
            return None
        try:
            with np.errstate(all="ignore"):
                values = _compute(op, g, ins, outs)
        except (_Skip, ValueError, IndexError, TypeError, AttributeError, OverflowError, MemoryError):
            return None
    if len(values) != len(outs):
        return None
    typed = []
    for v, t in zip(values, outs):
        v = np.asarray(v)
        if t.dtype not in DTYPES or v.dtype != np.dtype(DTYPES[t.dtype]) or v.shape != tuple(t.shape):
            return None
        typed.append(np.array(v, order="C"))
    return typed


def fold_graph(graph: Graph) -> Graph:
    """Every operator `evaluate` computes becomes constant data; operators left with no
    reader are dropped. A graph output that became constant is written by a CONSTANT
    operator reading a copy of its value, so the program still writes every output."""
    known = {t.index: t.data for t in graph.tensors if t.is_const and not t.is_variable}
    folded: dict[int, np.ndarray] = {}
    gone: set[int] = set()
    for op in graph.operators:
        values = evaluate(op, graph, known)
        if values is None:
            continue
        for i, v in zip(op.outputs, values):
            known[i] = folded[i] = v
        gone.add(op.index)
    tensors = list(graph.tensors)
    for i, v in folded.items():
        if i not in graph.outputs:
            tensors[i] = dataclasses.replace(tensors[i], data=v)
    # Graph outputs: the tensor stays an activation, written by CONSTANT from a new constant
    # tensor, which the operators reading the output read instead.
    rename, writers = {}, {}
    next_op = max((op.index for op in graph.operators), default=-1) + 1
    for i in graph.outputs:
        if i in folded and i not in rename:
            t = graph.tensors[i]
            c = dataclasses.replace(t, index=len(tensors), name=f"{t.name}/constant", data=folded[i], is_variable=False)
            tensors.append(c)
            rename[i] = c.index
            writers[i] = Operator(next_op, "CONSTANT", [c.index], [i], {})
            next_op += 1
    operators = []
    for op in graph.operators:
        if op.index in gone:
            operators += [writers.pop(i) for i in op.outputs if i in writers]
            continue
        if any(i in rename for i in op.inputs):
            op = dataclasses.replace(op, inputs=[rename.get(i, i) for i in op.inputs])
        operators.append(op)
    operators = _without_dead(graph, operators, tensors)
    if not gone and len(operators) == len(graph.operators):
        return graph
    return dataclasses.replace(graph, tensors=tensors, operators=operators, inputs=list(graph.inputs),
                               outputs=list(graph.outputs))


def _without_dead(graph: Graph, operators: list[Operator], tensors: list[Tensor]) -> list[Operator]:
    """Drop operators whose outputs nothing reads (nor the graph returns), repeatedly; an
    operator with effects beyond its outputs (variables, control flow) always stays."""
    while True:
        read = set(graph.outputs)
        for op in operators:
            read.update(op.inputs)
        keep = [op for op in operators
                if not op.outputs or any(i in read for i in op.outputs) or op.name in _EFFECTS
                or op.name.startswith("CUSTOM")
                or any(tensors[i].is_variable for i in op.inputs + op.outputs if i >= 0)]
        if len(keep) == len(operators):
            return operators
        operators = keep
