"""The fuzzer's two phases and their report. fuzz() spreads many mutants over the seed
models (deterministic in its seed), runs each case for every kernel tier and keeps a
FuzzReport: counts per outcome, mutation kind, seed model and tier, the findings, and one
ValidMutant per distinct valid program. pick_sample chooses valid mutants to check, and
verify_valid checks them against TensorFlow Lite Micro: under sanitizers on the host and,
for a few, as firmware in QEMU; tier_table gives the per-tier counts of both phases.

What "matches TFLite Micro" means for a mutant protobrain accepts ("valid"):
  * TFLite Micro loads and runs it: the outputs of both are equal byte for byte on the
    sampled inputs (on the host: twice, both reset before each pass), and the C runs
    clean under AddressSanitizer/UBSan (on the boards: the firmware answers every
    INVOKE). Not compared: inputs TFLite Micro's invoke fails or aborts on (a check on
    the data), outputs its computation leaves undefined (tflm.undefined_checks) or
    unwritten (unwritten.py).
  * TFLite Micro refuses it (an error while loading, allocating or invoking every input,
    or an abort): a divergence, reported as a finding. protobrain must refuse what the
    reference refuses; it may refuse more (its errors are not checked against TFLM).
    Where what TFLite Micro refused is an operator whose golden is LiteRT's reference
    (no TFLite Micro kernel for the case), LiteRT judges instead; when LiteRT's reference
    refuses another operator of the mutant, no golden runs it ("unjudged", not a finding);
    so too where every input given stops (or aborts) TFLite Micro's invoke at an operator
    that checks the data (tflm.DATA_CHECKED: BROADCAST_ARGS of shapes that do not
    broadcast, indices out of range, ...), which no refusal of protobrain's can foresee.
Distinct valid programs are told apart by program_key (what the C computes); mutants whose
program equals their seed's are checked against the reference too (whatever they changed,
TFLite Micro must agree it changed nothing).
"""

from __future__ import annotations

import collections
import hashlib
import random
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from protobrain.compiler.ops.tiers.select import TIERS
from protobrain.errors import ProtobrainError
from protobrain.verify.compare import test_inputs
from protobrain.verify.fuzz.cases import Finding, RunFailed, ValidMutant, Verdict, run_case
from protobrain.verify.fuzz.mutator import Mutator
from protobrain.verify.fuzz.qemu import QEMU_BOARDS, board_flash, run_on_board
from protobrain.verify.fuzz.sanitize import HOST_TIERS, run_sanitized
from protobrain.verify.fuzz.tflm import (UNJUDGED, data_checked, litert_nodes, reference_arena,
                                         resource_variables, run_references, undefined_checks)
from protobrain.verify.fuzz.unwritten import Rule, unwritten_rules


def _wide_weights(program) -> bool:
    return any(s.call is not None and s.call.fields.get("wide_weights") == 1 for s in program.steps)


@dataclass
class FuzzReport:
    cases: int = 0
    seconds: float = 0.0
    tiers_fuzzed: tuple = TIERS
    outcomes: collections.Counter = field(default_factory=collections.Counter)
    by_kind: dict = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    by_seed: dict = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    by_tier: dict = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    dsp_wide: int = 0  # valid mutants whose DSP program stores int16 weights
    findings: list[Finding] = field(default_factory=list)
    valid: dict[str, ValidMutant] = field(default_factory=dict)  # program key -> first mutant
    same_program: list[ValidMutant] = field(default_factory=list)  # bytes differ, programs equal their seed's
    errors: collections.Counter = field(default_factory=collections.Counter)  # error message shapes
    slowest: tuple = (0.0, "", "")
    seed_keys: dict = field(default_factory=dict)  # (seed, DSP flash budget) -> key

    def generated(self, tier: str) -> int:
        """Mutants whose Program the tier generated."""
        return self.by_tier[tier]["valid"]

    def summary(self) -> dict:
        return {
            "cases": self.cases,
            "seconds": round(self.seconds, 2),
            "tiers": list(self.tiers_fuzzed),
            "outcomes": dict(self.outcomes),
            "by_tier": {t: dict(self.by_tier[t]) for t in self.tiers_fuzzed},
            "dsp_int16_weights": self.dsp_wide,
            "by_mutation": {k: dict(v) for k, v in sorted(self.by_kind.items())},
            "by_seed": {k: dict(v) for k, v in sorted(self.by_seed.items())},
            "distinct_valid_programs": len(self.valid),
            "valid_same_program_as_seed": len(self.same_program),
            "slowest_case": {"seconds": round(self.slowest[0], 3), "seed": self.slowest[1], "mutation": self.slowest[2]},
            "findings": [f.line() for f in self.findings],
            "most_common_errors": self.errors.most_common(15),
        }


def _error_shape(msg: str) -> str:
    """An error message with numbers and quoted names blanked, to count kinds of errors."""
    return re.sub(r"\d+", "N", re.sub(r"<[^>]*>|'[^']*'", "_", msg))[:140]


def fuzz(seeds: dict[str, bytes], cases: int, seed: int = 0, timeout: float | None = 10.0,
         progress=None, keep_same_program: int = 50, tiers: tuple[str, ...] = TIERS) -> FuzzReport:
    """`cases` distinct mutants, spread evenly over the seed models (deterministic in `seed`),
    each generated for every kernel tier of `tiers`. The DSP tier alternates, per round over
    the seeds, between int8 weights and the int16 weights `build` stores on the M4 board.

    progress(done, total) is called after every case when given.
    """
    report = FuzzReport(tiers_fuzzed=tuple(tiers))
    rng = random.Random(seed)
    names = sorted(seeds)
    budgets = (None, board_flash("dsp")) if "dsp" in tiers else (None,)
    mutators = {}
    for n in names:
        mutators[n] = Mutator(seeds[n], n)
        for budget in budgets:
            base = run_case(seeds[n], timeout=timeout, tiers=tiers, flash_budget=budget)
            if base.kind != "valid":
                raise ProtobrainError(f"seed model {n} does not compile unmutated ({base.tier} tier): {base.message}")
            report.seed_keys[n, budget] = base.key
    seen: set[bytes] = set()
    t0 = time.perf_counter()
    for case in range(cases):
        n = names[case % len(names)]
        budget = budgets[(case // len(names)) % len(budgets)]
        mut = mutators[n]
        for _ in range(20):
            m = mut.mutate(rng)
            data = m.apply(seeds[n])
            digest = hashlib.blake2b(data, digest_size=16).digest()
            if data != seeds[n] and digest not in seen:
                break
        seen.add(digest)
        out = run_case(data, timeout=timeout, tiers=tiers, flash_budget=budget)
        report.cases += 1
        report.outcomes[out.kind] += 1
        report.by_kind[m.kind.split("+")[0] if not m.kind.startswith("multi") else "multi"][out.kind] += 1
        report.by_seed[n][out.kind] += 1
        for tier, kind in out.tiers.items():
            report.by_tier[tier][kind] += 1
        if out.seconds > report.slowest[0]:
            report.slowest = (out.seconds, n, f"[{m.kind}] {m.detail}")
        if out.finding:
            report.findings.append(Finding(n, case, m, out, data))
        elif out.kind == "error":
            report.errors[_error_shape(out.message)] += 1
        else:
            progs = out.programs.values()
            g = out.program.graph
            io = max(sum(g.tensors[i].nbytes for i in g.inputs), sum(g.tensors[i].nbytes for i in g.outputs))
            if "dsp" in out.programs and _wide_weights(out.programs["dsp"]):
                report.dsp_wide += 1
            vm = ValidMutant(n, case, m, seeds[n], out.key, max(p.arena_size for p in progs), out.program.macs,
                             out.key == report.seed_keys[n, budget], budget, max(p.const_bytes for p in progs), io)
            if vm.same_as_seed:
                if len(report.same_program) < keep_same_program:
                    report.same_program.append(vm)
            elif out.key not in report.valid:
                report.valid[out.key] = vm
        if progress is not None:
            progress(case + 1, cases)
    report.seconds = time.perf_counter() - t0
    return report


def pick_sample(report: FuzzReport, count: int, same_program: int = 0, seed: int = 0,
                max_arena: int = 4 << 20, max_macs: int = 50_000_000) -> list[ValidMutant]:
    """A spread of valid mutants to verify: distinct programs, round robin over mutation
    kinds and seed models, small ones (arena, MACs) only; plus some whose program equals
    their seed's (TFLite Micro must agree that the mutation changed nothing)."""
    rng = random.Random(seed)
    pool = [v for v in report.valid.values() if v.arena <= max_arena and v.macs <= max_macs]
    rng.shuffle(pool)
    groups = collections.defaultdict(list)
    for v in pool:
        groups[(v.mutation.kind.split("+")[0], v.seed)].append(v)
    order = sorted(groups)
    rng.shuffle(order)
    picked = []
    while len(picked) < count and any(groups.values()):
        for g in order:
            if groups[g] and len(picked) < count:
                picked.append(groups[g].pop())
    same = list(report.same_program)
    rng.shuffle(same)
    return picked + same[:same_program]


def verify_valid(mutants: list[ValidMutant], n_random: int = 2, seed: int = 0, timeout: float = 60.0,
                 progress=None, tiers: tuple[str, ...] = HOST_TIERS, qemu: list[ValidMutant] = ()) -> list[Verdict]:
    """Each mutant: its generated C for each tier of `tiers`, built with ASan+UBSan on the
    host; each mutant of `qemu` also as firmware for each QEMU board (QEMU_BOARDS: the DSP
    tier on the Cortex-M4, Helium on the Cortex-M55), invoked over serial. Every output is
    compared byte for byte with TFLite Micro's on the same random and edge inputs.
    One Verdict per mutant, tier and place; progress(done, total) after each."""
    qemu = list(qemu)
    everyone = list(mutants) + [v for v in qemu if not any(v is m for m in mutants)]
    total = len(mutants) * len(tiers) + len(qemu) * len(QEMU_BOARDS)
    count = [0]

    def done():
        count[0] += 1
        if progress is not None:
            progress(count[0], total)

    results: dict[tuple[int, str, str], object] = {}  # (k, tier, where) -> outputs per case, or RunFailed
    with tempfile.TemporaryDirectory(prefix="pb-fuzz-ref-") as tmp:
        tmp = Path(tmp)
        cases, ios, shapes = {}, {}, {}
        for k, vm in enumerate(everyone):
            program = vm.program("portable")
            g = program.graph
            cases[k] = test_inputs([g.tensors[i] for i in g.inputs], n_random, seed + k)
            ios[k] = (len(g.inputs), len(g.outputs))
            shapes[k] = Shape(bool(program.state), unwritten_rules(program))
        for k, vm in enumerate(mutants):
            for tier in tiers:
                try:
                    results[k, tier, "host"] = run_sanitized(vm, tier, cases[k], tmp / f"exe{k}-{tier}", timeout,
                                                             passes=PASSES)
                except RunFailed as f:
                    results[k, tier, "host"] = f
                done()
        if qemu:
            index = {id(v): k for k, v in enumerate(everyone)}
            items = [(index[id(v)], v, cases[index[id(v)]]) for v in qemu]
            for tier, board in QEMU_BOARDS.items():
                for k, r in run_on_board(tier, items, tmp, timeout, done).items():
                    results[k, tier, board] = r
        jobs = []
        for k, vm in enumerate(everyone):
            if not any(kk == k and not isinstance(r, RunFailed) for (kk, _, _), r in results.items()):
                continue
            model = tmp / f"m{k}.tflite"
            model.write_bytes(vm.data)
            checks = undefined_checks(vm.data)
            np.savez(tmp / f"in{k}.npz", **{f"c{c}_i{i}": x for c, case in enumerate(cases[k]) for i, x in enumerate(case)})
            jobs.append({"model": str(model), "inputs": str(tmp / f"in{k}.npz"), "result": str(tmp / f"out{k}"),
                         "started": str(tmp / f"started{k}"), "log": str(tmp / f"log{k}"), "n_inputs": ios[k][0],
                         "n_outputs": ios[k][1], "n_cases": len(cases[k]), "k": k, "passes": PASSES,
                         "rows_alone": not shapes[k].stateful,
                         "resource_variables": resource_variables(vm.data), "undefined_checks": checks,
                         "litert_nodes": litert_nodes(vm.data, vm.program("portable")),
                         "data_checked": data_checked(vm.data),
                         "arena": reference_arena(vm.data, vm.arena)})
        refused = run_references(jobs, tmp, timeout) if jobs else {}
        wanted = {j["k"]: dict(np.load(j["result"], allow_pickle=False)) for j in jobs if j["k"] not in refused}
        verdicts = []
        for (k, tier, where), r in results.items():
            vm = everyone[k]
            if isinstance(r, RunFailed):
                verdicts.append(Verdict(vm, False, r.status, r.message, tier, where))
            elif k in refused and refused[k].startswith(UNJUDGED):
                verdicts.append(Verdict(vm, True, "unjudged", refused[k], tier, where))
            elif k in refused:
                verdicts.append(Verdict(vm, False, "tflm-refused", refused[k], tier, where))
            else:
                verdicts.append(_compare(vm, r, wanted[k], tier, where, shapes[k], len(cases[k])))
    return verdicts


PASSES = 2  # on the host, every input case runs twice, the model reset before each pass (see tflm.py)


@dataclass
class Shape:
    """What the comparison of one mutant needs to know of its program."""

    stateful: bool  # keeps state between invocations: a row TFLite Micro failed spoils the rest of its pass
    unwritten: list[Rule]  # graph output values TFLite Micro leaves unwritten (unwritten.py)


def _compare(vm: ValidMutant, got: list, want: dict, tier: str, where: str, shape: Shape, n_cases: int) -> Verdict:
    """Row by row (pass after pass): every output byte equal, but the values TFLite Micro
    leaves unwritten. Rows TFLite Micro's invoke failed on (a data-dependent check) or
    computed something undefined on are not compared, nor, for a stateful model, the rest
    of their pass."""
    failed = set(int(r) for r in want.get("failed", []))
    undefined = {(int(r), int(p)) for r, p in want.get("undefined", np.zeros((0, 2), np.int64))}
    spoiled = set()
    if shape.stateful:
        for r in failed | {r for r, _ in undefined}:
            spoiled |= set(range(r + 1, (r // n_cases + 1) * n_cases))
    compared = 0
    for c, row in enumerate(got):
        if c in failed or c in spoiled:
            continue
        compared += 1
        theirs = [want[f"c{c}_o{j}"] for j in range(len(row))]
        skip = {}
        for rule in shape.unwritten:
            mask = rule.skip(theirs, c)
            skip[rule.output] = skip[rule.output] | mask if rule.output in skip else mask
        for j, a in enumerate(row):
            if (c, j) in undefined:
                continue
            a = np.asarray(a).reshape(-1)
            b = np.asarray(theirs[j]).reshape(-1)
            if j in skip and b.dtype == a.dtype and b.size == a.size == skip[j].size:
                a, b = a[~skip[j]], b[~skip[j]]
            if b.dtype != a.dtype or a.tobytes() != b.tobytes():
                diff = int(np.count_nonzero(a != b.astype(a.dtype))) if b.size == a.size else -1
                return Verdict(vm, False, "mismatch", f"pass {c // n_cases} case {c % n_cases} output {j}: {diff} "
                               f"values differ ({a.dtype} vs TFLM {b.dtype})", tier, where)
    note = (f"{len(got) - compared} of {len(got)} runs not compared (TFLite Micro's invoke failed on {len(failed)}), "
            f"{len(undefined)} outputs undefined in TFLite Micro") if failed or undefined else ""
    if str(want.get("golden", "tflm")) == "litert":
        note = "; ".join(n for n in ("golden: LiteRT's reference (TFLite Micro has no kernel for it)", note) if n)
    return Verdict(vm, True, "match", note, tier, where)


def tier_table(report: FuzzReport, verdicts: list[Verdict]) -> dict[str, dict]:
    """Per tier: mutants generated, findings, and runs compared with TFLite Micro on the
    host under sanitizers and in QEMU (with how many matched, and how many no golden runs
    whole: "unjudged")."""
    table = {}
    for tier in report.tiers_fuzzed:
        host = [v for v in verdicts if v.tier == tier and v.where == "host"]
        board = [v for v in verdicts if v.tier == tier and v.where != "host"]
        table[tier] = {"generated": report.generated(tier),
                       "findings": sum(1 for f in report.findings if f.outcome.tier == tier),
                       "host_sanitizers": len(host), "host_sanitizers_match": sum(v.status == "match" for v in host),
                       "host_unjudged": sum(v.status == "unjudged" for v in host),
                       "qemu": len(board), "qemu_match": sum(v.status == "match" for v in board),
                       "qemu_unjudged": sum(v.status == "unjudged" for v in board),
                       "qemu_board": QEMU_BOARDS.get(tier, "")}
    return table
