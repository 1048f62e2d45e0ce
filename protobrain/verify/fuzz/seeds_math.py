"""Seed models of the elementwise and reduction operators: int8 activations and unary
operators, the float32-only math operators, binary, comparison, logical and select
operators (broadcasting), reductions, arg max/min, cumulative sums and resizes.
"""

from __future__ import annotations

from protobrain.verify.fuzz.seeds_net import Net

_NONE = {"FusedActivationFunction": 0}


def tiny_unary() -> bytes:
    """int8 ABS, RSQRT, ELU, HARD_SWISH, LEAKY_RELU, RELU, RELU6, PRELU, LOG_SOFTMAX,
    L2_NORMALIZATION, DEQUANTIZE and SQUARED_DIFFERENCE."""
    n = Net(5)
    x = n.act([1, 3, 8], scale=0.04, zp=-5, name="input")
    ab = n.act([1, 3, 8], scale=0.03, zp=-20)
    n.op("ABS", [x], ab, "AbsOptions")
    rs = n.act([1, 3, 8], scale=0.05, zp=-100)
    n.op("RSQRT", [ab], rs)
    elu = n.act([1, 3, 8], scale=0.03, zp=-90)
    n.op("ELU", [x], elu)
    hs = n.act([1, 3, 8], scale=0.035, zp=-60)
    n.op("HARD_SWISH", [x], hs, "HardSwishOptions")
    lr = n.act([1, 3, 8], scale=0.03, zp=10)
    n.op("LEAKY_RELU", [hs], lr, "LeakyReluOptions", Alpha=0.15)
    relu = n.act([1, 3, 8], scale=0.04, zp=-128)
    n.op("RELU", [lr], relu)
    r6 = n.act([1, 3, 8], scale=6 / 255, zp=-128)
    n.op("RELU6", [elu], r6)
    pr = n.act([1, 3, 8], scale=0.02, zp=4)
    n.op("PRELU", [x, n.const(n.rng.integers(-100, 100, 8), "int8", scale=0.01, zp=0)], pr)
    sd = n.act([1, 3, 8], scale=0.02, zp=-128)
    n.op("SQUARED_DIFFERENCE", [pr, rs], sd, "SquaredDifferenceOptions")
    ls = n.act([1, 3, 8], scale=16 / 256, zp=127, name="log_softmax")
    n.op("LOG_SOFTMAX", [sd], ls, "LogSoftmaxOptions")
    l2 = n.act([1, 3, 8], scale=1 / 128, zp=0, name="l2norm")
    n.op("L2_NORMALIZATION", [relu], l2, "L2NormOptions", **_NONE)
    f = n.act([1, 3, 8], "float32", name="dequantized")
    n.op("DEQUANTIZE", [r6], f, "DequantizeOptions")
    return n.build([x], [ls, l2, f], "tiny_unary")


def tiny_float() -> bytes:
    """float32 NEG, SQUARE, SQRT, RSQRT, EXP, LOG, FLOOR, CEIL, ROUND, SIN, COS, FLOOR_DIV,
    FLOOR_MOD, DIV, L2_POOL_2D and the QUANTIZE back to int8."""
    n = Net(6)
    x = n.act([1, 4, 4, 2], "float32", name="input")

    def unary(name, src, options=None):
        out = n.act([1, 4, 4, 2], "float32")
        n.op(name, [src], out, options)
        return out

    neg = unary("NEG", x, "NegOptions")
    sq = unary("SQUARE", neg, "SquareOptions")
    rt = unary("SQRT", sq)
    rs = unary("RSQRT", rt)
    ex = unary("EXP", x, "ExpOptions")
    lg = unary("LOG", ex)
    fl = unary("FLOOR", lg)
    ce = unary("CEIL", rs)
    ro = unary("ROUND", x)
    si = unary("SIN", ro)
    co = unary("COS", ce, "CosOptions")
    fd = n.act([1, 4, 4, 2], "float32")
    n.op("FLOOR_DIV", [si, n.const([0.75, -1.5], "float32")], fd, "FloorDivOptions")
    fm = n.act([1, 4, 4, 2], "float32")
    n.op("FLOOR_MOD", [co, n.const([0.5, -0.25], "float32")], fm, "FloorModOptions")
    dv = n.act([1, 4, 4, 2], "float32")
    n.op("DIV", [fd, ex], dv, "DivOptions", **_NONE)
    pool = n.act([1, 2, 2, 2], "float32", name="l2pool")
    n.op("L2_POOL_2D", [fm], pool, "Pool2DOptions", Padding=1, StrideW=2, StrideH=2, FilterWidth=2, FilterHeight=2,
         **_NONE)
    q = n.act([1, 4, 4, 2], "int8", scale=0.1, zp=-3, name="quantized")
    n.op("QUANTIZE", [dv], q, "QuantizeOptions")
    return n.build([x], [pool, q, fl], "tiny_float")


def tiny_binary() -> bytes:
    """int8 SUB, DIV, MAXIMUM, MINIMUM, ADD_N, the six comparisons, LOGICAL_AND/OR/NOT,
    SELECT_V2 and REDUCE_ALL, over broadcast operands."""
    n = Net(7)
    a = n.act([1, 4, 6], scale=0.05, zp=2, name="a")
    b = n.act([1, 1, 6], scale=0.04, zp=-3, name="b")
    sub = n.act([1, 4, 6], scale=0.08, zp=0)
    n.op("SUB", [a, b], sub, "SubOptions", FusedActivationFunction=0, PotScaleInt16=True)
    mx = n.act([1, 4, 6], scale=0.05, zp=2)
    n.op("MAXIMUM", [a, n.const([[[5, -7, 30, 2, 0, 100]]], "int8", scale=0.05, zp=2)], mx, "MaximumMinimumOptions")
    mn = n.act([1, 4, 6], scale=0.05, zp=2)
    n.op("MINIMUM", [mx, n.const([[[60, 70, 127, -128, 90, 110]]], "int8", scale=0.05, zp=2)], mn,
         "MaximumMinimumOptions")
    addn = n.act([1, 4, 6], scale=0.1, zp=1)
    n.op("ADD_N", [mn, mx, a], addn, "AddNOptions")
    dv = n.act([1, 4, 6], scale=0.1, zp=-4)
    n.op("DIV", [sub, n.const([[[40, -50, 60, 70, -80, 90]]], "int8", scale=0.05, zp=-3)], dv, "DivOptions",
         FusedActivationFunction=1)

    def compare(name, x, y, options):
        out = n.act([1, 4, 6], "bool")
        n.op(name, [x, y], out, options)
        return out

    eq = compare("EQUAL", a, mx, "EqualOptions")
    ne = compare("NOT_EQUAL", mn, mx, "NotEqualOptions")
    gt = compare("GREATER", a, b, "GreaterOptions")
    ge = compare("GREATER_EQUAL", dv, addn, "GreaterEqualOptions")
    lt = compare("LESS", sub, b, "LessOptions")
    le = compare("LESS_EQUAL", addn, a, "LessEqualOptions")
    land = n.act([1, 4, 6], "bool")
    n.op("LOGICAL_AND", [eq, ge], land, "LogicalAndOptions")
    lor = n.act([1, 4, 6], "bool")
    n.op("LOGICAL_OR", [ne, lt], lor, "LogicalOrOptions")
    lnot = n.act([1, 4, 6], "bool")
    n.op("LOGICAL_NOT", [le], lnot, "LogicalNotOptions")
    both = n.act([1, 4, 6], "bool")
    n.op("LOGICAL_AND", [lor, gt], both, "LogicalAndOptions")
    sel = n.act([1, 4, 6], scale=0.05, zp=2, name="selected")
    n.op("SELECT_V2", [both, a, mx], sel, "SelectV2Options")
    alls = n.act([1, 6], "bool", name="all")
    n.op("REDUCE_ALL", [lnot, n.const([1])], alls, "ReducerOptions", KeepDims=False)
    return n.build([a, b], [sel, dv, alls, land], "tiny_binary")


def tiny_reduce() -> bytes:
    """int8 SUM, REDUCE_MAX, REDUCE_MIN, ARG_MAX, ARG_MIN, CUMSUM, RESIZE_BILINEAR and
    RESIZE_NEAREST_NEIGHBOR."""
    n = Net(8)
    x = n.act([1, 3, 4, 3], scale=0.05, zp=-2, name="input")
    sm = n.act([1, 1, 1, 3], scale=0.3, zp=5, name="sum")
    n.op("SUM", [x, n.const([1, 2])], sm, "ReducerOptions", KeepDims=True)
    mx = n.act([1, 4, 3], scale=0.05, zp=-2)
    n.op("REDUCE_MAX", [x, n.const([1])], mx, "ReducerOptions", KeepDims=False)
    mn = n.act([1, 3], scale=0.05, zp=-2, name="min")
    n.op("REDUCE_MIN", [mx, n.const([1])], mn, "ReducerOptions", KeepDims=False)
    am = n.act([1, 3, 4], "int32", name="argmax")
    n.op("ARG_MAX", [x, n.const([3])], am, "ArgMaxOptions", OutputType=2)
    an = n.act([1, 4, 3], "int32", name="argmin")
    n.op("ARG_MIN", [x, n.const([1])], an, "ArgMinOptions", OutputType=2)
    cs = n.act([1, 3, 4, 3], scale=0.1, zp=-1)
    n.op("CUMSUM", [x, n.const(2, shape=[])], cs, "CumsumOptions", Exclusive=False, Reverse=True)
    rb = n.act([1, 5, 7, 3], scale=0.1, zp=-1)
    n.op("RESIZE_BILINEAR", [cs, n.const([5, 7])], rb, "ResizeBilinearOptions", AlignCorners=False,
         HalfPixelCenters=True)
    rn = n.act([1, 2, 3, 3], scale=0.1, zp=-1, name="nearest")
    n.op("RESIZE_NEAREST_NEIGHBOR", [rb, n.const([2, 3])], rn, "ResizeNearestNeighborOptions", AlignCorners=False,
         HalfPixelCenters=False)
    return n.build([x], [sm, mn, am, an, rn], "tiny_reduce")
