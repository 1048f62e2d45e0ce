"""A short soak of the firmware in QEMU (`make fuzz` runs 10,000 rounds): INVOKE round trips with
random inputs, each after a malformed frame; no mismatch, no lost or unexpected reply."""

import importlib.util

from conftest import REPO, shared_model
from conftest import needs_simulator as needs

spec = importlib.util.spec_from_file_location("soak", REPO / "scripts" / "soak.py")
soak = importlib.util.module_from_spec(spec)
spec.loader.exec_module(soak)


def test_soak_300_rounds(tmp_path):
    needs(soak.BOARD)
    stats = soak.run_on_qemu(shared_model(soak.MODEL), 300, tmp_path / "fw", seed=3)
    assert stats["invokes"] == 300, stats
    assert stats["mismatches"] == stats["lost"] == stats["unexpected"] == 0, stats
