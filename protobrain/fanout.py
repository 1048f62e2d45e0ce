"""Independent jobs (sweep trials, benchmark runs) fanned out through Ray Tune.

Local Ray on this machine's cores by default, an existing Ray cluster with `address`, or one
after another: with one worker, or when Ray is not installed (a one-line note says how to
install it). Each job is `fn(config, **shared) -> value`; the values come back in the order of
the configs whichever way they ran, so a fanned-out run reports exactly what a sequential one
does. Ray is optional (`pip install 'protobrain[scale]'`) and imported here only.

Jobs whose result depends on how many threads their libraries use (TensorFlow's reductions
split by thread, so a trained model's bytes do) take `threads_per_job`: every job then runs
with its thread pools at that size in a worker process, the same in a Ray trial as in the
one worker of a sequential run, and each Ray trial holds that many CPUs, so parallel trials
share the cores instead of each spreading over all of them.
"""

from __future__ import annotations

import base64
import logging
import multiprocessing
import os
import pickle
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable

from protobrain.errors import ProtobrainError

INSTALL = "pip install 'protobrain[scale]'"


def have_ray() -> bool:
    try:
        import ray.tune  # noqa: F401  (optional: the scale extra)
    except ImportError:
        return False
    return True


def run_all(fn: Callable[..., Any], configs: list[dict], *, workers: int | None = None, address: str | None = None,
            shared: dict | None = None, what: str = "jobs", on_done: Callable[[int, Any], None] | None = None,
            threads_per_job: int | None = None) -> list:
    """fn(config, **shared) for every config: values in the order of configs. `workers` caps
    the jobs running at once (None: as many as the cluster has cores; 1: one after another
    here); `on_done(index, value)` is called as each job finishes. `threads_per_job`: run
    every job with its libraries' thread pools at that size (see the module's docstring);
    None: jobs run with the libraries' defaults, sequential ones in this process."""
    shared = shared or {}
    if workers != 1 and not have_ray():
        if address:
            raise ProtobrainError(f"--address needs Ray to reach the cluster: {INSTALL}")
        print(f"note: running the {what} one after another; to run them in parallel (or on a Ray cluster "
              f"with --address): {INSTALL}", file=sys.stderr)
    if workers == 1 or not have_ray():
        return _run_sequential(fn, configs, shared, on_done, threads_per_job)
    return _run_tune(fn, configs, workers, address, shared, on_done, threads_per_job)


def thread_env(threads: int) -> dict[str, str]:
    """The environment that sizes TensorFlow's and OpenMP's thread pools, read when they start."""
    return {"OMP_NUM_THREADS": str(threads), "TF_NUM_INTRAOP_THREADS": str(threads),
            "TF_NUM_INTEROP_THREADS": str(threads)}


def _set_env(env: dict[str, str]) -> None:
    os.environ.update(env)


def _run_sequential(fn, configs, shared, on_done, threads_per_job) -> list:
    values = []
    if threads_per_job is None:
        for i, config in enumerate(configs):
            values.append(fn(config, **shared))
            if on_done:
                on_done(i, values[-1])
        return values
    # a fresh process (spawned: a forked TensorFlow is unsafe) whose pools start at the size
    # asked, whatever this process already started
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_set_env, initargs=(thread_env(threads_per_job),)) as pool:
        for i, config in enumerate(configs):
            values.append(pool.submit(fn, config, **shared).result())
            if on_done:
                on_done(i, values[-1])
    return values


def _job(config: dict, fn, configs, shared, threads):
    """One Tune trial: runs job `config["index"]`; the value travels back pickled."""
    if threads is not None:
        os.environ.update(thread_env(threads))   # before the job starts TensorFlow in this worker
    value = fn(configs[config["index"]], **shared)
    return {"value": base64.b64encode(pickle.dumps(value)).decode()}


def _run_tune(fn, configs, workers, address, shared, on_done, threads) -> list:
    # Tune's console tables (the caller prints its own) and its trial-failure tracebacks
    # (a failed job is raised again here, as one line)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
    import ray
    from ray import tune

    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = f"reach the Ray cluster at {address}" if address else "start Ray on this machine"
            raise ProtobrainError(f"cannot {where}: {str(e).splitlines()[0]}; check the address (`ray status`), "
                                  "or run one after another with --workers 1") from None

    class _Done(tune.Callback):
        """Reports each job as it finishes (its value comes back in Tune's results)."""

        def __init__(self, on_done):
            self.on_done, self.seen = on_done, set()

        def __getstate__(self):   # Tune pickles its run config; the caller's progress stays here
            return {"on_done": None, "seen": set()}

        def on_trial_result(self, iteration, trials, trial, result, **info):
            i = trial.config["index"]
            if self.on_done and "value" in result and i not in self.seen:
                self.seen.add(i)
                self.on_done(i, _value(result))

    try:
        with tempfile.TemporaryDirectory(prefix="pb-tune-") as storage:
            trainable = tune.with_resources(
                tune.with_parameters(_job, fn=fn, configs=configs, shared=shared, threads=threads),
                {"cpu": threads or 1})
            tuner = tune.Tuner(trainable, param_space={"index": tune.grid_search(list(range(len(configs))))},
                               tune_config=tune.TuneConfig(max_concurrent_trials=workers, reuse_actors=True),
                               run_config=tune.RunConfig(storage_path=storage, verbose=0, callbacks=[_Done(on_done)]))
            results = tuner.fit()
            values = {}
            for r in results:
                if r.error is not None:
                    raise _user_error(r.error, configs[r.config["index"]])
                values[r.config["index"]] = _value(r.metrics)
    finally:
        if started:
            ray.shutdown()
    return [values[i] for i in range(len(configs))]


def _value(metrics: dict):
    return pickle.loads(base64.b64decode(metrics["value"]))


def _user_error(error: BaseException, config: dict) -> ProtobrainError:
    """A job's ProtobrainError as it was raised; anything else as one line naming the job."""
    seen = set()
    e = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if getattr(e, "cause", None) is not None:   # Ray's wrapper (itself a subclass of the cause's class)
            e = e.cause
        elif isinstance(e, ProtobrainError):
            return e
        else:
            e = e.__cause__
    last = [line for line in str(error).splitlines() if line.strip()]
    return ProtobrainError(f"job {config} failed on Ray: {last[-1] if last else type(error).__name__}")
