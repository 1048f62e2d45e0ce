"""TRANSPOSE_CONV and BATCH_MATMUL on the fast tiers, on the simulated cores they are made
for, over serial, against TensorFlow Lite Micro: the DSP tier on the Cortex-M4
(qemu-mps2-an386), Helium on the Cortex-M55 (qemu-mps3-an547), generated as `protobrain
build` generates them (the board's flash as the budget).

Small models built here: Keras Conv2DTranspose layers and an autoencoder, attention's
products of two activations and a MultiHeadAttention layer (TF 2.21's converter), and
hand-written ones for what it does not write (batches, broadcasting, a constant operand per
batch, zero points at the ends of int8, requantization with a left shift, more columns
than one gathered block). Each is checked on random inputs and the three edge inputs; every
TRANSPOSE_CONV and BATCH_MATMUL must run a kernel of the board's tier. A Helium
requantization whose rounding shift lost its rounding must make the same check fail.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import convert
from conftest import RecordedReference
from conftest import needs_simulator as needs
from devices import pack, running_firmware, verify_on_device

from protobrain.compiler.ops import REGISTRY
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model
from protobrain.verify.reference import Reference

FAST_BOARDS = {"dsp": "qemu-mps2-an386", "mve": "qemu-mps3-an547"}
NEW_OPS = ("TRANSPOSE_CONV", "BATCH_MATMUL")
N_RANDOM = 3


@pytest.fixture(params=sorted(FAST_BOARDS))
def tier(request):
    return request.param


# ---- models ------------------------------------------------------------------------------


def _tconv_keras(name, hw, cin, filters, kernel, strides, padding, act=None, bias=True, per_channel=True):
    def make():
        import tensorflow as tf

        x = tf.keras.Input((*hw, cin), batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Conv2DTranspose(
            filters, kernel, strides=strides, padding=padding, activation=act, use_bias=bias,
            bias_initializer=tf.keras.initializers.RandomUniform(-0.3, 0.3, seed=7))(x))

    return name, convert(make, [(*hw, cin)], per_channel=per_channel,
                         key=f"device-{name}-{hw}-{cin}-{filters}-{kernel}-{strides}-{padding}-{act}-{bias}")


def _autoencoder():
    def make():
        import tensorflow as tf

        L = tf.keras.layers
        x = tf.keras.Input((12, 12, 1), batch_size=1)
        y = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
        y = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(y)
        y = L.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(y)
        y = L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(y)
        return tf.keras.Model(x, L.Conv2DTranspose(1, 3, strides=1, padding="same")(y))

    return "autoencoder", convert(make, [(12, 12, 1)], key="tconv-autoencoder")


def _tconv_written(name, *, in_shape, oc, k, stride, padding="SAME", act=0, in_zp=3, out_zp=-5,
                   out_scale=0.1, seed=0):
    rng = np.random.default_rng(seed)
    n, ih, iw, ic = in_shape
    out_hw = [i * s if padding == "SAME" else (i - 1) * s + f for i, s, f in zip((ih, iw), stride, k)]
    tensors = [
        {"shape": [4], "type": "int32", "data": np.array([n, *out_hw, oc], np.int32)},
        {"shape": [oc, *k, ic], "type": "int8", "data": rng.integers(-127, 128, (oc, *k, ic)).astype(np.int8),
         "scale": list(rng.uniform(0.002, 0.01, oc)), "zp": 0, "axis": 0},
        {"shape": list(in_shape), "type": "int8", "scale": 0.05, "zp": in_zp},
        {"shape": [n, *out_hw, oc], "type": "int8", "scale": out_scale, "zp": out_zp},
        {"shape": [oc], "type": "int32", "data": rng.integers(-20000, 20000, oc).astype(np.int32),
         "scale": 1e-5, "zp": 0},
    ]
    ops = [("TRANSPOSE_CONV", [0, 1, 2, 4], [3], "TransposeConvOptions",
            {"Padding": {"SAME": 0, "VALID": 1}[padding], "StrideH": stride[0], "StrideW": stride[1],
             "FusedActivationFunction": act})]
    return name, write_model(tensors, ops, [2], [3])


def _matmul_layer(transpose_a=False, transpose_b=False, const=None):
    import tensorflow as tf

    class MatMul(tf.keras.layers.Layer):
        def call(self, a, b=None):
            return tf.linalg.matmul(a, b if const is None else tf.constant(const),
                                    transpose_a=transpose_a, transpose_b=transpose_b)

    return MatMul()


def _attention(adj):
    widths = {(False, True): (8, 8), (True, False): (8, 8)}[adj]

    def make():
        import tensorflow as tf

        x = tf.keras.Input((6, 8), batch_size=1)
        q = tf.keras.layers.Dense(widths[0])(x)
        k = tf.keras.layers.Dense(widths[1])(x)
        return tf.keras.Model(x, _matmul_layer(*adj)(q, k))

    return f"attention_{int(adj[0])}{int(adj[1])}", convert(make, [(6, 8)], key=f"bmm-attn-{adj}")


def _multi_head_attention():
    def make():
        import tensorflow as tf

        x = tf.keras.Input((6, 8), batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.MultiHeadAttention(2, 4)(x, x))

    return "mha", convert(make, [(6, 8)], key="bmm-mha")


def _matmul_by_constant(name, lhs_shape, rhs_shape):
    w = np.random.default_rng(3).uniform(-1, 1, rhs_shape).astype(np.float32)

    def make():
        import tensorflow as tf

        x = tf.keras.Input(lhs_shape, batch_size=1)
        return tf.keras.Model(x, _matmul_layer(const=w)(x))

    return name, convert(make, [lhs_shape], key=f"bmm-const-{lhs_shape}-{rhs_shape}-False")


def _bmm_written(name, lhs_shape, rhs_shape, *, adj_x=False, adj_y=False, lhs_zp=5, rhs_zp=-7, out_zp=3,
                 const=None, out_scale=0.3, seed=0):
    rng = np.random.default_rng(seed)
    l5 = [1] * (5 - len(lhs_shape)) + list(lhs_shape)
    r5 = [1] * (5 - len(rhs_shape)) + list(rhs_shape)
    batch = [max(a, b) for a, b in zip(l5[:3], r5[:3])]
    rank = max(len(lhs_shape), len(rhs_shape))
    out_shape = batch[5 - rank:] + [l5[4] if adj_x else l5[3], r5[3] if adj_y else r5[4]]
    tensors = [
        {"shape": list(lhs_shape), "type": "int8", "scale": 0.05, "zp": lhs_zp},
        {"shape": list(rhs_shape), "type": "int8", "scale": 0.04, "zp": rhs_zp},
        {"shape": out_shape, "type": "int8", "scale": out_scale, "zp": out_zp},
    ]
    inputs = [0, 1]
    if const is not None:
        k = 0 if const == "lhs" else 1
        tensors[k]["data"] = rng.integers(-128, 128, tensors[k]["shape"]).astype(np.int8)
        inputs = [1 - k]
    ops = [("BATCH_MATMUL", [0, 1], [2], "BatchMatMulOptions", {"AdjX": adj_x, "AdjY": adj_y})]
    return name, write_model(tensors, ops, inputs, [2])


def models() -> list[tuple[str, bytes]]:
    found = [
        _tconv_keras("tconv_s2_relu", (5, 6), 3, 4, 3, 2, "same", act="relu"),
        _tconv_keras("tconv_s13_valid", (5, 4), 5, 6, (2, 4), (1, 3), "valid", bias=False),
        _tconv_keras("tconv_s3_relu6_pt", (4, 4), 8, 8, 5, 3, "same", act="relu6", per_channel=False),
        _tconv_keras("tconv_s1", (5, 6), 8, 5, 3, 1, "same"),
        _tconv_keras("tconv_s2_k4_deep", (4, 4), 16, 12, 4, 2, "same"),
        _tconv_keras("tconv_k2s3", (4, 5), 4, 5, 2, 3, "same"),  # phases that meet no filter tap
        _autoencoder(),
        _tconv_written("tconv_batches", in_shape=(2, 3, 4, 5), oc=7, k=(3, 5), stride=(2, 3), act=3),
        # a multiplier above one: a left shift (TFLite's general requantization)
        _tconv_written("tconv_left_shift", in_shape=(1, 3, 3, 3), oc=6, k=(3, 3), stride=(2, 2),
                       out_scale=0.0001, in_zp=-128, out_zp=127),
        _attention((False, True)),
        _attention((True, False)),
        _matmul_by_constant("const_per_batch", (2, 6, 8), (2, 8, 5)),
        # one constant matrix: its zero point does not fold into int8 weights, so not a FULLY_CONNECTED
        _matmul_by_constant("const_one_matrix", (3, 4, 8), (1, 8, 6)),
        _bmm_written("bmm_broadcast", (2, 1, 4, 5), (1, 3, 2, 5), adj_y=True),
        _bmm_written("bmm_column_blocks", (2, 5, 64), (2, 64, 70), adj_x=False),
        _bmm_written("bmm_adj_x_zero_points", (3, 9, 6), (9, 5), adj_x=True, lhs_zp=-128, rhs_zp=127, out_zp=-128),
        _bmm_written("bmm_const_rhs", (2, 3, 7), (2, 7, 4), const="rhs"),
        _bmm_written("bmm_const_lhs", (3, 7, 2), (3, 7, 5), adj_x=True, const="lhs"),
        _bmm_written("bmm_left_shift", (4, 6), (6, 5), out_scale=0.0005),
    ]
    mha = _multi_head_attention()
    if all(op.name in REGISTRY for op in read_model_bytes(mha[1]).operators):
        found.append(mha)
    return found


@pytest.fixture(scope="module")
def new_op_models():
    # an arena larger than TFLite Micro's default: its BATCH_MATMUL keeps transposed copies
    return [(name, data, RecordedReference(Reference(data, arena_size=1 << 17, golden="tflm")))
            for name, data in models()]


def _programs(board, tier, found):
    programs = []
    for name, data, reference in found:
        prog = build_program(read_model_bytes(data, name), tier=tier, flash_budget=board.flash.length)
        steps = [s for s in prog.steps if s.op.name in NEW_OPS]
        assert steps, name
        # every TRANSPOSE_CONV and BATCH_MATMUL runs a kernel of the board's tier
        assert all(s.call.tier == tier for s in steps), (name, [(s.op.name, s.call.function) for s in steps])
        programs.append((prog, data, reference))
    return programs


def _check_on_device(board, tier, found, tmp_path) -> list[str]:
    """The failures, one line per model that differs from TFLite Micro somewhere."""
    programs = _programs(board, tier, found)
    by_name = {p.graph.name: (p, data, ref) for p, data, ref in programs}
    failures, checked = [], []
    for k, group in enumerate(pack(board, [p for p, _, _ in programs])):
        blobs = [by_name[p.graph.name][1] for p in group]
        with running_firmware(board, group, blobs, tmp_path / f"fw{k}") as dev:
            for prog in group:
                result = verify_on_device(dev, by_name[prog.graph.name][2], prog, N_RANDOM, seed=k)
                assert result.cases == N_RANDOM + 3
                checked.append(prog.graph.name)
                if not result.ok:
                    failures.append(f"{prog.graph.name} on {board.name} ({tier} kernels): first mismatch "
                                    f"{result.mismatches[0]}")
    assert sorted(checked) == sorted(by_name), f"not checked: {set(by_name) - set(checked)}"
    return failures


def test_new_ops_bit_exact_on_the_fast_tier(tier, new_op_models, tmp_path):
    board = needs(FAST_BOARDS[tier])
    functions = {s.call.function for p, _, _ in _programs(board, tier, new_op_models) for s in p.steps
                 if s.op.name in NEW_OPS}
    # stride 1 and one constant matrix take the matrix multiply, the rest the new kernels
    expected = {"dsp": {"pb_fast_tconv_s8", "pb_fast_mm_s8", "pb_fast_bmm_s8", "pb_fast_bmm_s8_const_rhs",
                        "pb_fast_bmm_s8_const_lhs"},
                "mve": {"pb_fast_mve_tconv_s8", "pb_fast_mve_mm_s8", "pb_fast_mve_bmm_s8",
                        "pb_fast_mve_bmm_s8_const_rhs", "pb_fast_mve_bmm_s8_const_lhs"}}[tier]
    assert functions == expected, functions
    failures = _check_on_device(board, tier, new_op_models, tmp_path)
    assert not failures, "\n".join(failures)


def test_a_lost_rounding_fails_the_helium_check(new_op_models, tmp_path, monkeypatch):
    """Helium's requantization (pb_helium.h, which both new kernels use) with a plain shift
    instead of the rounding one: the check must see it."""
    import shutil

    import protobrain.codegen.kernels
    from protobrain.resources import kernels_dir

    board = needs(FAST_BOARDS["mve"])
    kdir = tmp_path / "corrupted-kernels"
    shutil.copytree(kernels_dir(), kdir)
    header = kdir / "mve" / "pb_helium.h"
    source = header.read_text()
    assert "vrshlq_s32(" in source
    header.write_text(source.replace("vrshlq_s32(", "vshlq_s32("))
    monkeypatch.setattr(protobrain.codegen.kernels, "kernels_dir", lambda: kdir)
    found = [m for m in new_op_models if m[0] in ("tconv_s2_relu", "attention_01")]
    failures = _check_on_device(board, "mve", found, tmp_path)
    assert len(failures) == 2, failures
