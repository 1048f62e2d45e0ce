"""bench's code flash and computed MACs: a firmware links only the fast kernels' forms its
layers call (so code flash is what the model needs, apart from its weights), and the MACs of
the output channels a fast tier skips (all-zero weights) are left out of the computed MACs
that `bench --per-computed-mac` divides by."""

import re
import shutil

import numpy as np
import pytest
from builders import convert

from protobrain.boards import load_board
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.firmware.build import build
from protobrain.measure.bench import BenchReport, LayerFigures, ModelFigures, markdown, model_table
from protobrain.resources import kernels_dir
from protobrain.toolchain import function_symbols

BOARD = "qemu-mps2-an386"
DEAD = [1, 4, 6]  # output channels with all-zero weights, of 8


def _dead_channels_bytes() -> bytes:
    def make():
        import tensorflow as tf

        x = tf.keras.Input((4, 4, 8), batch_size=1)
        layer = tf.keras.layers.Conv2D(8, 1, activation="relu")
        model = tf.keras.Model(x, layer(x))
        w, b = layer.get_weights()
        w[..., DEAD] = 0.0
        layer.set_weights([w, b])
        return model

    return convert(make, [(4, 4, 8)], key="flash-computed-macs-dead-1x1")


def _instances() -> set[str]:
    """Every form of the DSP tier's matrix multiply and depthwise kernels its headers declare."""
    text = "".join((kernels_dir() / "dsp" / f).read_text() for f in ("pb_conv.h", "pb_depthwise_conv.h"))
    return set(re.findall(r"^void (pb_fast_\w+)\(", text, re.M)) - {"pb_fast_mm_s8", "pb_fast_dw_s8"}


def test_a_firmware_links_only_the_kernel_forms_its_layers_call(small_model, tmp_path):
    if not shutil.which("arm-none-eabi-gcc"):
        pytest.skip("arm-none-eabi-gcc not installed")
    board = load_board(BOARD)
    data = small_model.read_bytes()
    prog = build_program(read_model_bytes(data, "small_net"), tier="dsp", flash_budget=board.flash.length)
    called = {s.call.entry for s in prog.steps if s.call is not None and s.call.entry}
    assert called and called <= _instances(), called
    image = build(board, [prog], [data], tmp_path / "fw")
    linked = {name for _, _, name in function_symbols(board, image.elf)}
    # the forms the layers call and no other, nor the run-time dispatchers that reach them all
    assert linked & _instances() == called
    assert not linked & {"pb_fast_mm_s8", "pb_fast_dw_s8"}
    generated = (tmp_path / "fw" / "small_net.c").read_text()
    assert all(f"{name}(&pb_small_net_op" in generated for name in called)


def test_computed_macs_leave_out_the_skipped_channels():
    data = _dead_channels_bytes()
    for tier, skipped in (("portable", False), ("dsp", True), ("mve", True)):
        prog = build_program(read_model_bytes(data, "dead"), tier=tier, flash_budget=1 << 22)
        [call] = [s.call for s in prog.steps if s.call is not None and s.call.macs]
        assert call.macs == 4 * 4 * 8 * 8
        live = 8 - len(DEAD) if skipped else 8
        assert call.computed_macs == call.macs * live // 8, tier


def _figures(name, macs, computed, count) -> ModelFigures:
    layer = LayerFigures(0, "CONV_2D", macs, count - 40, 0, computed)
    return ModelFigures(name=name, macs=macs, count_kind="instructions", count=count, count_min=count,
                        count_max=count, inputs=1, mismatches=[], tier="dsp", arena=64, activation_lower_bound=64,
                        largest_scratch=0, tflm_arena=None, weights_flash=1000, code_flash=9000, ram=9000,
                        stack_used=500, stack_size=8192, heap_symbols=[], layers=[layer], computed_macs=computed)


def test_the_count_per_computed_mac_stands_beside_the_count_per_mac():
    report = BenchReport(BOARD, "cortex-m4", 25_000_000, [_figures("pruned", 1000, 600, 1200)])
    m = report.models[0]
    assert np.isclose(m.per_mac, 1.2) and np.isclose(m.per_computed_mac, 2.0)
    head, rule, row = model_table(report, per_computed=True)
    assert "| per MAC | computed MACs | per computed MAC |" in head and rule.count("|") == head.count("|")
    assert "| pruned | 1,000 | 1,200 | 1.20 | 600 | 2.00 |" in row
    assert "| weights (B) | code (B) |" in head and "| 1,000 | 9,000 |" in row
    assert "computed" not in "".join(model_table(report))  # without the flag, the table stays as it was
    md = markdown(report, per_computed=True)
    assert "| 0 | CONV_2D | 1,000 | 1,160 | 1.16 | 600 | 1.93 | 0 |" in md
    js = report.to_json()["models"][0]
    assert js["computed_macs"] == 600 and np.isclose(js["per_computed_mac"], 2.0)
    assert np.isclose(js["layers"][0]["per_computed_mac"], 1160 / 600)
