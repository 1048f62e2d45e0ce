"""libFuzzer on the firmware's serial protocol, briefly (`make fuzz` runs 1,000,000 inputs):
the frame parser and the real command dispatcher of a rendered firmware, on the host, under
AddressSanitizer and UndefinedBehaviorSanitizer (scripts/fuzz_protocol.py, tests/verify/fuzz/).
The harness counts replies against what the inputs imply, and each input has a time limit:
a dispatcher that stops answering, or hangs, is a finding."""

import importlib.util
import shutil
from pathlib import Path

import pytest
from conftest import REPO, shared_model

spec = importlib.util.spec_from_file_location("fuzz_protocol", REPO / "scripts" / "fuzz_protocol.py")
fuzz_protocol = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fuzz_protocol)

RUNS = 20_000
SAFETY_STOP = 600  # seconds: only a stalled run reaches it (and then fails: fewer executions than RUNS)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The rendered firmware sources and the seed corpus."""
    problem = fuzz_protocol.clang_problem()
    if problem:
        pytest.skip(problem)
    tmp = tmp_path_factory.mktemp("fuzz")
    paths = [shared_model(n) for n in fuzz_protocol.MODELS]
    infos = fuzz_protocol.render(paths, tmp / "src")
    fuzz_protocol.seeds(infos, tmp / "corpus")
    return tmp


def test_protocol_fuzz_short_run(rendered, tmp_path: Path):
    binary = fuzz_protocol.build(rendered / "src", tmp_path / "fuzz_protocol")
    shutil.copytree(rendered / "corpus", tmp_path / "corpus")
    result = fuzz_protocol.run(binary, tmp_path / "corpus", runs=RUNS, max_seconds=SAFETY_STOP)
    assert result["ok"], "fuzzer finding:\n" + result["log"][-3000:]
    assert result["execs"] >= RUNS, result["log"][-1000:]
    # every frame or rejection answered once; the corpus alone holds dozens of whole frames
    assert result["replies"] == result["frames"] >= 50, result["log"][-1000:]


def _broken(rendered: Path, tmp_path: Path, old: str, new: str) -> dict:
    """The fuzzer, built against main.c with `old` replaced by `new`, run on the seed corpus."""
    src = tmp_path / "src"
    shutil.copytree(rendered / "src", src)
    main = (src / "main.c").read_text()
    assert main.count(old) == 1, old
    (src / "main.c").write_text(main.replace(old, new))
    binary = fuzz_protocol.build(src, tmp_path / "fuzz_protocol")
    shutil.copytree(rendered / "corpus", tmp_path / "corpus")
    return fuzz_protocol.run(binary, tmp_path / "corpus", runs=200, timeout=1, max_seconds=SAFETY_STOP)


@pytest.mark.parametrize("old, new, message", [
    # unknown commands get no error reply (the corpus holds one: type 0x42)
    ("send_error(parser->seq, PB_ERR_UNKNOWN_COMMAND, parser->type);", ";", "dispatcher sent"),
    # PING answers with another sequence number
    ("PB_CMD_PING | PB_REPLY_FLAG, parser->seq,", "PB_CMD_PING | PB_REPLY_FLAG, (uint8_t)(parser->seq + 1u),",
     "record type 0x01"),
], ids=["no-reply", "wrong-seq"])
def test_a_dispatcher_that_answers_wrong_is_a_finding(rendered, tmp_path: Path, old, new, message):
    result = _broken(rendered, tmp_path, old, new)
    assert not result["ok"] and message in result["log"], result["log"][-2000:]


def test_a_hanging_command_is_a_finding(rendered, tmp_path: Path):
    # PING never returns: libFuzzer's -timeout ends the input (its default would wait 20 minutes)
    result = _broken(rendered, tmp_path, "        case PB_CMD_PING:\n", "        case PB_CMD_PING:\n            for (;;) {}\n")
    assert not result["ok"] and "libFuzzer: timeout" in result["log"], result["log"][-2000:]


# ---- the protobrain bundle: its listen and speak commands ------------------------------------

BUNDLE_RUNS = 2_000


@pytest.fixture(scope="module")
def bundle(small_runs, tmp_path_factory):
    """The bundle's rendered firmware sources, seed corpus and fuzzer (its nets' objects are
    reused by the broken variants below)."""
    problem = fuzz_protocol.clang_problem()
    if problem:
        pytest.skip(problem)
    tmp = tmp_path_factory.mktemp("fuzz-bundle")
    info = fuzz_protocol.render_bundle(small_runs, tmp / "src")
    fuzz_protocol.bundle_seeds(info, tmp / "corpus")
    fuzz_protocol.build(tmp / "src", tmp / "fuzz_protocol", fuzz_protocol.BUNDLE_FLAGS)
    return tmp


def test_bundle_seeds_hold_every_bundle_command(bundle):
    from protobrain.run import protocol as P

    types = set()
    for f in (bundle / "corpus").glob("raw_*"):
        types.add(P.Decoder().feed(f.read_bytes()[1:])[0].type)
    assert {P.CMD_LISTEN_RESET, P.CMD_LISTEN, P.CMD_SPEAK, P.CMD_SPEAK_NEXT, P.CMD_SPEAK_STREAM,
            P.CMD_SPEAK_FRAME, P.CMD_INVOKE, P.CMD_PING} <= types


def test_bundle_protocol_fuzz_short_run(bundle, tmp_path: Path):
    shutil.copytree(bundle / "corpus", tmp_path / "corpus")
    result = fuzz_protocol.run(bundle / "fuzz_protocol", tmp_path / "corpus", runs=BUNDLE_RUNS, max_seconds=SAFETY_STOP)
    assert result["ok"], "fuzzer finding:\n" + result["log"][-3000:]
    assert result["execs"] >= BUNDLE_RUNS, result["log"][-1000:]
    assert result["replies"] == result["frames"] >= 200, result["log"][-1000:]


def _broken_bundle(bundle: Path, tmp_path: Path, old: str, new: str) -> dict:
    """The bundle's fuzzer with `old` replaced by `new` in main.c, run on the seed corpus."""
    src = tmp_path / "src"
    shutil.copytree(bundle / "src", src)
    main = (src / "main.c").read_text()
    assert main.count(old) == 1, old
    (src / "main.c").write_text(main.replace(old, new))
    binary = fuzz_protocol.build(src, tmp_path / "fuzz_protocol", fuzz_protocol.BUNDLE_FLAGS,
                                 objects=bundle / "fuzz_protocol.o")
    shutil.copytree(bundle / "corpus", tmp_path / "corpus")
    return fuzz_protocol.run(binary, tmp_path / "corpus", runs=200, timeout=5, max_seconds=SAFETY_STOP)


@pytest.mark.parametrize("old, new, message", [
    # SPEAK_NEXT once the word is done: no reply (the seeds say a word past its end)
    ("send_count(seq, PB_CMD_SPEAK_NEXT, 0u, 0u);", ";", "dispatcher sent"),
    # LISTEN writes the speech net's scores past the buffer (the seeds make it run)
    ("memcpy(buffer + offset + 8u, m->output(0), SPEECH_CLASS_BYTES);",
     "memcpy(buffer + offset + 8u + BUFFER_BYTES, m->output(0), SPEECH_CLASS_BYTES);", "AddressSanitizer"),
    # a streamed frame's features read past the request (the seeds stream frames)
    ("features[i] = (int16_t)get_u16(buffer + 2u * i);",
     "features[i] = (int16_t)get_u16(buffer + BUFFER_BYTES + 2u * i);", "AddressSanitizer"),
], ids=["speak-next-silent", "listen-overflow", "frame-overread"])
def test_a_bundle_command_that_misbehaves_is_a_finding(bundle, tmp_path: Path, old, new, message):
    result = _broken_bundle(bundle, tmp_path, old, new)
    assert not result["ok"] and message in result["log"], result["log"][-2000:]
