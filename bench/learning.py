"""Learning-loop benchmark with simulated students: does the model find the misconceptions
they hold, and in how few problems? (prints figures; no assertions).

Students are made from the mistake library itself. Each holds a hidden set of 0–3
misconceptions (count uniform over 0..3, tags uniform over ``learning.MISCONCEPTIONS``),
each applied through one of its slip sets fixed when the student is made, and a slip rate
s uniform in [0, 0.2]. A student answers a problem by the engine: every part is the value
of the derivation with the union of their slips (``ExerciseType.extract`` of the float
derivation; concept-check's ``predict``), so a mistake carries through later parts as it
would on paper. Where that leaves a part undefined (a dot product where a matrix is asked
for; symbolic-gradient has no expression for most pairs; concept-check no option for two
mistakes at once) they try another slip set of the same misconception (the library's
``SPREAD`` variants are that dot product spread over the matrix), then each misconception
alone; where none defines the part, they answer the key. Then, with probability s per
part, a careless slip: one entry of a matrix changed by 15–60%, a number so, an expression
tripled, another option chosen; it stays in its part (later parts are worked from the
value before the slip). Students never learn from the feedback: the hidden set is
what is measured.

Every answer is graded by the real grader (``exercises.grade``), turned into evidence by
``learning.observe`` and folded into the student's ``StudentModel``: the model sees only
graded submissions, never the hidden set. Problems come from a pool drawn once (--seeds
public seeds per type and difficulty, from a fixed generator), never one the student has
seen, by a policy:
  adaptive  ``learning.choose`` over ``learning.candidate`` of every unseen pool variant
  random    uniformly among the unseen pool variants (all types and difficulties)
  live      ``learning.next_problem`` itself (type profiles, then 3 fresh draws of public
            seeds), with --live: the loop as the practice pages run it
The same students (hidden sets and slip rates) meet every policy.

After n = 1..--problems problems a tag is flagged when its belief ≥ ``learning.LIKELY``.
Printed per policy and n: micro precision Σ flagged-and-held / Σ flagged, micro recall
Σ flagged-and-held / Σ held, the share of students whose flagged set is exactly their hidden
set, and the answer boxes (parts) answered so far per student; recall by the number of
misconceptions held; the mean boxes per problem. Then the problems needed for a recall (and
an exact share) of 0.9 and below, the verdict on the issue's two goals (90% recall within 5
problems with adaptive choice; fewer problems than random for the same recall), and, for
the adaptive policy at 5 problems, each tag's recall with why its misses were missed (never
asked where it shows, asked but never named, named but below LIKELY), how often it was
flagged but not held, and over the whole run how often it came out clean for a holder and
named for a non-holder (what the model's 1 − h and f assume).

The 1,000 students × 10 problems of adaptive and random take about a minute on 2 cores;
--live adds about a quarter of an hour (it draws and builds 3 fresh variants per problem).

    .venv/bin/python bench/learning.py [--students 1000] [--problems 10] [--seed 17]
        [--processes 2] [--seeds 16] [--live] [--param consistency=0.95 ...]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

import exercises as ex
from exercises import learning
from exercises.engine import Slip
from exercises.expressions import expression_to_text
from exercises.mistakes import MISTAKES
from exercises.problem import Part, to_grading_form
from exercises.registry import Setup, as_read

POLICIES = ("adaptive", "random")
TARGET = 0.9  # the recall goal
GOAL_PROBLEMS = 5  # ... within this many problems
REPORTED = (3, 5, 10)
CHUNK = 10  # students per task handed to a worker process

# --- the simulated student -------------------------------------------------------------


@dataclass(frozen=True)
class Student:
    """A hidden set of misconceptions, each with the slip set it is applied through, and
    the probability of a careless slip per part."""

    held: tuple[tuple[str, frozenset[Slip]], ...]
    slip: float

    @property
    def tags(self) -> frozenset[str]:
        return frozenset(tag for tag, _ in self.held)


def make_student(rng: np.random.Generator, most: int = 3, slip_max: float = 0.2) -> Student:
    """0..``most`` misconceptions (count uniform), each with one of its slip sets."""
    count = int(rng.integers(0, most + 1))
    tags = rng.choice(len(learning.MISCONCEPTIONS), size=count, replace=False)
    held = []
    for k in sorted(int(t) for t in tags):
        tag = learning.MISCONCEPTIONS[k]
        variants = MISTAKES[tag].variants
        held.append((tag, variants[int(rng.integers(len(variants)))]))
    return Student(tuple(held), float(rng.uniform(0.0, slip_max)))


def _defined(part: Part, value: Any, key: Any) -> Any | None:
    """An engine value in grading form, as the student would write it; None if undefined."""
    if value is None:
        return None
    v = as_read(part, to_grading_form(part.kind, value), key)
    if part.kind in ("matrix", "scalar") and not np.all(np.isfinite(v)):
        return None
    return v


def attempts(student: Student, rng: np.random.Generator) -> list[frozenset[Slip]]:
    """The slip sets a student answers a part by, in order, until one defines it: all their
    misconceptions at once, each through its own slip set, then with others of the same
    misconception (fewest swapped first: a dot product where a matrix is asked for is
    spread over it, the library's ``SPREAD`` variant); then each misconception alone, in
    an order shuffled per problem."""
    own = [slips for _, slips in student.held]
    if not own:
        return []
    choices = [[slips, *(v for v in MISTAKES[tag].variants if v != slips)]
               for tag, slips in student.held]
    combos = sorted(itertools.product(*(range(len(c)) for c in choices)),
                    key=lambda ks: sum(k > 0 for k in ks))
    out = [frozenset().union(*(c[k] for c, k in zip(choices, ks, strict=True)))
           for ks in combos]
    if len(own) > 1:
        out += [v for k in rng.permutation(len(choices)) for v in choices[int(k)]]
    return list(dict.fromkeys(out))


def engine_values(t: ex.ExerciseType, setup: Setup, slips: frozenset[Slip]) -> dict[str, Any]:
    """Every part's value with ``slips``: the derivation's own, downstream parts included
    (a type's ``predict`` leaves out what is carried forward; the student still writes it).
    concept-check has no network: its ``predict`` is the option a slip set picks."""
    if setup.network is None:
        return t.predict(setup, slips)
    return t.extract(setup, setup.float_derivation(slips))


def intended(student: Student, variant: ex.Variant, setup: Setup,
             rng: np.random.Generator) -> dict[str, Any]:
    """Each part's answer (grading form) by the student's misconceptions, before careless
    slips: the engine's value for the first of their ``attempts`` that defines it (so a
    mistake carries through later parts), else the key."""
    t = ex.get_type(variant.type)
    out = {p.name: variant.key_values[p.name] for p in variant.parts}
    todo = list(variant.parts)
    for slips in attempts(student, rng):
        if not todo:
            break
        values = engine_values(t, setup, slips)
        for p in list(todo):
            v = _defined(p, values.get(p.name), variant.key_values[p.name])
            if v is not None:
                out[p.name] = v
                todo.remove(p)
    return out


def careless(part: Part, value: Any, rng: np.random.Generator) -> Any:
    """``value`` with a careless slip: one entry off by 15–60%, a tripled expression, or
    another option."""
    if part.kind == "choice":
        others = [o.id for o in part.options if o.id != value]
        return others[int(rng.integers(len(others)))] if others else value
    if part.kind == "expression":
        return sympy.Integer(3) * value
    a = np.array(value, dtype=np.float64)
    flat = a.reshape(-1)
    i = int(rng.integers(flat.size))
    step = max(abs(flat[i]), 0.1) * rng.uniform(0.15, 0.6)
    flat[i] += step if rng.random() < 0.5 else -step
    return float(a) if part.kind == "scalar" else a


def to_answer_json(part: Part, value: Any) -> Any:
    """A grading-form value in the answers format."""
    if part.kind == "matrix":
        return [[float(x) for x in row] for row in np.atleast_2d(value)]
    if part.kind == "scalar":
        return float(value)
    if part.kind == "expression":
        return expression_to_text(value)
    return value


def answers(student: Student, variant: ex.Variant, setup: Setup,
            rng: np.random.Generator) -> dict[str, Any]:
    """The student's submission (answers-format JSON): misconceptions, then careless slips."""
    out = {}
    values = intended(student, variant, setup, rng)
    for p in variant.parts:
        v = values[p.name]
        if rng.random() < student.slip:
            v = careless(p, v, rng)
        out[p.name] = to_answer_json(p, v)
    return out


def graded(variant: ex.Variant, raw: dict[str, Any]) -> dict[str, Any]:
    """The real grader's result parts (CONTRACT §4 JSON)."""
    return ex.grade(variant, ex.parse_answers(variant, raw)).to_json()["parts"]


# --- the pool of problems --------------------------------------------------------------


@dataclass
class Pool:
    """Variants drawn once for every type and difficulty, their candidates, and their
    setups (rebuilt once per process, as the grader caches its own)."""

    variants: list[ex.Variant]
    candidates: list[learning.Candidate]
    kinds: list[int]  # per variant, the index of its first variant with the same candidate
    setups: dict[int, Setup] = field(default_factory=dict)

    def setup(self, i: int) -> Setup:
        if i not in self.setups:
            v = self.variants[i]
            self.setups[i] = ex.get_type(v.type).setup_from(v)
        return self.setups[i]


def _same(c: learning.Candidate) -> tuple[Any, ...]:
    """What ``learning.information`` reads of a candidate (all but the seed)."""
    return (c.type, c.difficulty, c.parts, c.skills, tuple(sorted(c.reveals.items())),
            c.options)


def build_pool(seeds: int, rng: np.random.Generator) -> Pool:
    variants = [ex.generate(t.id, int(s), d) for t in ex.catalogue() for d in ex.DIFFICULTIES
                for s in rng.integers(0, learning.PRACTICE_SEEDS, size=seeds)]
    candidates = [learning.candidate(v) for v in variants]
    first: dict[tuple[Any, ...], int] = {}
    kinds = [first.setdefault(_same(c), i) for i, c in enumerate(candidates)]
    return Pool(variants, candidates, kinds)


def adaptive(pool: Pool, model: learning.StudentModel, seen: set[int]) -> int:
    """``learning.choose`` over the unseen pool. Candidates that look alike to the model are
    offered once (the first unseen one): ``choose`` keeps the first of equals, so this picks
    what choosing among all of them would."""
    offered: dict[int, int] = {}
    for i, kind in enumerate(pool.kinds):
        if i not in seen and kind not in offered:
            offered[kind] = i
    by_id = {id(pool.candidates[i]): i for i in offered.values()}
    chosen = learning.choose(model, [pool.candidates[i] for i in offered.values()])
    assert chosen is not None
    return by_id[id(chosen)]


# --- one student's run ---------------------------------------------------------------------


@dataclass(frozen=True)
class Trace:
    """What one student's run under one policy gives: after n = 0..N problems, the tags
    flagged and, per tag, (submissions that named it, submissions where it could show)."""

    index: int
    policy: str
    held: frozenset[str]
    slip: float
    flagged: tuple[frozenset[str], ...]
    record: tuple[dict[str, tuple[int, int]], ...]
    parts: tuple[int, ...]  # answer boxes of each problem asked
    types: tuple[str, ...]


_POOL: Pool | None = None  # the worker's pool: built before the fork, shared by copy-on-write
_ARGS: dict[str, Any] = {}


def run(index: int, policy: str, pool: Pool, problems: int, seed: int,
        p: learning.Parameters) -> Trace:
    """Student ``index`` answers ``problems`` problems chosen by ``policy``."""
    student = make_student(np.random.default_rng([seed, index]))
    rng = np.random.default_rng([seed, index, POLICIES.index(policy) if policy in POLICIES
                                 else len(POLICIES)])
    model = learning.StudentModel.new(p)
    seen: set[int] = set()
    live_seen: set[tuple[str, int, int]] = set()
    flagged = [frozenset(model.likely())]
    record = [_record(model)]
    parts, types = [], []
    for _ in range(problems):
        if policy == "live":
            variant = learning.next_problem(model, live_seen, rng)
            live_seen.add((variant.type, variant.difficulty, variant.seed))
            setup = ex.get_type(variant.type).setup_from(variant)
        else:
            i = (adaptive(pool, model, seen) if policy == "adaptive"
                 else int(rng.choice([k for k in range(len(pool.variants)) if k not in seen])))
            seen.add(i)
            variant, setup = pool.variants[i], pool.setup(i)
        result = graded(variant, answers(student, variant, setup, rng))
        model = model.update(learning.observe(variant, result))
        flagged.append(frozenset(model.likely()))
        record.append(_record(model))
        parts.append(len(variant.parts))
        types.append(variant.type)
    return Trace(index, policy, student.tags, student.slip, tuple(flagged), tuple(record),
                 tuple(parts), tuple(types))


def _record(model: learning.StudentModel) -> dict[str, tuple[int, int]]:
    return {m: (model.shown.get(m, 0), model.tested[m]) for m in model.tested}


def _task(job: tuple[str, Sequence[int]]) -> list[Trace]:
    policy, indices = job
    assert _POOL is not None
    return [run(i, policy, _POOL, _ARGS["problems"], _ARGS["seed"], _ARGS["parameters"])
            for i in indices]


# --- figures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One policy's figures after n problems."""

    precision: float | None
    recall: float
    exact: float
    boxes: float


def figures(traces: Sequence[Trace], n: int) -> Row:
    tp = sum(len(t.flagged[n] & t.held) for t in traces)
    flagged = sum(len(t.flagged[n]) for t in traces)
    held = sum(len(t.held) for t in traces)
    return Row(tp / flagged if flagged else None, tp / held if held else 1.0,
               sum(t.flagged[n] == t.held for t in traces) / len(traces),
               sum(sum(t.parts[:n]) for t in traces) / len(traces))


def needed(rows: Sequence[Row], what: str, level: float) -> int | None:
    """The fewest problems at which ``what`` (recall, exact) reaches ``level``."""
    for n, row in enumerate(rows):
        if n > 0 and getattr(row, what) >= level:
            return n
    return None


def _n(n: int | None, problems: int) -> str:
    return f">{problems}" if n is None else str(n)


def _pct(x: float | None) -> str:
    return "    —" if x is None else f"{100 * x:5.1f}"


def report(by_policy: dict[str, list[Trace]], problems: int, p: learning.Parameters) -> None:
    rows = {pol: [figures(ts, n) for n in range(problems + 1)] for pol, ts in by_policy.items()}
    pols = list(by_policy)
    print("\nAfter n problems (percent; boxes = answer boxes answered so far, per student):")
    print(f"{'':4}" + "".join(f"  {pol:^36}" for pol in pols))
    print(f"{'n':>4}" + "  precision recall  exact  boxes    " * len(pols))
    for n in range(1, problems + 1):
        mark = "*" if n in REPORTED else " "
        line = f"{n:>3}{mark}"
        for pol in pols:
            r = rows[pol][n]
            line += (f"  {_pct(r.precision):>9} {_pct(r.recall):>6} {_pct(r.exact):>6} "
                     f"{r.boxes:6.1f}    ")
        print(line)
    print("\nRecall by the number of misconceptions held (exactly identified for none held):")
    print(f"{'held':>4}" + "".join(f"  {pol + ' n=' + str(n):>14}" for pol in pols
                                   for n in REPORTED if n <= problems))
    for k in range(4):
        line = f"{k:>4}"
        for pol in pols:
            group = [t for t in by_policy[pol] if len(t.held) == k]
            for n in (n for n in REPORTED if n <= problems):
                row = figures(group, n) if group else None
                value = None if row is None else row.exact if k == 0 else row.recall
                line += f"  {_pct(value):>14}"
        print(line)
    print("\nAnswer boxes per problem (mean): " + ", ".join(
        f"{pol} {np.mean([x for t in by_policy[pol] for x in t.parts]):.2f}" for pol in pols))

    print("\nProblems needed (fewest n reaching the level; >N: not within N):")
    print(f"{'level':>22}" + "".join(f"{pol:>10}" for pol in pols))
    for level in (0.5, 0.6, 0.7, 0.8, 0.9):
        print(f"{f'recall ≥ {level:.1f}':>22}" + "".join(
            f"{_n(needed(rows[pol], 'recall', level), problems):>10}" for pol in pols))
    print(f"{'exactly identified ≥ 0.9':>22}" + "".join(
        f"{_n(needed(rows[pol], 'exact', TARGET), problems):>10}" for pol in pols))

    if "adaptive" in rows and "random" in rows:
        verdict(rows, problems)
    if "adaptive" in by_policy:
        per_tag(by_policy["adaptive"], min(GOAL_PROBLEMS, problems), p)


def verdict(rows: dict[str, list[Row]], problems: int) -> None:
    """The issue's goals, for the adaptive policy (and, where it ran, ``next_problem``)."""
    at = min(GOAL_PROBLEMS, problems)
    nr = needed(rows["random"], "recall", TARGET)
    for pol in ("adaptive", "live"):
        if pol not in rows:
            continue
        recall = rows[pol][at].recall
        one = "met" if recall >= TARGET and at == GOAL_PROBLEMS else "missed"
        na = needed(rows[pol], "recall", TARGET)
        two = "met" if na is not None and (nr is None or na < nr) else "missed"
        if na is None and nr is None:
            two = "missed (neither policy reaches it)"
        print(f"\nVerdict ({pol}): goal 1 (recall ≥ {TARGET:.0%} within {GOAL_PROBLEMS} "
              f"problems) {one}: {recall:.1%} at {at}; goal 2 (fewer problems than random for "
              f"recall ≥ {TARGET:.0%}) {two}: {pol} {_n(na, problems)}, random "
              f"{_n(nr, problems)}.")


def per_tag(traces: Sequence[Trace], n: int, p: learning.Parameters) -> None:
    """Per tag at n problems: recall, why each miss was missed, the tags flagged wrongly;
    and over the whole run, how often a submission where the tag could show came out clean
    for a holder (the model assumes 1 − h) and named it for a non-holder (it assumes f)."""
    held: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    why: dict[str, Counter[str]] = {}
    wrong: Counter[str] = Counter()
    clean: Counter[str] = Counter()  # holders: submissions that could show it, not naming it
    tests: Counter[str] = Counter()
    named: Counter[str] = Counter()  # non-holders: submissions naming it
    chances: Counter[str] = Counter()
    for t in traces:
        for m in t.held:
            held[m] += 1
            if m in t.flagged[n]:
                hit[m] += 1
                continue
            shown, tested = t.record[n].get(m, (0, 0))
            reason = ("never asked" if tested == 0 else
                      "never named" if shown == 0 else "named, below")
            why.setdefault(m, Counter())[reason] += 1
        wrong.update(t.flagged[n] - t.held)
        for m, (shown, tested) in t.record[-1].items():
            if m in t.held:
                clean[m] += tested - shown
                tests[m] += tested
            else:
                named[m] += shown
                chances[m] += tested
    print(f"\nAdaptive, after {n} problems, per held tag (misses: never asked where it shows / "
          f"asked but never named / named but belief below {learning.LIKELY}); over all "
          f"{len(traces[0].parts)} problems, the share of submissions where it could show "
          f"that were clean for a holder (model: 1 − h = {1 - p.consistency:.2f}) and named "
          f"it for a non-holder (model: f = {p.false_match:.2f}):")
    print(f"{'tag':30} {'held':>4} {'recall':>6} {'never asked':>11} {'never named':>11} "
          f"{'named, below':>12} {'flagged, not held':>17} {'clean|held':>10} "
          f"{'named|not':>9}")
    for m in sorted(learning.MISCONCEPTIONS, key=lambda m: (hit[m] / held[m] if held[m] else 1)):
        w = why.get(m, Counter())
        print(f"{m:30} {held[m]:4} {_pct(hit[m] / held[m] if held[m] else None):>6} "
              f"{w['never asked']:11} {w['never named']:11} {w['named, below']:12} "
              f"{wrong[m]:17} {_pct(clean[m] / tests[m] if tests[m] else None):>10} "
              f"{_pct(named[m] / chances[m] if chances[m] else None):>9}")
    total = sum(held.values())
    misses = Counter(r for w in why.values() for r in w.elements())
    print(f"{'all':30} {total:4} {_pct(sum(hit.values()) / total if total else None):>6} "
          f"{misses['never asked']:11} {misses['never named']:11} {misses['named, below']:12} "
          f"{sum(wrong.values()):17} "
          f"{_pct(sum(clean.values()) / max(1, sum(tests.values()))):>10} "
          f"{_pct(sum(named.values()) / max(1, sum(chances.values()))):>9}")


# --- main ---------------------------------------------------------------------------------------


def parameters(pairs: Sequence[str]) -> learning.Parameters:
    """``Parameters`` with ``name=value`` overrides."""
    fields = learning.Parameters.__dataclass_fields__
    given = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in fields or not value:
            raise SystemExit(f"--param {pair!r}: expected name=value, name one of "
                             f"{', '.join(fields)}")
        given[name] = float(value)
    return learning.Parameters(**given)


def jobs(policies: Sequence[str], students: int) -> Iterator[tuple[str, list[int]]]:
    for policy in policies:
        for start in range(0, students, CHUNK):
            yield policy, list(range(start, min(students, start + CHUNK)))


def main() -> None:
    global _POOL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--problems", type=int, default=10)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--processes", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seeds", type=int, default=16, help="pool variants per type and "
                        "difficulty")
    parser.add_argument("--live", action="store_true", help="also run learning.next_problem")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a model parameter other than its default (repeatable)")
    args = parser.parse_args()
    p = parameters(args.param)
    policies = [*POLICIES, *(["live"] if args.live else [])]

    t0 = time.perf_counter()
    _POOL = build_pool(args.seeds, np.random.default_rng(args.seed))
    types = len(ex.catalogue())
    print(f"Learning loop, simulated: {args.students:,} students × {args.problems} problems, "
          f"policies {', '.join(policies)}; seed {args.seed}, {args.processes} processes")
    print(f"pool: {types} types × {len(ex.DIFFICULTIES)} difficulties × {args.seeds} seeds = "
          f"{len(_POOL.variants)} variants ({len(set(_POOL.kinds))} distinct candidates), "
          f"drawn in {time.perf_counter() - t0:.0f} s")
    print(f"parameters: {p.to_json()}; LIKELY = {learning.LIKELY}")
    students = [make_student(np.random.default_rng([args.seed, i])) for i in range(args.students)]
    counts = Counter(len(s.held) for s in students)
    print("students: holding 0/1/2/3 misconceptions: "
          f"{'/'.join(str(counts[k]) for k in range(4))}; mean slip rate "
          f"{np.mean([s.slip for s in students]):.3f}")

    _ARGS.update(problems=args.problems, seed=args.seed, parameters=p)
    by_policy: dict[str, list[Trace]] = {pol: [] for pol in policies}
    work = list(jobs(policies, args.students))
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(args.processes) as workers:
        for done, traces in enumerate(workers.imap_unordered(_task, work), start=1):
            for t in traces:
                by_policy[t.policy].append(t)
            if done % 10 == 0 or done == len(work):
                print(f"  {done}/{len(work)} tasks ({time.perf_counter() - t0:.0f} s)",
                      file=sys.stderr, flush=True)
    print(f"simulated in {time.perf_counter() - t0:.0f} s")
    for ts in by_policy.values():
        ts.sort(key=lambda t: t.index)
    report(by_policy, args.problems, p)


if __name__ == "__main__":
    main()
