"""A short soak of the firmwares in QEMU (`make fuzz` runs 10,000 rounds): INVOKE round trips with
random inputs, each after a malformed frame, and protobrain bundle rounds (listen and speak,
among refused frames) checked against the bundle's host twin; no mismatch, no lost or
unexpected reply."""

import importlib.util

import numpy as np
import pytest

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


# ---- the protobrain bundle -------------------------------------------------------------------

@pytest.fixture(scope="module")
def bundle(small_runs, tmp_path_factory):
    needs(soak.BOARD)
    return soak.build_bundle(small_runs, tmp_path_factory.mktemp("bundle") / "protobrain")


def test_bundle_soak_30_rounds(bundle):
    """LISTEN chunks, keywords said to their end, streamed frames and vision INVOKEs, mixed and
    among refused frames: every reply the twin's, and every round's PING answered."""
    stats = soak.run_bundle_on_qemu(bundle, 30, seed=5)
    assert stats["rounds"] == stats["pings"] == 30, stats
    assert stats["mismatches"] == stats["lost"] == stats["unexpected"] == 0, stats
    assert stats["inferences"] > 0 and stats["samples"] > 0 and stats["refused"] > 30, stats


class _Off:
    """A twin one of whose answers is changed."""

    def __init__(self, twin, name: str):
        self.twin, self.name = twin, name

    def __getattr__(self, attr):
        run = getattr(self.twin, attr)
        if attr != self.name:
            return run
        if attr == "listen":
            return lambda *a: [(frame + 1, scores) for frame, scores in run(*a)]
        return lambda *a: np.asarray(run(*a)) ^ 1


@pytest.mark.parametrize("name, said", [("listen", "LISTEN"), ("speak", "SPEAK_NEXT"),
                                        ("speak_frames", "SPEAK_FRAME"), ("see", "vision INVOKE")])
def test_a_reply_other_than_the_twins_is_a_mismatch(bundle, name, said):
    stats = soak.run_bundle_on_qemu(bundle, 12, seed=5, twin=_Off(bundle[2], name))
    assert stats["mismatches"] > 0 and stats["lost"] == stats["unexpected"] == 0, stats
    assert stats["problems"] and all(p.startswith(said) for p in stats["problems"]), stats["problems"]
