"""The Helium tier's staged convolutions (mve/pb_conv.c, pb_mve_stage): a shallow window (a
filter row of at most 16 bytes, as micro_speech's one-channel spectrogram under a 10x8
filter) is not copied per output pixel; per output row the kernel stages the input rows
column by column with their padding, so each pixel's taps are one run in [kx][ky][c] order,
and the block stream holds the weights in that order. Which layers are staged, the
weights' order, and staged layers of every shape that changes the staging (channels per
pixel, pixels per scatter, padding on each side, strides, dilated rows, odd and single
output columns, skipped channels, batches) bit-exact with TFLite Micro on the simulated
M55."""

from __future__ import annotations

import numpy as np
import test_op_conv as op_conv
from builders import convert
from conftest import needs_simulator
from devices import mismatches_on_device
from test_fast_kernels import conv_bytes, dw_bytes

from protobrain.compiler.ops.tiers import mve as fast_mve
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes

C, D = op_conv.C, op_conv.D
STAGED = [  # (spec, conv or depthwise)
    (C(cin=1, filters=8, hw=(13, 11), kernel=(5, 4), strides=2), "conv"),  # micro_speech's shape, smaller
    (D(cin=1, dm=8, hw=(15, 12), kernel=(6, 4), strides=2), "dw"),  # the depthwise as its CONV_2D
    (C(cin=5, filters=6, hw=(9, 8), kernel=3, strides=(2, 1)), "conv"),  # 3 pixels (15 bytes) per scatter
    (C(cin=1, filters=5, hw=(24, 10), kernel=(20, 4)), "conv"),  # 20 rows: 13 pixels per scatter, 80 taps
    (C(cin=2, filters=4, hw=(9, 12), kernel=(3, 8), dilation=(2, 1)), "conv"),  # dilated rows, 16-byte filter rows
    (C(cin=3, filters=4, hw=(5, 1), kernel=3), "conv"),  # one output column: a single row, no pair
    (C(cin=1, filters=3, hw=(8, 10), kernel=2, strides=3, padding="valid"), "conv"),  # columns never read
    (C(cin=4, filters=7, hw=(7, 7), kernel=(2, 4), strides=(1, 2), act="relu6"), "conv"),  # odd out_w, last block partial
    (C(cin=3, filters=9, hw=(6, 9), kernel=(1, 3), padding="same", pc=False), "conv"),  # 1 x n: 3 taps per pixel
]


def _staged_bytes():
    return [conv_bytes(s.values[0]) if kind == "conv" else dw_bytes(s.values[0]) for s, kind in STAGED]


def _dead_bytes() -> bytes:
    """Two input channels under a 3x3 window with 6 of 10 output channels all-zero (indexed
    blocks: every output row starts as the constant row)."""
    def make():
        import tensorflow as tf

        layer = tf.keras.layers.Conv2D(10, 3, strides=(1, 2), padding="same", activation="relu")
        x = tf.keras.Input((7, 9, 2), batch_size=1)
        model = tf.keras.Model(x, layer(x))
        w, b = layer.get_weights()
        dead = [0, 2, 3, 6, 8, 9]
        w[..., dead] = 0.0
        b[dead[::2]] = np.linspace(-0.4, 0.4, len(dead[::2]))
        layer.set_weights([w, b])
        return model

    return convert(make, [(7, 9, 2)], key="mve-staged-dead-channels")


def _call(data: bytes):
    (step,) = [s for s in build_program(read_model_bytes(data, "m"), tier="mve").steps
               if s.op.name in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    return step.call


def _geometry(**over):
    f = dict(in_h=49, in_w=40, in_c=1, out_h=25, out_w=20, filter_h=10, filter_w=8, stride_h=2, stride_w=2,
             dilation_h=1, dilation_w=1, pad_top=4, pad_left=3)
    f.update(over)
    return f


def test_which_windows_are_staged():
    assert fast_mve._staged(_geometry())  # micro_speech
    assert fast_mve._staged(_geometry(in_c=2))  # a 16-byte filter row
    assert not fast_mve._staged(_geometry(in_c=3))  # 24 bytes: the im2col rows
    assert not fast_mve._staged(_geometry(dilation_w=2))  # a filter row is no run of columns
    assert not fast_mve._staged(_geometry(in_w=500, out_w=250))  # the staged rows past 4 KB
    # rows read in place stay so
    direct = _geometry(in_h=6, in_w=6, in_c=8, out_h=6, out_w=6, filter_h=1, filter_w=1, stride_h=1, stride_w=1,
                       pad_top=0, pad_left=0)
    assert fast_mve._direct(direct) and not fast_mve._staged(direct)


def test_staged_stream_holds_taps_column_major():
    """The stream's weights are [kx][ky][c] (the staged run's order); stream_blocks gives
    the layer's [ky][kx][c] back, and the scratch is the staged rows."""
    s = STAGED[2][0].values[0]
    call = _call(conv_bytes(s))
    f = call.fields
    assert call.function == "pb_fast_mve_mm_s8" and f["staged"] == 1 and f["direct"] == 0
    fh, fw, c = f["filter_h"], f["filter_w"], f["in_c"]
    w, _, _ = fast_mve.stream_blocks(f)
    portable = build_program(read_model_bytes(conv_bytes(s), "m")).steps[0].call
    want = np.asarray(portable.fields["filter"].values, np.int8).reshape(f["out_c"], -1)
    assert np.array_equal(w[:f["out_c"], :f["depth"]], want)
    raw = fast_mve.stream_blocks({**f, "staged": 0})[0]  # as stored
    assert np.array_equal(raw[:f["out_c"], :f["depth"]],
                          want.reshape(-1, fh, fw, c).transpose(0, 2, 1, 3).reshape(f["out_c"], -1))
    assert not np.array_equal(raw, w)
    cols = (f["out_w"] - 1) * f["stride_w"] + fw
    assert call.scratch_bytes == cols * fh * c


def test_staged_shapes_take_the_staged_kernel():
    for data in _staged_bytes() + [_dead_bytes()]:
        f = _call(data).fields
        assert f["staged"] == 1, f
    assert _call(_dead_bytes()).fields["indexed"] == 1


def test_staged_bit_exact_on_m55(tmp_path):

    board = needs_simulator("qemu-mps3-an547")
    blobs = _staged_bytes() + [_dead_bytes(), op_conv._convert_custom(
        op_conv._maker(op_conv.conv_layer, dict(hw=(6, 7), cin=3, filters=4, kernel=3, strides=2, padding="same",
                                                dilation=1, act=None, bias=True, groups=1), batch_size=2),
        (6, 7, 3), key="batch2-conv", batch=2)]
    programs = [build_program(read_model_bytes(data, f"st{k}"), tier="mve", flash_budget=board.flash.length)
                for k, data in enumerate(blobs)]
    for prog in programs:
        (step,) = [s for s in prog.steps if s.call is not None and s.op.name in ("CONV_2D", "DEPTHWISE_CONV_2D")]
        assert step.call.fields["staged"] == 1, prog.graph.name
    failures, compared = mismatches_on_device(board, programs, blobs, tmp_path / "fw", n_random=4, seed=1)
    assert not failures, "\n".join(failures)
    assert compared >= 4 * len(blobs)
