"""libFuzzer on the firmware's serial protocol, briefly (`make fuzz` runs 1,000,000 inputs):
the frame parser and the real command dispatcher of a rendered firmware, on the host, under
AddressSanitizer and UndefinedBehaviorSanitizer (scripts/fuzz_protocol.py, tests/fuzz/)."""

import importlib.util
from pathlib import Path

import pytest
from conftest import REPO, shared_model

spec = importlib.util.spec_from_file_location("fuzz_protocol", REPO / "scripts" / "fuzz_protocol.py")
fuzz_protocol = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fuzz_protocol)


def test_protocol_fuzz_short_run(tmp_path: Path):
    problem = fuzz_protocol.clang_problem()
    if problem:
        pytest.skip(problem)
    paths = [shared_model(n) for n in fuzz_protocol.MODELS]
    infos = fuzz_protocol.render(paths, tmp_path / "src")
    binary = fuzz_protocol.build(tmp_path / "src", tmp_path / "fuzz_protocol")
    fuzz_protocol.seeds(infos, tmp_path / "corpus")
    result = fuzz_protocol.run(binary, tmp_path / "corpus", runs=20_000, max_seconds=60)
    assert result["ok"], "fuzzer finding:\n" + result["log"][-3000:]
    assert result["execs"] >= 5_000, result["log"][-1000:]
