"""Where each field of a .tflite file lives: ModelMap walks the flatbuffer's tables (first
subgraph) and records the byte position of every field a mutation patches: tensor types,
buffer indices, shapes, quantization vectors, operator codes, operator inputs and outputs,
every scalar or numeric-vector builtin option, every value of a custom operator's
flexbuffer options map (and where those bytes are), and every vector's length. Slot numbers
come from the `tflite` schema package's own accessors (_Probe), so the map follows the
schema rather than a copy of it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import tflite
from flatbuffers import flexbuffers

from protobrain.compiler.reader import _OPTION_CLASSES


class _Probe:
    """Stands in for a flatbuffers Table: records which vtable slot an accessor reads and
    the scalar type it reads there. This is how the tflite schema classes tell us their layout."""

    Pos = 0
    Bytes = b""

    def __init__(self):
        self.slot = None
        self.flags = None
        self.vector = False

    def Offset(self, vtable_offset):
        if self.slot is None:
            self.slot = vtable_offset
        return 4

    def Get(self, flags, off):
        self.flags = flags
        return 0

    def Vector(self, off):
        self.vector = True
        return 0

    def VectorLen(self, off):
        self.vector = True
        return 0

    def GetVectorAsNumpy(self, flags, off):
        self.vector, self.flags = True, flags
        return np.zeros(0)

    def Indirect(self, off):
        return 0

    def String(self, off):
        return b""

    def Union(self, table, off):
        return None


@lru_cache(maxsize=None)
def _probe(cls, method: str) -> tuple[int, object, bool]:
    """(vtable slot, flatbuffers number type or None, is a vector) of one schema accessor."""
    obj = cls.__new__(cls)
    p = _Probe()
    obj._tab = p
    fn = getattr(obj, method)
    try:
        fn()
    except TypeError:
        fn(0)
    return p.slot, p.flags, p.vector


def _slot(cls, method: str) -> int:
    return _probe(cls, method)[0]


@lru_cache(maxsize=None)
def _option_fields(cls) -> tuple[tuple[str, int, object, bool], ...]:
    """(name, slot, number type, is vector) of every scalar or numeric-vector option field."""
    out = []
    for attr in sorted(dir(cls)):
        if not attr[0].isupper() or attr.startswith("GetRootAs") or attr == "Init":
            continue
        if attr.endswith(("AsNumpy", "Length", "IsNone", "BufferHasIdentifier")):
            continue
        has_numpy = hasattr(cls, attr + "AsNumpy")
        slot, flags, vector = _probe(cls, attr + "AsNumpy" if has_numpy else attr)
        if slot is not None and flags is not None:
            out.append((attr, slot, flags, vector))
    return tuple(out)


def _u16(buf, pos):
    return struct.unpack_from("<H", buf, pos)[0]


def _u32(buf, pos):
    return struct.unpack_from("<I", buf, pos)[0]


def _vtable(buf, table: int) -> int:
    return table - struct.unpack_from("<i", buf, table)[0]


def _field(buf, table: int, slot: int) -> int | None:
    """Absolute position of a table's field, or None when the field is absent."""
    vt = _vtable(buf, table)
    if slot >= _u16(buf, vt):
        return None
    off = _u16(buf, vt + slot)
    return table + off if off else None


@dataclass
class Vec:
    """A flatbuffer vector: where its length is stored, where its elements start."""

    len_pos: int
    data_pos: int
    length: int
    elem: int

    def at(self, k: int) -> int:
        return self.data_pos + k * self.elem


def _vec(buf, table: int, slot: int, elem: int) -> Vec | None:
    f = _field(buf, table, slot)
    if f is None:
        return None
    start = f + _u32(buf, f)
    return Vec(start, start + 4, _u32(buf, start), elem)


def _sub(buf, table: int, slot: int) -> int | None:
    f = _field(buf, table, slot)
    return None if f is None else f + _u32(buf, f)


def _tables(buf, vec: Vec | None) -> list[int]:
    return [] if vec is None else [vec.at(k) + _u32(buf, vec.at(k)) for k in range(vec.length)]


@dataclass
class TensorLoc:
    index: int
    table: int
    type_pos: int | None
    buffer_pos: int | None
    quant_entry: int | None  # the vtable entry of the quantization field (0 there = absent)
    shape: Vec | None
    scale: Vec | None
    zero_point: Vec | None
    quant_dim: int | None


@dataclass
class OperatorLoc:
    index: int
    opcode_pos: int | None
    options_type_pos: int | None
    inputs: Vec | None
    outputs: Vec | None
    options: list[tuple[str, int, object, bool]]  # (field, position, number type, vector)
    custom_options: Vec | None = None  # a custom operator's flexbuffer bytes
    custom: list[tuple[str, int, str, int]] = field(default_factory=list)  # (key, position, kind, byte width)


_FLEX_SCALARS = {flexbuffers.Type.INT: "int", flexbuffers.Type.UINT: "uint", flexbuffers.Type.FLOAT: "float",
                 flexbuffers.Type.BOOL: "bool"}
_FLEX_INDIRECT = {flexbuffers.Type.INDIRECT_INT: "int", flexbuffers.Type.INDIRECT_UINT: "uint",
                  flexbuffers.Type.INDIRECT_FLOAT: "float"}
_FLEX_VECTORS = {flexbuffers.Type.VECTOR_INT: "int", flexbuffers.Type.VECTOR_UINT: "uint",
                 flexbuffers.Type.VECTOR_FLOAT: "float", flexbuffers.Type.VECTOR_BOOL: "bool"}


def flex_values(raw: bytes, base: int = 0) -> list[tuple[str, int, str, int]]:
    """(key, position, kind, byte width) of every number in a flexbuffer map: inline and
    indirect scalars, elements of typed vectors; positions counted from `base`. [] when
    the bytes are not a map."""
    try:
        root = flexbuffers.GetRoot(bytes(raw))
        if not root.IsMap:
            return []
        m = root.AsMap
        out = []
        for key, value in zip(m.Keys, m.Values):
            name, t = key.AsKey, value._type
            if t in _FLEX_SCALARS:
                out.append((name, base + value._buf._offset, _FLEX_SCALARS[t], value._parent_width))
            elif t in _FLEX_INDIRECT:
                out.append((name, base + value._Indirect()._offset, _FLEX_INDIRECT[t], value._byte_width))
            elif t in _FLEX_VECTORS:
                vec = value.AsTypedVector
                out += [(f"{name}[{j}]", base + vec._buf._offset + j * vec._byte_width, _FLEX_VECTORS[t],
                         vec._byte_width) for j in range(len(vec))]
        return out
    except Exception:  # noqa: BLE001 - flexbuffers raises bare IndexError/struct.error on damage
        return []


class ModelMap:
    """Where the fields a mutator touches are in one .tflite file (first subgraph)."""

    def __init__(self, data: bytes):
        buf = data
        root = _u32(buf, 0)
        M, SG, T, Q, OP, B, OC = (tflite.Model, tflite.SubGraph, tflite.Tensor, tflite.QuantizationParameters,
                                  tflite.Operator, tflite.Buffer, tflite.OperatorCode)
        self.size = len(buf)
        codes_vec = _vec(buf, root, _slot(M, "OperatorCodes"), 4)
        subgraphs_vec = _vec(buf, root, _slot(M, "Subgraphs"), 4)
        buffers_vec = _vec(buf, root, _slot(M, "Buffers"), 4)
        self.codes = [(_field(buf, c, _slot(OC, "DeprecatedBuiltinCode")), _field(buf, c, _slot(OC, "BuiltinCode")))
                      for c in _tables(buf, codes_vec)]
        self.buffers = []  # (data vector or None)
        for b in _tables(buf, buffers_vec):
            self.buffers.append(_vec(buf, b, _slot(B, "Data"), 1))
        sg = _tables(buf, subgraphs_vec)[0]
        tensors_vec = _vec(buf, sg, _slot(SG, "Tensors"), 4)
        ops_vec = _vec(buf, sg, _slot(SG, "Operators"), 4)
        self.graph_inputs = _vec(buf, sg, _slot(SG, "Inputs"), 4)
        self.graph_outputs = _vec(buf, sg, _slot(SG, "Outputs"), 4)
        self.tensors = []
        for i, t in enumerate(_tables(buf, tensors_vec)):
            q = _sub(buf, t, _slot(T, "Quantization"))
            vt = _vtable(buf, t)
            qslot = _slot(T, "Quantization")
            self.tensors.append(TensorLoc(
                index=i, table=t,
                type_pos=_field(buf, t, _slot(T, "Type")),
                buffer_pos=_field(buf, t, _slot(T, "Buffer")),
                quant_entry=vt + qslot if q is not None else None,
                shape=_vec(buf, t, _slot(T, "Shape"), 4),
                scale=None if q is None else _vec(buf, q, _slot(Q, "Scale"), 4),
                zero_point=None if q is None else _vec(buf, q, _slot(Q, "ZeroPoint"), 8),
                quant_dim=None if q is None else _field(buf, q, _slot(Q, "QuantizedDimension")),
            ))
        model = tflite.Model.GetRootAs(data, 0)
        sub = model.Subgraphs(0)

        self.operators = []
        for k, o in enumerate(_tables(buf, ops_vec)):
            options = []
            kind = sub.Operators(k).BuiltinOptionsType()
            table = _sub(buf, o, _slot(OP, "BuiltinOptions"))
            if kind in _OPTION_CLASSES and table is not None:
                for name, slot, flags, vector in _option_fields(getattr(tflite, _OPTION_CLASSES[kind])):
                    if vector:
                        v = _vec(buf, table, slot, flags.bytewidth)
                        options += [] if v is None else [(f"{name}[{j}]", v.at(j), flags, True) for j in range(v.length)]
                    elif (pos := _field(buf, table, slot)) is not None:
                        options.append((name, pos, flags, False))
            custom = _vec(buf, o, _slot(OP, "CustomOptionsAsNumpy"), 1)
            self.operators.append(OperatorLoc(
                index=k,
                opcode_pos=_field(buf, o, _slot(OP, "OpcodeIndex")),
                options_type_pos=_field(buf, o, _slot(OP, "BuiltinOptionsType")),
                inputs=_vec(buf, o, _slot(OP, "Inputs"), 4),
                outputs=_vec(buf, o, _slot(OP, "Outputs"), 4),
                options=options,
                custom_options=custom if custom is not None and custom.length else None,
                custom=[] if custom is None else flex_values(buf[custom.data_pos:custom.data_pos + custom.length],
                                                             custom.data_pos),
            ))
        # Vectors whose length a mutation may lie about.
        self.vectors = [(n, v) for n, v in [("operator codes", codes_vec), ("subgraphs", subgraphs_vec),
                                           ("buffers", buffers_vec), ("tensors", tensors_vec),
                                           ("operators", ops_vec), ("subgraph inputs", self.graph_inputs),
                                           ("subgraph outputs", self.graph_outputs)] if v is not None]
        for t in self.tensors:
            self.vectors += [(f"tensor {t.index} {n}", v) for n, v in
                             (("shape", t.shape), ("scale", t.scale), ("zero_point", t.zero_point)) if v is not None]
        for o in self.operators:
            self.vectors += [(f"operator {o.index} {n}", v) for n, v in (("inputs", o.inputs), ("outputs", o.outputs),
                                                                         ("custom options", o.custom_options))
                             if v is not None]
        self.weights = [(v.data_pos, v.data_pos + v.length) for v in self.buffers if v is not None and v.length]
