"""Graph rewrites applied before lowering. Each pass takes a Graph and returns a Graph."""

from __future__ import annotations

import dataclasses

import numpy as np

from protobrain.compiler.fold import fold_graph
from protobrain.compiler import control_flow, resource_variables
from protobrain.compiler.ir import Graph, Operator, Tensor


def run_all(graph: Graph) -> Graph:
    for p in PASSES:
        graph = p(graph)
    return graph


def fold_constants(graph: Graph) -> Graph:
    """Operators computable before run time become constants (compiler/fold.py): the shape
    arithmetic around a dynamic batch, so RESHAPE, SPACE_TO_BATCH_ND and the like see
    constant operands; operators left unread are dropped."""
    return fold_graph(graph)


# ---- dilated convolution: SPACE_TO_BATCH_ND -> CONV -> BATCH_TO_SPACE_ND ------------------

_FOLDABLE_CONVS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def _const_ints(g: Graph, index: int, shape: tuple[int, ...]) -> np.ndarray | None:
    t = g.tensor(index)
    if t is None or not t.is_const or t.dtype not in ("int32", "int64") or tuple(t.shape) != shape:
        return None
    return np.asarray(t.data, dtype=np.int64)


def _same_quant(a: Tensor, b: Tensor) -> bool:
    if a.dtype != b.dtype or (a.quant is None) != (b.quant is None):
        return False
    if a.quant is None:
        return True
    return (np.array_equal(np.asarray(a.quant.scale, np.float32), np.asarray(b.quant.scale, np.float32))
            and np.array_equal(a.quant.zero_point, b.quant.zero_point))


def _data_consumer(g: Graph, index: int, name: str | tuple[str, ...]) -> Operator | None:
    """The one operator reading tensor `index`, as its first input only, if it is a `name`."""
    users = g.consumers(index)
    if len(users) != 1 or index in g.outputs:
        return None
    op = users[0]
    names = (name,) if isinstance(name, str) else name
    if op.name not in names or op.inputs[0] != index or op.inputs.count(index) != 1 or len(op.outputs) != 1:
        return None
    return op


def _space_to_batch(g: Graph, op: Operator, rank: int):
    """(data tensor, output tensor, block, paddings or crops) of a S2B/B2S with constant operands."""
    if len(op.inputs) != 3 or len(op.outputs) != 1:
        return None
    spatial = rank - 2
    x, y = g.tensor(op.inputs[0]), g.tensors[op.outputs[0]]
    block = _const_ints(g, op.inputs[1], (spatial,))
    pads = _const_ints(g, op.inputs[2], (spatial, 2))
    if x is None or x.is_const or len(x.shape) != rank or len(y.shape) != rank or not _same_quant(x, y):
        return None
    if block is None or pads is None or np.any(block < 1) or np.any(pads < 0):
        return None
    return x, y, block, pads


def _inner_conv(g: Graph, index: int) -> tuple[Operator, Tensor] | None:
    """The stride-1, undilated VALID convolution reading tensor `index`, and its filter."""
    conv = _data_consumer(g, index, _FOLDABLE_CONVS)
    if conv is None:
        return None
    o = conv.options
    if (o.get("padding") != "VALID" or o.get("stride_h", 1) != 1 or o.get("stride_w", 1) != 1
            or o.get("dilation_h_factor", 1) != 1 or o.get("dilation_w_factor", 1) != 1):
        return None
    flt = g.tensor(conv.inputs[1])
    if flt is None or len(flt.shape) != 4:
        return None
    return conv, flt


def _chained_sizes(size, pads, d, taps, mid, inner, out, crops) -> bool:
    """One spatial axis: padded input -> blocks -> VALID conv -> un-blocked and cropped output."""
    padded = int(size + pads.sum())
    if padded % d or mid != padded // d:
        return False
    n = padded // d - (taps - 1)
    return n >= 1 and inner == n and n * d - int(crops.sum()) == out


def _folded(conv: Operator, x: Tensor, y: Tensor, dilation: tuple[int, int], pad: tuple[int, int]) -> Operator:
    options = dict(conv.options)
    options.update(dilation_h_factor=int(dilation[0]), dilation_w_factor=int(dilation[1]), padding="EXPLICIT",
                   pad_top=int(pad[0]), pad_left=int(pad[1]))
    return dataclasses.replace(conv, inputs=[x.index] + list(conv.inputs[1:]), outputs=[y.index], options=options)


def _match_dilated_conv(g: Graph, s2b: Operator) -> tuple[list[Operator], Operator] | None:
    """S2B (4-D) -> conv -> B2S starting at `s2b`: (operators to drop, folded conv) or None."""
    if s2b.name != "SPACE_TO_BATCH_ND" or (m := _space_to_batch(g, s2b, 4)) is None:
        return None
    x, mid, block, pads = m
    if (inner := _inner_conv(g, mid.index)) is None:
        return None
    conv, flt = inner
    conv_out = g.tensors[conv.outputs[0]]
    b2s = _data_consumer(g, conv_out.index, "BATCH_TO_SPACE_ND")
    if b2s is None or (m := _space_to_batch(g, b2s, 4)) is None:
        return None
    _, y, block2, crops = m
    if not np.array_equal(block, block2) or len(conv_out.shape) != 4:
        return None
    # Sizes must chain exactly. (Batch sizes of the intermediate tensors are not checked: a
    # model exported with a dynamic batch stores them as 1, not batch * blocks.)
    if y.shape[0] != x.shape[0] or y.shape[3] != conv_out.shape[3] or mid.shape[3] != x.shape[3]:
        return None
    for a in (0, 1):
        if not _chained_sizes(x.shape[1 + a], pads[a], int(block[a]), flt.shape[1 + a], mid.shape[1 + a],
                              conv_out.shape[1 + a], y.shape[1 + a], crops[a]):
            return None
    folded = _folded(conv, x, y, (block[0], block[1]), (pads[0][0] - crops[0][0], pads[1][0] - crops[1][0]))
    return [s2b, b2s], folded


def _match_dilated_conv1d(g: Graph, s2b: Operator) -> tuple[list[Operator], Operator] | None:
    """A dilated Conv1D: S2B (3-D) -> EXPAND_DIMS -> conv -> RESHAPE/SQUEEZE -> B2S (3-D).

    The folded convolution reads the [N, W, C] input and writes the [N, W', C'] output
    directly, as the [N, 1, W, C] and [N, 1, W', C'] tensors they are in memory.
    """
    if s2b.name != "SPACE_TO_BATCH_ND" or (m := _space_to_batch(g, s2b, 3)) is None:
        return None
    x, mid, block, pads = m
    expand = _data_consumer(g, mid.index, "EXPAND_DIMS")
    if expand is None:
        return None
    mid4 = g.tensors[expand.outputs[0]]
    if tuple(mid4.shape) != (mid.shape[0], 1, mid.shape[1], mid.shape[2]) or not _same_quant(mid, mid4):
        return None
    if (inner := _inner_conv(g, mid4.index)) is None:
        return None
    conv, flt = inner
    conv_out = g.tensors[conv.outputs[0]]
    view = _data_consumer(g, conv_out.index, ("RESHAPE", "SQUEEZE"))
    if view is None or len(conv_out.shape) != 4 or conv_out.shape[1] != 1 or flt.shape[1] != 1:
        return None
    out3 = g.tensors[view.outputs[0]]
    if tuple(out3.shape) != (conv_out.shape[0], conv_out.shape[2], conv_out.shape[3]) or not _same_quant(conv_out, out3):
        return None
    b2s = _data_consumer(g, out3.index, "BATCH_TO_SPACE_ND")
    if b2s is None or (m := _space_to_batch(g, b2s, 3)) is None:
        return None
    _, y, block2, crops = m
    if not np.array_equal(block, block2):
        return None
    if y.shape[0] != x.shape[0] or y.shape[2] != out3.shape[2] or mid.shape[2] != x.shape[2]:
        return None
    if not _chained_sizes(x.shape[1], pads[0], int(block[0]), flt.shape[2], mid.shape[1], out3.shape[1],
                          y.shape[1], crops[0]):
        return None
    folded = _folded(conv, x, y, (1, block[0]), (0, pads[0][0] - crops[0][0]))
    return [s2b, expand, view, b2s], folded


def fold_dilated_convolutions(graph: Graph) -> Graph:
    """SPACE_TO_BATCH_ND -> CONV_2D/DEPTHWISE_CONV_2D -> BATCH_TO_SPACE_ND as one dilated conv.

    This is how TensorFlow writes a dilated convolution when the batch size is unknown (for
    Conv1D with an EXPAND_DIMS and a RESHAPE around the convolution). The folded convolution
    reads the space-to-batch input, dilates by the block shape and writes the batch-to-space
    output; its leading padding is the space-to-batch padding minus the batch-to-space crop.
    Padded taps hold the input zero point, which adds nothing, so skipping them (what the
    convolution kernels do) is the same arithmetic. The inner convolution must be stride 1,
    undilated and VALID, and the tensors in between must have no other reader. Anything
    that does not match exactly is left alone.
    """
    replace: dict[int, Operator] = {}  # conv operator index -> folded conv
    drop: set[int] = set()
    for op in graph.operators:
        m = _match_dilated_conv(graph, op) or _match_dilated_conv1d(graph, op)
        if m is None:
            continue
        dropped, folded = m
        if ({o.index for o in dropped} | {folded.index}) & (drop | set(replace)):
            continue
        replace[folded.index] = folded
        drop.update(o.index for o in dropped)
    if not replace:
        return graph
    operators = [replace.get(op.index, op) for op in graph.operators if op.index not in drop]
    return dataclasses.replace(graph, tensors=list(graph.tensors), operators=operators,
                               inputs=list(graph.inputs), outputs=list(graph.outputs))


# ---- RESHAPE outputs from their folded shape operand ----------------------------------------


def reshape_to_folded_shapes(graph: Graph) -> Graph:
    """A RESHAPE's output takes the shape its (now constant) shape operand gives, as TFLite
    Micro's and LiteRT's Prepare compute it. A converter exporting a free batch dimension
    declares such outputs with placeholder 1s (a Keras 3 UpSampling2D's (1, 1, 8, 16) for
    (1, 8, 8, 16)); with the shape operand folded, the real shape is known here."""
    tensors = list(graph.tensors)
    changed = False
    for op in graph.operators:
        if op.name != "RESHAPE" or len(op.inputs) != 2 or len(op.outputs) != 1:
            continue
        x, shape_t, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensors[op.outputs[0]]
        if x is None or shape_t is None or not shape_t.is_const or shape_t.dtype not in ("int32", "int64"):
            continue
        want = [int(v) for v in np.asarray(shape_t.data).reshape(-1)]
        if want.count(-1) > 1 or any(d < -1 for d in want):
            continue
        known = int(np.prod([d for d in want if d != -1])) if want else 1
        if -1 in want:
            if known == 0 or x.size % known:
                continue
            want[want.index(-1)] = x.size // known
        # Only placeholder 1s give way: any other declared dimension TFLite Micro takes as it is
        # (and refuses the model when the sizes differ), so protobrain does too.
        placeholders = len(want) == len(y.shape) and all(d in (w, 1) for d, w in zip(y.shape, want))
        if int(np.prod(want)) == x.size and tuple(want) != tuple(y.shape) and y.size != x.size and placeholders:
            tensors[y.index] = dataclasses.replace(y, shape=tuple(want))
            changed = True
    return dataclasses.replace(graph, tensors=tensors) if changed else graph


PASSES: list = [fold_constants, reshape_to_folded_shapes, fold_dilated_convolutions]
# Subgraph calls and resource variables first (compiler/control_flow.py, resource_variables.py).
PASSES[:0] = [control_flow.inline_control_flow, resource_variables.resolve_resource_variables]
