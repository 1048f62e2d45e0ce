"""Hostile-model fuzzing: mutate .tflite files and check how protobrain takes each one.

A mutant must either be refused with a clear one-line ProtobrainError, or compile, for
every kernel tier (portable, dsp, mve: ops/fast.py), to a Program whose generated C stays
in bounds and computes what TensorFlow Lite Micro computes on the same mutant. Anything
else (a Python exception or a hang in any tier's generation, a fast tier refusing what the
portable one compiled) is a finding, named by its tier.

    Mutator(data).mutate(rng)       one random structured mutation (a Mutation) of a model
    run_case(data)                  the reader and compiler (every tier) on one mutant -> Outcome
    fuzz(seeds, cases, seed)        many cases -> FuzzReport (counts per tier, findings, valid mutants)
    verify_valid(mutants, qemu=...) generated C with -fsanitize=address,undefined (portable and
                                    DSP tier) and, for `qemu`, firmware in QEMU (DSP on the M4,
                                    Helium on the M55), against TFLite Micro (run in a child
                                    process: it may abort)
    builtin_seeds()                 small hand-written models, for when no models folder exists

Mutations work on the flatbuffer structure: field and vector positions are found by
walking the tables with the slot numbers of the `tflite` schema package, then bytes are
patched in place (the file keeps its layout, so every other table still parses).

What "matches TFLite Micro" means for a mutant protobrain accepts ("valid"):
  * TFLite Micro loads and runs it: the outputs of both are equal byte for byte on the
    sampled inputs, and the C runs clean under AddressSanitizer/UBSan (on the boards:
    the firmware answers every INVOKE).
  * TFLite Micro refuses it (an error while loading, allocating or invoking, or an
    abort): a divergence, reported as a finding. protobrain must refuse what the
    reference refuses; it may refuse more (its errors are not checked against TFLM).
The reference is TFLite Micro's C++ interpreter (see _tflm_interpreter: the Python
wrapper's own full parse of the file is skipped), in a child process so that its crashes
on damaged files end one job, not the fuzzer. Distinct valid programs are told apart by
program_key (what the C computes); mutants whose program equals their seed's are checked
against the reference too (whatever they changed, TFLite Micro must agree it changed nothing).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import math
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from protobrain.boards import load_board
from protobrain.codegen import render as codegen
from protobrain.codegen.c import digest
# build_program is called through its module, so that a replacement there (a test's) is the one run.
from protobrain.compiler import program as compiler
from protobrain.compiler.ir import C_TYPES, DTYPES
from protobrain.compiler.ops.tiers.select import TIERS
from protobrain.compiler.reader import _OPTION_CLASSES, read_model_bytes
from protobrain.compiler.writer import write_model
from protobrain.errors import ProtobrainError, ToolchainError
from protobrain.firmware.build import build
from protobrain.resources import REFERENCE_MODELS
from protobrain.run.device import Device
from protobrain.run.qemu import QemuBoard
from protobrain.toolchain import cache_dir, host_cc
from protobrain.verify.compare import test_inputs

HOST_TIERS = ("portable", "dsp")  # C that runs on the host: the DSP tier in its plain-C form (pb_simd.h)
QEMU_BOARDS = {"dsp": "qemu-mps2-an386", "mve": "qemu-mps3-an547"}  # tier -> the simulated board that runs it

# ---- finding fields in the flatbuffer ------------------------------------------------------


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


class ModelMap:
    """Where the fields a mutator touches are in one .tflite file (first subgraph)."""

    def __init__(self, data: bytes):
        import tflite

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
            self.operators.append(OperatorLoc(
                index=k,
                opcode_pos=_field(buf, o, _slot(OP, "OpcodeIndex")),
                options_type_pos=_field(buf, o, _slot(OP, "BuiltinOptionsType")),
                inputs=_vec(buf, o, _slot(OP, "Inputs"), 4),
                outputs=_vec(buf, o, _slot(OP, "Outputs"), 4),
                options=options,
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
            self.vectors += [(f"operator {o.index} {n}", v) for n, v in (("inputs", o.inputs), ("outputs", o.outputs))
                             if v is not None]
        self.weights = [(v.data_pos, v.data_pos + v.length) for v in self.buffers if v is not None and v.length]


# ---- mutations ---------------------------------------------------------------------------


@dataclass
class Mutation:
    kind: str
    detail: str
    patches: list[tuple[int, bytes]] = field(default_factory=list)
    cut: int | None = None

    def apply(self, data: bytes) -> bytes:
        buf = bytearray(data)
        for pos, raw in self.patches:
            if 0 <= pos and pos + len(raw) <= len(buf):
                buf[pos:pos + len(raw)] = raw
        if self.cut is not None:
            del buf[self.cut:]
        return bytes(buf)

    def then(self, other: "Mutation") -> "Mutation":
        cut = other.cut if self.cut is None else self.cut if other.cut is None else min(self.cut, other.cut)
        return Mutation(f"{self.kind}+{other.kind}", f"{self.detail}; {other.detail}", self.patches + other.patches, cut)


def _i32(v: int) -> bytes:
    return struct.pack("<i", v)


def _u32b(v: int) -> bytes:
    return struct.pack("<I", v & 0xFFFFFFFF)


HUGE_DIMS = [2**31 - 1, 2**30, 2**24 + 3, 65537, -1, -2, -(2**31)]
BAD_INDICES = ["n", "n+1", -1, -2, 2**31 - 1, -(2**31), "valid"]
BAD_SCALES = [0.0, -0.0, -1.0, float("nan"), float("inf"), float("-inf"), 1.4e-45, 1e-38, 3.4e38, "x2", "x0.5",
              "neg", "ulp"]
BAD_ZERO_POINTS = [128, -129, 255, 32767, -32768, 2**31, -(2**40), 2**63 - 1, -(2**63), "+1", "-1"]
TENSOR_TYPES = list(range(19)) + [50, 127, -1, -128]


class Mutator:
    """Random structured mutations of one model. Kinds are tried in proportion to KINDS."""

    KINDS = {
        "truncate": 4, "flip": 4, "flip-structure": 6, "flip-weights": 4, "buffer-index": 4,
        "tensor-index": 6, "shape": 6, "huge-dim": 5, "rank": 3, "scale": 6, "zero-point": 4,
        "no-quant": 4, "quant-dim": 3, "dtype": 4, "opcode": 3, "options": 6, "vector-length": 4,
        "buffer-length": 3, "multi": 6,
    }

    def __init__(self, data: bytes, name: str = "model"):
        self.data = data
        self.name = name
        self.map = ModelMap(data)
        self._structure = self._structure_ranges()
        self._kinds = list(self.KINDS)
        self._weights = [self.KINDS[k] for k in self._kinds]

    def _structure_ranges(self) -> list[tuple[int, int]]:
        out, pos = [], 0
        for a, b in sorted(self.map.weights):
            if a > pos:
                out.append((pos, a))
            pos = max(pos, b)
        if pos < len(self.data):
            out.append((pos, len(self.data)))
        return out

    def mutate(self, rng: random.Random) -> Mutation:
        for _ in range(50):
            kind = rng.choices(self._kinds, self._weights)[0]
            m = getattr(self, "_" + kind.replace("-", "_"))(rng)
            if m is not None:
                return m
        return self._flip(rng)

    # -- raw bytes --

    def _truncate(self, rng):
        n = len(self.data)
        cut = rng.choice([rng.randrange(0, min(n, 64)), rng.randrange(0, n), n - rng.randrange(1, 17)])
        return Mutation("truncate", f"cut to {max(cut, 0)} of {n} bytes", cut=max(cut, 0))

    def _flips(self, rng, ranges, kind):
        ranges = [r for r in ranges if r[1] > r[0]]
        if not ranges:
            return None
        sizes = [b - a for a, b in ranges]
        patches, where = [], []
        for _ in range(rng.choice([1, 1, 2, 3, 8])):
            a, b = rng.choices(ranges, sizes)[0]
            pos = rng.randrange(a, b)
            old = self.data[pos]
            new = rng.choice([old ^ (1 << rng.randrange(8)), rng.randrange(256), 0, 0xFF, 0x7F, 0x80])
            if new == old:
                new = old ^ 1
            patches.append((pos, bytes([new])))
            where.append(f"{pos}:{old:#04x}->{new:#04x}")
        return Mutation(kind, "bytes " + ",".join(where), patches)

    def _flip(self, rng):
        return self._flips(rng, [(8, len(self.data))], "flip")

    def _flip_structure(self, rng):
        return self._flips(rng, self._structure, "flip-structure")

    def _flip_weights(self, rng):
        return self._flips(rng, self.map.weights, "flip-weights")

    # -- indices --

    def _index_value(self, rng, n: int, current: int) -> int:
        v = rng.choice(BAD_INDICES)
        if v == "n":
            return n
        if v == "n+1":
            return n + 1
        if v == "valid":
            return rng.randrange(n) if n else 0
        return v

    def _buffer_index(self, rng):
        ts = [t for t in self.map.tensors if t.buffer_pos is not None]
        if not ts:
            return None
        t = rng.choice(ts)
        n = len(self.map.buffers)
        v = rng.choice([n, n + 1, 2**32 - 1, 2**31, 0, rng.randrange(max(n, 1))])
        return Mutation("buffer-index", f"tensor {t.index} buffer -> {v} (of {n})", [(t.buffer_pos, _u32b(v))])

    def _tensor_index(self, rng):
        n = len(self.map.tensors)
        slots = []
        for o in self.map.operators:
            for what, v in (("inputs", o.inputs), ("outputs", o.outputs)):
                if v is not None:
                    slots += [(f"operator {o.index} {what}[{j}]", v.at(j)) for j in range(v.length)]
        for what, v in (("subgraph inputs", self.map.graph_inputs), ("subgraph outputs", self.map.graph_outputs)):
            if v is not None:
                slots += [(f"{what}[{j}]", v.at(j)) for j in range(v.length)]
        if not slots:
            return None
        what, pos = rng.choice(slots)
        old = struct.unpack_from("<i", self.data, pos)[0]
        v = self._index_value(rng, n, old)
        return Mutation("tensor-index", f"{what}: {old} -> {v} (of {n} tensors)", [(pos, _i32(v))])

    # -- shapes --

    def _shaped(self, rng):
        ts = [t for t in self.map.tensors if t.shape is not None and t.shape.length]
        return rng.choice(ts) if ts else None

    def _shape(self, rng):
        t = self._shaped(rng)
        if t is None:
            return None
        j = rng.randrange(t.shape.length)
        d = struct.unpack_from("<i", self.data, t.shape.at(j))[0]
        if rng.random() < 0.2 and t.shape.length > 1:
            k = (j + rng.randrange(1, t.shape.length)) % t.shape.length
            e = struct.unpack_from("<i", self.data, t.shape.at(k))[0]
            return Mutation("shape", f"tensor {t.index} swap dims {j},{k}",
                            [(t.shape.at(j), _i32(e)), (t.shape.at(k), _i32(d))])
        v = rng.choice([d + 1, d - 1, d * 2, 1, 0, d + rng.randrange(2, 9), max(d // 2, 1)])
        return Mutation("shape", f"tensor {t.index} dim {j}: {d} -> {v}", [(t.shape.at(j), _i32(v))])

    def _huge_dim(self, rng):
        t = self._shaped(rng)
        if t is None:
            return None
        j = rng.randrange(t.shape.length)
        v = rng.choice(HUGE_DIMS)
        patches = [(t.shape.at(j), _i32(v))]
        if rng.random() < 0.3 and t.shape.length > 1:  # overflow a product, not only one dimension
            k = (j + 1) % t.shape.length
            patches.append((t.shape.at(k), _i32(rng.choice(HUGE_DIMS[:4]))))
        return Mutation("huge-dim", f"tensor {t.index} dim {j} -> {v}" + (" (+1 more)" if len(patches) > 1 else ""),
                        patches)

    def _rank(self, rng):
        t = self._shaped(rng)
        if t is None:
            return None
        n = t.shape.length
        v = rng.choice([n - 1, 0, n + 1, n + 2])
        return Mutation("rank", f"tensor {t.index} rank {n} -> {v}", [(t.shape.len_pos, _u32b(v))])

    # -- quantization --

    def _quantized(self, rng, attr):
        ts = [t for t in self.map.tensors if getattr(t, attr) is not None and getattr(t, attr).length]
        return rng.choice(ts) if ts else None

    def _scale(self, rng):
        t = self._quantized(rng, "scale")
        if t is None:
            return None
        j = rng.randrange(t.scale.length)
        old = struct.unpack_from("<f", self.data, t.scale.at(j))[0]
        v = rng.choice(BAD_SCALES)
        if v == "x2":
            v = old * 2
        elif v == "x0.5":
            v = old / 2
        elif v == "neg":
            v = -old
        elif v == "ulp":
            v = float(np.nextafter(np.float32(old), np.float32(np.inf)))
        raw = np.float32(v).tobytes() if not math.isfinite(v) or abs(v) < 3.4e38 else np.float32(np.inf).tobytes()
        return Mutation("scale", f"tensor {t.index} scale[{j}]: {old:.6g} -> {v:.6g}", [(t.scale.at(j), raw)])

    def _zero_point(self, rng):
        t = self._quantized(rng, "zero_point")
        if t is None:
            return None
        j = rng.randrange(t.zero_point.length)
        old = struct.unpack_from("<q", self.data, t.zero_point.at(j))[0]
        v = rng.choice(BAD_ZERO_POINTS)
        v = old + 1 if v == "+1" else old - 1 if v == "-1" else v
        return Mutation("zero-point", f"tensor {t.index} zero_point[{j}]: {old} -> {v}",
                        [(t.zero_point.at(j), struct.pack("<q", v))])

    def _no_quant(self, rng):
        ts = [t for t in self.map.tensors if t.quant_entry is not None]
        if not ts:
            return None
        t = rng.choice(ts)
        how = rng.choice(["scale", "zero_point", "table", "scale+1"])
        if how == "table":  # vtables may be shared: this can drop several tensors' quantization
            return Mutation("no-quant", f"tensor {t.index} quantization field removed", [(t.quant_entry, b"\0\0")])
        vec = t.scale if how.startswith("scale") else t.zero_point
        if vec is None:
            return None
        n = vec.length + 1 if how == "scale+1" else 0
        return Mutation("no-quant", f"tensor {t.index} {how.rstrip('+1')} length {vec.length} -> {n}",
                        [(vec.len_pos, _u32b(n))])

    def _quant_dim(self, rng):
        ts = [t for t in self.map.tensors if t.quant_dim is not None]
        if not ts:
            return None
        t = rng.choice(ts)
        v = rng.choice([-1, 0, 1, 3, 4, 100, 2**31 - 1, -(2**31)])
        return Mutation("quant-dim", f"tensor {t.index} quantized_dimension -> {v}", [(t.quant_dim, _i32(v))])

    def _dtype(self, rng):
        ts = [t for t in self.map.tensors if t.type_pos is not None]
        if not ts:
            return None
        t = rng.choice(ts)
        v = rng.choice(TENSOR_TYPES)
        return Mutation("dtype", f"tensor {t.index} type -> {v}", [(t.type_pos, struct.pack("<b", v))])

    # -- operators --

    def _opcode(self, rng):
        if rng.random() < 0.5:
            ops = [o for o in self.map.operators if o.opcode_pos is not None]
            if not ops:
                return None
            o = rng.choice(ops)
            n = len(self.map.codes)
            v = rng.choice([n, n + 1, 2**32 - 1, rng.randrange(max(n, 1))])
            return Mutation("opcode", f"operator {o.index} opcode index -> {v} (of {n})", [(o.opcode_pos, _u32b(v))])
        codes = [(k, c) for k, c in enumerate(self.map.codes) if c[1] is not None or c[0] is not None]
        if not codes:
            return None
        k, (dep, code) = rng.choice(codes)
        v = rng.choice([rng.randrange(0, 210), 32, 126, 127, 10000, -1])
        patches = []
        if code is not None:
            patches.append((code, _i32(v)))
        if dep is not None:
            patches.append((dep, struct.pack("<b", max(-128, min(v, 127)))))
        return Mutation("opcode", f"operator code {k} -> builtin {v}", patches)

    def _options(self, rng):
        ops = [o for o in self.map.operators if o.options or o.options_type_pos is not None]
        if not ops:
            return None
        o = rng.choice(ops)
        if o.options_type_pos is not None and (not o.options or rng.random() < 0.15):
            v = rng.choice([0, 1, 3, 9, 13, 200, 255])
            return Mutation("options", f"operator {o.index} options type -> {v}", [(o.options_type_pos, bytes([v]))])
        name, pos, flags, _ = rng.choice(o.options)
        if flags.packer_type.format.endswith("f"):  # float32: beta, alpha, ...
            v = rng.choice([0.0, -1.0, float("nan"), float("inf"), float("-inf"), 1e-45, 1e30, 0.5, 1.5])
            raw = np.float32(v).tobytes()
        elif flags.bytewidth == 1:  # enums, bools, int8
            v = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 100, 127, 128, 255])
            raw = bytes([v])
        else:  # int32 / uint32 / int64: strides, sizes, axes, masks
            v = rng.choice([0, 1, 2, 3, 5, -1, -2, 64, 65536, 1 << 30, 2**31 - 1, -(2**31)])
            raw = (v & ((1 << (8 * flags.bytewidth)) - 1)).to_bytes(flags.bytewidth, "little")
        return Mutation("options", f"operator {o.index} {name} -> {v}", [(pos, raw)])

    # -- vectors and buffers --

    def _vector_length(self, rng):
        if not self.map.vectors:
            return None
        what, v = rng.choice(self.map.vectors)
        n = rng.choice([0, v.length - 1, v.length + 1, v.length + 7, 2**31 - 1, 2**32 - 1, 1 << 20])
        n = max(n, 0)
        return Mutation("vector-length", f"{what} length {v.length} -> {n}", [(v.len_pos, _u32b(n))])

    def _buffer_length(self, rng):
        bufs = [(k, v) for k, v in enumerate(self.map.buffers) if v is not None and v.length]
        if not bufs:
            return None
        k, v = rng.choice(bufs)
        n = rng.choice([0, v.length - 1, v.length + 1, v.length * 2, v.length // 2, 2**31 - 1])
        return Mutation("buffer-length", f"buffer {k} length {v.length} -> {n}", [(v.len_pos, _u32b(n))])

    def _multi(self, rng):
        kinds = [k for k in self._kinds if k not in ("multi", "truncate")]
        m = None
        for _ in range(rng.choice([2, 2, 3, 4])):
            one = None
            while one is None:
                one = getattr(self, "_" + rng.choice(kinds).replace("-", "_"))(rng)
            m = one if m is None else m.then(one)
        return Mutation("multi", f"[{m.kind}] {m.detail}", m.patches, m.cut)


# ---- running one case ----------------------------------------------------------------------


class CaseTimeout(BaseException):
    """Raised inside a case that overran its time (BaseException: no `except Exception` eats it)."""


@contextlib.contextmanager
def deadline(seconds: float | None):
    """SIGALRM after `seconds` raises CaseTimeout (main thread only; elsewhere no guard)."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise CaseTimeout()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Outcome:
    kind: str  # "error" (clear one-line ProtobrainError), "valid" (a Program per tier), "crash", "hang",
    #            "tier-refused" (a later tier refused what the first generated)
    message: str = ""
    traceback: str = ""
    seconds: float = 0.0
    program: object = None  # the first tier's Program
    key: str = ""  # program_key of every tier's Program, combined
    tier: str = ""  # the tier being generated when the case ended (a finding's or refusal's tier)
    tiers: dict = field(default_factory=dict)  # tier -> "valid", "error", "crash", ... for each tier tried
    programs: dict = field(default_factory=dict)  # tier -> Program, for a valid outcome

    @property
    def finding(self) -> bool:
        return self.kind in FINDING_KINDS


FINDING_KINDS = ("crash", "hang", "tier-refused")


def run_case(data: bytes, name: str = "fuzz", timeout: float | None = 10.0, tiers: tuple[str, ...] = TIERS,
             flash_budget: int | None = None) -> Outcome:
    """Read one (possibly hostile) model and generate its Program for each kernel tier, as
    `build` does for a board of that tier; classify what happened. `timeout` is per tier.
    The first tier's refusal is the case's (reading and lowering are the same for every
    tier); a later tier must generate what the first did. flash_budget: the DSP tier's
    (int16 weights when they take at most half of it; None: int8 weights)."""
    t0 = time.perf_counter()
    graph, programs, keys, kinds = None, {}, [], {}

    def ended(kind: str, message: str, tier: str, tb: str = "") -> Outcome:
        kinds[tier] = kind
        return Outcome(kind, message, tb, time.perf_counter() - t0, tier=tier, tiers=kinds)

    for tier in tiers:
        try:
            with deadline(timeout):
                if graph is None:
                    graph = read_model_bytes(data, name)
                program = compiler.build_program(graph, tier=tier,
                                                 flash_budget=flash_budget if tier == "dsp" else None)
                keys.append(program_key(program))  # touches every planned offset, as code generation does
        except CaseTimeout:
            return ended("hang", f"no answer within {timeout} s", tier)
        except ProtobrainError as e:
            msg = str(e)
            if not msg.strip() or "\n" in msg or "\r" in msg:
                return ended("crash", f"{type(e).__name__} with a message that is not one line: {msg!r}", tier)
            if programs:
                return ended("tier-refused", f"refused what the {tiers[0]} tier generated: {msg}", tier)
            return ended("error", msg, tier)
        except BaseException as e:  # noqa: BLE001 - anything else is what the fuzzer looks for
            if isinstance(e, KeyboardInterrupt):
                raise
            return ended("crash", f"{type(e).__name__}: {e}", tier, traceback.format_exc())
        programs[tier] = program
        kinds[tier] = "valid"
    key = keys[0] if len(keys) == 1 else hashlib.sha256(" ".join(keys).encode()).hexdigest()[:20]
    return Outcome("valid", seconds=time.perf_counter() - t0, program=programs[tiers[0]], key=key, tiers=kinds,
                   programs=programs)


_INT_RANGES = {"int8_t": (-(2**7), 2**7 - 1), "uint8_t": (0, 2**8 - 1), "int16_t": (-(2**15), 2**15 - 1),
               "uint16_t": (0, 2**16 - 1), "int32_t": (-(2**31), 2**31 - 1), "uint32_t": (0, 2**32 - 1)}


def program_key(program) -> str:
    """A digest of what the generated C computes: steps, parameters, constants and the plan.
    Two mutants with the same key generate the same code (up to names and comments).
    Raises ValueError for a constant that its C type cannot hold (the C would not compile,
    or would hold another value)."""
    h = hashlib.sha256()
    g = program.graph
    for what, ios in (("in", g.inputs), ("out", g.outputs)):
        for i in ios:
            t = g.tensors[i]
            h.update(repr((what, t.shape, t.dtype, program.plan.offset_of(i))).encode())
    for s in program.steps:
        if s.alias is not None:
            h.update(repr(("alias", s.alias.output, s.alias.input)).encode())
            continue
        c = s.call
        h.update(repr((c.function, c.inputs, c.outputs, [program.plan.offset_of(i) for i in c.inputs + c.outputs],
                       c.scratch_bytes)).encode())
        for k, v in c.fields.items():
            if hasattr(v, "values"):
                values = np.asarray(v.values)
                lo_hi = _INT_RANGES.get(v.ctype)
                if lo_hi and values.size and (values.min() < lo_hi[0] or values.max() > lo_hi[1]):
                    raise ValueError(f"{c.function}'s {k} holds {values.min()}..{values.max()}, outside {v.ctype}")
                h.update(f"{k}:{v.ctype}:".encode() + np.ascontiguousarray(values).tobytes())
            else:
                h.update(f"{k}={v!r};".encode())
    h.update(repr(sorted(program.scratch.items())).encode())
    h.update(str(program.arena_size).encode())
    return h.hexdigest()[:20]


# ---- many cases ----------------------------------------------------------------------------


@dataclass
class Finding:
    seed: str
    case: int
    mutation: Mutation
    outcome: Outcome
    data: bytes

    def line(self) -> str:
        return (f"{self.seed} case {self.case} [{self.mutation.kind}] {self.mutation.detail}: "
                f"{self.outcome.tier} tier: {self.outcome.kind}: {self.outcome.message}")


@dataclass
class ValidMutant:
    seed: str
    case: int
    mutation: Mutation
    seed_data: bytes  # the unmutated model (shared, not copied): a long run keeps thousands
    key: str
    arena: int  # the largest over the tiers
    macs: int
    same_as_seed: bool
    flash_budget: int | None = None  # the DSP tier's, as fuzzed (see run_case)
    const_bytes: int = 0  # the largest over the tiers
    io_bytes: int = 0  # the larger of all inputs' and all outputs' bytes

    @property
    def data(self) -> bytes:
        return self.mutation.apply(self.seed_data)

    def program(self, tier: str, name: str = "fuzz", flash_budget: int | None = None):
        """The mutant's Program for `tier` (DSP: with `flash_budget`, default the fuzzed one)."""
        budget = self.flash_budget if flash_budget is None else flash_budget
        return compiler.build_program(read_model_bytes(self.data, name), tier=tier,
                                      flash_budget=budget if tier == "dsp" else None)


def _wide_weights(program) -> bool:
    return any(s.call is not None and s.call.fields.get("wide_weights") == 1 for s in program.steps)


@dataclass
class FuzzReport:
    cases: int = 0
    seconds: float = 0.0
    tiers_fuzzed: tuple = TIERS
    outcomes: collections.Counter = field(default_factory=collections.Counter)
    by_kind: dict = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    by_seed: dict = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    by_tier: dict = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    dsp_wide: int = 0  # valid mutants whose DSP program stores int16 weights
    findings: list[Finding] = field(default_factory=list)
    valid: dict[str, ValidMutant] = field(default_factory=dict)  # program key -> first mutant
    same_program: list[ValidMutant] = field(default_factory=list)  # bytes differ, programs equal their seed's
    errors: collections.Counter = field(default_factory=collections.Counter)  # error message shapes
    slowest: tuple = (0.0, "", "")
    seed_keys: dict = field(default_factory=dict)  # (seed, DSP flash budget) -> key

    def generated(self, tier: str) -> int:
        """Mutants whose Program the tier generated."""
        return self.by_tier[tier]["valid"]

    def summary(self) -> dict:
        return {
            "cases": self.cases,
            "seconds": round(self.seconds, 2),
            "tiers": list(self.tiers_fuzzed),
            "outcomes": dict(self.outcomes),
            "by_tier": {t: dict(self.by_tier[t]) for t in self.tiers_fuzzed},
            "dsp_int16_weights": self.dsp_wide,
            "by_mutation": {k: dict(v) for k, v in sorted(self.by_kind.items())},
            "by_seed": {k: dict(v) for k, v in sorted(self.by_seed.items())},
            "distinct_valid_programs": len(self.valid),
            "valid_same_program_as_seed": len(self.same_program),
            "slowest_case": {"seconds": round(self.slowest[0], 3), "seed": self.slowest[1], "mutation": self.slowest[2]},
            "findings": [f.line() for f in self.findings],
            "most_common_errors": self.errors.most_common(15),
        }


def _error_shape(msg: str) -> str:
    """An error message with numbers and quoted names blanked, to count kinds of errors."""
    import re

    return re.sub(r"\d+", "N", re.sub(r"<[^>]*>|'[^']*'", "_", msg))[:140]


@lru_cache(maxsize=None)
def board_flash(tier: str) -> int:
    """The flash bytes of the QEMU board that runs `tier` (what `build` gives the tier to spend)."""
    return load_board(QEMU_BOARDS[tier]).flash.length


def fuzz(seeds: dict[str, bytes], cases: int, seed: int = 0, timeout: float | None = 10.0,
         progress=None, keep_same_program: int = 50, tiers: tuple[str, ...] = TIERS) -> FuzzReport:
    """`cases` distinct mutants, spread evenly over the seed models (deterministic in `seed`),
    each generated for every kernel tier of `tiers`. The DSP tier alternates, per round over
    the seeds, between int8 weights and the int16 weights `build` stores on the M4 board.

    progress(done, total) is called after every case when given.
    """
    report = FuzzReport(tiers_fuzzed=tuple(tiers))
    rng = random.Random(seed)
    names = sorted(seeds)
    budgets = (None, board_flash("dsp")) if "dsp" in tiers else (None,)
    mutators = {}
    for n in names:
        mutators[n] = Mutator(seeds[n], n)
        for budget in budgets:
            base = run_case(seeds[n], timeout=timeout, tiers=tiers, flash_budget=budget)
            if base.kind != "valid":
                raise ProtobrainError(f"seed model {n} does not compile unmutated ({base.tier} tier): {base.message}")
            report.seed_keys[n, budget] = base.key
    seen: set[bytes] = set()
    t0 = time.perf_counter()
    for case in range(cases):
        n = names[case % len(names)]
        budget = budgets[(case // len(names)) % len(budgets)]
        mut = mutators[n]
        for _ in range(20):
            m = mut.mutate(rng)
            data = m.apply(seeds[n])
            digest = hashlib.blake2b(data, digest_size=16).digest()
            if data != seeds[n] and digest not in seen:
                break
        seen.add(digest)
        out = run_case(data, timeout=timeout, tiers=tiers, flash_budget=budget)
        report.cases += 1
        report.outcomes[out.kind] += 1
        report.by_kind[m.kind.split("+")[0] if not m.kind.startswith("multi") else "multi"][out.kind] += 1
        report.by_seed[n][out.kind] += 1
        for tier, kind in out.tiers.items():
            report.by_tier[tier][kind] += 1
        if out.seconds > report.slowest[0]:
            report.slowest = (out.seconds, n, f"[{m.kind}] {m.detail}")
        if out.finding:
            report.findings.append(Finding(n, case, m, out, data))
        elif out.kind == "error":
            report.errors[_error_shape(out.message)] += 1
        else:
            progs = out.programs.values()
            g = out.program.graph
            io = max(sum(g.tensors[i].nbytes for i in g.inputs), sum(g.tensors[i].nbytes for i in g.outputs))
            if "dsp" in out.programs and _wide_weights(out.programs["dsp"]):
                report.dsp_wide += 1
            vm = ValidMutant(n, case, m, seeds[n], out.key, max(p.arena_size for p in progs), out.program.macs,
                             out.key == report.seed_keys[n, budget], budget, max(p.const_bytes for p in progs), io)
            if vm.same_as_seed:
                if len(report.same_program) < keep_same_program:
                    report.same_program.append(vm)
            elif out.key not in report.valid:
                report.valid[out.key] = vm
        if progress is not None:
            progress(case + 1, cases)
    report.seconds = time.perf_counter() - t0
    return report


def pick_sample(report: FuzzReport, count: int, same_program: int = 0, seed: int = 0,
                max_arena: int = 4 << 20, max_macs: int = 50_000_000) -> list[ValidMutant]:
    """A spread of valid mutants to verify: distinct programs, round robin over mutation
    kinds and seed models, small ones (arena, MACs) only; plus some whose program equals
    their seed's (TFLite Micro must agree that the mutation changed nothing)."""
    rng = random.Random(seed)
    pool = [v for v in report.valid.values() if v.arena <= max_arena and v.macs <= max_macs]
    rng.shuffle(pool)
    groups = collections.defaultdict(list)
    for v in pool:
        groups[(v.mutation.kind.split("+")[0], v.seed)].append(v)
    order = sorted(groups)
    rng.shuffle(order)
    picked = []
    while len(picked) < count and any(groups.values()):
        for g in order:
            if groups[g] and len(picked) < count:
                picked.append(groups[g].pop())
    same = list(report.same_program)
    rng.shuffle(same)
    return picked + same[:same_program]


def pick_qemu(sample: list[ValidMutant], count: int, max_macs: int = 20_000_000, max_arena: int = 512 << 10,
              max_const: int = 200 << 10, max_io: int = 4096) -> list[ValidMutant]:
    """Up to `count` mutants of `sample` to run in QEMU as well, round robin over the seed
    models: those that fit both boards' memory with room to spare and whose inputs cross
    the serial line (about 10 KiB/s in QEMU) quickly; distinct programs first."""
    groups = collections.defaultdict(list)
    for v in sorted(sample, key=lambda v: v.same_as_seed):
        if v.macs <= max_macs and v.arena <= max_arena and v.const_bytes <= max_const and v.io_bytes <= max_io:
            groups[v.seed].append(v)
    picked = []
    while len(picked) < count and any(groups.values()):
        for name in sorted(groups):
            if groups[name] and len(picked) < count:
                picked.append(groups[name].pop(0))
    return picked


# ---- verifying valid mutants: sanitized C against TFLite Micro -----------------------------

SANITIZE_FLAGS = ["-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fno-omit-frame-pointer",
                  "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]


def _harness(program) -> str:
    """A main() that reads input cases from stdin, calls invoke, writes the outputs to stdout.
    Inputs and outputs are heap blocks of exactly their size, so ASan sees any overrun."""
    g = program.graph
    name = g.name
    ins = [g.tensors[i] for i in g.inputs]
    outs = [g.tensors[i] for i in g.outputs]
    lines = ["#include <stdio.h>", "#include <stdlib.h>", f'#include "{name}.h"', "",
             "int main(void)", "{"]
    for k, t in enumerate(ins):
        lines.append(f"    {C_TYPES[t.dtype]} *in{k} = malloc({max(t.nbytes, 1)}u);")
    for k, t in enumerate(outs):
        lines.append(f"    {C_TYPES[t.dtype]} *out{k} = malloc({max(t.nbytes, 1)}u);")
    lines.append("    for (;;) {")
    for k, t in enumerate(ins):
        lines.append(f"        if (fread(in{k}, 1, {t.nbytes}u, stdin) != {t.nbytes}u) return 0;")
    args = [f"in{k}" for k in range(len(ins))] + [f"out{k}" for k in range(len(outs))]
    lines.append(f"        if (pb_{name}_invoke({', '.join(args)}) != 0) return 3;")
    for k, t in enumerate(outs):
        lines.append(f"        fwrite(out{k}, 1, {t.nbytes}u, stdout);")
    lines += ["        fflush(stdout);", "    }", "}", ""]
    return "\n".join(lines)


def _compile(cc: str, flags: list[str], cwd: Path, args: list[str], what: str) -> None:
    proc = subprocess.run([cc, *flags, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip()[:300])
        raise ToolchainError(f"sanitized build of {what} failed: {first}")


def _kernel_objects(program, flags: list[str], generated_headers: dict[str, str]) -> list[Path]:
    """The program's kernel sources compiled with `flags`, each cached by its content: kernels
    are the same for every mutant, so only the model's own files are compiled per mutant.
    generated_headers: the rendered headers kernels include (pb_tier.h), not the model's."""
    files = codegen.kernel_files(program)
    headers = {f.name: f.read_text() for f in files if f.suffix == ".h"} | generated_headers
    objs = []
    out_dir = cache_dir() / "fuzz-objects"
    out_dir.mkdir(parents=True, exist_ok=True)
    for src in (f for f in files if f.suffix == ".c"):
        text = src.read_text()
        obj = out_dir / f"{src.stem}-{digest(_included(text, headers) | {src.name: text}, ' '.join(flags))}.o"
        if not obj.exists():
            with tempfile.TemporaryDirectory(prefix="pb-fuzz-k-") as tmp:
                for name, header in headers.items():
                    (Path(tmp) / name).write_text(header)
                (Path(tmp) / src.name).write_text(text)
                _compile(host_cc(), flags, Path(tmp), ["-c", src.name, "-o", "k.o"], src.name)
                os.replace(Path(tmp) / "k.o", obj)
        objs.append(obj)
    return objs


def _included(text: str, headers: dict[str, str]) -> dict[str, str]:
    """The headers of `headers` that `text` includes, directly or through another one
    (an object's cache key: a kernel's object does not change with headers it never reads)."""
    import re

    found: dict[str, str] = {}
    todo = [text]
    while todo:
        for name in re.findall(r'^\s*#\s*include\s+"([^"]+)"', todo.pop(), re.M):
            if name in headers and name not in found:
                found[name] = headers[name]
                todo.append(headers[name])
    return found


def build_sanitized(program, out: Path, extra_cflags: list[str] | None = None) -> Path:
    """Generated C plus the stdin/stdout harness, built with ASan and UBSan into the
    executable `out` (not cached: mutants rarely repeat; the kernel objects are)."""
    flags = SANITIZE_FLAGS + list(extra_cflags or [])
    rendered = codegen.render(program, "<fuzz>")
    name = program.graph.name
    objs = _kernel_objects(program, flags, {f: t for f, t in rendered.items()
                                            if f.endswith(".h") and f not in (f"{name}.h", f"{name}_weights.h")})
    files = rendered | {f.name: f.read_text() for f in codegen.kernel_files(program) if f.suffix == ".h"}
    files["pb_fuzz_main.c"] = _harness(program)
    with tempfile.TemporaryDirectory(prefix="pb-fuzz-") as tmp:
        src = Path(tmp)
        for fname, text in files.items():
            (src / fname).write_text(text)
        sources = sorted(f for f in files if f.endswith(".c"))
        _compile(host_cc(), flags, src, ["-o", "exe", *sources, *map(str, objs), "-lm"], "the generated C")
        os.replace(src / "exe", out)
    return Path(out)


def sanitizers_available() -> str | None:
    """None when the host C compiler builds and runs an ASan+UBSan program, else why not."""
    try:
        cc = host_cc()
        with tempfile.TemporaryDirectory(prefix="pb-fuzz-probe-") as tmp:
            (Path(tmp) / "p.c").write_text("int main(void) { return 0; }\n")
            _compile(cc, SANITIZE_FLAGS, Path(tmp), ["-o", "p", "p.c"], "a sanitizer probe")
            if subprocess.run([str(Path(tmp) / "p")], capture_output=True, timeout=60).returncode != 0:
                return f"{cc} builds with -fsanitize=address,undefined but the program does not run"
    except (ProtobrainError, OSError, subprocess.TimeoutExpired) as e:
        return f"no AddressSanitizer/UBSan: {e}"
    return None


def _reference_worker(jobs_file: str) -> None:
    """Child process: run each job's model in TFLite Micro, one result file per job.
    TFLite Micro's own messages (fd 2) go to a per-job log. A job whose model makes TFLite
    Micro abort leaves a `started` mark and no result; the parent restarts past it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from tflite_micro.python.tflite_micro import runtime

    jobs = json.loads(Path(jobs_file).read_text())
    for job in jobs:
        result = Path(job["result"])
        if result.exists() or Path(job["started"]).exists():
            continue
        Path(job["started"]).write_text("")
        sys.stderr.flush()
        saved = os.dup(2)
        log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(log, 2)
        try:
            data = Path(job["model"]).read_bytes()
            interp = _tflm_interpreter(runtime, data, job["arena"])
            cases = np.load(job["inputs"], allow_pickle=False)
            n_in, n_cases = job["n_inputs"], job["n_cases"]
            shapes = [interp.get_input_details(i)["shape"] for i in range(n_in)]
            outs = {}
            for c in range(n_cases):
                for i in range(n_in):
                    interp.set_input(cases[f"c{c}_i{i}"].reshape(shapes[i]), i)
                interp.invoke()
                for j in range(job["n_outputs"]):
                    outs[f"c{c}_o{j}"] = np.array(interp.get_output(j))
            np.savez(str(result) + ".npz", **outs)
            os.replace(str(result) + ".npz", result)
        except Exception as e:  # noqa: BLE001 - TFLite Micro's refusal is the result
            sys.stderr.flush()
            result.with_suffix(".refused").write_text(f"{type(e).__name__}: {e}".replace("\n", " ")[:300])
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(log)


def _tflm_interpreter(runtime, data: bytes, arena: int):
    """TFLite Micro's C++ interpreter on `data`. The Python wrapper's constructor first
    unpacks the whole flatbuffer with the object API (to count resource variables, which
    no operator protobrain compiles uses): that pass fails on damage in fields neither
    TFLite Micro nor protobrain reads, so it is skipped when the wrapper's layout allows."""
    try:
        interp = runtime.Interpreter.__new__(runtime.Interpreter)
        interp._interpreter = runtime._runtime.InterpreterWrapper(
            data, [], arena, 0, runtime._ENUM_TRANSLATOR[runtime.InterpreterConfig.kAllocationRecording], 0)
        return interp
    except (AttributeError, TypeError, KeyError):  # another tflite-micro release: the public way
        return runtime.Interpreter.from_bytes(data, arena_size=arena)


def _refusal(job: dict, why: str) -> str:
    """The reason TFLite Micro gave: its last log line, else `why`."""
    log = Path(job["log"])
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()] if log.exists() else []
    return (lines[-1] if lines else why)[:300]


def _run_references(jobs: list[dict], tmp: Path, timeout: float) -> dict[int, str]:
    """Run every job in as few child processes as possible (an abort ends one process).
    Returns {job k: why TFLite Micro refused} for the jobs without a result."""
    jobs_file = tmp / "jobs.json"
    jobs_file.write_text(json.dumps(jobs))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[3])!r}); "
            "from protobrain.verify.fuzz.harness import _reference_worker; _reference_worker(sys.argv[1])")
    refused: dict[int, str] = {}
    while True:
        pending = [j for j in jobs if not Path(j["started"]).exists()]
        if not pending:
            break
        try:
            proc = subprocess.run([sys.executable, "-c", code, str(jobs_file)], capture_output=True, text=True,
                                  timeout=timeout + 20 * len(pending), env=env)
            why = f"TFLite Micro's process ended with {proc.returncode}"
        except subprocess.TimeoutExpired:
            why = "TFLite Micro timed out"
        if all(not Path(j["started"]).exists() for j in pending):  # it could not even start
            for j in pending:
                refused[j["k"]] = why
                Path(j["started"]).write_text("")
    for j in jobs:
        r = Path(j["result"])
        if r.with_suffix(".refused").exists():
            refused[j["k"]] = _refusal(j, r.with_suffix(".refused").read_text())
        elif not r.exists() and j["k"] not in refused:
            refused[j["k"]] = _refusal(j, "TFLite Micro aborted")
    return refused


@dataclass
class Verdict:
    mutant: ValidMutant
    ok: bool
    status: str  # "match", "mismatch", "tflm-refused", "sanitizer", "build-failed", "timeout", "device"
    message: str = ""
    tier: str = "portable"
    where: str = "host"  # "host" (ASan/UBSan) or the QEMU board it ran on

    def line(self) -> str:
        m = self.mutant
        return (f"{m.seed} case {m.case} [{m.mutation.kind}] {m.mutation.detail}: {self.tier} tier on {self.where}: "
                f"{self.status}: {self.message}")


class _Failed(Exception):
    """One run of one mutant went wrong (its Verdict's status and message)."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _outputs_from(raw: bytes, graph, n_cases: int) -> list[list[np.ndarray]]:
    """The harness's stdout as one list of output arrays per input case."""
    outs = [graph.tensors[i] for i in graph.outputs]
    if len(raw) != n_cases * sum(t.nbytes for t in outs):
        raise _Failed("sanitizer", f"harness wrote {len(raw)} bytes, expected {n_cases * sum(t.nbytes for t in outs)}")
    got, pos = [], 0
    for _ in range(n_cases):
        row = []
        for t in outs:
            row.append(np.frombuffer(raw, dtype=DTYPES[t.dtype], count=t.size, offset=pos))
            pos += t.nbytes
        got.append(row)
    return got


def _run_sanitized(vm: ValidMutant, tier: str, cases: list, exe: Path, timeout: float) -> list:
    """The mutant's C for `tier`, built with ASan+UBSan and run on every case: the outputs."""
    program = vm.program(tier)
    try:
        build_sanitized(program, exe)
    except ProtobrainError as e:
        raise _Failed("build-failed", str(e)) from None
    payload = b"".join(np.ascontiguousarray(x).tobytes() for case in cases for x in case)
    try:
        proc = subprocess.run([str(exe)], input=payload, capture_output=True, timeout=timeout,
                              env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
                                       UBSAN_OPTIONS="print_stacktrace=1"))
    except subprocess.TimeoutExpired:
        raise _Failed("timeout", f"generated C ran over {timeout} s") from None
    finally:
        exe.unlink(missing_ok=True)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace")
        line = next((ln for ln in err.splitlines() if "ERROR" in ln or "runtime error" in ln), err.strip()[:300])
        raise _Failed("sanitizer", f"exit {proc.returncode}: {line}")
    return _outputs_from(proc.stdout, program.graph, len(cases))


def qemu_available() -> str | None:
    """None when the QEMU boards of QEMU_BOARDS can be built for and run here, else why not."""
    import shutil


    for name in QEMU_BOARDS.values():
        b = load_board(name)
        missing = [t for t in (b.toolchain_prefix + "gcc", b.run.get("qemu", "qemu-system-arm")) if not shutil.which(t)]
        if missing:
            return f"{', '.join(missing)} not installed (make setup installs it)"
    return None


def _run_on_board(tier: str, items: list[tuple[int, ValidMutant, list]], out: Path, timeout: float,
                  done, per_firmware: int = 8) -> dict[int, list]:
    """Each (k, mutant, cases) of `items` as `build` makes it for the tier's QEMU board
    (QEMU_BOARDS), several models to a firmware, invoked over serial on every case.
    Returns {k: outputs per case}, or {k: _Failed} for a mutant whose firmware does not
    build or that does not answer (QEMU then restarts for the models after it)."""
    board = load_board(QEMU_BOARDS[tier])
    results: dict[int, object] = {}
    progs = {}
    for k, vm, _ in items:
        try:  # the board's flash budget, as `build --board` gives the tier
            progs[k] = vm.program(tier, f"m{k}", board.flash.length)
        except ProtobrainError as e:
            results[k] = _Failed("build-failed", str(e))
            done()
    cases = {k: c for k, _, c in items}
    data = {k: vm.data for k, vm, _ in items}

    def run_group(group: list[int]) -> None:
        try:
            image = build(board, [progs[k] for k in group], [data[k] for k in group], out / f"fw-{tier}-{group[0]}")
        except ProtobrainError as e:
            if len(group) == 1:
                results[group[0]] = _Failed("build-failed", str(e))
                done()
            else:  # find the model(s) it is about
                run_group(group[:len(group) // 2])
                run_group(group[len(group) // 2:])
            return
        pending = list(range(len(group)))
        while pending:
            with QemuBoard(board, image.elf) as q, Device(q.port, timeout=timeout, retries=1) as dev:
                while pending:
                    j = pending.pop(0)
                    k = group[j]
                    try:
                        results[k] = [dev.invoke(j, *case).outputs for case in cases[k]]
                    except ProtobrainError as e:
                        results[k] = _Failed("device", str(e))
                        break  # the firmware may be stuck: a fresh QEMU for the rest
                    finally:
                        done()

    ready = [k for k, _, _ in items if k in progs]
    for start in range(0, len(ready), per_firmware):
        run_group(ready[start:start + per_firmware])
    return results


def verify_valid(mutants: list[ValidMutant], n_random: int = 2, seed: int = 0, timeout: float = 60.0,
                 progress=None, tiers: tuple[str, ...] = HOST_TIERS, qemu: list[ValidMutant] = ()) -> list[Verdict]:
    """Each mutant: its generated C for each tier of `tiers`, built with ASan+UBSan on the
    host; each mutant of `qemu` also as firmware for each QEMU board (QEMU_BOARDS: the DSP
    tier on the Cortex-M4, Helium on the Cortex-M55), invoked over serial. Every output is
    compared byte for byte with TFLite Micro's on the same random and edge inputs.
    One Verdict per mutant, tier and place; progress(done, total) after each."""
    qemu = list(qemu)
    everyone = list(mutants) + [v for v in qemu if not any(v is m for m in mutants)]
    total = len(mutants) * len(tiers) + len(qemu) * len(QEMU_BOARDS)
    count = [0]

    def done():
        count[0] += 1
        if progress is not None:
            progress(count[0], total)

    results: dict[tuple[int, str, str], object] = {}  # (k, tier, where) -> outputs per case, or _Failed
    with tempfile.TemporaryDirectory(prefix="pb-fuzz-ref-") as tmp:
        tmp = Path(tmp)
        cases, ios = {}, {}
        for k, vm in enumerate(everyone):
            g = vm.program("portable").graph
            cases[k] = test_inputs([g.tensors[i] for i in g.inputs], n_random, seed + k)
            ios[k] = (len(g.inputs), len(g.outputs))
        for k, vm in enumerate(mutants):
            for tier in tiers:
                try:
                    results[k, tier, "host"] = _run_sanitized(vm, tier, cases[k], tmp / f"exe{k}-{tier}", timeout)
                except _Failed as f:
                    results[k, tier, "host"] = f
                done()
        if qemu:
            index = {id(v): k for k, v in enumerate(everyone)}
            items = [(index[id(v)], v, cases[index[id(v)]]) for v in qemu]
            for tier, board in QEMU_BOARDS.items():
                for k, r in _run_on_board(tier, items, tmp, timeout, done).items():
                    results[k, tier, board] = r
        jobs = []
        for k, vm in enumerate(everyone):
            if not any(kk == k and not isinstance(r, _Failed) for (kk, _, _), r in results.items()):
                continue
            model = tmp / f"m{k}.tflite"
            model.write_bytes(vm.data)
            np.savez(tmp / f"in{k}.npz", **{f"c{c}_i{i}": x for c, case in enumerate(cases[k]) for i, x in enumerate(case)})
            jobs.append({"model": str(model), "inputs": str(tmp / f"in{k}.npz"), "result": str(tmp / f"out{k}"),
                         "started": str(tmp / f"started{k}"), "log": str(tmp / f"log{k}"), "n_inputs": ios[k][0],
                         "n_outputs": ios[k][1], "n_cases": len(cases[k]), "k": k,
                         "arena": int(max(len(vm.data) * 10, vm.arena * 4 + (256 << 10)))})
        refused = _run_references(jobs, tmp, timeout) if jobs else {}
        wanted = {j["k"]: np.load(j["result"], allow_pickle=False) for j in jobs if j["k"] not in refused}
        verdicts = []
        for (k, tier, where), r in results.items():
            vm = everyone[k]
            if isinstance(r, _Failed):
                verdicts.append(Verdict(vm, False, r.status, r.message, tier, where))
            elif k in refused:
                verdicts.append(Verdict(vm, False, "tflm-refused", refused[k], tier, where))
            else:
                verdicts.append(_compare(vm, r, wanted[k], tier, where))
    return verdicts


def _compare(vm: ValidMutant, got: list, want, tier: str, where: str) -> Verdict:
    for c, row in enumerate(got):
        for j, a in enumerate(row):
            a = np.asarray(a).reshape(-1)
            b = np.asarray(want[f"c{c}_o{j}"]).reshape(-1)
            if b.dtype != a.dtype or a.tobytes() != b.tobytes():
                diff = int(np.count_nonzero(a != b.astype(a.dtype))) if b.size == a.size else -1
                return Verdict(vm, False, "mismatch", f"case {c} output {j}: {diff} values differ "
                               f"({a.dtype} vs TFLM {b.dtype})", tier, where)
    return Verdict(vm, True, "match", "", tier, where)


def tier_table(report: FuzzReport, verdicts: list[Verdict]) -> dict[str, dict]:
    """Per tier: mutants generated, findings, and runs compared with TFLite Micro on the
    host under sanitizers and in QEMU (with how many matched)."""
    table = {}
    for tier in report.tiers_fuzzed:
        host = [v for v in verdicts if v.tier == tier and v.where == "host"]
        board = [v for v in verdicts if v.tier == tier and v.where != "host"]
        table[tier] = {"generated": report.generated(tier),
                       "findings": sum(1 for f in report.findings if f.outcome.tier == tier),
                       "host_sanitizers": len(host), "host_sanitizers_match": sum(v.ok for v in host),
                       "qemu": len(board), "qemu_match": sum(v.ok for v in board),
                       "qemu_board": QEMU_BOARDS.get(tier, "")}
    return table


# ---- seed models written by hand (no TensorFlow, no models folder) -------------------------


def _weights(rng, shape) -> np.ndarray:
    return rng.integers(-127, 128, size=shape).astype(np.int8)


def _tiny_cnn() -> bytes:
    """CONV_2D (per-channel) -> DEPTHWISE_CONV_2D -> MAX_POOL_2D -> RESHAPE -> FULLY_CONNECTED -> SOFTMAX."""
    rng = np.random.default_rng(1)
    s_in, s_c, s_d, s_f = 0.05, np.array([0.004, 0.006, 0.005, 0.003]), np.array([0.01, 0.02, 0.015, 0.012]), 0.02
    T = [
        {"shape": [1, 6, 6, 2], "type": "int8", "scale": s_in, "zp": -3, "name": "input"},
        {"shape": [4, 3, 3, 2], "type": "int8", "scale": s_c, "zp": 0, "axis": 0, "data": _weights(rng, (4, 3, 3, 2))},
        {"shape": [4], "type": "int32", "scale": s_in * s_c, "zp": 0, "data": rng.integers(-900, 900, 4).astype(np.int32)},
        {"shape": [1, 6, 6, 4], "type": "int8", "scale": 0.08, "zp": -128},
        {"shape": [1, 3, 3, 4], "type": "int8", "scale": s_d, "zp": 0, "axis": 3, "data": _weights(rng, (1, 3, 3, 4))},
        {"shape": [4], "type": "int32", "scale": 0.08 * s_d, "zp": 0, "data": rng.integers(-500, 500, 4).astype(np.int32)},
        {"shape": [1, 4, 4, 4], "type": "int8", "scale": 0.1, "zp": 5},
        {"shape": [1, 2, 2, 4], "type": "int8", "scale": 0.1, "zp": 5},
        {"shape": [2], "type": "int32", "data": np.array([1, 16], np.int32)},
        {"shape": [1, 16], "type": "int8", "scale": 0.1, "zp": 5},
        {"shape": [5, 16], "type": "int8", "scale": s_f, "zp": 0, "data": _weights(rng, (5, 16))},
        {"shape": [5], "type": "int32", "scale": 0.1 * s_f, "zp": 0, "data": rng.integers(-300, 300, 5).astype(np.int32)},
        {"shape": [1, 5], "type": "int8", "scale": 0.2, "zp": 10},
        {"shape": [1, 5], "type": "int8", "scale": 1 / 256, "zp": -128, "name": "output"},
    ]
    ops = [
        ("CONV_2D", [0, 1, 2], [3], "Conv2DOptions",
         {"Padding": 0, "StrideW": 1, "StrideH": 1, "FusedActivationFunction": 1,
          "DilationWFactor": 1, "DilationHFactor": 1}),
        ("DEPTHWISE_CONV_2D", [3, 4, 5], [6], "DepthwiseConv2DOptions",
         {"Padding": 1, "StrideW": 1, "StrideH": 1, "DepthMultiplier": 1, "DilationWFactor": 1, "DilationHFactor": 1}),
        ("MAX_POOL_2D", [6], [7], "Pool2DOptions",
         {"Padding": 1, "StrideW": 2, "StrideH": 2, "FilterWidth": 2, "FilterHeight": 2}),
        ("RESHAPE", [7, 8], [9], "ReshapeOptions", {"NewShape": [1, 16]}),
        ("FULLY_CONNECTED", [9, 10, 11], [12], "FullyConnectedOptions", {"FusedActivationFunction": 0}),
        ("SOFTMAX", [12], [13], "SoftmaxOptions", {"Beta": 1.0}),
    ]
    return write_model(T, ops, [0], [13], "protobrain fuzz seed: tiny_cnn")


def _tiny_mix() -> bytes:
    """PAD, AVERAGE_POOL_2D, ADD (constant operand), TANH, LOGISTIC, MUL, CONCATENATION,
    MEAN, STRIDED_SLICE and QUANTIZE."""
    rng = np.random.default_rng(2)
    T = [
        {"shape": [1, 4, 4, 3], "type": "int8", "scale": 0.04, "zp": 2, "name": "input"},                # 0
        {"shape": [4, 2], "type": "int32", "data": np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)},  # 1
        {"shape": [1, 6, 6, 3], "type": "int8", "scale": 0.04, "zp": 2},                                 # 2
        {"shape": [1, 3, 3, 3], "type": "int8", "scale": 0.04, "zp": 2},                                 # 3
        {"shape": [3], "type": "int8", "scale": 0.01, "zp": 0, "data": _weights(rng, (3,))},             # 4
        {"shape": [1, 3, 3, 3], "type": "int8", "scale": 0.05, "zp": 0},                                 # 5
        {"shape": [1, 3, 3, 3], "type": "int8", "scale": 1 / 128, "zp": 0},                              # 6
        {"shape": [1, 3, 3, 3], "type": "int8", "scale": 1 / 256, "zp": -128},                           # 7
        {"shape": [1, 3, 3, 3], "type": "int8", "scale": 1 / 200, "zp": 3},                              # 8
        {"shape": [1, 3, 3, 6], "type": "int8", "scale": 1 / 200, "zp": 3},                              # 9
        {"shape": [2], "type": "int32", "data": np.array([1, 2], np.int32)},                              # 10
        {"shape": [1, 6], "type": "int8", "scale": 1 / 250, "zp": 1},                                    # 11
        {"shape": [2], "type": "int32", "data": np.array([0, 1], np.int32)},                              # 12
        {"shape": [2], "type": "int32", "data": np.array([1, 6], np.int32)},                              # 13
        {"shape": [2], "type": "int32", "data": np.array([1, 2], np.int32)},                              # 14
        {"shape": [1, 3], "type": "int8", "scale": 1 / 250, "zp": 1},                                    # 15
        {"shape": [1, 3], "type": "int8", "scale": 0.01, "zp": -5, "name": "output"},                    # 16
    ]
    ops = [
        ("PAD", [0, 1], [2], None, {}),
        ("AVERAGE_POOL_2D", [2], [3], "Pool2DOptions",
         {"Padding": 1, "StrideW": 2, "StrideH": 2, "FilterWidth": 2, "FilterHeight": 2}),
        ("ADD", [3, 4], [5], "AddOptions", {"FusedActivationFunction": 0}),
        ("TANH", [5], [6], None, {}),
        ("LOGISTIC", [5], [7], None, {}),
        ("MUL", [6, 7], [8], "MulOptions", {"FusedActivationFunction": 0}),
        ("CONCATENATION", [8, 8], [9], "ConcatenationOptions", {"Axis": 3}),
        ("MEAN", [9, 10], [11], "ReducerOptions", {"KeepDims": False}),
        ("STRIDED_SLICE", [11, 12, 13, 14], [15], "StridedSliceOptions", {"BeginMask": 0, "EndMask": 0}),
        ("QUANTIZE", [15], [16], None, {}),
    ]
    return write_model(T, ops, [0], [16], "protobrain fuzz seed: tiny_mix")


def builtin_seeds() -> dict[str, bytes]:
    """Small hand-written int8 models covering most lowered operators; no TensorFlow needed."""
    return {"tiny_cnn": _tiny_cnn(), "tiny_mix": _tiny_mix()}


def load_seeds(models_dir: str | Path | None, names: list[str] | None = None) -> dict[str, bytes]:
    """The reference models found in `models_dir` (those of `names`, default all in
    resources.REFERENCE_MODELS), plus the built-in seeds."""
    seeds = {}
    if models_dir is not None:
        for n in names or REFERENCE_MODELS:
            p = Path(models_dir) / f"{n}.tflite"
            if p.exists():
                seeds[n] = p.read_bytes()
    seeds.update(builtin_seeds())
    return seeds
