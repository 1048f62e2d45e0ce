"""protobrain.fanout: jobs through Ray Tune (local Ray or a cluster), or one after another here."""

from __future__ import annotations

import os
import sys

import pytest

from protobrain import fanout
from protobrain.errors import ProtobrainError


def _square(config, offset=0):
    if config["x"] < 0:
        raise ProtobrainError(f"x={config['x']}: negative; give a positive x")
    return {"y": config["x"] ** 2 + offset, "pid": os.getpid()}


def test_without_ray_jobs_run_here_one_after_another_with_a_note(monkeypatch, capsys):
    monkeypatch.setattr(fanout, "have_ray", lambda: False)
    done = []
    values = fanout.run_all(_square, [{"x": 3}, {"x": 1}], shared={"offset": 1}, what="trials",
                            on_done=lambda i, v: done.append(i))
    assert [v["y"] for v in values] == [10, 2] and {v["pid"] for v in values} == {os.getpid()}
    assert done == [0, 1]
    assert capsys.readouterr().err.splitlines() == [
        "note: running the trials one after another; to run them in parallel (or on a Ray cluster with "
        "--address): pip install 'protobrain[scale]'"]
    with pytest.raises(ProtobrainError, match=r"--address needs Ray .*protobrain\[scale\]"):
        fanout.run_all(_square, [{"x": 1}], address="ray://head:10001")


def test_one_worker_runs_here_without_a_note(capsys):
    values = fanout.run_all(_square, [{"x": 2}, {"x": 4}], workers=1)
    assert [v["y"] for v in values] == [4, 16] and {v["pid"] for v in values} == {os.getpid()}
    assert capsys.readouterr().err == ""


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="Ray is in the scale extra: pip install 'protobrain[scale]'")
    pytest.importorskip("ray.tune")
    # the jobs are this test file's functions, which Ray's workers cannot import: send them by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_gives_values_in_job_order_and_errors_as_raised(local_ray):
    done = []
    values = fanout.run_all(_square, [{"x": x} for x in (3, 1, 2, 5)], shared={"offset": 1},
                            on_done=lambda i, v: done.append(i))
    assert [v["y"] for v in values] == [10, 2, 5, 26]
    assert os.getpid() not in {v["pid"] for v in values}       # they ran in Ray's workers
    assert sorted(done) == [0, 1, 2, 3]
    with pytest.raises(ProtobrainError) as e:
        fanout.run_all(_square, [{"x": 2}, {"x": -1}], workers=2)
    assert str(e.value) == "x=-1: negative; give a positive x"


def _threads(config):
    return {"pid": os.getpid(), "env": {k: os.environ.get(k) for k in fanout.thread_env(1)}}


def test_jobs_with_a_thread_count_run_in_one_worker_process_with_that_many_threads(capsys):
    """A sweep trial's model depends on TensorFlow's thread count: a sequential run gives every
    job the pools a Ray trial gets, in one worker process whatever this process started."""
    done = []
    values = fanout.run_all(_threads, [{}, {}], workers=1, threads_per_job=1, on_done=lambda i, v: done.append(i))
    assert len({v["pid"] for v in values}) == 1 and values[0]["pid"] != os.getpid()
    assert all(v["env"] == {"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
               for v in values)
    assert done == [0, 1] and capsys.readouterr().err == ""
    with pytest.raises(ProtobrainError, match="x=-1: negative"):    # a job's error crosses back as raised
        fanout.run_all(_square, [{"x": -1}], workers=1, threads_per_job=1)


def test_a_ray_trial_with_a_thread_count_runs_its_libraries_on_that_many_threads(local_ray):
    for v in fanout.run_all(_threads, [{}, {}], workers=2, threads_per_job=1):
        assert v["env"] == fanout.thread_env(1) and v["pid"] != os.getpid()
