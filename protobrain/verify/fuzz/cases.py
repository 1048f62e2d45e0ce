"""One case of the fuzzer and what came of it. run_case reads a (possibly hostile) model and
generates its Program for every kernel tier, each under a deadline, and classifies the
result per tier: a clear one-line ProtobrainError ("error"), a Program ("valid"), or a
finding: a crash (any other exception, or an error message that is not one line), a hang,
or a later tier refusing what the first generated ("tier-refused"). program_key tells
distinct valid programs apart. Also the records the driver keeps: Finding, ValidMutant,
and the Verdict of running a valid mutant against TFLite Micro (RunFailed: one run that
went wrong).
"""

from __future__ import annotations

import contextlib
import hashlib
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

# build_program is called through its module, so that a replacement there (a test's) is the one run.
from protobrain.compiler import program as compiler
from protobrain.compiler.ops.tiers.select import TIERS
from protobrain.compiler.reader import read_model_bytes
from protobrain.errors import ProtobrainError
from protobrain.verify.fuzz.mutator import Mutation


class CaseTimeout(BaseException):
    """Raised inside a case that overran its time (BaseException: no `except Exception` eats it)."""


@contextlib.contextmanager
def deadline(seconds: float | None):
    """SIGALRM after `seconds` raises CaseTimeout (main thread only; elsewhere no guard)."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise CaseTimeout()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Outcome:
    kind: str  # "error" (clear one-line ProtobrainError), "valid" (a Program per tier), "crash", "hang",
    #            "tier-refused" (a later tier refused what the first generated)
    message: str = ""
    traceback: str = ""
    seconds: float = 0.0
    program: object = None  # the first tier's Program
    key: str = ""  # program_key of every tier's Program, combined
    tier: str = ""  # the tier being generated when the case ended (a finding's or refusal's tier)
    tiers: dict = field(default_factory=dict)  # tier -> "valid", "error", "crash", ... for each tier tried
    programs: dict = field(default_factory=dict)  # tier -> Program, for a valid outcome

    @property
    def finding(self) -> bool:
        return self.kind in FINDING_KINDS


FINDING_KINDS = ("crash", "hang", "tier-refused")


def run_case(data: bytes, name: str = "fuzz", timeout: float | None = 10.0, tiers: tuple[str, ...] = TIERS,
             flash_budget: int | None = None) -> Outcome:
    """Read one (possibly hostile) model and generate its Program for each kernel tier, as
    `build` does for a board of that tier; classify what happened. `timeout` is per tier.
    The first tier's refusal is the case's (reading and lowering are the same for every
    tier); a later tier must generate what the first did. flash_budget: the DSP tier's
    (int16 weights when they take at most half of it; None: int8 weights)."""
    t0 = time.perf_counter()
    graph, programs, keys, kinds = None, {}, [], {}

    def ended(kind: str, message: str, tier: str, tb: str = "") -> Outcome:
        kinds[tier] = kind
        return Outcome(kind, message, tb, time.perf_counter() - t0, tier=tier, tiers=kinds)

    for tier in tiers:
        try:
            with deadline(timeout):
                if graph is None:
                    graph = read_model_bytes(data, name)
                program = compiler.build_program(graph, tier=tier,
                                                 flash_budget=flash_budget if tier == "dsp" else None)
                keys.append(program_key(program))  # touches every planned offset, as code generation does
        except CaseTimeout:
            return ended("hang", f"no answer within {timeout} s", tier)
        except ProtobrainError as e:
            msg = str(e)
            if not msg.strip() or "\n" in msg or "\r" in msg:
                return ended("crash", f"{type(e).__name__} with a message that is not one line: {msg!r}", tier)
            if programs:
                return ended("tier-refused", f"refused what the {tiers[0]} tier generated: {msg}", tier)
            return ended("error", msg, tier)
        except BaseException as e:  # noqa: BLE001 - anything else is what the fuzzer looks for
            if isinstance(e, KeyboardInterrupt):
                raise
            return ended("crash", f"{type(e).__name__}: {e}", tier, traceback.format_exc())
        programs[tier] = program
        kinds[tier] = "valid"
    key = keys[0] if len(keys) == 1 else hashlib.sha256(" ".join(keys).encode()).hexdigest()[:20]
    return Outcome("valid", seconds=time.perf_counter() - t0, program=programs[tiers[0]], key=key, tiers=kinds,
                   programs=programs)


_INT_RANGES = {"int8_t": (-(2**7), 2**7 - 1), "uint8_t": (0, 2**8 - 1), "int16_t": (-(2**15), 2**15 - 1),
               "uint16_t": (0, 2**16 - 1), "int32_t": (-(2**31), 2**31 - 1), "uint32_t": (0, 2**32 - 1)}


def program_key(program) -> str:
    """A digest of what the generated C computes: steps, parameters, constants and the plan.
    Two mutants with the same key generate the same code (up to names and comments).
    Raises ValueError for a constant that its C type cannot hold (the C would not compile,
    or would hold another value)."""
    h = hashlib.sha256()
    g = program.graph

    def where(i: int) -> tuple:  # a variable tensor lives in the state area, the others in the arena
        state = program.state_offset(i)
        return ("state", state) if state is not None else ("arena", program.plan.offset_of(i))

    for what, ios in (("in", g.inputs), ("out", g.outputs)):
        for i in ios:
            t = g.tensors[i]
            h.update(repr((what, t.shape, t.dtype, where(i))).encode())
    for s in program.steps:
        if s.alias is not None:
            h.update(repr(("alias", s.alias.output, s.alias.input)).encode())
            continue
        c = s.call
        h.update(repr((c.function, c.inputs, c.outputs, [where(i) for i in c.inputs + c.outputs],
                       c.scratch_bytes, c.state_bytes, c.state_kept)).encode())
        if c.state_init is not None:
            h.update(np.ascontiguousarray(c.state_init.values).tobytes())
        for k, v in c.fields.items():
            if hasattr(v, "values"):
                values = np.asarray(v.values)
                lo_hi = _INT_RANGES.get(v.ctype)
                if lo_hi and values.size and (values.min() < lo_hi[0] or values.max() > lo_hi[1]):
                    raise ValueError(f"{c.function}'s {k} holds {values.min()}..{values.max()}, outside {v.ctype}")
                h.update(f"{k}:{v.ctype}:".encode() + np.ascontiguousarray(values).tobytes())
            else:
                h.update(f"{k}={v!r};".encode())
    h.update(repr(sorted(program.scratch.items())).encode())
    h.update(repr([(st.name, st.size, st.offset, st.fill, st.tensor, st.kept) for st in program.state]).encode())
    h.update(str(program.arena_size).encode())
    return h.hexdigest()[:20]


# ---- many cases ----------------------------------------------------------------------------


@dataclass
class Finding:
    seed: str
    case: int
    mutation: Mutation
    outcome: Outcome
    data: bytes

    def line(self) -> str:
        return (f"{self.seed} case {self.case} [{self.mutation.kind}] {self.mutation.detail}: "
                f"{self.outcome.tier} tier: {self.outcome.kind}: {self.outcome.message}")


@dataclass
class ValidMutant:
    seed: str
    case: int
    mutation: Mutation
    seed_data: bytes  # the unmutated model (shared, not copied): a long run keeps thousands
    key: str
    arena: int  # the largest over the tiers
    macs: int
    same_as_seed: bool
    flash_budget: int | None = None  # the DSP tier's, as fuzzed (see run_case)
    const_bytes: int = 0  # the largest over the tiers
    io_bytes: int = 0  # the larger of all inputs' and all outputs' bytes

    @property
    def data(self) -> bytes:
        return self.mutation.apply(self.seed_data)

    def program(self, tier: str, name: str = "fuzz", flash_budget: int | None = None):
        """The mutant's Program for `tier` (DSP: with `flash_budget`, default the fuzzed one)."""
        budget = self.flash_budget if flash_budget is None else flash_budget
        return compiler.build_program(read_model_bytes(self.data, name), tier=tier,
                                      flash_budget=budget if tier == "dsp" else None)


@dataclass
class Verdict:
    mutant: ValidMutant
    ok: bool
    status: str  # "match", "unjudged" (no golden runs the whole model), "mismatch", "tflm-refused", "sanitizer",
    #              "build-failed", "timeout", "device"
    message: str = ""
    tier: str = "portable"
    where: str = "host"  # "host" (ASan/UBSan) or the QEMU board it ran on

    def line(self) -> str:
        m = self.mutant
        return (f"{m.seed} case {m.case} [{m.mutation.kind}] {m.mutation.detail}: {self.tier} tier on {self.where}: "
                f"{self.status}: {self.message}")


class RunFailed(Exception):
    """One run of one mutant went wrong (its Verdict's status and message)."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status, self.message = status, message
