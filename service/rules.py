"""The grading policy and grader version that apply to a problem, from its assignment
and slot (``exercises.policy``); practice problems are graded by the default rule.

The pipeline asks here for every batch (a policy may change at any time) and stamps each
result with the version; regrades compare versions to find what may change.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select

from exercises import policy as rule

from .models import Assignment, Problem, Slot
from .pipeline.store import Db

GradingPolicy = rule.GradingPolicy
DEFAULT = rule.DEFAULT_POLICY


def policy_of(assignment_doc: Mapping[str, Any] | None,
              slot_doc: Mapping[str, Any] | None) -> GradingPolicy:
    """The slot's policy: the assignment's, with the slot's own fields over it."""
    if not assignment_doc and not slot_doc:
        return DEFAULT
    return _parsed(json.dumps([assignment_doc, slot_doc], sort_keys=True))


@lru_cache(maxsize=256)
def _parsed(docs: str) -> GradingPolicy:
    assignment_doc, slot_doc = json.loads(docs)
    return rule.merge(assignment_doc, slot_doc)


def slot_policy(slot: Slot) -> GradingPolicy:
    return policy_of(slot.assignment.grading_policy, slot.grading_policy)


@lru_cache(maxsize=1024)
def version(type_id: str, policy: GradingPolicy = DEFAULT) -> str:
    """``exercises.policy.grader_version``, computed once per type and policy."""
    return rule.grader_version(type_id, policy)


def slot_version(slot: Slot) -> str:
    return version(slot.exercise_type, slot_policy(slot))


_POLICIES_OF = (
    select(Problem.id, Assignment.grading_policy, Slot.grading_policy)
    .join(Slot, Slot.id == Problem.slot_id)
    .join(Assignment, Assignment.id == Slot.assignment_id)
    .where(Problem.id.in_(bindparam("ids", expanding=True)))
)


def problem_policies(
    session: Db, problem_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, GradingPolicy]:
    """The policy of each problem (read now: it may have changed since the last batch)."""
    out = dict.fromkeys(problem_ids, DEFAULT)
    for pid, assignment_doc, slot_doc in session.execute(_POLICIES_OF, {"ids": list(problem_ids)}):
        out[pid] = policy_of(assignment_doc, slot_doc)
    return out
