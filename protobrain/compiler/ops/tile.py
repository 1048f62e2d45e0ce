"""TILE: the input repeated multiples[k] times along each axis k, as boxes of pb_move.

Keras' UpSampling2D(interpolation="nearest") converts to RESHAPE + TILE + RESHAPE (one TILE
per spatial axis), so every U-Net with it needs this operator. TFLite Micro has no TILE
kernel: the golden is LiteRT's reference kernel, which copies the bytes unchanged (a
quantized output keeps the input's values whatever its own scale says), for int8, uint8,
int16, int32, int64, float32 and bool elements, with int32 or int64 multiples.

Output index (i_0, ..., i_n) reads input (i_0 mod d_0, ..., i_n mod d_n). Written as loops
over (m_0, d_0, m_1, d_1, ...) with input steps (0, s_0, 0, s_1, ...) that is one strided
copy; pb_move joins the contiguous loops (the channels of an upsampled pixel become one
memcpy) and a copy with more loops than a box holds is cut into several boxes.
"""

from __future__ import annotations

from protobrain.compiler.ops.base import Unsupported, register, require, tensors
from protobrain.compiler.ops.move import OUT0, Box, const_ints, move_call, require_types, strides

TYPES = ("int8", "uint8", "int16", "int32", "int64", "float32", "bool")
MAX_RANK = 8
MAX_BOXES = 4096  # a copy cut into more boxes than this is refused (params would outgrow the model)


def tile_boxes(in_shape, multiples) -> list[Box]:
    """The boxes writing the tiled output (contiguous, row-major) from input buffer 0."""
    s = strides(in_shape)
    out_shape = [d * m for d, m in zip(in_shape, multiples)]
    o = strides(out_shape)
    loops = []
    for d, m, sk, ok in zip(in_shape, multiples, s, o):
        loops += [(m, 0, d * ok), (d, sk, ok)]  # which repeat, then where in the input
    boxes: list[Box] = []
    _cut(loops, 0, 0, boxes)
    return boxes


def _cut(loops, src_base: int, dst_base: int, boxes: list[Box]) -> None:
    if any(c == 0 for c, _, _ in loops):
        return  # an empty output: nothing to copy
    loops = [lp for lp in loops if lp[0] != 1]
    box = Box(0, OUT0, [c for c, _, _ in loops], [s for _, s, _ in loops], [d for _, _, d in loops],
              src_base, dst_base)
    try:
        box.merged()
    except Unsupported:  # too many loops for one box: one box per index of the outermost loop
        c, s, d = loops[0]
        require(len(boxes) + c <= MAX_BOXES, f"the copy needs more than {MAX_BOXES} boxes")
        for i in range(c):
            _cut(loops[1:], src_base + i * s, dst_base + i * d, boxes)
        return
    require(len(boxes) < MAX_BOXES, f"the copy needs more than {MAX_BOXES} boxes")
    boxes.append(box)


@register("TILE", inputs=(2, 2), types=TYPES, litert_golden="all types")
def lower(op, g):
    (inp, mult_t), (out,) = tensors(op, g)
    require_types(inp, TYPES)
    require(out.dtype == inp.dtype, f"input type {inp.dtype} differs from output type {out.dtype}")
    rank = len(inp.shape)
    require(rank <= MAX_RANK, f"rank {rank} (at most {MAX_RANK})")
    multiples = const_ints(mult_t, "multiples")
    require(len(mult_t.shape) == 1 and len(multiples) == rank,
            f"{len(multiples)} multiples for an input of rank {rank}")
    require(all(m >= 0 for m in multiples), f"negative multiples {multiples}")
    shape = tuple(int(d) * m for d, m in zip(inp.shape, multiples))
    require(shape == tuple(out.shape), f"output shape {tuple(out.shape)}, multiples {multiples} give {shape}")
    boxes = tile_boxes([int(d) for d in inp.shape], multiples)
    if not boxes:  # nothing to write: an empty copy keeps the call well-formed
        boxes = [Box(0, OUT0, [0], [0], [0])]
    return move_call(inp.dtype, boxes, [op.inputs[0]], op.outputs)
