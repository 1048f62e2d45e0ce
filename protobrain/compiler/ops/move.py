"""Data movement as boxes: what templates/kernels/portable/pb_move.c runs.

A box copies a block of elements from one buffer (an input, an output, or the call's
constant elements) to an output, both sides strided: TRANSPOSE, SLICE, SPLIT, PACK,
BROADCAST_TO, DEPTH_TO_SPACE, SPACE_TO_BATCH_ND, MIRROR_PAD and friends are each a few
boxes computed here, and one C function runs them all, whatever the element type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from protobrain.compiler.ir import Tensor
from protobrain.compiler.ops.base import KernelCall, const, require

DIMS = 6  # PB_MOVE_DIMS
CONST = -1  # PB_MOVE_CONST

ELEM_SIZE = {"bool": 1, "int8": 1, "uint8": 1, "int16": 2, "int32": 4, "float32": 4, "int64": 8}
DATA_CTYPE = {"bool": "uint8_t", "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t",
              "float32": "float", "int64": "int64_t"}


def out_buffer(k: int) -> int:
    """The buffer id of output k (PB_MOVE_OUT)."""
    return -2 - k


OUT0 = out_buffer(0)


def strides(shape) -> list[int]:
    """Row-major element strides of a shape."""
    s = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        s[k] = s[k + 1] * int(shape[k + 1])
    return s


@dataclass
class Box:
    """dst[dst_base + sum i_k * dst_step[k]] = src[src_base + sum i_k * src_step[k]], i_k < count[k]."""

    src: int
    dst: int
    count: list[int]
    src_step: list[int]
    dst_step: list[int]
    src_base: int = 0
    dst_base: int = 0

    def merged(self) -> "Box":
        """The same copy in as few loops as possible (size-1 loops dropped, contiguous
        neighbours joined), padded to DIMS loops at the front."""
        loops = [(int(c), int(s), int(d)) for c, s, d in zip(self.count, self.src_step, self.dst_step)]
        if any(c == 0 for c, _, _ in loops):
            loops = [(0, 0, 0)]
        loops = [lp for lp in loops if lp[0] != 1]
        joined: list[tuple[int, int, int]] = []
        for c, s, d in reversed(loops):
            if joined and s == joined[0][0] * joined[0][1] and d == joined[0][0] * joined[0][2]:
                joined[0] = (c * joined[0][0], joined[0][1], joined[0][2])
            else:
                joined.insert(0, (c, s, d))
        require(len(joined) <= DIMS, f"the copy needs {len(joined)} nested loops, more than {DIMS}")
        joined = [(1, 0, 0)] * (DIMS - len(joined)) + joined
        return Box(self.src, self.dst, [c for c, _, _ in joined], [s for _, s, _ in joined],
                   [d for _, _, d in joined], self.src_base, self.dst_base)

    def record(self) -> list[int]:
        m = self.merged()
        return [m.src, m.dst, m.src_base, m.dst_base, *m.count, *m.src_step, *m.dst_step]


def copy_box(src: int, dst: int, shape, src_step, src_base: int = 0) -> Box:
    """A box writing a whole contiguous output of `shape`, reading with src_step."""
    return Box(src, dst, list(shape), list(src_step), strides(shape), src_base, 0)


@dataclass
class Constants:
    """The call's constant elements: sources placed one after another in one array."""

    dtype: str
    parts: list[np.ndarray] = field(default_factory=list)
    size: int = 0

    def add(self, values) -> int:
        """Append values; their base element in the array."""
        arr = np.asarray(values, dtype=np.dtype(_NP[self.dtype])).reshape(-1)
        base = self.size
        self.parts.append(arr)
        self.size += arr.size
        return base

    def array(self) -> np.ndarray:
        if not self.parts:
            return np.zeros(0, np.dtype(_NP[self.dtype]))
        return np.concatenate(self.parts)


_NP = {"bool": np.uint8, "int8": np.int8, "uint8": np.uint8, "int16": np.int16, "int32": np.int32,
       "float32": np.float32, "int64": np.int64}


def move_fields(dtype: str, boxes: list[Box], constants: Constants | None = None) -> dict:
    records = [r for b in boxes for r in b.record()]
    data = constants.array() if constants is not None else np.zeros(0, np.dtype(_NP[dtype]))
    return {
        "elem_size": ELEM_SIZE[dtype],
        "n_boxes": len(boxes),
        "boxes": const("boxes", np.asarray(records, np.int32), "int32_t"),
        "data": const("data", data, DATA_CTYPE[dtype]),
    }


def move_call(dtype: str, boxes: list[Box], inputs: list[int], outputs: list[int],
              constants: Constants | None = None) -> KernelCall:
    """One pb_move call: boxes run in order; `inputs` are buffers 0.., `outputs` out_buffer(0)..."""
    return KernelCall(
        kernel="pb_move",
        function="pb_move" if inputs else "pb_move_const",
        struct="pb_move_params_t",
        fields=move_fields(dtype, boxes, constants),
        inputs=list(inputs),
        outputs=list(outputs),
        inputs_as_array=bool(inputs),
        outputs_as_array=True,
    )


def const_ints(t: Tensor | None, what: str, dtypes=("int32", "int64")) -> list[int]:
    """The values of a constant integer operand (a shape, axes, paddings), flattened."""
    require(t is not None and t.is_const, f"non-constant {what}")
    require(t.dtype in dtypes, f"{what} type {t.dtype}")
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


def require_types(t: Tensor, allowed, what: str = "type") -> None:
    require(t.dtype in allowed, f"{what} {t.dtype} (TFLite Micro has {', '.join(allowed)})")
