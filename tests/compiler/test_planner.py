"""Memory planner: every strategy gives a valid plan; the default reaches the lower bound on chains."""

import pytest

from protobrain.compiler import planner
from protobrain.compiler.planner import Buffer


def chain(sizes):
    """A straight pipeline: buffer k is written at step k-1 and read at step k."""
    return [Buffer(f"t{k}", s, max(k - 1, 0), k) for k, s in enumerate(sizes)]


@pytest.mark.parametrize("strategy", list(planner.PLANNERS) + ["best"])
def test_plans_never_overlap_live_buffers(strategy):
    bufs = chain([100, 300, 40, 1000, 8, 8, 500]) + [Buffer("skip", 64, 1, 5)]
    p = planner.plan(bufs, strategy)
    for a in p.buffers:
        for b in p.buffers:
            if a is not b and a.overlaps_in_time(b):
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
    assert p.size >= planner.lower_bound(bufs)


def test_reuse_beats_no_reuse_and_reaches_bound_on_a_chain():
    bufs = chain([4096, 2048, 4096, 1024, 512])
    assert planner.lower_bound(bufs) == 6144
    assert planner.plan(bufs, "best").size == 6144
    assert planner.plan(bufs, "no-reuse").size == sum(b.size for b in bufs)


def test_residual_connection_keeps_skip_tensor_alive():
    bufs = [Buffer("in", 800, 0, 2), Buffer("a", 800, 0, 1), Buffer("b", 800, 1, 2), Buffer("out", 800, 2, 3)]
    p = planner.plan(bufs, "greedy-size")
    assert p.size == planner.lower_bound(bufs) == 2400


def test_unknown_strategy_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown planner"):
        planner.plan(chain([8]), "magic")
