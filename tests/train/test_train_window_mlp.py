"""The window-MLP vocoder (the default synth) on a tiny configuration: its training
positions, its two int8 models and how they fit together, and its fused C step checked
sample for sample against TensorFlow Lite Micro running step.tflite, on this host and on a
simulated Cortex-M4 (the DSP form)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from bare_metal import run_check

pytest.importorskip("tensorflow", reason="training needs the train extra: pip install 'protobrain[train]'")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng not installed (make setup installs it)", allow_module_level=True)

from protobrain.boards import load_board  # noqa: E402
from protobrain.compiler.reader import read_model_bytes  # noqa: E402
from protobrain.errors import ProtobrainError  # noqa: E402
from protobrain.run.host import compile_bytes  # noqa: E402
from protobrain.synth import fused  # noqa: E402
from protobrain.synth import lpc  # noqa: E402
from protobrain.synth.coding import mulaw_encode  # noqa: E402
from protobrain.synth.sampling import code_value  # noqa: E402
from protobrain.synth.stepper import FusedStep, ReferenceStepper, generate, reference_generate  # noqa: E402
from protobrain.synth.vocoders import from_run_info  # noqa: E402
from protobrain.synth.wavenet import cond_feature_quantizer, cond_frame  # noqa: E402
from protobrain.synth.window_mlp import WindowMlpConfig, WindowMlpConfigError, check_models  # noqa: E402
from protobrain.train.synth import (  # noqa: E402
    SMALL,
    frames_of,
    Positions,
    keyword_store,
    say,
    say_integer,
    train_synth,
    training_clips,
)

TINY = replace(SMALL, progress=False)


def test_positions_are_the_histories_a_device_builds():
    """A training example's history is the codes of the samples and excitations before its
    position and the code of its prediction, computed with the device's integer LPC."""
    clips = training_clips(TINY).clips
    pos = Positions(clips, TINY)
    w = TINY.window_mlp
    hist, frames, target = pos.batch(np.random.default_rng(0))
    assert hist.shape == (TINY.examples, w.history) and frames.shape == (TINY.examples, 20)
    p = pos.positions[np.random.default_rng(0).integers(len(pos.positions), size=TINY.examples)]
    table = lpc.thresholds(w.classes)
    for (clip, t), h, y in list(zip(p, hist, target))[:10]:
        a = lpc.analyse(clips[clip], frames_of(clips[clip:clip + 1]).shape[1], w.hop, w.lpc_order)
        s = clips[clip].astype(np.int64)
        past = [int(s[t - j]) if t - j >= 0 else 0 for j in range(1, w.lpc_order + 1)]
        pred = lpc.predict(past, a[t // w.hop])
        e = int(np.clip(s[t] - pred, -32768, 32767))
        assert y == lpc.encode(e, table)
        assert np.isclose(h[-1], code_value(lpc.encode(pred, table), w.classes))
        assert np.isclose(h[w.window - 1], code_value(lpc.encode(s[t - 1], table), w.classes)) or t == 0


def test_prediction_is_the_integer_formula():
    rng = np.random.default_rng(1)
    audio = rng.integers(-3000, 3000, 480).astype(np.int16)
    a = rng.integers(-6000, 6000, (3, 16)).astype(np.int16)
    p = lpc.predict_all(audio, a, 160)
    for t in (0, 5, 17, 200, 479):
        hist = [int(audio[t - k]) if t - k >= 0 else 0 for k in range(1, 17)]
        acc = -sum(int(x) * int(y) for x, y in zip(a[t // 160], hist))
        assert p[t] == max(-32768, min(32767, (acc + 2048) >> 12))
    table = lpc.thresholds(256)
    x = np.arange(-32768, 32768)
    assert np.array_equal(lpc.encode(x, table), mulaw_encode(x / 32768.0, 256))


@pytest.mark.parametrize("kwargs", [{"window": 0}, {"hidden": ()}, {"hidden": (8, -1)}, {"classes": 100},
                                    {"embed": 2.5}, {"lpc_order": 40}, {"lpc_order": -1}])
def test_bad_config_is_one_line_error(kwargs):
    with pytest.raises(WindowMlpConfigError) as e:
        WindowMlpConfig(**kwargs)
    assert "\n" not in str(e.value)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train_synth(TINY, tmp_path_factory.mktemp("run") / "synth")


def _models(run):
    return (run.path / "step.tflite").read_bytes(), (run.path / "cond.tflite").read_bytes()


def test_run_learns_and_its_models_fit_together(run):
    info = json.loads((run.path / "run.json").read_text())
    assert info["architecture"] == "window_mlp" and info["loss_last"] < info["loss_first"] - 0.3
    step, cond = _models(run)
    check_models(from_run_info(info).config, step, cond)
    g = read_model_bytes(step)
    assert {op.name for op in g.operators} <= {"FULLY_CONNECTED", "RESHAPE"}
    x = g.tensors[g.inputs[0]]
    assert x.dtype == "int8" and x.quant.zp == 0 and np.float32(x.quant.s) == np.float32(1 / 128)


def test_models_that_do_not_fit_are_refused(run, tmp_path):
    step, cond = _models(run)
    cfg = from_run_info(json.loads((run.path / "run.json").read_text())).config
    with pytest.raises(ProtobrainError, match="history"):
        check_models(replace(cfg, window=cfg.window + 1), step, cond)
    with pytest.raises(ProtobrainError, match="cond model"):
        check_models(cfg, step, step)


def test_fused_step_is_tflite_micro_sample_for_sample(run):
    """The fused C step (window in its state, table sampling) against TFLite Micro running
    step.tflite with the window in Python and the Python sampler: the same samples."""
    info = json.loads((run.path / "run.json").read_text())
    vocoder = from_run_info(info)
    step, cond = _models(run)
    model = vocoder.fuse(step, name="synth_check")
    net, fq = compile_bytes(cond, name="synth_cond_check"), cond_feature_quantizer(cond)
    stored, coefficients = keyword_store(run.path)
    frames, a = stored["yes"], coefficients["yes"]
    rows = np.array([cond_frame(net, f, fq, [0]) for f in frames])
    ref = ReferenceStepper(step, model.signature)
    for temperature, seed in ((0.8, 5), (1.0, 9), (0.0, 1)):
        got = generate(FusedStep(model), rows, vocoder.hop, temperature=temperature, seed=seed, lpc_frames=a)
        want = reference_generate(ref, model.sampler, rows, vocoder.hop, temperature=temperature, seed=seed,
                                  lpc_frames=a)
        assert got.dtype == np.int16 and len(got) == len(frames) * vocoder.hop
        assert np.array_equal(got, want), f"temperature {temperature}"


def test_say_and_say_integer_are_deterministic(run):
    a, b = say_integer(run.path, ["yes"], seed=3), say_integer(run.path, ["yes"], seed=3)
    assert np.array_equal(a["yes"], b["yes"])
    assert not np.array_equal(say_integer(run.path, ["yes"], seed=4)["yes"], a["yes"])
    assert len(say(run.path, ["yes"], seed=3)["yes"]) == len(a["yes"])


_M4_MAIN = r"""
#include "synth.h"
static const int8_t rows[{frames}][PB_SYNTH_COND_SIZE] = {{{rows}}};
static const int16_t lpc[{frames}][PB_SYNTH_LPC_ORDER] = {{{lpc}}};
static const int16_t want[{frames}][{hop}] = {{{want}}};
int main(void)
{{
    static pb_synth_state st;
    static int16_t pcm[{hop}];
    uint32_t rng = {seed}u;
    int32_t f;
    pb_synth_reset(&st);
    for (f = 0; f < {frames}; ++f) {{
        pb_synth_set_lpc(&st, lpc[f]);
        pb_synth_generate(&st, rows[f], {hop}, {temp}u, &rng, pcm);
        if (memcmp(pcm, want[f], sizeof(pcm)) != 0) {{
            return 1;
        }}
    }}
    return 0;
}}
"""


@pytest.mark.parametrize("board_name, form", [("qemu-mps2-an386", "ssub8"), ("qemu-mps3-an547", "vmladavaq_s8")])
def test_fused_step_on_simulated_cores_is_the_host_twin(run, tmp_path, board_name, form):
    """The DSP form (int16 weight pairs, SMLAD, SSAT, SIMD max) on the Cortex-M4 and the
    Helium form (VMLADAVA, vector requantization) on the Cortex-M55 make the same samples
    as the host's portable form, which is TFLite Micro's (test above)."""
    missing = [t for t in ("arm-none-eabi-gcc", "qemu-system-arm") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (make setup installs them)")
    info = json.loads((run.path / "run.json").read_text())
    vocoder = from_run_info(info)
    step, cond = _models(run)
    model = vocoder.fuse(step, name="synth")
    net, fq = compile_bytes(cond, name="synth_cond_m4"), cond_feature_quantizer(cond)
    stored, coefficients = keyword_store(run.path)
    frames, a = stored["no"][:6], coefficients["no"][:6]
    rows = np.array([cond_frame(net, f, fq, [0]) for f in frames])
    want = generate(FusedStep(model), rows, vocoder.hop, temperature=0.8, seed=11, lpc_frames=a)
    board = load_board(board_name)
    fused.write(model, tmp_path)

    def body(a):
        return ",\n".join("{" + ", ".join(str(int(v)) for v in r) + "}" for r in a)

    out = run_check(board, tmp_path, _M4_MAIN.format(frames=len(rows), hop=vocoder.hop, rows=body(rows),
                                                     want=body(want.reshape(len(rows), -1)), seed=11, temp=205,
                                                     lpc=body(a)), [tmp_path / "synth.c"])
    assert form in model.texts["synth.c"]
    assert out.returncode == 0, f"the fused step on {board_name} differs from its host twin"
