"""A course's people: the roster CSV (CONTRACT §9), the import plan, and the changes both
the roster pages and their API twins make (create or edit a course, add, remove).

``parse`` reads a file into lines (``RosterFileError`` for a file that cannot be read at
all); ``plan`` decides, per line, New / Updated / Unchanged / Rejected with a reason,
against the accounts and members that exist; ``apply`` makes a plan with no rejected row
true in one transaction. Nothing here renders or answers HTTP.

Decisions: an import only adds and updates members, it never removes one. A row's name
fills in an account's name only when the account has none: a name belongs to its owner
and to every course they are in. A platform account whose role is ``student`` may be a
course's TA (TAs are often students) but not its instructor.
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from . import auth, identifiers, invites
from .db import db
from .models import Course, CourseRole, Enrollment, Role, User
from .policy import Person

HEADER = ("email", "name", "role", "section")
MAX_BYTES = 1_000_000
MAX_ROWS = 5_000
MAX_NAME = 120  # User.name
MAX_EMAIL = 254  # User.email
MAX_SECTION = 64  # Enrollment.section
# No password hash has this form (werkzeug's have "method$salt$hash"), so no password
# matches it: the account waits for its set-password link.


STUDENT_NOT_INSTRUCTOR = "a student account cannot be an instructor (it may be a ta)"
# Accounts made here are student accounts; an admin makes instructor accounts (CLI).
NO_INSTRUCTOR_ACCOUNT = "no account has this email, and an instructor needs one made by an admin"


class RosterFileError(ValueError):
    """The file cannot be read as a roster at all (encoding, size, header)."""


class RosterError(Exception):
    """A change to a course or its roster that cannot be made; ``status`` as HTTP says it."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Change(enum.StrEnum):
    new = "New"
    updated = "Updated"
    unchanged = "Unchanged"
    rejected = "Rejected"


@dataclass(frozen=True)
class Line:
    """One data line of a roster file, as written (1 is the header)."""

    line: int
    email: str
    name: str
    role: str
    section: str
    fields: int = 4  # how many the line has; only 4 is right


@dataclass(frozen=True)
class Row:
    """A line and what applying it would do to the course."""

    line: int
    email: str
    name: str
    role: str
    section: str
    change: Change
    reason: str = ""


@dataclass(frozen=True)
class Plan:
    rows: list[Row]

    @property
    def rejected(self) -> list[Row]:
        return [r for r in self.rows if r.change == Change.rejected]

    @property
    def ok(self) -> bool:
        """Whether the plan may be applied: no row rejected."""
        return not self.rejected

    def count(self, change: Change) -> int:
        return sum(1 for r in self.rows if r.change == change)


@dataclass(frozen=True)
class Account:
    """What a plan needs of an existing account."""

    name: str
    role: Role


@dataclass(frozen=True)
class Member:
    """What a plan needs of an existing member of the course."""

    role: CourseRole
    section: str


# --- reading the file -------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The file as text: UTF-8, a byte-order mark dropped, at most MAX_BYTES."""
    if len(data) > MAX_BYTES:
        raise RosterFileError(
            f"The file is larger than {MAX_BYTES // 1_000_000} MB: split it into smaller files."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterFileError(
            f"The file is not UTF-8 text (byte {exc.start + 1} cannot be read): "
            "save it as “CSV UTF-8”."
        ) from None


def parse(text: str) -> list[Line]:
    """The data lines of a roster file; RosterFileError for a missing or wrong header and
    for more than MAX_ROWS rows. Blank lines are skipped."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next((row for row in reader if any(cell.strip() for cell in row)), None)
    if header is None:
        raise RosterFileError(
            "The file is empty: its first line must be the header email,name,role,section."
        )
    check_header([cell.strip().lower() for cell in header])
    lines: list[Line] = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(lines) == MAX_ROWS:
            raise RosterFileError(
                f"The file has more than {MAX_ROWS} rows: split it into smaller files."
            )
        email, name, role, section = [*row, "", "", ""][:4]
        lines.append(Line(reader.line_num, email, name, role, section, fields=len(row)))
    return lines


def check_header(columns: list[str]) -> None:
    """Raise RosterFileError naming the missing, unknown or misplaced column."""
    if tuple(columns) == HEADER:
        return
    wanted = ",".join(HEADER)
    unknown = [c for c in columns if c not in HEADER]
    if unknown:
        raise RosterFileError(
            f"The header has an unknown column “{unknown[0]}”: it must be {wanted}."
        )
    missing = [c for c in HEADER if c not in columns]
    if missing:
        raise RosterFileError(f"The header has no column “{missing[0]}”: it must be {wanted}.")
    twice = next(c for c in HEADER if columns.count(c) > 1) if len(columns) > 4 else None
    if twice:
        raise RosterFileError(f"The header has the column “{twice}” twice: it must be {wanted}.")
    raise RosterFileError(f"The header's columns are in another order: it must be {wanted}.")


# --- deciding what a file would do -------------------------------------------------------


def plan(
    lines: Iterable[Line],
    accounts: Mapping[str, Account],
    members: Mapping[str, Member],
) -> Plan:
    """What each line would do, given the accounts (by email) and the course's members
    (by email) that exist; every line is checked, so the preview names every bad one."""
    first_line: dict[str, int] = {}
    rows = []
    for line in lines:
        row = _row(line, accounts, members, first_line)
        first_line.setdefault(row.email, line.line)
        rows.append(row)
    return _keep_an_instructor(rows, members)


def _row(
    line: Line,
    accounts: Mapping[str, Account],
    members: Mapping[str, Member],
    first_line: Mapping[str, int],
) -> Row:
    def rejected(reason: str) -> Row:  # the line as written, and why not
        return Row(line.line, auth.normal_email(line.email), line.name.strip(),
                   line.role.strip(), line.section.strip(), Change.rejected, reason)

    if line.fields != len(HEADER):
        return rejected(f"{line.fields} fields where the header has 4 (email,name,role,section)")
    try:
        checked = check_member(line.email, line.name, line.role, line.section)
    except RosterError as exc:
        return rejected(exc.message)
    email, name, role, section = checked
    if email in first_line:
        return rejected(f"the same email is on line {first_line[email]}")
    account = accounts.get(email)
    if role == CourseRole.instructor and account is None:
        return rejected(NO_INSTRUCTOR_ACCOUNT)
    if role == CourseRole.instructor and account is not None and account.role == Role.student:
        return rejected(STUDENT_NOT_INSTRUCTOR)
    member = members.get(email)
    change, reason = _change(account, member, name, role, section)
    return Row(line.line, email, name, role.value, section, change, reason)


def _change(
    account: Account | None, member: Member | None, name: str, role: CourseRole, section: str
) -> tuple[Change, str]:
    if account is None:
        return Change.new, "new account, with a set-password link"
    name_filled = bool(name) and not account.name
    if member is None:
        return Change.new, "existing account, added to the course"
    what = []
    if member.role != role:
        what.append(f"role {member.role.value} → {role.value}")
    if member.section != section:
        what.append(f"section “{member.section}” → “{section}”")
    if name_filled:
        what.append("name filled in")
    if what:
        return Change.updated, "; ".join(what)
    kept = bool(name) and name != account.name
    return Change.unchanged, f"the account keeps its name “{account.name}”" if kept else ""


def _keep_an_instructor(rows: list[Row], members: Mapping[str, Member]) -> Plan:
    """Reject the rows that would leave the course without an instructor."""
    instructors = {e for e, m in members.items() if m.role == CourseRole.instructor}
    demoted = {r.email for r in rows if r.email in instructors and r.change == Change.updated
               and r.role != CourseRole.instructor.value}
    promoted = {r.email for r in rows if r.change != Change.rejected
                and r.role == CourseRole.instructor.value}
    if not instructors or instructors - demoted or promoted:
        return Plan(rows)
    reason = "the course would be left without an instructor"
    return Plan([
        Row(r.line, r.email, r.name, r.role, r.section, Change.rejected, reason)
        if r.email in demoted else r
        for r in rows
    ])


def check_member(
    email: str, name: str, role: str, section: str
) -> tuple[str, str, CourseRole, str]:
    """A member's fields cleaned (role empty means student); RosterError 422 saying why not."""
    try:
        clean_email = identifiers.clean("email", email, max_length=MAX_EMAIL).lower()
    except identifiers.IdentifierError:
        clean_email = ""
    if not auth.EMAIL.fullmatch(clean_email):
        raise RosterError(422, "invalid_request", f"not an email address: “{email.strip()}”")
    try:
        course_role = CourseRole(role.strip().lower() or CourseRole.student.value)
    except ValueError:
        raise RosterError(
            422, "invalid_request", f"unknown role “{role.strip()}”: use student, ta or instructor"
        ) from None
    try:
        clean_name = identifiers.clean("name", name, max_length=MAX_NAME, required=False)
        clean_section = identifiers.clean("section", section, max_length=MAX_SECTION,
                                          required=False)
    except identifiers.IdentifierError as exc:
        raise RosterError(422, "invalid_request", str(exc)) from None
    return clean_email, clean_name, course_role, clean_section


def plan_for(course: Course, lines: list[Line]) -> Plan:
    """The plan of ``lines`` against the database as it is now (reads only)."""
    emails = {auth.normal_email(line.email) for line in lines}
    accounts = {
        u.email: Account(u.name, u.role)
        for u in db.session.scalars(select(User).where(User.email.in_(emails)))
    }
    members = {
        email: Member(role, section)
        for email, role, section in db.session.execute(
            select(User.email, Enrollment.role, Enrollment.section)
            .join(Enrollment)
            .where(Enrollment.course_id == course.id)
        )
    }
    return plan(lines, accounts, members)


def preview(course: Course, data: bytes | str) -> Plan:
    """The plan of a roster file (bytes as uploaded, or text); RosterFileError."""
    return plan_for(course, parse(decode(data if isinstance(data, bytes) else data.encode())))


# --- making changes -----------------------------------------------------------------------


@dataclass(frozen=True)
class NewAccount:
    """An account an import or an addition created, with its one-time link's token."""

    email: str
    token: str
    expires_at: datetime


@dataclass
class Applied:
    plan: Plan
    accounts: list[NewAccount] = field(default_factory=list)


def apply(course: Course, the_plan: Plan, by: Person) -> Applied:
    """Make a plan true, all of it or nothing (one transaction; commits). RosterError 422
    for a plan with a rejected row, 409 when the database changed under it."""
    if not the_plan.ok:
        raise RosterError(422, "rejected_rows", "the file has rejected rows: nothing was applied")
    done = Applied(the_plan)
    changing = [r for r in the_plan.rows if r.change in (Change.new, Change.updated)]
    emails = [r.email for r in changing]
    users = {u.email: u for u in db.session.scalars(select(User).where(User.email.in_(emails)))}
    enrolled = {
        e.user_id: e
        for e in db.session.scalars(select(Enrollment).where(Enrollment.course_id == course.id))
    }
    try:
        fresh = [new_account(r.email, r.name) for r in changing if r.email not in users]
        db.session.flush()  # one INSERT round for every new account, for their ids
        for user in fresh:
            users[user.email] = user
            token, invite = invites.issue(user, course.id, by.id, replaces=False)
            done.accounts.append(NewAccount(user.email, token, invite.expires_at))
        for row in changing:
            user = users[row.email]
            if row.name and not user.name:
                user.name = row.name
            enrollment = enrolled.get(user.id)
            if enrollment is None:
                enrollment = Enrollment(course_id=course.id, user=user)
                db.session.add(enrollment)
            enrollment.role, enrollment.section = CourseRole(row.role), row.section
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise RosterError(
            409, "conflict", "the roster changed while the file was read: preview it again"
        ) from None
    return done


def new_account(email: str, name: str) -> User:
    """A student account with no usable password yet (added to the session)."""
    user = User(email=email, name=name, password_hash=auth.UNUSABLE_PASSWORD, role=Role.student)
    db.session.add(user)
    return user


def add_member(
    course: Course, by: Person, email: str, *, name: str = "", role: str = "student",
    section: str = "", create: bool = False,
) -> tuple[Enrollment, NewAccount | None]:
    """Enrol one person (commits); with ``create``, an unknown email gets a new account and
    a set-password link. RosterError: 422 bad field, 404 unknown email, 409 already in."""
    email, name, course_role, section = check_member(email, name, role, section)
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None and not create:
        raise RosterError(404, "not_found", f"no user with email {email}")
    if course_role == CourseRole.instructor and (user is None or user.role == Role.student):
        reason = STUDENT_NOT_INSTRUCTOR if user is not None else NO_INSTRUCTOR_ACCOUNT
        raise RosterError(422, "invalid_request", reason)
    created = None
    try:
        if user is None:
            user = new_account(email, name)
            db.session.flush()
            token, invite = invites.issue(user, course.id, by.id)
            created = NewAccount(email, token, invite.expires_at)
        elif name and not user.name:
            user.name = name
        enrollment = Enrollment(course_id=course.id, user=user, role=course_role, section=section)
        db.session.add(enrollment)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise RosterError(409, "conflict", f"{email} is already on the roster") from None
    return enrollment, created


def remove_member(course: Course, user_id: int) -> None:
    """Take someone off the roster (commits); their problems, submissions and marks stay.
    RosterError 404 for a non-member, 409 for the course's last instructor."""
    enrollment = member(course.id, user_id)
    if enrollment is None:
        raise RosterError(404, "not_found", "no such enrollment")
    if enrollment.role == CourseRole.instructor and instructor_count(course.id) <= 1:
        raise RosterError(
            409, "last_instructor",
            "the course's last instructor cannot leave it: add another instructor first",
        )
    db.session.delete(enrollment)
    db.session.commit()


def member(course_id: int, user_id: int) -> Enrollment | None:
    return db.session.scalar(
        select(Enrollment).where(Enrollment.course_id == course_id, Enrollment.user_id == user_id)
    )


def instructor_count(course_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Enrollment).where(
            Enrollment.course_id == course_id, Enrollment.role == CourseRole.instructor
        )
    ) or 0


def new_link(course: Course, user_id: int, by: Person) -> NewAccount:
    """A fresh set-password link for a member with a student account (commits); older
    links of theirs stop working. RosterError 404 for a non-member, 403 for a staff
    account (an instructor must not be able to take over another teacher's account)."""
    enrollment = member(course.id, user_id)
    if enrollment is None:
        raise RosterError(404, "not_found", "no such enrollment")
    user = enrollment.user
    if user.role != Role.student:
        raise RosterError(
            403, "forbidden", "set-password links are only for student accounts"
        )
    token, invite = invites.issue(user, course.id, by.id)
    db.session.commit()
    return NewAccount(user.email, token, invite.expires_at)
