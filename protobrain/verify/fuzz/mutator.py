"""Random structured mutations of one .tflite model: Mutator(data).mutate(rng) gives a
Mutation of one of Mutator.KINDS (truncation, byte flips in the structure or the weights,
bad buffer and tensor indices, shapes, huge dimensions, ranks, scales, zero points, missing
quantization, types, opcodes, options (builtin option fields, the options table's type, a
custom operator's flexbuffer values and bytes), vector and buffer lengths, or several at
once).
A Mutation is a list of byte patches at positions the ModelMap found (and an optional
cut): the file keeps its layout, so every other table still parses.
"""

from __future__ import annotations

import math
import random
import struct
from dataclasses import dataclass, field

import numpy as np

from protobrain.verify.fuzz.modelmap import ModelMap


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
        ops = [o for o in self.map.operators if o.options or o.options_type_pos is not None or o.custom_options]
        if not ops:
            return None
        o = rng.choice(ops)
        fields = [("builtin", f) for f in o.options] + [("custom", f) for f in o.custom]
        if o.options_type_pos is not None and (not fields or rng.random() < 0.15):
            v = rng.choice([0, 1, 3, 9, 13, 200, 255])
            return Mutation("options", f"operator {o.index} options type -> {v}", [(o.options_type_pos, bytes([v]))])
        if o.custom_options is not None and (not fields or rng.random() < 0.15):  # the flexbuffer's own bytes
            v = o.custom_options
            m = self._flips(rng, [(v.data_pos, v.data_pos + v.length)], "options")
            return Mutation("options", f"operator {o.index} custom options {m.detail}", m.patches)
        where, f = rng.choice(fields)
        if where == "custom":
            return self._custom_value(rng, o, *f)
        name, pos, flags, _ = f
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

    def _custom_value(self, rng, o, key: str, pos: int, kind: str, width: int) -> Mutation:
        """One number of a custom operator's flexbuffer options, in place (its byte width kept)."""
        if kind == "float":
            v = rng.choice([0.0, -1.0, float("nan"), float("inf"), float("-inf"), 1e-45, 1e30, 0.5, 1.5])
            raw = np.float32(v).tobytes() if width == 4 else np.float64(v).tobytes()[:width]
        else:
            old = int.from_bytes(self.data[pos:pos + width], "little", signed=kind == "int")
            bits = 8 * width
            v = rng.choice([0, 1, 2, 3, -1, 7, 8, 15, 16, 31, 32, 33, 63, 64, 127, 128, 255, old + 1, old - 1,
                            old * 2, 2 ** (bits - 1) - 1, -(2 ** (bits - 1)), 2**bits - 1] if kind != "bool"
                           else [0, 1, 2, 255])
            raw = (v & ((1 << bits) - 1)).to_bytes(width, "little")
        return Mutation("options", f"operator {o.index} custom {key} -> {v}", [(pos, raw)])

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
