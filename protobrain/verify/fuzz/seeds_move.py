"""Seed models of the data-movement operators (int8, one scale throughout, as the
converter leaves them): permutations, paddings, space/batch/depth shuffles, slices,
splits and packs, gathers, broadcasts, fills and casts.
"""

from __future__ import annotations

from protobrain.verify.fuzz.seeds_net import Net

S, ZP = 0.05, 3  # one quantization for every int8 tensor: these operators do not requantize


def tiny_move() -> bytes:
    """TRANSPOSE, REVERSE_V2, MIRROR_PAD, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND,
    SPACE_TO_DEPTH, DEPTH_TO_SPACE, SLICE, SPLIT, SPLIT_V, PACK, UNPACK, PADV2."""
    n = Net(3)
    x = n.act([1, 4, 4, 2], scale=S, zp=ZP, name="input")
    t1 = n.act([1, 4, 4, 2], scale=S, zp=ZP)
    n.op("TRANSPOSE", [x, n.const([0, 2, 1, 3])], t1, "TransposeOptions")
    t2 = n.act([1, 4, 4, 2], scale=S, zp=ZP)
    n.op("REVERSE_V2", [t1, n.const([2])], t2, "ReverseV2Options")
    t3 = n.act([1, 6, 6, 2], scale=S, zp=ZP)
    n.op("MIRROR_PAD", [t2, n.const([[0, 0], [1, 1], [1, 1], [0, 0]])], t3, "MirrorPadOptions", Mode=0)
    t4 = n.act([4, 3, 3, 2], scale=S, zp=ZP)
    n.op("SPACE_TO_BATCH_ND", [t3, n.const([2, 2]), n.const([[0, 0], [0, 0]])], t4, "SpaceToBatchNDOptions")
    t5 = n.act([1, 6, 6, 2], scale=S, zp=ZP)
    n.op("BATCH_TO_SPACE_ND", [t4, n.const([2, 2]), n.const([[0, 0], [0, 0]])], t5, "BatchToSpaceNDOptions")
    t6 = n.act([1, 3, 3, 8], scale=S, zp=ZP)
    n.op("SPACE_TO_DEPTH", [t5], t6, "SpaceToDepthOptions", BlockSize=2)
    t7 = n.act([1, 6, 6, 2], scale=S, zp=ZP)
    n.op("DEPTH_TO_SPACE", [t6], t7, "DepthToSpaceOptions", BlockSize=2)
    t8 = n.act([1, 4, 4, 2], scale=S, zp=ZP)
    n.op("SLICE", [t7, n.const([0, 1, 1, 0]), n.const([1, 4, 4, 2])], t8, "SliceOptions")
    a, b = n.act([1, 4, 4, 1], scale=S, zp=ZP), n.act([1, 4, 4, 1], scale=S, zp=ZP)
    n.op("SPLIT", [n.const(3, shape=[]), t8], [a, b], "SplitOptions", NumSplits=2)
    c, d = n.act([1, 1, 4, 1], scale=S, zp=ZP), n.act([1, 3, 4, 1], scale=S, zp=ZP)
    n.op("SPLIT_V", [a, n.const([1, 3]), n.const(1, shape=[])], [c, d], "SplitVOptions", NumSplits=2)
    p = n.act([1, 3, 2, 4, 1], scale=S, zp=ZP)
    n.op("PACK", [d, d], p, "PackOptions", ValuesCount=2, Axis=2)
    u0, u1 = n.act([1, 3, 4, 1], scale=S, zp=ZP), n.act([1, 3, 4, 1], scale=S, zp=ZP)
    n.op("UNPACK", [p], [u0, u1], "UnpackOptions", Num=2, Axis=2)
    e = n.act([1, 5, 4, 2], scale=S, zp=ZP, name="padded")
    n.op("PADV2", [b, n.const([[0, 0], [0, 1], [0, 0], [1, 0]]), n.const([-7], "int8", scale=S, zp=ZP)], e,
         "PadV2Options")
    return n.build([x], [c, u1, e], "tiny_move")


def tiny_index() -> bytes:
    """GATHER, GATHER_ND, EMBEDDING_LOOKUP, BROADCAST_TO, DYNAMIC_UPDATE_SLICE, SQUEEZE,
    EXPAND_DIMS, RESHAPE, FILL, ZEROS_LIKE, SHAPE, CAST and BROADCAST_ARGS."""
    n = Net(4)
    x = n.act([1, 4, 3, 2], scale=S, zp=ZP, name="input")
    g = n.act([1, 3, 3, 2], scale=S, zp=ZP)
    n.op("GATHER", [x, n.const([3, 0, 2])], g, "GatherOptions", Axis=1, BatchDims=0)
    gn = n.act([2, 3, 2], scale=S, zp=ZP)
    n.op("GATHER_ND", [g, n.const([[0, 2], [0, 1]])], gn, "GatherNdOptions")
    sq = n.act([3, 3, 2], scale=S, zp=ZP)
    n.op("SQUEEZE", [g], sq, "SqueezeOptions", SqueezeDims=[0])
    emb = n.act([4, 3, 2], scale=S, zp=ZP)
    n.op("EMBEDDING_LOOKUP", [n.const([2, 0, 1, 2]), sq], emb)
    ex = n.act([1, 2, 3, 2], scale=S, zp=ZP)
    n.op("EXPAND_DIMS", [gn, n.const([0])], ex, "ExpandDimsOptions")
    bc = n.act([2, 2, 3, 2], scale=S, zp=ZP)
    n.op("BROADCAST_TO", [ex, n.const([2, 2, 3, 2])], bc, "BroadcastToOptions")
    up = n.act([4, 3, 2], scale=S, zp=ZP)
    n.op("DYNAMIC_UPDATE_SLICE", [emb, gn, n.const([1, 0, 0])], up, "DynamicUpdateSliceOptions")
    one = n.act([1, 1, 1, 1], scale=S, zp=ZP)
    n.op("SLICE", [x, n.const([0, 2, 1, 1]), n.const([1, 1, 1, 1])], one, "SliceOptions")
    scalar = n.act([], scale=S, zp=ZP)
    n.op("RESHAPE", [one], scalar, "ReshapeOptions", NewShape=[])
    fill = n.act([2, 5], scale=S, zp=ZP, name="filled")
    n.op("FILL", [n.const([2, 5]), scalar], fill, "FillOptions")
    zeros = n.act([1, 4, 3, 2], scale=S, zp=ZP)
    n.op("ZEROS_LIKE", [x], zeros, "ZerosLikeOptions")
    shape = n.act([4], "int32")
    n.op("SHAPE", [zeros], shape, "ShapeOptions", OutType=2)
    wide = n.act([4, 3, 2], "int32", name="cast")
    n.op("CAST", [up], wide, "CastOptions", InDataType=9, OutDataType=2)
    row = n.act([1, 1, 2], "int32")  # made a run-time shape of ones: any other would not always broadcast
    n.op("SLICE", [wide, n.const([0, 0, 0]), n.const([1, 1, 2])], row, "SliceOptions")
    dims = n.act([2], "int32")
    n.op("RESHAPE", [row, n.const([2])], dims, "ReshapeOptions", NewShape=[2])
    big = n.act([2], "int32")
    n.op("MAXIMUM", [dims, n.const([1, 1])], big, "MaximumMinimumOptions")
    ones = n.act([2], "int32")
    n.op("MINIMUM", [big, n.const([1, 1])], ones, "MaximumMinimumOptions")
    broadcast = n.act([3], "int32", name="broadcast_shape")
    n.op("BROADCAST_ARGS", [ones, n.const([4, 1, 3])], broadcast)
    return n.build([x], [bc, fill, shape, wide, broadcast], "tiny_index")

