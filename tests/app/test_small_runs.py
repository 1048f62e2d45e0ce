"""small_runs keeps its three runs in a folder: a second call reuses them, another seed or a
run that did not finish is trained again. The training is stood in for here (the bundle's
tests train the real runs)."""

import json
import threading

import pytest

from protobrain.app import small_runs as sr


@pytest.fixture
def trained(monkeypatch):
    """Stands in for the three trainings: each writes a run.json and is counted."""
    calls = []

    def fake(task):
        def train(out, seed):
            calls.append((task, seed))
            if task == fail.get("task"):
                raise RuntimeError("interrupted")
            out.mkdir(parents=True)
            (out / "run.json").write_text(json.dumps({"task": task, "seed": seed}))
        return train

    fail = {}
    monkeypatch.setattr(sr, "_TRAIN", {t: fake(t) for t in sr.TASKS})
    return calls, fail


def test_a_second_call_reuses_the_runs(tmp_path, trained):
    calls, _ = trained
    runs = sr.small_runs(tmp_path)
    assert runs == {t: tmp_path / t for t in sr.TASKS}
    assert calls == [(t, 0) for t in sr.TASKS]
    assert sr.small_runs(tmp_path) == runs
    assert len(calls) == 3
    sr.small_runs(tmp_path, seed=1)                        # another seed: trained again
    assert calls[3:] == [(t, 1) for t in sr.TASKS]
    assert json.loads((tmp_path / "synth" / "run.json").read_text())["seed"] == 1


def test_a_run_that_did_not_finish_is_trained_again(tmp_path, trained):
    calls, fail = trained
    fail["task"] = "speech"
    with pytest.raises(RuntimeError):
        sr.small_runs(tmp_path)
    fail.clear()
    sr.small_runs(tmp_path)
    assert calls == [("vision", 0), ("speech", 0), ("speech", 0), ("synth", 0)]   # vision kept


def test_callers_at_once_train_once(tmp_path, trained):
    calls, _ = trained
    threads = [threading.Thread(target=sr.small_runs, args=(tmp_path,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(calls) == sorted((t, 0) for t in sr.TASKS)
