"""The Helium (MVE) tier's generation-time layouts (protobrain/compiler/ops/tiers/mve.py): the quant
groups and their two modes, the vector requantization against TFLite's arithmetic at the
edges a layer's random accumulators rarely reach, and which CONV_2D rows are read in place.
The kernels themselves run bit-exact in test_fast_kernels.py's sweep on the simulated M55."""

from __future__ import annotations

import numpy as np
import pytest

from protobrain.compiler.fixedpoint import mul_by_quantized_mult_array
from protobrain.compiler.ops.base import ConstArray
from protobrain.compiler.ops.tiers import mve as fast_mve

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _lane(groups, c):
    return groups[c // 4, :, c % 4]


def test_quant_groups_layout_and_modes():
    bias = np.array([5, -7, 9, 11, 13])
    mults = np.array([1 << 30, 1 << 29, 3 << 28, 1 << 30, 1 << 30])
    groups, mode = fast_mve.quant_groups(np.append(bias, [0, 0, 0]), np.append(mults, [0, 0, 0]),
                                         np.array([-1, -5, -31, -2, -3, -1, -1, -1]))
    assert groups.shape == (2, 5, 4) and mode == fast_mve.REQUANT_FAST
    assert groups[1, 0, 0] == 13 and groups[0, 1, 2] == 3 << 28
    assert list(groups[0, 2]) == [-1, -5, -31, -2] and not groups[:, 3].any() and (groups[:, 4] == -1).all()
    # a left shift, or a zero right shift, needs the general form
    for shift in (1, 0):
        _, mode = fast_mve.quant_groups(np.zeros(4), np.full(4, 1 << 30), np.array([-1, shift, -2, -3]))
        assert mode == fast_mve.REQUANT_GENERAL


@pytest.mark.parametrize("shift", [-31, -12, -5, -1, 0, 1, 3])
def test_vector_requant_equals_tflite(shift):
    rng = np.random.default_rng(shift + 40)
    for mult in (0, 1, 1 << 30, (1 << 31) - 1, int(rng.integers(1 << 30, 1 << 31))):
        groups, _ = fast_mve.quant_groups(np.zeros(4), np.full(4, mult), np.full(4, shift))
        # what protobrain accepts (require_int32_accumulator): adding the output offset
        # cannot overflow int32
        bound = (INT32_MAX - 128) >> max(shift, 0)
        acc = np.concatenate([rng.integers(-bound, bound, 3000, endpoint=True),
                              [-bound, bound, 0, 1, -1, 2, -2, 3, -3]]).astype(np.int64)
        for out_off, lo, hi in ((0, -128, 127), (-128, -128, 127), (17, -5, 90)):
            want = np.clip(mul_by_quantized_mult_array(acc, mult, shift) + out_off, lo, hi)
            got = fast_mve.requant_reference(acc, _lane(groups, 0), out_off, lo, hi)
            assert np.array_equal(got, want), (mult, shift, out_off)


def test_rounding_half_away_from_zero():
    """TFLite rounds the final shift's halves away from zero; VRSHL alone rounds them up."""
    groups, _ = fast_mve.quant_groups(np.zeros(4), np.full(4, (1 << 31) - 1), np.full(4, -1))
    acc = np.array([3, -3, 5, -5, 1, -1])  # multiplier ~1, then x.5 after the shift by one
    got = fast_mve.requant_reference(acc, _lane(groups, 0), 0, -128, 127)
    assert list(got) == list(mul_by_quantized_mult_array(acc, (1 << 31) - 1, -1)) == [2, -2, 3, -3, 1, -1]


def _conv(**over):
    f = dict(filter_h=1, filter_w=1, dilation_w=1, pad_top=0, pad_left=0, stride_h=1, stride_w=1,
             in_h=6, in_w=6, out_h=6, out_w=6)
    f.update(over)
    return f


def test_direct_rows_need_no_copy():
    assert fast_mve._direct(_conv())
    assert fast_mve._direct(_conv(stride_h=2, stride_w=2, out_h=3, out_w=3))
    assert fast_mve._direct(_conv(filter_w=3, out_w=4))  # 1x3: one contiguous run per pixel
    assert not fast_mve._direct(_conv(filter_h=3, out_h=4))
    assert not fast_mve._direct(_conv(filter_w=3, dilation_w=2, out_w=2))
    assert not fast_mve._direct(_conv(pad_left=1))
    assert not fast_mve._direct(_conv(filter_w=3, out_w=6))  # the last window leaves the input


@pytest.mark.parametrize("indexed", [False, True])
def test_block_stream_round_trips(indexed):
    """The matrix multiply's block stream holds each block's weights, its quant group (three
    vectors when FAST, five when GENERAL) and, indexed, its lanes' channels; the padded lanes
    of an indexed layer repeat the block's first channel, so storing all four is harmless."""
    rng = np.random.default_rng(5)
    w2d = rng.integers(-127, 127, size=(6, 21), endpoint=True).astype(np.int8)
    folded, mults = rng.integers(-1000, 1000, 6), rng.integers(1 << 30, 1 << 31, 6)
    index = np.array([0, 2, 3, 5, 8, 9]) if indexed else None
    for shifts, mode in ((np.full(6, -3), fast_mve.REQUANT_FAST), (np.array([-3, 1, 0, -2, -5, -1]),
                                                                   fast_mve.REQUANT_GENERAL)):
        stream, got_mode = fast_mve.block_stream(w2d, folded, mults, shifts, index)
        assert got_mode == mode
        fields = {"depth_pad": 32, "requant": mode, "indexed": int(indexed),
                  "blocks": ConstArray("blocks", "int32_t", stream)}
        w, groups, lanes = fast_mve.stream_blocks(fields)
        assert stream.size == 2 * (32 + 4 * fast_mve.GROUP_VECTORS[mode] + 4 * indexed)
        assert np.array_equal(w[:6, :21], w2d) and not w[:6, 21:].any()
        ref, _ = fast_mve.quant_groups(np.append(folded, [0, 0]), np.append(mults, [0, 0]), np.append(shifts, [-1, -1]))
        assert np.array_equal(groups[0], ref[0])
        assert np.array_equal(groups[1, :, :2], ref[1, :, :2])
        if indexed:  # lanes 6, 7 repeat channel 4 (the second block's first): weights, group and index
            assert list(lanes) == [0, 2, 3, 5, 8, 9, 8, 8]
            assert np.array_equal(w[6], w[4]) and np.array_equal(w[7], w[4])
            assert (groups[1, :, 2] == groups[1, :, 0]).all() and (groups[1, :, 3] == groups[1, :, 0]).all()
        else:
            assert lanes is None and not w[6:].any() and not groups[1, 1, 2:].any()
