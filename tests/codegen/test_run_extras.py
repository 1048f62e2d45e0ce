"""A trained model's C ships what its run knows: a classifier's class labels in its header,
and for a speech run the audio frontend it was trained on, whose streamed features feed
the net through the header's constants exactly as protobrain's Python twin computes them."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import shared_model

from protobrain.audio.frontend import FeatureQuantizer, FrontendConfig, features
from protobrain.run.host import compile_model

CLI = [sys.executable, "-m", "protobrain.cli.main"]
CLASSES = ["silence", "unknown", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", 'say "go"??']
CONFIG = {"n_mels": 10}  # kws_ref_model reads 49 frames of 10 features


def _run_folder(tmp_path, task: str):
    run = tmp_path / task
    run.mkdir()
    shutil.copyfile(shared_model("kws_ref_model"), run / "model.tflite")
    info = {"task": task, "classes": CLASSES}
    if task == "speech":
        info["frontend"] = CONFIG
    (run / "run.json").write_text(json.dumps(info))
    return run


def _generate(model, out):
    proc = subprocess.run([*CLI, "generate", str(model), "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _cc():
    cc = shutil.which("gcc")
    if cc is None:
        pytest.skip("gcc not installed")
    return cc


LABELS_MAIN = r"""
#include <stdio.h>
#include "vision.h"
int main(void)
{
    unsigned i;
    for (i = 0; i < PB_VISION_CLASSES; ++i) {
        printf("%s\n", pb_vision_labels[i]);
    }
    return 0;
}
"""


def test_a_classifier_run_gets_its_labels_in_the_header(tmp_path):
    out = tmp_path / "gen"
    stdout = _generate(_run_folder(tmp_path, "vision"), out)  # a run's folder names its model.tflite
    header = (out / "vision.h").read_text()
    assert "#define PB_VISION_CLASSES 12u" in header and "pb_vision_labels[PB_VISION_CLASSES]" in header
    assert "12 classes" in stdout
    assert not (out / "pb_frontend.h").exists()  # no frontend for a vision net
    (tmp_path / "main.c").write_text(LABELS_MAIN)
    exe = tmp_path / "labels"
    subprocess.run([_cc(), "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(out), str(tmp_path / "main.c"),
                    *map(str, sorted(out.glob("*.c"))), "-o", str(exe), "-lm"], check=True)
    assert subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines() == CLASSES


def test_a_model_without_a_run_gets_no_labels(tmp_path):
    _generate(shared_model("kws_ref_model"), tmp_path)
    assert "_CLASSES" not in (tmp_path / "kws_ref_model.h").read_text()


STREAM_MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "speech.h"
#include "pb_frontend.h"

#define CHUNK 300
int main(void)
{
    static int16_t audio[65536];
    static int16_t frames[CHUNK / PB_FRONTEND_HOP + 1][PB_FRONTEND_N_MELS];
    static int8_t window[PB_SPEECH_FEATURE_FRAMES * PB_SPEECH_FEATURE_MELS];
    pb_frontend_state fe;
    int n = (int)fread(audio, sizeof(int16_t), 65536, stdin), at, k, seen = 0;
    const int8_t *scores = pb_speech_output0();
    pb_frontend_reset(&fe);
    for (at = 0; at < n; at += CHUNK) {
        int got = pb_frontend_push(&fe, audio + at, n - at < CHUNK ? n - at : CHUNK, &frames[0][0],
                                   CHUNK / PB_FRONTEND_HOP + 1);
        for (k = 0; k < got; ++k, ++seen) {  /* slide the window, quantize the newest frame into it */
            memmove(window, window + PB_SPEECH_FEATURE_MELS, sizeof(window) - PB_SPEECH_FEATURE_MELS);
            pb_frontend_quantize_s8(frames[k], PB_SPEECH_FEATURE_MELS, PB_SPEECH_FEATURE_MULTIPLIER,
                                    PB_SPEECH_FEATURE_SHIFT, PB_SPEECH_FEATURE_ZERO_POINT,
                                    window + (PB_SPEECH_FEATURE_FRAMES - 1) * PB_SPEECH_FEATURE_MELS);
        }
    }
    if (seen < PB_SPEECH_FEATURE_FRAMES) return 2;
    memcpy(pb_speech_input0(), window, sizeof(window));
    pb_speech_run();
    for (k = 0; k < (int)PB_SPEECH_OUTPUT0_SIZE; ++k) printf("%d\n", scores[k]);
    return 0;
}
"""


@pytest.mark.parametrize("given", ["folder", "model.tflite"])
def test_a_speech_run_ships_its_frontend_and_streams_into_the_net(tmp_path, given):
    run = _run_folder(tmp_path, "speech")
    out = tmp_path / "gen"
    stdout = _generate(run if given == "folder" else run / "model.tflite", out)
    assert "frontend" in stdout and "pb_frontend.h" in stdout
    header = (out / "speech.h").read_text()
    assert "PB_SPEECH_FEATURE_FRAMES 49" in header and "PB_SPEECH_CLASSES 12u" in header
    assert "Streaming" in (out / "pb_frontend.h").read_text()

    (tmp_path / "main.c").write_text(STREAM_MAIN)
    exe = tmp_path / "stream"
    subprocess.run([_cc(), "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(out), str(tmp_path / "main.c"),
                    *map(str, sorted(out.glob("*.c"))), "-o", str(exe), "-lm"], check=True)
    config = FrontendConfig(**CONFIG)
    rng = np.random.default_rng(0)
    t = np.arange(256 + 60 * config.hop)
    audio = (6000 * np.sin(2 * np.pi * 440 * t / 8000) + rng.normal(0, 300, t.size)).astype(np.int16)
    got = subprocess.run([str(exe)], input=audio.tobytes(), capture_output=True, check=True).stdout.split()

    # the same in Python: whole-clip features, the last 49 frames, quantized, run by the generated C
    model = compile_model(run / "model.tflite")
    tin = model.inputs[0]
    q = FeatureQuantizer.for_input(float(tin.quant.s), int(tin.quant.zp), tin.dtype, config)
    want = model.run(q(features(audio, config)[-49:]).reshape(tin.shape))
    assert [int(v) for v in got] == want.reshape(-1).tolist()


def test_a_speech_run_whose_net_does_not_read_its_frontend_is_refused(tmp_path):
    run = _run_folder(tmp_path, "speech")
    (run / "run.json").write_text(json.dumps({"task": "speech", "classes": CLASSES, "frontend": {"n_mels": 20}}))
    out = tmp_path / "gen"
    proc = subprocess.run([*CLI, "generate", str(run), "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "20 mels" in proc.stderr and not out.exists()


def test_export_library_of_a_speech_run_ships_the_frontend_and_says_how_to_stream(tmp_path):
    run = _run_folder(tmp_path, "speech")
    lib = tmp_path / "lib"
    proc = subprocess.run([*CLI, "export", "library", str(run), "-o", str(lib)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert {"speech.h", "pb_frontend.h"} <= {p.name for p in (lib / "include").iterdir()}
    assert (lib / "src" / "pb_frontend.c").exists()
    assert "PB_SPEECH_CLASSES 12u" in (lib / "include" / "speech.h").read_text()
    readme = (lib / "README.md").read_text()
    assert "pb_frontend_push(&fe" in readme and "PB_SPEECH_FEATURE_MULTIPLIER" in readme and "pb_speech_labels" in readme
