"""TensorFlow Lite Micro on the fuzzer's valid mutants, in child processes: its crashes on
damaged files end one job, not the fuzzer. run_references runs every job (a model and
its input cases) in as few processes as it can and says which models TFLite Micro
refused and why; reference_worker is the child's side. The interpreter is TFLite Micro's
C++ one (_tflm_interpreter: the Python wrapper's own full parse of the file is skipped).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

PACKAGE_ROOT = Path(__file__).resolve().parents[3]  # the folder the child imports this protobrain from


def reference_worker(jobs_file: str) -> None:
    """Child process: run each job's model in TFLite Micro, one result file per job.
    TFLite Micro's own messages (fd 2) go to a per-job log. A job whose model makes TFLite
    Micro abort leaves a `started` mark and no result; the parent restarts past it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Imported here: only this child process loads TFLite Micro (after its log level is set).
    from tflite_micro.python.tflite_micro import runtime

    jobs = json.loads(Path(jobs_file).read_text())
    for job in jobs:
        result = Path(job["result"])
        if result.exists() or Path(job["started"]).exists():
            continue
        Path(job["started"]).write_text("")
        sys.stderr.flush()
        saved = os.dup(2)
        log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(log, 2)
        try:
            data = Path(job["model"]).read_bytes()
            interp = _tflm_interpreter(runtime, data, job["arena"])
            cases = np.load(job["inputs"], allow_pickle=False)
            n_in, n_cases = job["n_inputs"], job["n_cases"]
            shapes = [interp.get_input_details(i)["shape"] for i in range(n_in)]
            outs = {}
            for c in range(n_cases):
                for i in range(n_in):
                    interp.set_input(cases[f"c{c}_i{i}"].reshape(shapes[i]), i)
                interp.invoke()
                for j in range(job["n_outputs"]):
                    outs[f"c{c}_o{j}"] = np.array(interp.get_output(j))
            np.savez(str(result) + ".npz", **outs)
            os.replace(str(result) + ".npz", result)
        except Exception as e:  # noqa: BLE001 - TFLite Micro's refusal is the result
            sys.stderr.flush()
            result.with_suffix(".refused").write_text(f"{type(e).__name__}: {e}".replace("\n", " ")[:300])
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(log)


def _tflm_interpreter(runtime, data: bytes, arena: int):
    """TFLite Micro's C++ interpreter on `data`. The Python wrapper's constructor first
    unpacks the whole flatbuffer with the object API (to count resource variables, which
    no operator protobrain compiles uses): that pass fails on damage in fields neither
    TFLite Micro nor protobrain reads, so it is skipped when the wrapper's layout allows."""
    try:
        interp = runtime.Interpreter.__new__(runtime.Interpreter)
        interp._interpreter = runtime._runtime.InterpreterWrapper(
            data, [], arena, 0, runtime._ENUM_TRANSLATOR[runtime.InterpreterConfig.kAllocationRecording], 0)
        return interp
    except (AttributeError, TypeError, KeyError):  # another tflite-micro release: the public way
        return runtime.Interpreter.from_bytes(data, arena_size=arena)


def _refusal(job: dict, why: str) -> str:
    """The reason TFLite Micro gave: its last log line, else `why`."""
    log = Path(job["log"])
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()] if log.exists() else []
    return (lines[-1] if lines else why)[:300]


def run_references(jobs: list[dict], tmp: Path, timeout: float) -> dict[int, str]:
    """Run every job in as few child processes as possible (an abort ends one process).
    Returns {job k: why TFLite Micro refused} for the jobs without a result."""
    jobs_file = tmp / "jobs.json"
    jobs_file.write_text(json.dumps(jobs))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    code = (f"import sys; sys.path.insert(0, {str(PACKAGE_ROOT)!r}); "
            "from protobrain.verify.fuzz.tflm import reference_worker; reference_worker(sys.argv[1])")
    refused: dict[int, str] = {}
    while True:
        pending = [j for j in jobs if not Path(j["started"]).exists()]
        if not pending:
            break
        try:
            proc = subprocess.run([sys.executable, "-c", code, str(jobs_file)], capture_output=True, text=True,
                                  timeout=timeout + 20 * len(pending), env=env)
            why = f"TFLite Micro's process ended with {proc.returncode}"
        except subprocess.TimeoutExpired:
            why = "TFLite Micro timed out"
        if all(not Path(j["started"]).exists() for j in pending):  # it could not even start
            for j in pending:
                refused[j["k"]] = why
                Path(j["started"]).write_text("")
    for j in jobs:
        r = Path(j["result"])
        if r.with_suffix(".refused").exists():
            refused[j["k"]] = _refusal(j, r.with_suffix(".refused").read_text())
        elif not r.exists() and j["k"] not in refused:
            refused[j["k"]] = _refusal(j, "TFLite Micro aborted")
    return refused
