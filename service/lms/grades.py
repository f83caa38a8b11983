"""Scores back to the LMS gradebook (LTI Assignment and Grade Services 2.0).

A student's score on a linked assignment is their assignment total, sum(``Mark.credit`` ×
``Slot.points``) over its slots, out of the sum of the points. It
reaches the LMS in three steps:

1. ``enqueue`` (grading, in the transaction that writes results and marks) and ``record``
   (a change of policy that rebuilt marks) write a pending ``ScorePush`` for each
   (link, student) whose total now differs from what was last sent to that link's line
   item: at most one unsent row per (link, student); sent rows stay as history.
2. A Celery task (``worker.tasks.push_scores``, published by the sweeper while rows are
   due) ``claim``s due rows with one UPDATE that moves ``next_try_at`` forward as a
   lease, so two workers never send one row at once, and ``deliver``s them.
3. ``send`` reads the total from the marks at that moment, finds or creates the line
   item, and POSTs the score; a failure counts an attempt and backs off, and after
   ``settings.lti_push_attempts`` the row is ``failed`` for an instructor to ``resend``.

Never a lower score by accident: the value sent is read at send time from marks whose
credit only grows as results arrive (best score, after the late policy), so pushes that
race end on the current score, and an older, lower value is never replayed. A total goes
down on purpose only when marks are rebuilt: a change of due date, late policy or a
student's override (``service.assignments``, which then calls ``record``), or a regrade
(whatever rebuilds marks calls ``record`` after it, so the LMS follows).
"""

from __future__ import annotations

import enum
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Table, bindparam, case, delete, exists, func, insert, literal, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..models import (
    Assignment,
    LtiContext,
    LtiIdentity,
    LtiLink,
    LtiPlatform,
    Mark,
    Problem,
    PushStatus,
    ScorePush,
    Slot,
    Submission,
    User,
    UTCDateTime,
    utcnow,
)
from ..pipeline.store import rowcount
from .platforms import AGS_SCOPES
from .services import Platform, ServiceError, call, json_of, same_origin

log = logging.getLogger(__name__)

Db = Session | Connection

LINEITEM_SCOPE, _RESULTS_SCOPE, SCORE_SCOPE = AGS_SCOPES
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"

LEASE_SECONDS = 600  # a claimed row is due again after this: its task died or hung
ROUND = 6  # decimals of a total, as the gradebook rounds (a float sum's last bits vary)
MAX_ERROR = 300  # characters of last_error
UNSENT = (PushStatus.pending, PushStatus.failed)


class Progress(enum.StrEnum):
    """AGS ``activityProgress``: where the student stands with the whole assignment."""

    in_progress = "InProgress"  # a slot has no graded submission yet
    submitted = "Submitted"  # every slot submitted; they may submit again
    completed = "Completed"  # every slot solved, or no attempt left where not


@dataclass(frozen=True)
class Standing:
    """A student's assignment total as the LMS gets it."""

    given: float
    maximum: float
    progress: Progress


# --- recording pushes (grading's transaction, or a change of policy) ----------------------

# Whether any assignment is linked at all: one probe of a small table, so a deployment
# (or a moment) with no LTI link pays a round trip of a few tens of microseconds per batch.
_ANY_LINK = select(LtiLink.id).where(LtiLink.assignment_id.is_not(None)).limit(1)
# The (link, student) pairs of these submissions, where their assignment is linked.
_LINKED = (
    select(LtiLink.id, Submission.user_id)
    .distinct()
    .join(Problem, Problem.id == Submission.problem_id)
    .join(Slot, Slot.id == Problem.slot_id)
    .join(LtiLink, LtiLink.assignment_id == Slot.assignment_id)
    .where(Submission.id.in_(bindparam("ids", expanding=True)))
)


def enqueue(session: Db, submission_ids: Sequence[uuid.UUID]) -> None:
    """Add a pending push for each student whose assignment total these results changed,
    where the assignment is linked to an LMS line item; runs in grading's transaction
    (after ``marks.record``), on a Session or a Connection."""
    if submission_ids and session.execute(_ANY_LINK).first() is not None:
        pairs = session.execute(_LINKED, {"ids": list(submission_ids)}).all()
        if pairs:
            _record(session, [(link, user) for link, user in pairs])


def record(session: Db, assignment_id: int, user_id: int | None = None) -> None:
    """Add pending pushes for the assignment's students (one student's, if given) whose
    total changed, as after marks were rebuilt; the caller commits."""
    stmt = (
        select(LtiLink.id, Mark.user_id)
        .distinct()
        .join(LtiLink, LtiLink.assignment_id == Mark.assignment_id)
        .where(Mark.assignment_id == assignment_id)
    )
    if user_id is not None:
        stmt = stmt.where(Mark.user_id == user_id)
    pairs = [(link, user) for link, user in session.execute(stmt)]
    if pairs:
        _record(session, pairs)


def _record(session: Db, pairs: list[tuple[int, int]]) -> None:
    """Write a pending push for each (link, user) whose total differs from the last one
    sent there: a failed row comes back to life; a pending one already covers it."""
    links = sorted({link for link, _ in pairs})
    users = sorted({user for _, user in pairs})
    earned: dict[tuple[int, int], float] = {
        (link, user): total
        for link, user, total in session.execute(
            select(LtiLink.id, Mark.user_id, func.sum(Mark.credit * Slot.points))
            .join(Slot, Slot.id == Mark.slot_id)
            .join(LtiLink, LtiLink.assignment_id == Mark.assignment_id)
            .where(LtiLink.id.in_(links), Mark.user_id.in_(users))
            .group_by(LtiLink.id, Mark.user_id)
        )
    }
    worth: dict[int, float] = dict(
        session.execute(
            select(LtiLink.id, func.sum(Slot.points))
            .join(Slot, Slot.assignment_id == LtiLink.assignment_id)
            .where(LtiLink.id.in_(links))
            .group_by(LtiLink.id)
        ).all()
    )
    last = _last_sent(session, links, users)
    changed = [
        (link, user)
        for link, user in pairs
        if last.get((link, user))
        != (round(earned.get((link, user), 0.0), ROUND), round(worth.get(link, 0.0), ROUND))
    ]
    if not changed:
        return
    unsent: dict[tuple[int, int], list[tuple[int, PushStatus]]] = {}
    # Locked (PostgreSQL) until the caller commits: a send settling one of these rows
    # then waits for the new marks to be committed, and its catch-up read sees them.
    for push, link, user, status in session.execute(
        select(ScorePush.id, ScorePush.link_id, ScorePush.user_id, ScorePush.status)
        .where(
            ScorePush.link_id.in_(links),
            ScorePush.user_id.in_(users),
            ScorePush.status.in_(UNSENT),
        )
        .with_for_update()
    ):
        unsent.setdefault((link, user), []).append((push, status))
    now = utcnow()
    # A failed row (with no pending one beside it) comes back to life.
    revive: list[int] = []
    for pair in changed:
        rows = unsent.get(pair, [])
        if rows and all(status == PushStatus.failed for _, status in rows):
            revive += [push for push, _ in rows]
    if revive:
        session.execute(
            update(ScorePush)
            .where(ScorePush.id.in_(revive), ScorePush.status == PushStatus.failed)
            .values(status=PushStatus.pending, attempts=0, next_try_at=now)
            .execution_options(synchronize_session=False)
        )
    new = [{"link": link, "user": user} for link, user in changed if (link, user) not in unsent]
    if new:
        # Each row re-checks that none is unsent at that moment, so a pending row another
        # grader wrote since the read above is seen; two graders racing can still both
        # write one (no unique index): the second send then finds its value sent already
        # and drops its row.
        session.execute(_NEW_PUSH, [row | {"now": now} for row in new])


_LINK = bindparam("link", type_=ScorePush.link_id.type)
_USER = bindparam("user", type_=ScorePush.user_id.type)
_NOW = bindparam("now", type_=UTCDateTime())
# On the table, not the entity: a Session would take a list of rows for an ORM bulk insert.
_NEW_PUSH = insert(cast(Table, ScorePush.__table__)).from_select(
    ["link_id", "user_id", "status", "attempts", "last_error", "created_at", "next_try_at"],
    select(
        _LINK,
        _USER,
        literal(PushStatus.pending.value),
        literal(0),
        literal(""),
        _NOW,
        _NOW,
    ).where(
        ~exists().where(
            ScorePush.link_id == _LINK,
            ScorePush.user_id == _USER,
            ScorePush.status != PushStatus.sent,  # unsent (an IN list cannot be executemany'd)
        )
    ),
)


def _last_sent(
    session: Db, links: Iterable[int], users: Iterable[int]
) -> dict[tuple[int, int], tuple[float | None, float | None]]:
    """What was last sent per (link, user): (score given, score maximum)."""
    rows = session.execute(
        select(ScorePush.link_id, ScorePush.user_id, ScorePush.score_given, ScorePush.score_maximum)
        .where(
            ScorePush.link_id.in_(list(links)),
            ScorePush.user_id.in_(list(users)),
            ScorePush.status == PushStatus.sent,
        )
        .order_by(ScorePush.sent_at, ScorePush.id)
    )
    return {(link, user): (given, maximum) for link, user, given, maximum in rows}


# --- sending ------------------------------------------------------------------------------


def standing(session: Session, assignment_id: int, user_id: int) -> Standing:
    """The student's total on the assignment now, with their progress through it."""
    rows = session.execute(
        select(
            Slot.points,
            Mark.credit,
            Mark.solved_attempt,
            Problem.attempts_used,
            Problem.attempts_allowed,
        )
        .select_from(Slot)
        .outerjoin(Mark, (Mark.slot_id == Slot.id) & (Mark.user_id == user_id))
        .outerjoin(Problem, (Problem.slot_id == Slot.id) & (Problem.owner_id == user_id))
        .where(Slot.assignment_id == assignment_id)
    ).all()
    given = round(sum((credit or 0.0) * points for points, credit, *_ in rows), ROUND)
    maximum = round(sum(points for points, *_ in rows), ROUND)
    solved = [solved is not None for _, _, solved, _, _ in rows]
    out_of_attempts = [allowed is not None and used >= allowed for *_, used, allowed in rows]
    if all(s or done for s, done in zip(solved, out_of_attempts, strict=True)):
        progress = Progress.completed
    elif all(credit is not None for _, credit, *_ in rows):
        progress = Progress.submitted
    else:
        progress = Progress.in_progress
    return Standing(given, maximum, progress)


def scores_url(lineitem: str) -> str:
    """The line item's scores endpoint: ``/scores`` after its path, before any query."""
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


@dataclass(frozen=True)
class _Target:
    """One push with what sending it needs, read before any request."""

    push_id: int
    link_id: int
    user_id: int
    assignment_id: int | None
    resource_link_id: str
    lineitem_url: str | None
    lineitems_url: str | None
    scopes: list[str]
    platform: Platform


def _target(session: Session, push_id: int) -> _Target | None:
    row = session.execute(
        select(ScorePush, LtiLink, LtiContext, LtiPlatform)
        .join(LtiLink, LtiLink.id == ScorePush.link_id)
        .join(LtiContext, LtiContext.id == LtiLink.context_id)
        .join(LtiPlatform, LtiPlatform.id == LtiContext.platform_id)
        .where(ScorePush.id == push_id, ScorePush.status == PushStatus.pending)
    ).first()
    if row is None:
        return None
    push, link, context, platform = row
    granted = set(context.ags_scopes) if context.ags_scopes is not None else set(AGS_SCOPES)
    return _Target(
        push.id,
        link.id,
        push.user_id,
        link.assignment_id,
        link.resource_link_id,
        link.lineitem_url,
        context.lineitems_url,
        sorted({LINEITEM_SCOPE, SCORE_SCOPE} & granted),
        Platform.of(platform),
    )


class Outcome(enum.StrEnum):
    sent = "sent"
    unchanged = "unchanged"  # the line item has this total already: the row is dropped
    gone = "gone"  # not pending any more (sent, or resent and taken by another worker)


def send(session: Session, push_id: int) -> Outcome:
    """Send the student's current total to the link's line item and mark the row sent;
    commits. Raises ServiceError (the row is left for ``deliver`` to count the attempt).

    The value is read now, not when the row was written; if it equals what was last sent
    to this line item for the student, nothing is sent and the row is dropped.
    """
    target = _target(session, push_id)
    if target is None:
        session.commit()
        return Outcome.gone
    if target.assignment_id is None:
        raise ServiceError("not sent: the LMS link has no assignment", permanent=True)
    if SCORE_SCOPE not in target.scopes:
        raise ServiceError("not sent: the LMS did not grant the score scope", permanent=True)
    sub = session.scalar(
        select(LtiIdentity.sub)
        .where(LtiIdentity.issuer == target.platform.issuer, LtiIdentity.user_id == target.user_id)
        .order_by(LtiIdentity.id)
        .limit(1)
    )
    if sub is None:
        raise ServiceError(
            "not sent: the student has no account on this LMS (never launched "
            "it, nor listed in a roster sync)",
            permanent=True,
        )
    now = standing(session, target.assignment_id, target.user_id)
    if now.maximum <= 0:
        raise ServiceError("not sent: the assignment is worth no points", permanent=True)
    last = _last_sent(session, [target.link_id], [target.user_id]).get(
        (target.link_id, target.user_id)
    )
    if last == (now.given, now.maximum):
        session.execute(
            delete(ScorePush).where(ScorePush.id == push_id, ScorePush.status == PushStatus.pending)
        )
        session.commit()
        _catch_up(session, target)
        return Outcome.unchanged
    lineitem = target.lineitem_url or _lineitem(session, target, now.maximum)
    call(
        session,
        target.platform,
        target.scopes,
        "POST",
        scores_url(lineitem),
        accept="application/json",
        content_type=SCORE_TYPE,
        what="score",
        json={
            "userId": sub,
            "scoreGiven": now.given,
            "scoreMaximum": now.maximum,
            "activityProgress": now.progress.value,
            "gradingProgress": "FullyGraded",
            "timestamp": utcnow().isoformat(timespec="microseconds"),
        },
    )
    session.execute(
        update(ScorePush)
        .where(ScorePush.id == push_id)
        .values(
            status=PushStatus.sent,
            sent_at=utcnow(),
            score_given=now.given,
            score_maximum=now.maximum,
            attempts=ScorePush.attempts + 1,
            last_error="",
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    _catch_up(session, target)
    return Outcome.sent


def _catch_up(session: Session, target: _Target) -> None:
    """Record a new push if the total moved while this one was in flight; commits.

    A result graded meanwhile found this row pending and left the new total to it, but
    the total was read before. Read again only now, after the row is settled: a grader
    that checked before our commit had committed its marks already (its connection
    commits each statement; a web transaction holds the row's lock until it commits, see
    ``_record``), so this read sees them; one that checks after sees the row sent.
    """
    _record(session, [(target.link_id, target.user_id)])
    session.commit()


def _lineitem(session: Session, target: _Target, maximum: float) -> str:
    """The line item of the link's assignment in the LMS: found by (resource link,
    assignment id), else created; remembered on the link. Commits."""
    assert target.assignment_id is not None
    if not target.lineitems_url:
        raise ServiceError(
            "not sent: the LMS gave no line items URL for this course "
            "(launch the link from the LMS once)",
            permanent=True,
        )
    if LINEITEM_SCOPE not in target.scopes:
        raise ServiceError(
            "not sent: the link has no line item and the LMS did not grant "
            "the line item scope to make one",
            permanent=True,
        )
    resource_id = str(target.assignment_id)
    found = call(
        session,
        target.platform,
        target.scopes,
        "GET",
        target.lineitems_url,
        accept=LINEITEMS_TYPE,
        what="line items",
        params={"resource_link_id": target.resource_link_id, "resource_id": resource_id},
    )
    items = json_of(found, "line items")
    url = next(
        (
            item.get("id")
            for item in items
            if isinstance(item, dict)
            and item.get("resourceId") == resource_id
            and item.get("resourceLinkId") in (None, target.resource_link_id)
        ),
        None,
    )
    made = False
    if url is None:
        title = (
            session.scalar(select(Assignment.title).where(Assignment.id == target.assignment_id))
            or resource_id
        )
        created = call(
            session,
            target.platform,
            target.scopes,
            "POST",
            target.lineitems_url,
            accept=LINEITEM_TYPE,
            content_type=LINEITEM_TYPE,
            what="new line item",
            json={
                "label": title,
                "scoreMaximum": maximum,
                "resourceId": resource_id,
                "resourceLinkId": target.resource_link_id,
            },
        )
        body = json_of(created, "new line item")
        url = body.get("id") if isinstance(body, dict) else None
        made = True
    if not isinstance(url, str) or not same_origin(url, target.lineitems_url):
        raise ServiceError("not sent: the LMS named a line item off its own origin", permanent=True)
    kept = session.execute(
        update(LtiLink)
        .where(LtiLink.id == target.link_id, LtiLink.lineitem_url.is_(None))
        .values(lineitem_url=url)
        .execution_options(synchronize_session=False)
    )
    winner = url
    if not rowcount(kept):
        # Another worker remembered a line item first: use it, and take back a duplicate
        # we made meanwhile so the LMS gradebook keeps one column.
        winner = (
            session.scalar(select(LtiLink.lineitem_url).where(LtiLink.id == target.link_id)) or url
        )
    session.commit()
    if made and winner != url:
        try:
            call(
                session,
                target.platform,
                target.scopes,
                "DELETE",
                url,
                accept="application/json",
                what="duplicate line item",
            )
        except ServiceError as exc:
            log.warning("could not delete the duplicate line item %s: %s", url, exc)
    return winner


# --- the task's side: claiming, attempts, back-off ----------------------------------------


def _due(now: datetime) -> Any:
    return (ScorePush.status == PushStatus.pending) & (ScorePush.next_try_at <= now)


def due_count(session: Session, limit: int) -> int:
    """How many pending rows are due now (counted up to ``limit``)."""
    due = select(ScorePush.id).where(_due(utcnow())).limit(limit).subquery()
    count = session.scalar(select(func.count()).select_from(due)) or 0
    session.commit()
    return count


def claim(session: Session, limit: int, lease_seconds: int = LEASE_SECONDS) -> list[int]:
    """Take up to ``limit`` due rows, oldest due first, by moving their ``next_try_at``
    past the lease; commits. One UPDATE re-checks each row, so two claims never take one
    row: a claimed row is due again only if its task dies before it settles it."""
    now = utcnow()
    pick = select(ScorePush.id).where(_due(now)).order_by(ScorePush.next_try_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = list(
        session.scalars(
            update(ScorePush)
            .where(ScorePush.id.in_(pick.scalar_subquery()), _due(now))
            .values(next_try_at=now + timedelta(seconds=lease_seconds))
            .returning(ScorePush.id)
            .execution_options(synchronize_session=False)
        )
    )
    session.commit()
    return sorted(ids)


def release(session: Session, push_ids: Sequence[int]) -> None:
    """Make claimed rows not tried in this task due again at once; commits."""
    if push_ids:
        session.execute(
            update(ScorePush)
            .where(ScorePush.id.in_(list(push_ids)), ScorePush.status == PushStatus.pending)
            .values(next_try_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    session.commit()


def failed_try(
    session: Session,
    push_id: int,
    error: ServiceError,
    *,
    attempts_allowed: int,
    backoff: Callable[[int], float],
) -> PushStatus | None:
    """Count a failed try: pending again after ``backoff(attempts so far)`` seconds, or
    ``failed`` once ``attempts_allowed`` tries failed (at once for a permanent error).
    Commits; returns the new status (None if the row is no longer pending)."""
    attempts = session.scalar(
        select(ScorePush.attempts).where(
            ScorePush.id == push_id, ScorePush.status == PushStatus.pending
        )
    )
    if attempts is None:
        session.commit()
        return None
    attempts += 1
    gave_up = error.permanent or attempts >= attempts_allowed
    status = PushStatus.failed if gave_up else PushStatus.pending
    session.execute(
        update(ScorePush)
        .where(ScorePush.id == push_id)
        .values(
            status=status,
            attempts=attempts,
            last_error=str(error)[:MAX_ERROR],
            next_try_at=utcnow() + timedelta(seconds=0 if gave_up else backoff(attempts)),
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return status


def deliver(
    session: Session,
    push_ids: Sequence[int],
    *,
    attempts_allowed: int,
    backoff: Callable[[int], float],
    budget_seconds: float,
    interrupts: tuple[type[BaseException], ...] = (),
) -> dict[str, int]:
    """Send claimed rows one by one, counting failed tries. Once a platform gives no
    answer or a 5xx, its other rows in this batch count the same failure without a
    request (one outage costs one timeout, not one per row). Rows not started within
    ``budget_seconds`` are released for the next task; ``interrupts`` (a task's time limit)
    end the batch, leaving the row to its lease. Returns counts by outcome."""
    platform_of: dict[int, int] = dict(
        session.execute(
            select(ScorePush.id, LtiContext.platform_id)
            .join(LtiLink, LtiLink.id == ScorePush.link_id)
            .join(LtiContext, LtiContext.id == LtiLink.context_id)
            .where(ScorePush.id.in_(list(push_ids)))
        ).all()
    )
    session.commit()
    down: dict[int, ServiceError] = {}
    counts: dict[str, int] = {}
    deadline = time.monotonic() + budget_seconds
    for n, push_id in enumerate(push_ids):
        if time.monotonic() > deadline:
            release(session, push_ids[n:])
            counts["released"] = len(push_ids) - n
            break
        platform = platform_of.get(push_id)
        try:
            if platform in down:
                raise down[platform]
            outcome = send(session, push_id).value
        except ServiceError as exc:
            session.rollback()
            if (
                platform is not None
                and not exc.permanent
                and (exc.status is None or exc.status >= 500)
            ):
                down.setdefault(platform, exc)
            outcome = str(
                failed_try(
                    session, push_id, exc, attempts_allowed=attempts_allowed, backoff=backoff
                )
            )
            log.warning("score push %d not sent (%s): %s", push_id, outcome, exc)
        except Exception as exc:
            session.rollback()
            if isinstance(exc, (SQLAlchemyError, *interrupts)):
                raise  # the row is due again after its lease
            # A bug: count it as a failed try, so the row does not come back forever.
            log.exception("score push %d failed", push_id)
            error = ServiceError(f"internal error: {type(exc).__name__}")
            outcome = str(
                failed_try(
                    session, push_id, error, attempts_allowed=attempts_allowed, backoff=backoff
                )
            )
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


# --- what instructors see and do ------------------------------------------------------------


@dataclass(frozen=True)
class PushView:
    """A push as the LMS page and its API twin show it."""

    id: int
    user_id: int
    student: str
    email: str
    assignment_id: int | None
    assignment: str
    status: PushStatus
    score_given: float | None
    score_maximum: float | None
    attempts: int
    last_error: str
    created_at: datetime
    next_try_at: datetime
    sent_at: datetime | None


SENT_SHOWN = 200  # sent rows listed, newest first; unsent ones are all listed


def pushes(
    session: Session, course_id: int, sent_limit: int = SENT_SHOWN, push_id: int | None = None
) -> list[PushView]:
    """The course's pushes (or the one ``push_id``): failed first, then pending (oldest
    first), then the latest ``sent_limit`` sent ones, newest first."""
    base = (
        select(ScorePush, User.name, User.email, Assignment.id, Assignment.title)
        .join(LtiLink, LtiLink.id == ScorePush.link_id)
        .join(LtiContext, LtiContext.id == LtiLink.context_id)
        .join(User, User.id == ScorePush.user_id)
        .outerjoin(Assignment, Assignment.id == LtiLink.assignment_id)
        .where(LtiContext.course_id == course_id)
    )
    if push_id is not None:
        base = base.where(ScorePush.id == push_id)
    first = case((ScorePush.status == PushStatus.failed, 0), else_=1)
    unsent = session.execute(
        base.where(ScorePush.status.in_(UNSENT)).order_by(first, ScorePush.created_at, ScorePush.id)
    ).all()
    sent = session.execute(
        base.where(ScorePush.status == PushStatus.sent)
        .order_by(ScorePush.sent_at.desc(), ScorePush.id.desc())
        .limit(sent_limit)
    ).all()
    return [
        PushView(
            p.id,
            p.user_id,
            name or email,
            email,
            aid,
            title or "(no assignment)",
            p.status,
            p.score_given,
            p.score_maximum,
            p.attempts,
            p.last_error,
            p.created_at,
            p.next_try_at,
            p.sent_at,
        )
        for p, name, email, aid, title in [*unsent, *sent]
    ]


def push_of_course(session: Session, course_id: int, push_id: int) -> ScorePush | None:
    """The push, if it belongs to the course (None otherwise, so ids cannot be probed)."""
    return session.scalar(
        select(ScorePush)
        .join(LtiLink, LtiLink.id == ScorePush.link_id)
        .join(LtiContext, LtiContext.id == LtiLink.context_id)
        .where(ScorePush.id == push_id, LtiContext.course_id == course_id)
    )


def resend(session: Session, push: ScorePush) -> bool:
    """Make a failed or pending push due now with fresh attempts; commits. False for a
    sent one (a new score makes a new push by itself)."""
    done = session.execute(
        update(ScorePush)
        .where(ScorePush.id == push.id, ScorePush.status.in_(UNSENT))
        .values(status=PushStatus.pending, attempts=0, next_try_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(push)
    return rowcount(done) > 0
