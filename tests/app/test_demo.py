"""Host-side logic of the demos: detections over time, what a clip was heard as, the
files the demos read and write, and how device results are checked and reported."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from conftest import REPO

from protobrain.app.demo import (
    TFLM,
    TWIN,
    Checks,
    DemoError,
    Listened,
    Seen,
    Spoken,
    detections,
    read_image,
    read_wav,
    write_wav,
)
from protobrain.app.loop import heard_as

CLASSES = ["silence", "unknown", "yes", "no"]


def _rows(*tops):
    """One score row per (class index, probability); the rest shared evenly."""
    rows = []
    for k, p in tops:
        row = np.full(len(CLASSES), (1 - p) / (len(CLASSES) - 1))
        row[k] = p
        rows.append(row)
    return np.array(rows)


def test_detections_merge_a_run_and_keep_its_best_moment():
    times = np.arange(7) * 0.1
    scores = _rows((0, 0.9), (2, 0.7), (2, 0.95), (2, 0.8), (1, 0.9), (3, 0.65), (3, 0.5))
    found = detections(times, scores, CLASSES, threshold=0.6)
    assert [(w, round(t, 1)) for t, w, _ in found] == [("yes", 0.2), ("no", 0.5)]
    assert found[0][2] == pytest.approx(0.95)


def test_detections_ignore_silence_unknown_and_weak_scores():
    times = np.arange(3) * 0.1
    assert detections(times, _rows((0, 0.99), (1, 0.99), (2, 0.4)), CLASSES, threshold=0.6) == []


def test_heard_as_takes_the_best_window_but_never_silence():
    heard = Listened(np.arange(3) * 0.1, _rows((0, 0.99), (3, 0.6), (1, 0.5)), [], CLASSES, 0, "instructions")
    assert heard_as(heard) == ("no", pytest.approx(0.6))
    empty = Listened(np.zeros(0), np.zeros((0, 4)), [], CLASSES, 0, "instructions")
    assert heard_as(empty) == ("nothing", 0.0)


def test_wav_round_trip_and_resampling(tmp_path):
    pcm = (1000 * np.sin(np.arange(1600) / 5)).astype(np.int16)
    path = write_wav(tmp_path / "a.wav", pcm, 8000)
    assert np.array_equal(read_wav(path, 8000), pcm)
    path16 = write_wav(tmp_path / "b.wav", np.repeat(pcm, 2), 16000)
    assert abs(len(read_wav(path16, 8000)) - len(pcm)) <= 1


def test_unreadable_inputs_are_one_line_errors(tmp_path):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(DemoError, match="not a readable image"):
        read_image(bad, [8, 8, 1])
    wav = tmp_path / "x.wav"
    wav.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(DemoError):
        read_wav(wav, 8000)


def test_image_is_resized_to_the_net_input(tmp_path):
    from PIL import Image

    path = tmp_path / "big.png"
    Image.fromarray(np.full((32, 32, 3), 255, np.uint8)).save(path)
    x = read_image(path, [8, 8, 1])
    assert x.shape == (8, 8, 1) and np.allclose(x, 1.0)


# ---- checks: device results against the host twin and TensorFlow Lite Micro ---------------------


class Host:
    """A stand-in for bundle.Twin / bundle.Tflm: fixed answers, optionally one changed."""

    def __init__(self, wrong: str = ""):
        self.wrong = wrong

    def see(self, x_q):
        out = np.asarray(x_q, np.int8).reshape(-1)[:4].copy()
        if self.wrong == "see":
            out[2] += 1
        return out

    def listen(self, samples):
        out = [(f, np.array([f, 2 * f], np.int8)) for f in range(3, 3 + len(samples) // 100)]
        return out[:-1] if self.wrong == "listen" else out

    def speak(self, word, temperature_q8, seed, frames=None):
        pcm = np.arange(10 * (frames or 4), dtype=np.int16) * seed + temperature_q8
        if self.wrong == "speak":
            pcm[17] = -1
        return pcm


def _device_results():
    x = np.arange(-8, 8, dtype=np.int8).reshape(4, 4)
    seen = Seen("3", 0.9, x.reshape(-1)[:4].copy(), 1000, "instructions", x)
    audio = np.zeros(500, np.int16)
    raw = [(f, np.array([f, 2 * f], np.int8)) for f in range(3, 8)]
    heard = Listened(np.arange(5) * 0.1, np.zeros((5, 2)), raw, ["a", "b"], 100, "instructions")
    spoken = Spoken("yes", np.arange(40, dtype=np.int16) * 3 + 205, 8000, 50.0, "instructions", 205, 3, None)
    return seen, audio, heard, spoken


def _check_all(checks):
    seen, audio, heard, spoken = _device_results()
    checks.see("see", seen, "digit0.png")
    checks.see("see", seen, "digit1.png")
    checks.listen("listen", audio, heard, "the recording")
    checks.speak("speak", spoken)


def test_checks_count_results_that_equal_both_hosts():
    checks = Checks({TWIN: Host(), TFLM: Host()})
    _check_all(checks)
    assert checks.ok()
    assert checks.summary("see") == "device = host twin = TensorFlow Lite Micro on 2 of 2 images"
    assert checks.summary("listen") == "device = host twin = TensorFlow Lite Micro on 5 of 5 inferences"
    assert checks.summary("speak") == "device = host twin = TensorFlow Lite Micro on 1 of 1 utterances"
    assert checks.to_json()["see"]["images"][TFLM] == {"agreed": 2, "total": 2, "mismatches": []}


@pytest.mark.parametrize("demo", ["see", "listen", "speak"])
def test_a_tflite_micro_mismatch_is_reported_and_fails(demo):
    checks = Checks({TWIN: Host(), TFLM: Host(wrong=demo)})
    _check_all(checks)
    assert not checks.ok() and not checks.ok(demo)
    assert all(checks.ok(d) for d in ("see", "listen", "speak") if d != demo)
    text = checks.summary(demo)
    twin_part, tflm_part = text.split("; device = ")
    assert twin_part.startswith("device = host twin on ") and "MISMATCH" not in twin_part
    assert tflm_part.startswith("TensorFlow Lite Micro on ") and "MISMATCH" in tflm_part
    want = {"see": "on 0 of 2 images (MISMATCH: digit0.png; digit1.png)",
            "listen": "on 4 of 5 inferences (MISMATCH: the recording: inference 4 of 5 "
                      "(the device made 5, expected 4))",
            "speak": "on 0 of 1 utterances (MISMATCH: 'yes': from sample 17 of 40)"}[demo]
    assert tflm_part.endswith(want), tflm_part


def test_a_partial_utterance_is_checked_against_the_same_frames():
    checks = Checks({TWIN: Host()})
    _, _, _, spoken = _device_results()
    spoken.max_frames = 2
    spoken.pcm = spoken.pcm[:20]
    checks.speak("cores", spoken, "board-a")
    assert checks.ok("cores")
    spoken.max_frames = None        # claims the whole word but sent only two frames
    checks.speak("cores", spoken, "board-b")
    assert checks.summary("cores") == "device = host twin on 1 of 2 utterances (MISMATCH: board-b: from sample 20 " \
                                      "of 40 (the device sent 20))"


def _demo_script():
    spec = importlib.util.spec_from_file_location("demo_script", REPO / "scripts" / "demo.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _report(checks) -> dict:
    mem = {"plans": {"vision": 100}, "largest_plan": 100, "sum_of_plans": 150, "shared_arena": 112, "frontend": 10,
           "synth": 20, "stack": 30, "ram": 400, "flash": 900}
    nets = [{"net": n, "macs": 10, "arena": 100, "flash": 200, "accuracy": 0.5} for n in ("vision", "speech", "synth")]
    nets.append({"net": "synth step (fused)", "macs": 5, "arena": 50, "flash": 60, "accuracy": None})
    return {"board": "qemu-mps2-an386", "runs": {"vision": "v"}, "memory": mem, "nets": nets,
            "see": {"rows": [{"image": "digit0.png", "true": "3", "seen": "3", "score": 0.9, "count": 1000}]},
            "listen": {"said": ["yes"], "detections": [], "per_inference": 100, "inferences": 5},
            "speak": {"word": "yes", "seconds": 0.5, "per_sample": 50.0},
            "loop": [{"said": "yes", "heard": "yes", "score": 0.9}],
            "cores": [{"board": "qemu-mps2-an386", "core": "cortex-m4", "clock_hz": 168_000_000, "part": "x",
                       "per_sample": 50.0, "realtime": 0.01}],
            "checks": {d: {"summary": checks.summary(d), "ok": checks.ok(d), "counts": c}
                       for d, c in checks.to_json().items()},
            "seconds": 60}


def test_report_states_both_checks_with_their_counts(tmp_path):
    pytest.importorskip("matplotlib")
    demo = _demo_script()
    checks = Checks({TWIN: Host(), TFLM: Host()})
    _check_all(checks)
    text = demo.write_report(_report(checks), tmp_path).read_text()
    assert "Checked: device = host twin = TensorFlow Lite Micro on 2 of 2 images." in text
    assert "Checked: device = host twin = TensorFlow Lite Micro on 5 of 5 inferences." in text
    assert "| see | images | 2 of 2 | 2 of 2 |" in text
    assert "TensorFlow Lite Micro runs the vision net on each image" in text and "**NO**" not in text

    checks = Checks({TWIN: Host(), TFLM: Host(wrong="see")})
    _check_all(checks)
    text = demo.write_report(_report(checks), tmp_path).read_text()
    assert "| see | images | 2 of 2 | 0 of 2 **NO** |" in text
    assert "Checked: **device = host twin on 2 of 2 images; device = TensorFlow Lite Micro on 0 of 2 images " \
           "(MISMATCH: digit0.png; digit1.png)**." in text


def test_report_names_the_vocoder_tier_streamed_speech_and_real_time(tmp_path):
    """The speak section names the vocoder and the kernel tier and gives the streamed
    sentence's figures; the per-core table says slower or faster than real time."""
    pytest.importorskip("matplotlib")
    demo = _demo_script()
    checks = Checks({TWIN: Host(), TFLM: Host()})
    _check_all(checks)
    report = _report(checks) | {"vocoder": "window MLP over the last 16 samples", "tier": "dsp",
                                "say": {"text": "hello world", "seconds": 0.9, "per_sample": 20_000.0}}
    report["cores"].append({"board": "qemu-mps2-an385", "core": "cortex-m3", "clock_hz": 72_000_000, "part": "y",
                            "per_sample": 81_000.0, "realtime": 9.0})
    text = demo.write_report(report, tmp_path).read_text()
    assert "The vocoder: window MLP over the last 16 samples" in text and "**dsp** kernel tier" in text
    assert '"hello world", 0.90 s' in text and "20,000 instructions per sample" in text
    assert "9.0x slower than real time" in text and "real time (100.0x faster)" in text
