"""Progress of long steps: live bars on a terminal, plain lines in a log or a pipe."""

from __future__ import annotations

from protobrain.train import progress


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _run(monkeypatch, capsys, total, seconds_per_step, **kw):
    clock = _Clock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    with progress.task("training vision (width 1)", total, **kw) as advance:
        for i in range(total):
            clock.now += seconds_per_step
            advance(1, status=f"loss={i}")
    return capsys.readouterr().err.splitlines()


def test_piped_output_gets_a_line_every_ten_seconds_and_the_last(monkeypatch, capsys):
    # under pytest stderr is not a terminal, as in `make demo | tee log`
    lines = _run(monkeypatch, capsys, 40, 1.0)
    assert lines == [f"training vision (width 1): {n}/40 loss={n - 1} ({n} s)" for n in (10, 20, 30, 40)]


def test_slow_steps_get_one_line_each(monkeypatch, capsys):
    lines = _run(monkeypatch, capsys, 3, 25.0)
    assert lines == ["training vision (width 1): 1/3 loss=0 (25 s)", "training vision (width 1): 2/3 loss=1 (50 s)",
                     "training vision (width 1): 3/3 loss=2 (75 s)"]


def test_quiet_prints_nothing(monkeypatch, capsys):
    assert _run(monkeypatch, capsys, 40, 1.0, enabled=False) == []
