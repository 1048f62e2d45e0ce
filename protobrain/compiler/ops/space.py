"""SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND and MIRROR_PAD as pb_move boxes.

SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND (3-D [N, W, C] or 4-D [N, H, W, C], constant block
shape and paddings/crops) are run as kernels where passes.py does not fold them into a
dilated convolution (e.g. two convolutions reading one SPACE_TO_BATCH_ND). One box per
block offset moves every element that offset owns; SPACE_TO_BATCH_ND first fills its
output with the padding: the output zero point (int8; int16 has zero point 0), 0.0 for
float32, as LiteRT's reference kernels pad. TFLite Micro pads with a parameter it never
sets (whatever its arena held), so padded elements are checked against LiteRT. TFLite
Micro has float32 and int8 kernels; int16 follows LiteRT's reference kernels.

MIRROR_PAD copies the input into the middle of the output, then pads one axis at a time,
innermost first, reading the output's own middle rows back to front: REFLECT skips the edge
element, SYMMETRIC repeats it, exactly TFLite Micro's index mapping for valid paddings.
"""

from __future__ import annotations

from protobrain.compiler.ops.base import register, require, tensors
from protobrain.compiler.ops.move import (CONST, OUT0, Box, Constants, const_ints, move_call, require_types,
                                           strides)

# What a converter's free batch dimension does to these operators' declared shapes, and
# the way out: TFLite Micro would leave part of the output unwritten.
_FREE_BATCH = ("; the file's static shapes disagree with the block (exported with a free batch dimension?): "
               "TFLite Micro would leave part of the output unwritten. Export with a fixed batch, "
               "e.g. keras.Input(..., batch_size=1)")


def _as_4d(shape) -> tuple[int, int, int, int]:
    return (shape[0], shape[1], 1, shape[2]) if len(shape) == 3 else tuple(shape)


def _blocks(op, g):
    """(input, output, block (bh, bw), pads or crops ((top, bottom), (left, right))) in 4-D terms."""
    (inp, block_t, pads_t), (out,) = tensors(op, g)
    require_types(inp, ("int8", "int16", "float32"))
    require(out.dtype == inp.dtype, f"output type {out.dtype}")
    rank = len(inp.shape)
    require(rank in (3, 4) and len(out.shape) == rank, f"ranks {rank} -> {len(out.shape)} (3-D or 4-D)")
    block = const_ints(block_t, "block shape", ("int32",))
    pads = const_ints(pads_t, "paddings" if op.name == "SPACE_TO_BATCH_ND" else "crops", ("int32",))
    require(len(block) == rank - 2 and len(pads) == 2 * (rank - 2),
            f"block shape {block} and paddings {pads} for rank {rank}")
    require(all(b >= 1 for b in block) and all(p >= 0 for p in pads), f"block shape {block}, paddings {pads}")
    if rank == 3:
        return inp, out, (block[0], 1), ((pads[0], pads[1]), (0, 0))
    return inp, out, (block[0], block[1]), ((pads[0], pads[1]), (pads[2], pads[3]))


def _valid(n_out: int, block: int, shift: int, lead: int, size: int) -> tuple[int, int]:
    """Indices j < n_out with 0 <= j * block + shift - lead < size: (first, count)."""
    first = max(0, -((shift - lead) // block))
    last = min(n_out, (size + lead - shift - 1) // block + 1)
    return first, max(0, last - first)


@register("SPACE_TO_BATCH_ND", inputs=(3, 3), types=("int8", "int16", "float32"),
          litert_golden="int16, and padding (TFLite Micro pads with an unset value)")
def lower_space_to_batch(op, g):
    inp, out, (bh, bw), ((pt, pb), (pl, pr)) = _blocks(op, g)
    n, h, w, c = _as_4d(inp.shape)
    on, oh, ow, oc = _as_4d(out.shape)
    require((h + pt + pb) % bh == 0 and (w + pl + pr) % bw == 0, "padded size is not a multiple of the block")
    want = (n * bh * bw, (h + pt + pb) // bh, (w + pl + pr) // bw, c)
    require((on, oh, ow, oc) == want, f"output shape {out.shape}, the operands give {want}{_FREE_BATCH}")
    zp = out.quant.zp if out.quant is not None and inp.dtype != "float32" else 0
    require(inp.dtype != "int16" or zp == 0, f"int16 zero point {zp} (LiteRT takes 0 only)")
    boxes, constants = [], None
    if pt or pb or pl or pr:
        constants = Constants(inp.dtype)
        boxes.append(Box(CONST, OUT0, [out.size], [0], [1], constants.add([zp]), 0))
    si, so = strides((n, h, w, c)), strides((on, oh, ow, oc))
    for sh in range(bh):
        for sw in range(bw):
            y0, ny = _valid(oh, bh, sh, pt, h)
            x0, nx = _valid(ow, bw, sw, pl, w)
            src = (y0 * bh + sh - pt) * si[1] + (x0 * bw + sw - pl) * si[2]
            dst = (sh * bw + sw) * n * so[0] + y0 * so[1] + x0 * so[2]
            boxes.append(Box(0, OUT0, [n, ny, nx, c], [si[0], bh * si[1], bw * si[2], 1], so, src, dst))
    return move_call(inp.dtype, boxes, [op.inputs[0]], op.outputs, constants)


@register("BATCH_TO_SPACE_ND", inputs=(3, 3), types=("int8", "int16", "float32"), litert_golden="int16")
def lower_batch_to_space(op, g):
    inp, out, (bh, bw), ((ct, cb), (cl, cr)) = _blocks(op, g)
    n, h, w, c = _as_4d(inp.shape)
    on, oh, ow, oc = _as_4d(out.shape)
    require(n % (bh * bw) == 0, f"batch {n} is not a multiple of the block {bh}x{bw}{_FREE_BATCH}")
    want = (n // (bh * bw), h * bh - ct - cb, w * bw - cl - cr, c)
    require((on, oh, ow, oc) == want, f"output shape {out.shape}, the operands give {want}{_FREE_BATCH}")
    si, so = strides((n, h, w, c)), strides((on, oh, ow, oc))
    boxes = []
    for sh in range(bh):
        for sw in range(bw):
            y0, ny = _valid(h, bh, sh, ct, oh)
            x0, nx = _valid(w, bw, sw, cl, ow)
            src = (sh * bw + sw) * on * si[0] + y0 * si[1] + x0 * si[2]
            dst = (y0 * bh + sh - ct) * so[1] + (x0 * bw + sw - cl) * so[2]
            boxes.append(Box(0, OUT0, [on, ny, nx, c], si, [so[0], bh * so[1], bw * so[2], 1], src, dst))
    return move_call(inp.dtype, boxes, [op.inputs[0]], op.outputs)


@register("MIRROR_PAD", inputs=(2, 2), types=("int8", "float32"))
def lower_mirror_pad(op, g):
    (inp, pads_t), (out,) = tensors(op, g)
    require_types(inp, ("int8", "float32"))
    require(out.dtype == inp.dtype, f"output type {out.dtype}")
    rank = len(inp.shape)
    require(1 <= rank <= 6 and inp.size > 0, f"input shape {inp.shape} (1 to 6 dimensions, not empty)")
    mode = op.options.get("mode", 0)
    require(mode in (0, 1), f"mode {mode} (0 REFLECT, 1 SYMMETRIC)")
    reflect = mode == 0
    pads = const_ints(pads_t, "paddings")
    require(len(pads) == 2 * rank, f"paddings {pads} for rank {rank}")
    lo, hi = pads[0::2], pads[1::2]
    want = tuple(d + a + b for d, a, b in zip(inp.shape, lo, hi))
    require(tuple(out.shape) == want, f"output shape {out.shape}, the paddings give {want}")
    most = [d - 1 if reflect else d for d in inp.shape]
    require(all(0 <= a <= m and 0 <= b <= m for a, b, m in zip(lo, hi, most)),
            f"paddings {pads} exceed {'size - 1' if reflect else 'the size'} of {inp.shape} ({'REFLECT' if reflect else 'SYMMETRIC'})")
    so = strides(out.shape)
    middle = sum(a * s for a, s in zip(lo, so))
    boxes = [Box(0, OUT0, list(inp.shape), strides(inp.shape), so, 0, middle)]
    skip = 1 if reflect else 0
    for k in range(rank - 1, -1, -1):
        # Axes before k: middle rows only; after k: already padded, whole.
        count = [inp.shape[a] if a < k else out.shape[a] for a in range(rank)]
        base = sum(lo[a] * so[a] for a in range(k))
        step = list(so)
        step[k] = -so[k]
        if lo[k]:
            # Output row j < lo reads row 2 lo - j (REFLECT) or 2 lo - 1 - j (SYMMETRIC).
            src = base + (2 * lo[k] - 1 + skip) * so[k]
            boxes.append(Box(OUT0, OUT0, count[:k] + [lo[k]] + count[k + 1:], step, so, src, base))
        if hi[k]:
            # Output row lo + n + p reads row lo + n - 1 - skip - p.
            end = lo[k] + inp.shape[k]
            src = base + (end - 1 - skip) * so[k]
            boxes.append(Box(OUT0, OUT0, count[:k] + [hi[k]] + count[k + 1:], step, so, src, base + end * so[k]))
    return move_call(inp.dtype, boxes, [op.inputs[0]], op.outputs)
