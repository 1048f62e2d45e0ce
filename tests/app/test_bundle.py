"""The protobrain bundle: three small trained nets in one firmware on a simulated Cortex-M4,
every demo's device result compared byte for byte with the host twin and with TensorFlow
Lite Micro, the shared arena, and the errors a user meets."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from conftest import needs_simulator  # noqa: E402

from protobrain.app import bundle as pb_bundle
from protobrain.errors import ProtobrainError

BOARD = "qemu-mps2-an386"


@pytest.fixture(scope="module")
def runs(small_runs):
    """A vision, a speech and a synth run, each trained small."""
    return small_runs


@pytest.fixture(scope="module")
def parts(runs):
    return pb_bundle.load_parts(runs["vision"], runs["speech"], runs["synth"], stride=3)


@pytest.fixture(scope="module")
def twin(parts):
    return pb_bundle.Twin(parts)


@pytest.fixture(scope="module")
def tflm(parts):
    return pb_bundle.Tflm(parts)


@pytest.fixture(scope="module")
def built(parts, tmp_path_factory):
    board = needs_simulator(BOARD)
    return pb_bundle.build(parts, board, tmp_path_factory.mktemp("bundle") / "protobrain")


@pytest.fixture(scope="module")
def device(built):
    from protobrain.app.demo import Protobrain

    with Protobrain.open(built.path) as pb:
        yield pb


def test_nets_share_one_arena_of_the_largest_plan(built, parts):
    mem = built.memory
    assert built.tier == "dsp", "qemu-mps2-an386 is a Cortex-M4: the bundle takes the DSP tier"
    plans = [p.arena_size for p in built.programs]
    assert mem.shared_arena == (max(plans) + 7) // 8 * 8 + 8
    assert mem.sum_of_plans > mem.largest_plan, "the test needs nets whose plans add up to more than the largest"
    # Everything else in RAM is the apps' state, the protocol buffer and the stack: no second arena.
    info = built.image.models
    buffer = max(64, *(sum(t["bytes"] for t in m["inputs"]) + 1 for m in info))
    rest = mem.ram - mem.shared_arena - mem.frontend - mem.synth - mem.stack
    assert 0 <= rest < 16384 + buffer, f"{rest} B of RAM beyond the arena, apps and stack"
    assert rest < mem.sum_of_plans - mem.largest_plan + 16384
    for name in pb_bundle.MODEL_NAMES:
        text = (built.path / f"{name}.c").read_text()
        assert "extern uint64_t pb_shared_arena[]" in text and "static uint64_t arena[" not in text


def test_see_is_bit_exact_with_the_host(device, twin):
    rng = np.random.default_rng(0)
    shape = device.spec["vision"]["input_shape"]
    t = device.info["models"][0]["inputs"][0]
    for _ in range(3):
        x = rng.random(shape).astype(np.float32)
        seen = device.see(x)
        q = device.quantize_image(x)
        assert q.dtype == np.int8 and list(q.shape) == t["shape"]
        assert np.array_equal(seen.raw, twin.see(q))
        assert seen.label in device.spec["vision"]["classes"] and 0.0 <= seen.score <= 1.0
        assert seen.count > 1000 and seen.unit == "instructions"


def _speech(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(8000 * seconds)
    t = np.arange(n) / 8000
    tone = 6000 * np.sin(2 * np.pi * (300 + 400 * t) * t) * (np.sin(2 * np.pi * 1.5 * t) > 0)
    return np.clip(tone + rng.normal(0, 300, n), -32768, 32767).astype(np.int16)


def test_listen_streams_bit_exact_with_the_host(device, twin):
    audio = _speech(1.7, 1)
    heard = device.listen(audio)
    want = twin.listen(audio)
    assert len(want) == len(heard.raw) > 3
    for (frame_w, scores_w), (frame_d, scores_d) in zip(want, heard.raw):
        assert frame_w == frame_d and np.array_equal(scores_w, scores_d)
    assert heard.per_inference > 1000
    assert np.allclose(heard.scores.sum(axis=1), 1.0, atol=0.05)   # softmax probabilities


def test_listen_any_chunking_gives_the_same_scores(device, twin):
    audio = _speech(1.3, 2)
    device.dev.listen_reset()
    raw = []
    for start in range(0, len(audio), 333):
        raw += [(f, s) for f, _, s in device.dev.listen(audio[start:start + 333]).results]
    want = twin.listen(audio)
    assert [f for f, _ in raw] == [f for f, _ in want]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(raw, want))


def test_speak_is_bit_exact_with_the_host(device, twin, parts):
    word = next(iter(parts.keywords))
    for seed, temperature in ((1, None), (7, 0.0)):
        spoken = device.speak(word, temperature, seed)
        tq = round(256 * (device.spec["synth"]["temperature"] if temperature is None else temperature))
        want = twin.speak(word, tq, seed)
        assert len(spoken.pcm) == len(parts.keywords[word]) * parts.frontend.hop
        assert np.array_equal(spoken.pcm, want)
        assert spoken.per_sample > 100 and spoken.unit == "instructions"


class Recorded:
    """Stands in for demo.Checks while the device runs: keeps every check call to replay."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, kind):
        return lambda *args: self.calls.append((kind, args))

    def replay(self, checks):
        for kind, args in self.calls:
            getattr(checks, kind)(*args)
        return checks


@pytest.fixture(scope="module")
def demo_results(device):
    """What the demo script sends, once: images, a recording, a keyword, then the loop."""
    from protobrain.app.loop import run_loop

    rec = Recorded()
    rng = np.random.default_rng(5)
    for i in range(2):
        rec.see("see", device.see(rng.random(device.spec["vision"]["input_shape"]).astype(np.float32)), f"image {i}")
    audio = _speech(1.2, 3)
    rec.listen("listen", audio, device.listen(audio), "the recording")
    rec.speak("speak", device.speak(device.spec["synth"]["keywords"][0], seed=2))
    rec.loop_rows = run_loop(device, seed=1, checks=rec)
    return rec


def test_device_equals_tflite_micro_in_every_demo(demo_results, twin, tflm, parts):
    from protobrain.app.demo import TFLM, TWIN, Checks

    checks = demo_results.replay(Checks({TWIN: twin, TFLM: tflm}))
    counts = checks.to_json()
    assert counts["see"]["images"][TFLM]["total"] == 2
    assert counts["listen"]["inferences"][TFLM]["total"] > 3
    assert counts["speak"]["utterances"][TFLM]["total"] == 1
    assert counts["loop"]["utterances"][TFLM]["total"] == len(demo_results.loop_rows) == len(parts.keywords)
    assert counts["loop"]["inferences"][TFLM]["total"] >= len(parts.keywords)
    assert checks.ok(), {d: checks.summary(d) for d in checks.tallies}
    assert checks.summary("see") == "device = host twin = TensorFlow Lite Micro on 2 of 2 images"
    # The TFLite Micro side shares no generated C: every net and the synth's step run in TFLite Micro.
    assert all(type(n).__name__ == "Reference" for n in tflm.nets.values())
    assert type(tflm.stepper.ref).__name__ == "Reference"


def _changed(run, outputs):
    """`run` with the given outputs (positions; None: the only one) changed in every value."""
    def wrapped(*xs):
        outs = run(*xs)
        if outputs is None:
            return ~outs
        return [~o if k in outputs else o for k, o in enumerate(outs)]
    return wrapped


@pytest.mark.parametrize("net, demos", [("vision", {"see"}), ("speech", {"listen", "loop"}),
                                        ("conditioning", {"speak", "loop"}), ("step", {"speak", "loop"})])
def test_a_wrong_tflite_micro_result_is_a_reported_mismatch(demo_results, twin, tflm, monkeypatch, net, demos):
    """One TFLite Micro net's outputs changed: exactly the demos that use it stop equalling
    TFLite Micro, the twin still agrees, and the summary says what differs."""
    from protobrain.app.demo import TFLM, TWIN, Checks

    if net == "step":   # the synth's per-step model: its logits only (a window step has no other output)
        sig = tflm.stepper.sig
        monkeypatch.setattr(tflm.stepper.ref, "run",
                            _changed(tflm.stepper.ref.run, {sig.logits} if hasattr(sig, "logits") else None))
    elif net == "conditioning":
        monkeypatch.setattr(tflm.nets[net], "run", _changed(tflm.nets[net].run, {0}))
    else:
        monkeypatch.setattr(tflm.nets[net], "run", _changed(tflm.nets[net].run, None))
    checks = demo_results.replay(Checks({TWIN: twin, TFLM: tflm}))
    assert not checks.ok()
    assert {d for d in checks.tallies if not checks.ok(d)} == demos
    for demo in demos:
        text = checks.summary(demo)
        twin_part, tflm_part = text.split(f"; device = {TFLM} on ")
        assert twin_part.startswith(f"device = {TWIN} on ") and "MISMATCH" not in twin_part, text
        assert "MISMATCH" in tflm_part, text


def test_device_refuses_bad_requests_and_keeps_serving(device):
    from protobrain.run import protocol
    from protobrain.run.device import DeviceError

    dev = device.dev
    with pytest.raises(DeviceError, match="out of range"):
        dev.speak(200, 256, 1)
    with pytest.raises(DeviceError, match="input size"):
        dev.request(protocol.CMD_SPEAK, b"\x00\x01")
    with pytest.raises(DeviceError, match="input size"):
        dev.request(protocol.CMD_LISTEN, b"\x01\x02\x03")        # odd byte count
    with pytest.raises(DeviceError, match="bad length|input size"):
        dev.request(protocol.CMD_LISTEN, bytes(2 * 801))         # more than max_samples
    dev.listen_reset()
    samples, count = dev.speak_next()                            # nothing being spoken: empty reply
    assert len(samples) == 0
    assert dev.ping(b"still here") == b"still here"


def test_bundle_refuses_runs_in_the_wrong_order(runs, tmp_path):
    with pytest.raises(ProtobrainError, match="speech run where a vision run belongs"):
        pb_bundle.load_parts(runs["speech"], runs["vision"], runs["synth"])
    with pytest.raises(ProtobrainError, match="not a training run"):
        pb_bundle.load_parts(tmp_path, runs["speech"], runs["synth"])


def test_cli_errors_are_one_line(runs, tmp_path):
    from click.testing import CliRunner

    from protobrain.cli.main import main

    out = tmp_path / "b"
    r = CliRunner().invoke(main, ["bundle", str(runs["synth"]), str(runs["speech"]), str(runs["vision"]),
                                  "--board", BOARD, "-o", str(out)])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "synth run where a vision" in r.output
    assert not out.exists()
    r = CliRunner().invoke(main, ["demo", "speak", "yes", "-o", str(tmp_path / "x.wav"), "--bundle", str(tmp_path)])
    assert r.exit_code == 2 and "not a protobrain bundle" in r.output
    assert not (tmp_path / "x.wav").exists()


def test_cli_demos_on_the_simulator(built, tmp_path):
    from click.testing import CliRunner
    from PIL import Image

    from protobrain.cli.main import main

    img = tmp_path / "digit.png"
    Image.fromarray((np.arange(64).reshape(8, 8) * 4).astype(np.uint8)).save(img)
    r = CliRunner().invoke(main, ["demo", "see", str(img), "--bundle", str(built.path)])
    assert r.exit_code == 0, r.output
    assert "instructions" in r.output and "score" in r.output
    wav = tmp_path / "said.wav"
    r = CliRunner().invoke(main, ["demo", "speak", "no", "-o", str(wav), "--bundle", str(built.path)])
    assert r.exit_code == 0, r.output
    assert wav.stat().st_size > 1000 and "than real time" in r.output
    r = CliRunner().invoke(main, ["demo", "listen", str(wav), "--bundle", str(built.path), "-o", str(tmp_path / "plots")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "plots" / "said.png").stat().st_size > 1000
    r = CliRunner().invoke(main, ["demo", "speak", " ", "-o", str(tmp_path / "b.wav"), "--bundle", str(built.path)])
    assert r.exit_code != 0 and "nothing to say" in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "b.wav").exists()


def test_streamed_text_is_bit_exact_with_both_hosts(device, twin, tflm, parts):
    """Any text: frames computed on the host (espeak-ng, the integer frontend, the
    prediction coefficients), streamed one SPEAK_FRAME at a time, vocoded by the device
    exactly as the twin and TensorFlow Lite Micro vocode them."""
    from protobrain.app.demo import TFLM, TWIN, Checks
    from protobrain.app.text import TextFrames, text_frames, voice_of

    sy = device.spec["synth"]
    frames = text_frames("hello world", voice_of(sy["voice"]), parts.frontend, sy["lpc_order"])
    assert len(frames.features) > 10 and "hello" not in sy["keywords"]
    short = TextFrames(frames.text, frames.features[:5],
                       None if frames.coefficients is None else frames.coefficients[:5])
    spoken = device.say(short, seed=3)
    assert len(spoken.pcm) == 5 * sy["hop"] and spoken.per_sample > 0
    checks = Checks({TWIN: twin, TFLM: tflm})
    checks.speak("speak", spoken, "hello world")
    assert checks.ok(), checks.summary("speak")
    again = device.say(short, seed=3)
    assert np.array_equal(again.pcm, spoken.pcm)
    assert not np.array_equal(device.say(short, seed=4).pcm, spoken.pcm)


def test_streamed_frames_are_checked_by_the_device(device):
    from protobrain.run import protocol
    from protobrain.run.device import DeviceError

    dev = device.dev
    dev.speak(0, 256, 1)                       # a keyword, not a stream: frames are refused
    with pytest.raises(DeviceError, match="out of range"):
        dev.request(protocol.CMD_SPEAK_FRAME, bytes(2 * 36))
    hop, mels, order = dev.speak_stream(205, 1)
    assert (hop, mels) == (160, 20)
    with pytest.raises(DeviceError, match="input size"):
        dev.request(protocol.CMD_SPEAK_FRAME, bytes(2 * (mels + order) - 2))
    with pytest.raises(DeviceError, match="input size"):
        dev.request(protocol.CMD_SPEAK_STREAM, b"\x01")
    samples, _ = dev.speak_frame(np.full(mels, -4000, np.int16), np.zeros(order, np.int16) if order else None)
    assert len(samples) == hop
    assert dev.ping(b"still here") == b"still here"


def test_speak_cli_streams_text(built, tmp_path):
    """`protobrain demo speak "any text"` writes a WAV and says how fast the device was."""
    from click.testing import CliRunner

    from protobrain.cli.main import main

    out = tmp_path / "hello.wav"
    r = CliRunner().invoke(main, ["demo", "speak", "hi", "--bundle", str(built.path), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "streamed frames" in r.output and "real time" in r.output
    import wave

    with wave.open(str(out)) as w:
        assert w.getframerate() == 8000 and w.getnframes() > 1600


# ---- names and the arena's section ------------------------------------------------------------


@pytest.fixture(scope="module")
def named(runs):
    """The same runs with two nets named on the command line's terms (--name NAME=PATH): the
    speech run by its folder, the vision run by its model file."""
    return pb_bundle.load_parts(runs["vision"], runs["speech"], runs["synth"], stride=3,
                                names=[("kws", str(runs["speech"])), ("digits", str(runs["vision"] / "model.tflite"))])


@pytest.fixture(scope="module")
def rendered(named, tmp_path_factory):
    """The named bundle's firmware sources for the Cortex-M4 board (not compiled)."""
    from protobrain.boards import load_board
    from protobrain.firmware.build import render_firmware

    board = load_board(BOARD)
    out = tmp_path_factory.mktemp("named") / "fw"
    programs = pb_bundle.compile_nets(named.blobs, "dsp", names=named.names)
    render_firmware(board, programs, named.blobs, out, apps=pb_bundle.apps(named))
    return board, out


def test_name_path_pairs_name_the_bundles_nets(named, rendered):
    import json

    assert named.names == ("digits", "kws", "conditioning")
    assert [p.graph.name for p in named.programs] == ["digits", "kws", "conditioning"]
    _, out = rendered
    assert [m["name"] for m in json.loads((out / "info.json").read_text())["models"]] == list(named.names)
    for name in named.names:
        assert "extern uint64_t pb_shared_arena[]" in (out / f"{name}.c").read_text()
    assert not (out / "vision.c").exists() and not (out / "speech.c").exists()
    assert "pb_kws_run" in (out / "main.c").read_text()


@pytest.mark.parametrize("pair, words", [
    (("x", "elsewhere"), ["--name x=elsewhere", "is not one of the runs given"]),
    (("synth", "{synth}"), ["--name synth", "fused synth step"]),
    (("speech", "{vision}"), ["both named speech", "--name NAME=PATH"]),
])
def test_bad_bundle_names_are_one_line_errors(runs, tmp_path, pair, words):
    from click.testing import CliRunner

    from protobrain.cli.main import main

    name, path = pair[0], pair[1].format(**{k: str(v) for k, v in runs.items()})
    out = tmp_path / "b"
    r = CliRunner().invoke(main, ["bundle", str(runs["vision"]), str(runs["speech"]), str(runs["synth"]),
                                  "--board", BOARD, "-o", str(out), "--name", f"{name}={path}"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert all(w in r.output for w in words), r.output
    assert not out.exists()
    r = CliRunner().invoke(main, ["bundle", str(runs["vision"]), str(runs["speech"]), str(runs["synth"]),
                                  "--board", BOARD, "-o", str(out), "--name", "no-equals-sign"])
    assert r.exit_code == 2 and "NAME=PATH" in r.output and not out.exists()


def test_shared_arena_honours_pb_arena_section(rendered):
    """The single-model firmware's arena goes where PB_ARENA_SECTION says; so does the
    bundle's shared one (defined in main.c)."""
    import subprocess

    from protobrain.toolchain import ToolchainError, cross_tool

    board, out = rendered
    try:
        cc, objdump = cross_tool(board, "gcc"), cross_tool(board, "objdump")
    except ToolchainError:
        pytest.skip("arm-none-eabi-gcc not installed (make setup installs it)")

    def arena_section(*defines) -> str:
        obj = out / "main.o"
        subprocess.run([cc, *board.cflags, "-O2", "-Wall", "-Wextra", "-Werror", *defines, "-I", str(out),
                        "-c", str(out / "main.c"), "-o", str(obj)], check=True)
        table = subprocess.run([objdump, "-t", str(obj)], capture_output=True, text=True, check=True).stdout
        rows = [ln.split() for ln in table.splitlines() if ln.split()[-1:] == ["pb_shared_arena"]]
        assert len(rows) == 1, table
        return rows[0][-3]

    assert arena_section() == ".bss"
    assert arena_section("-DPB_ARENA_SECTION=__attribute__((section(\".myram\")))") == ".myram"
    assert "PB_ARENA_SECTION" in (out / "kws.h").read_text()
