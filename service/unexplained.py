"""Wrong answers no mistake explains, grouped by how they relate to the key (issue 14, item 6).

The page and its JSON twin read ``unexplained``: the assignment's newest graded
submissions that lost marks, their parts scored below 1 with no mistake named, each
classified by ``exercises.relations.relate`` and grouped by slot, part and relation.
Only numeric parts (matrices and single numbers) relate to a key this way.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select

import exercises as ex
from exercises.relations import KINDS, NONE, relate

from .db import db
from .models import CURRENT_RESULT, Problem, Result, Slot, Submission, User
from .pipeline.store import VARIANTS, parsed_variant

SUBMISSION_LIMIT = 5_000  # the newest graded submissions with a wrong part that are read
EXAMPLES = 3  # example submissions shown per group


@dataclass(frozen=True)
class Example:
    """One unexplained answer: whose, which submission, the answer beside the key."""

    submission_id: uuid.UUID
    student: str
    received_at: datetime
    label: str
    answer: list[list[float]]  # a single number as [[x]]
    key: list[list[float]]


@dataclass
class Group:
    """The unexplained answers to one part of one slot that relate to the key alike."""

    position: int
    exercise_type: str
    part: str
    kind: str
    count: int = 0
    students: set[int] = field(default_factory=set)
    examples: list[Example] = field(default_factory=list)

    @property
    def title(self) -> str:
        return KINDS[self.kind]


@dataclass(frozen=True)
class Unexplained:
    groups: list[Group]
    submissions_read: int
    limit: int = SUBMISSION_LIMIT

    @property
    def answers(self) -> int:
        return sum(g.count for g in self.groups)


def unexplained(assignment_id: int, limit: int = SUBMISSION_LIMIT) -> Unexplained:
    """The assignment's unexplained wrong answers, grouped: by slot and part, then the
    largest groups first ("none" last)."""
    rows = db.session.execute(
        select(Submission.id, Submission.problem_id, Submission.user_id, Submission.received_at,
               Submission.answers, Result.parts, Slot.position, Slot.exercise_type,
               User.name, User.email)
        .join(Result, CURRENT_RESULT)
        .join(Problem, Problem.id == Submission.problem_id)
        .join(Slot, Slot.id == Problem.slot_id)
        .join(User, User.id == Submission.user_id)
        .where(Slot.assignment_id == assignment_id, Result.score < 1)
        .order_by(Submission.received_at.desc(), Submission.id)
        .limit(limit)
    ).all()
    variants = _variants({row.problem_id for row in rows})
    groups: dict[tuple[int, str, str], Group] = {}
    for row in rows:
        variant = variants[row.problem_id]
        for part, answer in _unexplained_parts(variant, row.answers, row.parts):
            key = variant.key_values[part.name]
            others = {p.name: variant.key_values[p.name] for p in variant.parts
                      if p.name != part.name and p.kind in ("matrix", "scalar")}
            relation = relate(part, answer, key, others)
            group = groups.setdefault(
                (row.position, part.name, relation.kind),
                Group(row.position, row.exercise_type, part.name, relation.kind))
            group.count += 1
            group.students.add(row.user_id)
            if len(group.examples) < EXAMPLES:
                group.examples.append(Example(
                    row.id, row.name or row.email, row.received_at, relation.label,
                    _rows(answer), _rows(key)))
    order = sorted(groups.values(),
                   key=lambda g: (g.position, g.part, g.kind == "none", -g.count, g.kind))
    return Unexplained(order, len(rows), limit)


def _variants(problem_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, ex.Variant]:
    """The parsed variants of these problems: from the process's cache, the rest read in
    one query (a variant record is large: it is not read once per submission)."""
    out = {pid: v for pid in problem_ids if (v := VARIANTS.get(pid)) is not None}
    missing = [pid for pid in problem_ids if pid not in out]
    if missing:
        for pid, record in db.session.execute(
                select(Problem.id, Problem.variant).where(Problem.id.in_(missing))):
            out[pid] = parsed_variant(pid, record)
    return out


def _unexplained_parts(variant: ex.Variant, raw: dict[str, Any],
                       graded: dict[str, Any]) -> list[tuple[ex.Part, Any]]:
    """The numeric parts scored below 1 with no mistake named, with their answers read."""
    wrong = [p for p in variant.parts
             if p.kind in ("matrix", "scalar") and p.name in graded
             and graded[p.name]["score"] < 1 and not graded[p.name]["misconceptions"]]
    if not wrong:
        return []
    try:
        values = ex.parse_answers(variant, raw).values
    except ex.AnswerFormatError:
        return []  # graded answers were readable; a row that is not is skipped
    return [(p, values[p.name]) for p in wrong]


def _rows(value: Any) -> list[list[float]]:
    return np.atleast_2d(np.asarray(value, dtype=np.float64)).tolist()


@dataclass(frozen=True)
class Unexplaining:
    """A submission's unexplained answer to one part, as an instructor may accept it: by its
    relation to the key (it holds across students' variants), else by its value."""

    part: str
    relation: str | None  # the relation's label; None when no relation describes it
    value: Any  # the answer as sent (the answers' JSON format)


def unexplained_answers(submission: Submission) -> list[Unexplaining]:
    """The current result's numeric parts scored below 1 with no mistake named, each with
    the relation an ``Accepted`` would name; [] for a submission not graded."""
    result = submission.result
    if result is None:
        return []
    problem = submission.problem
    variant = parsed_variant(problem.id, problem.variant)
    out = []
    for part, answer in _unexplained_parts(variant, submission.answers, result.parts):
        others = {p.name: variant.key_values[p.name] for p in variant.parts
                  if p.name != part.name and p.kind in ("matrix", "scalar")}
        relation = relate(part, answer, variant.key_values[part.name], others)
        out.append(Unexplaining(part.name, None if relation == NONE else relation.label,
                                submission.answers.get(part.name)))
    return out
