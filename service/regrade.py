"""Regrades: preview what a new grading policy or grader version would change, then apply
it; and overrides, a score set by hand.

A preview grades, under the slot's current policy and the current grader version, every
graded submission in scope (an assignment, a slot, one submission) whose current result
was made by another version and is not an override, and stores each as a ``RegradeItem``
(its old and new score and named mistakes); nothing a student sees changes. Applying
writes the items in batches, each one transaction: the new result becomes current, the
old one stays as history, the item is marked done, the marks of the students it touched
are rebuilt and their LMS scores queued. A batch killed halfway leaves nothing behind, so
an application resumes where it stopped (the sweeper restarts one that stalls) and
applying twice writes nothing twice. "Never lower" (on by default) keeps a result the
regrade would lower (``kept``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from .models import RegradeChange, Result

APPLY_BATCH = 500  # items written per transaction


@dataclass(frozen=True)
class Scope:
    """What a regrade covers: an assignment, one of its slots, or one submission."""

    assignment_id: int
    slot_id: int | None = None
    submission_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Row:
    """One submission the regrade changes (or keeps), old → new."""

    submission_id: uuid.UUID
    user_id: int
    student: str  # the name, else the email
    email: str
    position: int  # the slot's position in the assignment (1-based)
    attempt: int
    old_score: float
    new_score: float
    old_tags: tuple[str, ...]
    new_tags: tuple[str, ...]
    change: RegradeChange


@dataclass(frozen=True)
class Effect:
    """A student's assignment score (a fraction of the assignment's points) before and after."""

    user_id: int
    student: str
    email: str
    old_total: float
    new_total: float


@dataclass
class Preview:
    """A stored preview: the rows that change, the counts, each student's total."""

    regrade_id: int
    scope: Scope
    status: str  # RegradeStatus
    never_lower: bool
    reason: str
    created_at: datetime
    rows: list[Row] = field(default_factory=list)  # raised, lowered, kept; and unchanged
    # scores whose named mistakes change
    counts: dict[str, int] = field(default_factory=dict)  # raised, lowered, unchanged, kept
    overrides: int = 0  # submissions in scope left alone as overrides
    effects: list[Effect] = field(default_factory=list)  # students whose total changes


def preview(session: Session, scope: Scope, *, by: int | None, reason: str = "",
            never_lower: bool = True) -> Preview:
    """Grade the scope's stale submissions again and store the preview; commits. An earlier
    preview of the same assignment that was never applied is discarded."""
    raise NotImplementedError


def load(session: Session, regrade_id: int) -> Preview:
    """A stored preview (or applied regrade) as it was computed."""
    raise NotImplementedError


def start(session: Session, regrade_id: int, by: int | None) -> None:
    """Mark a previewed regrade as applying (by whom, when); commits. The caller then runs
    ``run`` (the CLI) or publishes the worker's task."""
    raise NotImplementedError


def apply_batch(session: Session, regrade_id: int, size: int = APPLY_BATCH) -> int:
    """Write up to ``size`` pending items in one transaction; returns how many were done
    (0 when none is left, which marks the regrade applied)."""
    raise NotImplementedError


def run(session: Session, regrade_id: int) -> dict[str, int]:
    """Apply every pending item, batch after batch (the worker's task and the CLI)."""
    raise NotImplementedError


def stalled(session: Session, older_than_seconds: float) -> list[int]:
    """Regrades applying with no batch written for that long: the sweeper publishes them."""
    raise NotImplementedError


def override(session: Session, submission_id: uuid.UUID, score: float, reason: str,
             by: int) -> Result:
    """Set the submission's score by hand (0..1) with a reason: a new current result that
    keeps the parts of the one it replaces; rebuilds marks, queues the LMS push; commits."""
    raise NotImplementedError


def clear_override(session: Session, submission_id: uuid.UUID, reason: str, by: int) -> Result:
    """Grade the submission again under its slot's current policy, ending an override."""
    raise NotImplementedError
