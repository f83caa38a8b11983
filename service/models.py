"""The SQL schema as typed SQLAlchemy 2 models; Alembic migrations create it.

A problem row stores its variant (``Variant.to_record()``): the stored variant is the
truth, not the seed. A submission row is the durable state of grading; the broker only
carries its id. Results are never overwritten: a regrade or an override adds a result and
makes it the current one (at most one per submission, a partial unique index).
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no zone, so it is stored naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")
# For a document that may be absent: Python None is SQL NULL, not the JSON value null.
OptionalJSONDocument = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(), dict[str, Any]: JSONDocument,
    }


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings with a CHECK, so adding a value is a small migration.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


class Role(enum.StrEnum):
    student = "student"
    instructor = "instructor"
    admin = "admin"


class CourseRole(enum.StrEnum):
    """A member's place in a course. Teaching assistants see and grade what instructors
    see, but change no policy and delete nothing (CONTRACT §9)."""

    student = "student"
    ta = "ta"
    instructor = "instructor"

    @property
    def is_staff(self) -> bool:
        return self != CourseRole.student


class Mode(enum.StrEnum):
    """An assignment's feedback mode."""

    homework = "homework"  # practice feedback: score, named mistakes and solution at once
    exam = "exam"  # the score only until the due date, then full feedback


class LatePolicy(enum.StrEnum):
    """What a submission after the (student's) due date earns."""

    closed = "closed"  # not accepted at all
    no_credit = "no_credit"  # accepted and graded, worth nothing
    penalty = "penalty"  # worth less by ``late_penalty`` per started day late


class Status(enum.StrEnum):
    queued = "queued"
    grading = "grading"
    graded = "graded"
    error = "error"


class User(Base):
    """A person who logs in; the password is stored hashed."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Part of every session's user id: logging out or a new password moves it on, which
    # ends every session made before, copied cookies included.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all")

    # Flask-Login's user protocol.
    is_active = True
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.id}.{self.session_epoch}"


class LoginFailure(Base):
    """One failed login, counted for a while against its account and its client address."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_account_failed_at", "account", "failed_at"),
        Index("ix_login_failures_address_failed_at", "address", "failed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(254))  # the email tried, known or not
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(index=True)


class ApiToken(Base):
    """A bearer token for API clients; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="tokens")


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="course")
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="course", order_by="Assignment.id"
    )


class Enrollment(Base):
    """A user's place in a course: student or instructor."""

    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("course_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[CourseRole] = mapped_column(_enum(CourseRole, "course_role"))
    section: Mapped[str] = mapped_column(String(64), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the LMS's roster (LTI NRPS) no longer lists the member; their work stays.
    left_at: Mapped[datetime | None]

    course: Mapped[Course] = relationship(back_populates="enrollments")
    user: Mapped[User] = relationship()


class Assignment(Base):
    """A set of slots a course's students must solve, with an attempt policy and a due date.

    Students see it once published and opened; a late submission earns what the late
    policy says (``service.marks.credit``).
    """

    __tablename__ = "assignments"
    __table_args__ = (
        CheckConstraint("attempts_allowed >= 1", name="attempts_allowed"),
        CheckConstraint("late_penalty >= 0 AND late_penalty <= 1", name="late_penalty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    mode: Mapped[Mode] = mapped_column(_enum(Mode, "mode"), default=Mode.homework)
    attempts_allowed: Mapped[int] = mapped_column(default=3)
    due_at: Mapped[datetime | None]
    opens_at: Mapped[datetime | None]
    published: Mapped[bool] = mapped_column(default=True, server_default=true())
    late_policy: Mapped[LatePolicy] = mapped_column(
        _enum(LatePolicy, "late_policy"), default=LatePolicy.closed, server_default="closed"
    )
    late_penalty: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # ``exercises.GradingPolicy.to_json()`` for every slot; None: the default rule.
    grading_policy: Mapped[dict[str, Any] | None] = mapped_column(OptionalJSONDocument)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship(back_populates="assignments")
    slots: Mapped[list[Slot]] = relationship(
        back_populates="assignment", order_by="Slot.position", cascade="all"
    )


class Slot(Base):
    """One problem of an assignment: an exercise type at a difficulty, worth some points."""

    __tablename__ = "assignment_slots"
    __table_args__ = (
        UniqueConstraint("assignment_id", "position"),
        CheckConstraint("points >= 0", name="points"),
        CheckConstraint("difficulty >= 1", name="difficulty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    position: Mapped[int]
    exercise_type: Mapped[str] = mapped_column(String(64))
    difficulty: Mapped[int] = mapped_column(default=1)
    points: Mapped[float] = mapped_column(Float, default=1.0)
    # An instructor's own network (CONTRACT §2), the same for every student; None: drawn.
    network: Mapped[dict[str, Any] | None] = mapped_column(OptionalJSONDocument)
    # The fields of the assignment's policy this slot changes, and its accepted answers.
    grading_policy: Mapped[dict[str, Any] | None] = mapped_column(OptionalJSONDocument)

    assignment: Mapped[Assignment] = relationship(back_populates="slots")


class Override(Base):
    """One student's exception to an assignment's policy, with who granted it, when and why."""

    __tablename__ = "assignment_overrides"
    __table_args__ = (
        UniqueConstraint("assignment_id", "user_id"),
        CheckConstraint("extra_attempts >= 0", name="extra_attempts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime | None]  # replaces the assignment's due date for this student
    extra_attempts: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    assignment: Mapped[Assignment] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class Invite(Base):
    """A one-time link to set a password (new students get one; there is no mail server,
    so the instructor passes it on). Only the token's SHA-256 is stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class Problem(Base):
    """A stored variant: a practice draw, or one student's fixed variant of a slot."""

    __tablename__ = "problems"
    # One variant per student per slot: every attempt is on the same numbers.
    __table_args__ = (UniqueConstraint("slot_id", "owner_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(64))
    type_version: Mapped[int]
    # The public seed of a practice problem; None for a graded one, whose seed is secret
    # (and too large for the column): it stays inside ``variant`` (service.problems).
    seed: Mapped[int | None] = mapped_column(BigInteger)
    difficulty: Mapped[int]
    variant: Mapped[dict[str, Any]]  # Variant.to_record(): network, parts and key
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    slot_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignment_slots.id", ondelete="CASCADE")
    )
    # None for practice problems: unlimited attempts.
    attempts_allowed: Mapped[int | None]
    attempts_used: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[User] = relationship()
    slot: Mapped[Slot | None] = relationship()


SUBMISSIONS_FILLFACTOR = 80  # percent of a page new rows fill; the rest is for their updates


class Submission(Base):
    """One attempt at a problem and the state of its grading; the row is the truth.

    Grading rewrites a row twice (claim, then finish). No index covers a column the claim
    sets, so PostgreSQL can make it a heap-only update, writing no index entry, where the
    row's page has room (new rows leave a fifth of each page for that). The sweeper finds
    the rows still in play through a partial index of the ungraded ones.
    """

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("problem_id", "attempt"),
        {"postgresql_with": {"fillfactor": SUBMISSIONS_FILLFACTOR}},
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    problem_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int]
    answers: Mapped[dict[str, Any]]  # the raw answers, as posted
    status: Mapped[Status] = mapped_column(_enum(Status, "status"), default=Status.queued)
    tries: Mapped[int] = mapped_column(default=0)  # claims so far; 3 failed ones make an error
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_by: Mapped[str | None] = mapped_column(String(255))  # host:pid of the last claim
    lease_expires_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)  # why the last try failed
    received_at: Mapped[datetime]
    queued_at: Mapped[datetime]
    # Last hand-over to the broker; None when that failed, so the sweeper retries at once.
    published_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    graded_at: Mapped[datetime | None]
    # The client's Idempotency-Key: a retry with it gets this row back, using no attempt.
    idempotency_key: Mapped[str | None] = mapped_column(String(128))

    problem: Mapped[Problem] = relationship()
    user: Mapped[User] = relationship()
    result: Mapped[Result | None] = relationship(
        primaryjoin="and_(Result.submission_id == Submission.id, Result.current)",
        viewonly=True,
    )
    # Every result ever written, oldest first: the first grading, regrades, overrides.
    results: Mapped[list[Result]] = relationship(
        back_populates="submission", order_by="Result.id"
    )


# The rows not graded yet (queued, grading, error), oldest first: few, whatever the table's
# size. (Its predicate names graded_at, which only finishing sets: status, which the claim
# sets too, would cost the claim its heap-only update.)
UNGRADED = Submission.graded_at.is_(None)
Index(
    "ix_submissions_ungraded",
    Submission.queued_at,
    postgresql_where=UNGRADED,
    sqlite_where=UNGRADED,
)

# One submission per user and key; rows without a key (nearly all) are not in the index.
HAS_IDEMPOTENCY_KEY = Submission.idempotency_key.is_not(None)
Index(
    "uq_submissions_user_id_idempotency_key",
    Submission.user_id,
    Submission.idempotency_key,
    unique=True,
    postgresql_where=HAS_IDEMPOTENCY_KEY,
    sqlite_where=HAS_IDEMPOTENCY_KEY,
)


class ResultKind(enum.StrEnum):
    graded = "graded"  # the pipeline's grading of a new submission (or its retry)
    regraded = "regraded"  # a regrade under a new policy or grader version
    override = "override"  # a score set by hand by the course's staff


class Result(Base):
    """A grade of a submission. The current one counts; earlier ones are its history.

    ``grader_version`` names what made it (``exercises.grader_version``: the package, the
    exercise type, the mistake library and the grading policy); an override keeps the
    parts of the result it replaced and only sets the score.
    """

    __tablename__ = "results"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    current: Mapped[bool] = mapped_column(default=True, server_default=true())
    kind: Mapped[ResultKind] = mapped_column(
        _enum(ResultKind, "result_kind"), default=ResultKind.graded, server_default="graded"
    )
    grader_version: Mapped[str] = mapped_column(String(64), default="", server_default="")
    score: Mapped[float] = mapped_column(Float)
    parts: Mapped[dict[str, Any]]  # Grade.to_json()["parts"]
    latency_seconds: Mapped[float] = mapped_column(Float)  # received -> graded
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who made a regrade or an override, and why (empty for the pipeline's own grading).
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    regrade_id: Mapped[int | None] = mapped_column(
        ForeignKey("regrades.id", ondelete="SET NULL"), index=True
    )
    # What the result says about its student (``exercises.learning.Evidence``), written with
    # it by grading; None where it was not (regrades, overrides, older results), and then
    # derived from the problem when read (``service.learning``).
    evidence: Mapped[dict[str, Any] | None] = mapped_column(OptionalJSONDocument)

    submission: Mapped[Submission] = relationship(back_populates="results")
    author: Mapped[User | None] = relationship()


# One current result per submission: the guard that a submission is graded exactly once,
# and that a regrade never leaves two results counting.
IS_CURRENT = Result.current.is_(True)
Index(
    "uq_results_submission_id_current",
    Result.submission_id,
    unique=True,
    postgresql_where=IS_CURRENT,
    sqlite_where=IS_CURRENT,
)
# Join a submission to the result that counts.
CURRENT_RESULT = (Result.submission_id == Submission.id) & IS_CURRENT


class RegradeStatus(enum.StrEnum):
    previewed = "previewed"  # computed, nothing written; the instructor may apply it
    applying = "applying"  # its items are being written, batch by batch
    applied = "applied"
    discarded = "discarded"  # superseded by a newer preview, or cancelled


class Regrade(Base):
    """A regrade of an assignment, one slot or one submission: its preview (the items),
    then its application, recorded with who asked, when, why and under which versions."""

    __tablename__ = "regrades"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    slot_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignment_slots.id", ondelete="CASCADE")
    )
    submission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE")
    )
    status: Mapped[RegradeStatus] = mapped_column(
        _enum(RegradeStatus, "regrade_status"), default=RegradeStatus.previewed
    )
    never_lower: Mapped[bool] = mapped_column(default=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    # The grader version of each slot the preview graded with, by slot id.
    versions: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    applied_at: Mapped[datetime | None]
    # The last time a batch was written: the sweeper restarts an application that stalls.
    progressed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    assignment: Mapped[Assignment] = relationship()
    requester: Mapped[User | None] = relationship(foreign_keys=[requested_by])


class RegradeChange(enum.StrEnum):
    raised = "raised"
    lowered = "lowered"
    unchanged = "unchanged"  # same score (named mistakes or feedback may still change)
    kept = "kept"  # would be lowered, and the regrade never lowers: nothing is written


class RegradeItem(Base):
    """One submission of a regrade's preview: its current result then, and the new one.

    Applying writes ``new_score``/``new_parts`` as the submission's current result, fenced
    by ``old_result_id`` (still current, or the item is skipped), and sets ``done_at`` in
    the same transaction: an item is applied once or not at all.
    """

    __tablename__ = "regrade_items"
    __table_args__ = (
        UniqueConstraint("regrade_id", "submission_id"),
        Index("ix_regrade_items_regrade_id_done_at", "regrade_id", "done_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    regrade_id: Mapped[int] = mapped_column(ForeignKey("regrades.id", ondelete="CASCADE"))
    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("assignment_slots.id", ondelete="CASCADE"))
    old_result_id: Mapped[int] = mapped_column(ForeignKey("results.id", ondelete="CASCADE"))
    old_score: Mapped[float] = mapped_column(Float)
    new_score: Mapped[float] = mapped_column(Float)
    old_tags: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    new_tags: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    new_parts: Mapped[dict[str, Any]]
    grader_version: Mapped[str] = mapped_column(String(64))
    change: Mapped[RegradeChange] = mapped_column(_enum(RegradeChange, "regrade_change"))
    done_at: Mapped[datetime | None]
    # Set when applying found the submission's current result was no longer old_result_id
    # (an override, a retry): the item was left alone.
    skipped: Mapped[bool] = mapped_column(default=False)


class Mark(Base):
    """A student's standing on one assignment slot, kept up to date as results are written
    (``service.marks``), so gradebooks and statistics read one row per student and slot
    instead of every submission."""

    __tablename__ = "marks"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    slot_id: Mapped[int] = mapped_column(
        ForeignKey("assignment_slots.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    graded: Mapped[int] = mapped_column(default=0)  # graded submissions
    best_score: Mapped[float] = mapped_column(Float, default=0.0)  # as graded, 0..1
    credit: Mapped[float] = mapped_column(Float, default=0.0)  # best after the late policy
    solved_attempt: Mapped[int | None]  # the first attempt with full marks
    solved_at: Mapped[datetime | None]  # when that attempt was received
    first_view_at: Mapped[datetime]  # when the student's variant was drawn
    last_at: Mapped[datetime]  # the latest graded submission's arrival


class MistakeMark(Base):
    """How often a student made one named mistake on one slot (a submission counts once)."""

    __tablename__ = "mistake_marks"
    # Students per mistake and assignment, counted from the index alone.
    __table_args__ = (Index("ix_mistake_marks_assignment_id_tag_user_id",
                            "assignment_id", "tag", "user_id"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    slot_id: Mapped[int] = mapped_column(
        ForeignKey("assignment_slots.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    times: Mapped[int] = mapped_column(default=0)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]


# --- LTI 1.3 (CONTRACT §10): platforms, the tool's keys, launches, links and grade pushes.


class PushStatus(enum.StrEnum):
    pending = "pending"  # to be sent (again)
    sent = "sent"
    failed = "failed"  # gave up after settings.lti_push_attempts tries; an instructor may resend


class LtiKey(Base):
    """One of the tool's RSA key pairs. The newest unretired key signs; a retired key is
    still published at /lti/jwks until ``retired_at`` plus the grace period."""

    __tablename__ = "lti_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


class LtiPlatform(Base):
    """A registered LMS (issuer and our client id there), with its endpoints and a cache of
    its public keys."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200), default="")
    auth_login_url: Mapped[str] = mapped_column(String(1000))
    auth_token_url: Mapped[str] = mapped_column(String(1000))
    auth_audience: Mapped[str | None] = mapped_column(String(1000))  # None: the token URL
    jwks_url: Mapped[str] = mapped_column(String(1000))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(OptionalJSONDocument)
    jwks_fetched_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    registered_by: Mapped[str] = mapped_column(String(32), default="cli")  # cli|admin|dynamic

    deployments: Mapped[list[LtiDeployment]] = relationship(
        back_populates="platform", cascade="all, delete-orphan", order_by="LtiDeployment.id"
    )


class LtiDeployment(Base):
    __tablename__ = "lti_deployments"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))

    platform: Mapped[LtiPlatform] = relationship(back_populates="deployments")


class LtiLogin(Base):
    """An OIDC login we started: its state and nonce, each good for one launch."""

    __tablename__ = "lti_logins"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    target_link_uri: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    used_at: Mapped[datetime | None]


class LtiTicket(Base):
    """A one-time hand-over from a launch to a page (a new window's sign-in, a deep-linking
    picker); only its SHA-256 is stored."""

    __tablename__ = "lti_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "enter" | "deep_link"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(1000), default="")  # where "enter" leads
    claims: Mapped[dict[str, Any] | None] = mapped_column(OptionalJSONDocument)  # deep linking
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LtiIdentity(Base):
    """A platform's user (issuer, sub) and our user."""

    __tablename__ = "lti_identities"
    __table_args__ = (UniqueConstraint("issuer", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    sub: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiContext(Base):
    """A platform's course (context) and ours, with the course's LTI service endpoints as
    the latest launch gave them."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    context_id: Mapped[str] = mapped_column(String(255))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    memberships_url: Mapped[str | None] = mapped_column(String(1000))  # NRPS
    lineitems_url: Mapped[str | None] = mapped_column(String(1000))  # AGS
    ags_scopes: Mapped[list[str] | None] = mapped_column(OptionalJSONDocument)
    synced_at: Mapped[datetime | None]  # the last roster sync
    sync_requested_at: Mapped[datetime | None]  # an instructor's launch asks the worker for one

    platform: Mapped[LtiPlatform] = relationship()
    course: Mapped[Course] = relationship()


class LtiLink(Base):
    """A resource link placed in the LMS, the assignment it opens, and that assignment's
    line item in the LMS gradebook (AGS)."""

    __tablename__ = "lti_links"
    __table_args__ = (UniqueConstraint("context_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="SET NULL"), index=True
    )
    lineitem_url: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    context: Mapped[LtiContext] = relationship()
    assignment: Mapped[Assignment | None] = relationship()


class ScorePush(Base):
    """A student's assignment score to send to one line item: written in the transaction
    that changed the score, sent by a Celery task (the value sent is read at send time, so
    pushes racing each other still end on the current score)."""

    __tablename__ = "lti_score_pushes"
    __table_args__ = (Index("ix_lti_score_pushes_status_next_try_at", "status", "next_try_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("lti_links.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[PushStatus] = mapped_column(
        _enum(PushStatus, "push_status"), default=PushStatus.pending
    )
    score_given: Mapped[float | None] = mapped_column(Float)  # as last sent
    score_maximum: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_try_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    link: Mapped[LtiLink] = relationship()
    user: Mapped[User] = relationship()


class LtiAccessToken(Base):
    """An OAuth2 access token from a platform (client-credentials grant), kept until it
    expires so one token serves many pushes."""

    __tablename__ = "lti_access_tokens"
    __table_args__ = (UniqueConstraint("platform_id", "scopes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    scopes: Mapped[str] = mapped_column(String(1000))  # sorted, space-separated
    token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]


class LtiRegistration(Base):
    """A one-time code an admin made for LTI Dynamic Registration (``/lti/register?code=``);
    only its SHA-256 is stored."""

    __tablename__ = "lti_registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    platform_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_platforms.id", ondelete="SET NULL")
    )
