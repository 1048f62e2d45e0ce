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

from protobrain.compiler.ir import DTYPES
from protobrain.compiler.ops.base import LITERT_GOLDEN
from protobrain.compiler.reader import read_model_bytes
from protobrain.verify.reference import Reference

# What a refusal starts with when TFLite Micro refused an operator LiteRT is the golden of and
# LiteRT's reference refused another, or when every input given stops a check of the data in
# TFLite Micro's invoke: no golden runs the model (the driver does not compare it).
UNJUDGED = "no golden runs it"
PREPARED = "protobrain: TFLite Micro prepared the model"  # the worker's mark in a job's log

# Operators whose TFLite Micro kernel stops an invocation on some input values (indices out of
# range, shapes that do not broadcast, RSQRT below its zero point, empty detection boxes).
DATA_CHECKED = ("BROADCAST_ARGS", "RSQRT", "GATHER", "GATHER_ND", "EMBEDDING_LOOKUP",
                "CUSTOM:TFLite_Detection_PostProcess")

PACKAGE_ROOT = Path(__file__).resolve().parents[3]  # the folder the child imports this protobrain from


def reference_worker(jobs_file: str) -> None:
    """Child process: run each job's model in TFLite Micro, one result file per job.
    TFLite Micro's own messages (fd 2) go to a per-job log. A job whose model makes TFLite
    Micro abort leaves a `started` mark and no result; the parent restarts past it.

    The input cases run `passes` times in order, the interpreter reset before each pass
    (variables and stateful operators back to their start, as pb_<name>_reset() sets
    them): result rows c0.. of pass 0, then of pass 1, ... An invoke that fails on some
    inputs (a data-dependent check, as RSQRT's below its zero point) leaves its row out and
    is listed in `failed` with the first message; a model every invoke fails is refused.
    The outputs whose values TFLite Micro's computation leaves undefined in a row (see
    undefined_checks) are listed in `undefined` as (row, output position) pairs. Where
    TFLite Micro refuses an operator whose golden is LiteRT's reference (the job's
    `litert_nodes`), LiteRT runs the rows instead and the result says golden "litert"."""
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
            cases = np.load(job["inputs"], allow_pickle=False)
            try:
                outs = _run_tflm(runtime, job, data, cases)
            except Exception as e:  # noqa: BLE001 - refused, unless LiteRT is the golden of what TFLite Micro refused
                sys.stderr.flush()
                if not _litert_judges(job):
                    raise
                refusal = _refusal(job, str(e))
                try:
                    outs = _run_litert(job, data, cases)
                except Exception as e2:  # noqa: BLE001 - then neither golden runs the whole model
                    raise RuntimeError(f"{UNJUDGED}: TFLite Micro refused ({refusal}), and LiteRT's reference "
                                       f"({type(e2).__name__}: {e2})") from None
            np.savez(str(result) + ".npz", **outs)
            os.replace(str(result) + ".npz", result)
        except Exception as e:  # noqa: BLE001 - TFLite Micro's refusal is the result
            sys.stderr.flush()
            result.with_suffix(".refused").write_text(f"{type(e).__name__}: {e}".replace("\n", " ")[:300])
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(log)


def _run_tflm(runtime, job: dict, data: bytes, cases) -> dict:
    """The job's rows in TFLite Micro (see reference_worker)."""
    checks = job.get("undefined_checks", [])
    interp = _tflm_interpreter(runtime, data, job["arena"], job.get("resource_variables", 0), preserve_all=bool(checks))
    sys.stderr.write(f"{PREPARED}\n")  # what fails from here on fails on the inputs
    sys.stderr.flush()
    n_in, n_cases = job["n_inputs"], job["n_cases"]
    shapes = [interp.get_input_details(i)["shape"] for i in range(n_in)]
    outs, failed, undefined, why = {}, [], [], ""
    for p in range(job.get("passes", 1)):
        interp.reset()
        for c in range(n_cases):
            row = p * n_cases + c
            for i in range(n_in):
                interp.set_input(cases[f"c{c}_i{i}"].reshape(shapes[i]), i)
            try:
                interp.invoke()
            except RuntimeError as e:  # this input only, or every input: see below
                failed.append(row)
                why = why or f"{type(e).__name__}: {e}"
                continue
            for j in range(job["n_outputs"]):
                outs[f"c{row}_o{j}"] = np.array(interp.get_output(j))
            hit = {q for t, scale, zp, reached in checks for q in reached
                   if _undefined_quantize(interp.GetTensor(t, 0)["tensor_data"], scale, zp)}
            undefined += [(row, q) for q in sorted(hit)]
    if len(failed) == job.get("passes", 1) * n_cases:
        checked = [n for n in job.get("data_checked", []) if f"Node {n} (" in _log(job)]
        if checked:  # a check of the data, which no input given passed
            raise RuntimeError(f"{UNJUDGED}: TFLite Micro stops on every input given at {checked[0]}'s check of the "
                               f"data ({why})")
        raise RuntimeError(f"every invoke failed: {why}")
    outs["failed"] = np.array(failed, np.int64)
    outs["undefined"] = np.array(undefined, np.int64).reshape(-1, 2)
    return outs


def _log(job: dict) -> str:
    sys.stderr.flush()
    return Path(job["log"]).read_text(errors="replace") if Path(job["log"]).exists() else ""


def _litert_judges(job: dict) -> bool:
    """Whether what TFLite Micro refused (its log names the operator) is one of the job's
    `litert_nodes`: an operator whose golden for this case is LiteRT's reference (TFLite
    Micro has no kernel for it, or refuses what protobrain takes as LiteRT does)."""
    log = _log(job)
    return any(f"Node {n} (" in log or f"opcode '{n}'" in log for n in job.get("litert_nodes", []))


def _run_litert(job: dict, data: bytes, cases) -> dict:
    """The job's rows in LiteRT's reference kernels, reset before each pass."""
    ref = Reference(data, golden="litert")  # (TensorFlow or LiteRT is imported on this path only)
    n_in, n_cases = job["n_inputs"], job["n_cases"]
    outs, failed = {"golden": np.array("litert")}, []
    for p in range(job.get("passes", 1)):
        ref.reset()
        for c in range(n_cases):
            row = p * n_cases + c
            try:
                got = ref.run(*[cases[f"c{c}_i{i}"] for i in range(n_in)])
            except (RuntimeError, ValueError):
                failed.append(row)
                continue
            for j, o in enumerate(got if isinstance(got, list) else [got]):
                outs[f"c{row}_o{j}"] = np.array(o)
    if len(failed) == job.get("passes", 1) * n_cases:
        raise RuntimeError("every invoke failed in LiteRT too")
    outs["failed"] = np.array(failed, np.int64)
    outs["undefined"] = np.zeros((0, 2), np.int64)
    return outs


def data_checked(data: bytes) -> list[str]:
    """The operators of `data` whose TFLite Micro kernel checks the input values (DATA_CHECKED)."""
    g = read_model_bytes(data)
    return sorted({op.name for sub in [g, *g.subgraphs] for op in sub.operators if op.name in DATA_CHECKED})


def litert_nodes(data: bytes, program) -> list[str]:
    """The operators of `data` whose refusal by TFLite Micro hands the judgement to LiteRT's
    reference: those with a LiteRT golden (ops.base.LITERT_GOLDEN: cases TFLite Micro has no
    kernel for), and RESHAPE where the program took an output shape from the shape operand,
    as LiteRT does (passes.reshape_to_folded_shapes)."""
    g = read_model_bytes(data)
    names = {op.name for sub in [g, *g.subgraphs] for op in sub.operators if op.name in LITERT_GOLDEN}
    if any(op.name == "RESHAPE" and op.outputs and op.outputs[0] < len(program.graph.tensors)
           and program.graph.tensors[op.outputs[0]].shape != g.tensors[op.outputs[0]].shape for op in g.operators):
        names.add("RESHAPE")
    return sorted(names)


def resource_variables(data: bytes) -> int:
    """How many resource variables TFLite Micro must make room for: the VAR_HANDLE operators
    of every subgraph (at least the distinct names, which is what TFLite Micro's Python
    wrapper counts; a spare slot costs nothing). Counted by protobrain's reader, which
    read every valid mutant already."""
    g = read_model_bytes(data)
    return sum(op.name == "VAR_HANDLE" for sub in [g, *g.subgraphs] for op in sub.operators)


def reference_arena(data: bytes, planned: int) -> int:
    """An arena TFLite Micro can run `data` in: room for protobrain's plan (`planned` bytes)
    several times over, and for every activation tensor of the file at once (TFLite Micro
    allocates the operators protobrain drops as unread too, and keeps all tensors alive
    where undefined_checks reads them), at most 2 GiB, the largest tensor the reader takes."""
    g = read_model_bytes(data)
    every = sum(t.nbytes for sub in [g, *g.subgraphs] for t in sub.tensors if t.dtype in DTYPES and not t.is_const)
    return int(min(max(len(data) * 10, planned * 4 + (256 << 10), every + (1 << 20)), 2**31 - 1))


def undefined_checks(data: bytes) -> list[list]:
    """Where TFLite Micro's result can be undefined on some inputs, as [tensor, scale, zero
    point, graph output positions it reaches] to watch: the float32 input of each QUANTIZE
    to int8/int16, whose quotient by the scale TFLite Micro converts to int32 with a plain
    cast (undefined for NaN and beyond the int32 range: x86 gives INT32_MIN, a Cortex-M
    saturates; protobrain saturates)."""
    g = read_model_bytes(data)
    checks = []
    for op in g.operators:
        if op.name == "QUANTIZE" and len(op.inputs) == 1 and len(op.outputs) == 1 and min(op.inputs + op.outputs) >= 0:
            inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
            if inp.dtype == "float32" and out.dtype in ("int8", "int16") and out.quant is not None:
                reached = _downstream(g, op.outputs[0])
                checks.append([op.inputs[0], float(out.quant.scale[0]), int(out.quant.zero_point[0]),
                               [p for p, t in enumerate(g.outputs) if t in reached]])
    return checks


def _downstream(g, tensor: int) -> set[int]:
    """The tensors computed from `tensor` (itself included), operators in graph order."""
    reached = {tensor}
    for op in g.operators:
        if reached & set(op.inputs):
            reached |= set(op.outputs)
    return reached


def _undefined_quantize(x, scale: float, zero_point: int) -> bool:
    """Whether round(x / scale) + zero_point leaves int32 for some x, or is NaN: a plain
    cast of those is undefined (x86 gives INT32_MIN, to which the zero point is then added,
    wrapping below zero; protobrain saturates, NaN to the lowest value)."""
    with np.errstate(all="ignore"):
        q = np.asarray(x, np.float32).reshape(-1) / np.float32(scale)
        r = np.sign(q.astype(np.float64)) * np.floor(np.abs(q.astype(np.float64)) + 0.5)
    return bool(np.any(~np.isfinite(r) | (r + zero_point >= 2.0**31) | (r + zero_point < -(2.0**31))))


def _tflm_interpreter(runtime, data: bytes, arena: int, variables: int = 0, preserve_all: bool = False):
    """TFLite Micro's C++ interpreter on `data` (preserve_all: every tensor kept, for
    GetTensor). The Python wrapper's constructor first unpacks the whole flatbuffer with
    the object API to count resource variables: that pass fails on damage in fields neither
    TFLite Micro nor protobrain reads, so it is skipped when the wrapper's layout allows,
    and `variables` (resource_variables) given."""
    config = runtime.InterpreterConfig.kPreserveAllTensors if preserve_all else \
        runtime.InterpreterConfig.kAllocationRecording
    try:
        interp = runtime.Interpreter.__new__(runtime.Interpreter)
        interp._interpreter = runtime._runtime.InterpreterWrapper(
            data, [], arena, variables, runtime._ENUM_TRANSLATOR[config], 0)
        return interp
    except (AttributeError, TypeError, KeyError):  # another tflite-micro release: the public way
        return runtime.Interpreter.from_bytes(data, arena_size=arena, intrepreter_config=config)


def _refusal(job: dict, why: str) -> str:
    """The reason TFLite Micro gave: its last log line, else `why`."""
    log = Path(job["log"])
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines()
             if ln.strip() and ln.strip() != PREPARED] if log.exists() else []
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
            why = r.with_suffix(".refused").read_text().removeprefix("RuntimeError: ")
            refused[j["k"]] = why if why.startswith(UNJUDGED) else _refusal(j, why)
        elif not r.exists() and j["k"] not in refused:
            if j.get("rows_alone") and _rows_alone(j, tmp, timeout):
                continue
            if j.get("data_checked") and all(PREPARED in _log(s) for s in _row_jobs(j, tmp)):
                refused[j["k"]] = (f"{UNJUDGED}: TFLite Micro aborts on every input given, in invoke (the data checks "
                                   f"of {', '.join(j['data_checked'])})")
                continue
            refused[j["k"]] = _refusal(j, "TFLite Micro aborted")
    return refused


def _row_jobs(job: dict, tmp: Path) -> list[dict]:
    """The jobs that ran `job`'s rows: one per row where _rows_alone split it, else itself."""
    work = tmp / f"rows{job['k']}"
    return [dict(job, log=str(work / f"log{c}")) for c in range(job["n_cases"])] if work.is_dir() else [job]


def _rows_alone(job: dict, tmp: Path, timeout: float) -> bool:
    """A stateless model TFLite Micro aborted on: each input case again in a process of its
    own (a failed check on some inputs, such as BROADCAST_ARGS on shapes that do not
    broadcast, aborts the process). Writes the job's result with the cases that aborted
    as failed rows; false when every case aborts (the model is refused)."""
    work = tmp / f"rows{job['k']}"
    work.mkdir()
    cases = np.load(job["inputs"], allow_pickle=False)
    n, n_in, passes = job["n_cases"], job["n_inputs"], job.get("passes", 1)
    subs = []
    for c in range(n):
        np.savez(work / f"in{c}.npz", **{f"c0_i{i}": cases[f"c{c}_i{i}"] for i in range(n_in)})
        subs.append(dict(job, inputs=str(work / f"in{c}.npz"), result=str(work / f"out{c}"), k=c, n_cases=1,
                         passes=1, started=str(work / f"started{c}"), log=str(work / f"log{c}"), rows_alone=False))
    aborted = run_references(subs, work, timeout)
    outs, failed, undefined = {}, [], []
    for c in range(n):
        got = None if c in aborted else np.load(subs[c]["result"], allow_pickle=False)
        for p in range(passes):
            row = p * n + c
            if got is None or len(got["failed"]):
                failed.append(row)
                continue
            undefined += [(row, int(p)) for _, p in got["undefined"]]
            outs.update({f"c{row}_o{j}": got[f"c0_o{j}"] for j in range(job["n_outputs"])})
    if len(failed) == n * passes:
        return False
    np.savez(job["result"] + ".npz", failed=np.array(failed, np.int64),
             undefined=np.array(undefined, np.int64).reshape(-1, 2), **outs)
    os.replace(job["result"] + ".npz", job["result"])
    return True
