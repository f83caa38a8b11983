"""The gradebook: each student's points per assignment and in total, read from ``marks``.

A mark (``service.marks``) holds a student's late-adjusted best score on one slot, 0..1,
and exists once one of their submissions to the slot is graded. A cell is
sum(credit × slot points) over the assignment's slots, or None (an empty cell) when the
student has no graded submission in the assignment (CONTRACT §9); the total is the sum of
the cells. Sums, counts, sorting and paging happen in the database: a page of 100 students
of a 1,000-student course reads 100 rows and their cells, never every submission.

The CSV exports (CONTRACT §9) stream: rows come from the database in chunks through a
server-side cursor and leave as text in chunks.

- Ours: ``email,name,section,<assignment title>...,total``; a cell is the fraction of the
  assignment's points earned, the total the fraction of all the course's points, written
  with up to 4 decimals and no trailing zeros (1/2 → ``0.5``, full marks → ``1``); an
  assignment worth no points reads ``0`` once submitted.
- Canvas: ``Student,ID,SIS User ID,SIS Login ID,Section,<title> (<id>)...``, a
  ``Points Possible`` row, then points earned (up to 4 decimals). ``Student`` is
  "Last, First" where the name splits at its last space (a name that already holds a comma
  is kept); ``ID`` and ``SIS User ID`` are Canvas's own ids, which we do not know, so they
  are empty and Canvas matches on ``SIS Login ID``, the email.

Text a person typed (names, emails, sections, titles) that starts with ``= + - @``, a tab
or a carriage return gets a leading apostrophe in both formats, so a spreadsheet shows it
as text instead of running it as a formula (CSV injection).
"""

from __future__ import annotations

import csv
import functools
import io
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flask import Response, stream_with_context
from sqlalchemy import JSON, Select, func, select

from .db import db
from .models import (
    CURRENT_RESULT,
    Assignment,
    Course,
    CourseRole,
    Enrollment,
    Mark,
    Problem,
    Result,
    ResultKind,
    Slot,
    Submission,
    User,
)

PER_PAGE = 100  # students per page: a 300-student course in three
MAX_PER_PAGE = 1000
SORTS = ("name", "email", "section", "total")  # and "a<assignment id>"
SORT_PATTERN = r"^(name|email|section|total|a[0-9]{1,12})$"
CHUNK_ROWS = 500  # students per chunk of CSV text, and rows per fetch (times assignments)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Points are rounded to this many decimals: a float sum's last bits depend on the order
# the database adds in (2.9, not 2.9000000000000004).
ROUND = 6


class Format(StrEnum):
    """A CSV export's flavour (CONTRACT §9)."""

    ours = "ours"
    canvas = "canvas"


@dataclass(frozen=True)
class Column:
    """An assignment of the course: a gradebook column."""

    id: int
    title: str
    points: float  # the sum of its slots' points


@dataclass(frozen=True)
class Row:
    """A student and their points: per assignment id (None: nothing graded), and in total."""

    user_id: int
    email: str
    name: str
    section: str
    cells: dict[int, float | None]
    total: float


@dataclass(frozen=True)
class Query:
    """Which students, in what order, which page: ``sort`` is one of ``SORTS`` or ``a<id>``
    (an assignment's column; empty cells sort below zero)."""

    sort: str = "name"
    desc: bool = False
    section: str | None = None
    page: int = 1
    per_page: int = PER_PAGE


@dataclass(frozen=True)
class Book:
    """One page of a course's gradebook."""

    columns: list[Column]
    rows: list[Row]
    query: Query
    students: int  # matching the section filter, on every page
    sections: list[str] = field(default_factory=list)  # the course's students' sections
    # Cells with a score set by hand: user id -> assignment id -> the overrides' reasons.
    overrides: dict[int, dict[int, list[str]]] = field(default_factory=dict)

    @property
    def points(self) -> float:
        return sum(c.points for c in self.columns)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.students / self.query.per_page))


def columns(course_id: int) -> list[Column]:
    """The course's assignments in the order they were made, with their points."""
    stmt = (
        select(Assignment.id, Assignment.title, func.coalesce(func.sum(Slot.points), 0.0))
        .outerjoin(Slot, Slot.assignment_id == Assignment.id)
        .where(Assignment.course_id == course_id)
        .group_by(Assignment.id, Assignment.title)
        .order_by(Assignment.id)
    )
    return [Column(aid, title, float(points)) for aid, title, points in db.session.execute(stmt)]


def sections(course_id: int) -> list[str]:
    """The distinct named sections of the course's students (to filter by; students with
    no section show only in the unfiltered gradebook)."""
    return list(db.session.scalars(
        select(Enrollment.section).distinct()
        .where(Enrollment.course_id == course_id, Enrollment.role == CourseRole.student,
               Enrollment.section != "")
        .order_by(Enrollment.section)
    ))


def known_sort(sort: str, cols: Sequence[Column]) -> bool:
    """Whether ``sort`` names a column of this gradebook."""
    if sort in SORTS:
        return True
    return sort.startswith("a") and sort[1:].isdigit() and int(sort[1:]) in {c.id for c in cols}


def _earned(cols: Sequence[Column]) -> Select[int, int, float]:
    """Points earned per student and assignment (of these columns), for students with a
    mark there."""
    return (
        select(
            Mark.user_id, Mark.assignment_id,
            func.sum(Mark.credit * Slot.points).label("earned"),
        )
        .join(Slot, Slot.id == Mark.slot_id)
        .where(Mark.assignment_id.in_([c.id for c in cols]))
        .group_by(Mark.user_id, Mark.assignment_id)
    )


def _students(course_id: int, section: str | None) -> Select[int, str, str, str]:
    stmt = (
        select(User.id, User.email, User.name, Enrollment.section)
        .select_from(Enrollment)
        .join(User, User.id == Enrollment.user_id)
        .where(Enrollment.course_id == course_id, Enrollment.role == CourseRole.student)
    )
    return stmt if section is None else stmt.where(Enrollment.section == section)


def book(course_id: int, query: Query) -> Book:
    """One page of the course's gradebook, sorted and filtered as asked (an unknown sort
    reads as by name). Only a sort by total sums every student's marks."""
    cols = columns(course_id)
    if not known_sort(query.sort, cols):
        query = Query("name", query.desc, query.section, query.page, query.per_page)
    stmt = _students(course_id, query.section)
    count = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    key: Any
    if query.sort == "total":
        totals = (
            select(Mark.user_id, func.sum(Mark.credit * Slot.points).label("total"))
            .join(Slot, Slot.id == Mark.slot_id)
            .where(Mark.assignment_id.in_([c.id for c in cols]))
            .group_by(Mark.user_id)
            .subquery()
        )
        stmt = stmt.outerjoin(totals, totals.c.user_id == User.id)
        key = func.coalesce(totals.c.total, 0.0)
    elif query.sort in SORTS:
        key = {"name": User.name, "email": User.email, "section": Enrollment.section}[query.sort]
    else:
        cells = _earned([c for c in cols if query.sort == f"a{c.id}"]).subquery()
        stmt = stmt.outerjoin(cells, cells.c.user_id == User.id)
        key = cells.c.earned
    key = key.desc().nulls_last() if query.desc else key.asc().nulls_first()
    page = max(1, min(query.page, math.ceil(count / query.per_page)))
    query = Query(query.sort, query.desc, query.section, page, query.per_page)
    found = db.session.execute(
        stmt.order_by(key, User.name, User.email, User.id)
        .limit(query.per_page).offset((page - 1) * query.per_page)
    ).all()
    earned: dict[int, dict[int, float]] = {}
    if found and cols:
        ids = [r[0] for r in found]
        for uid, aid, points in db.session.execute(_earned(cols).where(Mark.user_id.in_(ids))):
            earned.setdefault(uid, {})[aid] = round(float(points), ROUND)
    rows = []
    for uid, email, name, section in found:
        mine = earned.get(uid, {})
        rows.append(Row(uid, email, name, section, {c.id: mine.get(c.id) for c in cols},
                        round(sum(mine.values()), ROUND)))
    return Book(cols, rows, query, count, sections(course_id),
                overrides(course_id, [r.user_id for r in rows]) if rows else {})


def overrides(course_id: int, user_ids: Sequence[int]) -> dict[int, dict[int, list[str]]]:
    """The reasons of these students' current scores set by hand, by student and
    assignment (a gradebook cell shows a marker)."""
    out: dict[int, dict[int, list[str]]] = {}
    for uid, aid, position, reason in db.session.execute(
        select(Submission.user_id, Slot.assignment_id, Slot.position, Result.reason)
        .join(Result, CURRENT_RESULT)
        .join(Problem, Problem.id == Submission.problem_id)
        .join(Slot, Slot.id == Problem.slot_id)
        .join(Assignment, Assignment.id == Slot.assignment_id)
        .where(Assignment.course_id == course_id, Submission.user_id.in_(list(user_ids)),
               Result.kind == ResultKind.override)
        .order_by(Slot.position)
    ):
        out.setdefault(uid, {}).setdefault(aid, []).append(f"slot {position}: {reason}")
    return out


def _by_assignment(aid: Any, earned: Any) -> Any:
    """A student's cells as one JSON object (assignment id: points), in the database."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.json_object_agg(aid, earned, type_=JSON)
    return func.json_group_object(aid, earned, type_=JSON)


def every_row(course_id: int, cols: Sequence[Column], section: str | None = None,
              ) -> Iterator[Row]:
    """Every student of the course (of one section), by name, with their cells: one row
    per student from the database, fetched in chunks through a server-side cursor."""
    earned = _earned(cols).subquery()
    cells = (
        select(earned.c.user_id,
               _by_assignment(earned.c.assignment_id, earned.c.earned).label("cells"))
        .group_by(earned.c.user_id)
        .subquery()
    )
    stmt = (
        _students(course_id, section)
        .add_columns(cells.c.cells)
        .outerjoin(cells, cells.c.user_id == User.id)
        .order_by(User.name, User.email, User.id)
        .execution_options(yield_per=CHUNK_ROWS)
    )
    ids = [c.id for c in cols]
    for uid, email, name, section_, found in db.session.connection().execute(stmt):
        got = {int(k): float(v) for k, v in (found or {}).items()}
        yield Row(uid, email, name, section_, {aid: got.get(aid) for aid in ids},
                  sum(got.values()))


@functools.lru_cache(maxsize=8192)
def decimal(value: float) -> str:
    """Up to 4 decimals, no trailing zeros: 0.5 → "0.5", 1.0 → "1", 2/3 → "0.6667"."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def fraction(earned: float, points: float) -> str:
    return decimal(earned / points) if points > 0 else "0"


def text(value: str) -> str:
    """A typed value made safe for a spreadsheet: a leading apostrophe on what would read
    as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def last_first(name: str) -> str:
    """Canvas's "Last, First": "Ada King Lovelace" → "Lovelace, Ada King"; a single word or
    a name that already holds a comma is kept."""
    name = " ".join(name.split())
    if "," in name or " " not in name:
        return name
    first, last = name.rsplit(" ", 1)
    return f"{last}, {first}"


def header(cols: Sequence[Column], fmt: Format) -> list[list[str]]:
    """The first lines of an export: the header, and Canvas's ``Points Possible`` row."""
    if fmt == Format.canvas:
        return [
            ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
             *(text(f"{c.title} ({c.id})") for c in cols)],
            ["Points Possible", "", "", "", "", *(decimal(c.points) for c in cols)],
        ]
    return [["email", "name", "section", *(text(c.title) for c in cols), "total"]]


def line(row: Row, cols: Sequence[Column], fmt: Format, points: float) -> list[str]:
    """One student's line; ``points`` is the course's total points."""
    if fmt == Format.canvas:
        return [
            text(last_first(row.name) or row.email), "", "", text(row.email), text(row.section),
            *("" if (v := row.cells[c.id]) is None else decimal(v) for c in cols),
        ]
    return [
        text(row.email), text(row.name), text(row.section),
        *("" if (v := row.cells[c.id]) is None else fraction(v, c.points) for c in cols),
        fraction(row.total, points),
    ]


def export(course_id: int, fmt: Format, section: str | None = None) -> Iterator[str]:
    """The gradebook as CSV text, in chunks of ``CHUNK_ROWS`` students (run it inside a
    request or app context: it reads as it goes)."""
    cols = columns(course_id)
    points = sum(c.points for c in cols)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(header(cols, fmt))
    for n, row in enumerate(every_row(course_id, cols, section), start=1):
        writer.writerow(line(row, cols, fmt, points))
        if n % CHUNK_ROWS == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def filename(code: str, fmt: Format) -> str:
    """The download's name, from the course code: ``NN1-gradebook.csv``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", code).strip("-.") or "course"
    return f"{stem}-gradebook{'-canvas' if fmt == Format.canvas else ''}.csv"


def csv_response(course: Course, fmt: Format, section: str | None = None) -> Response:
    """The export as a streamed attachment named after the course code."""
    return Response(
        stream_with_context(export(course.id, fmt, section)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename(course.code, fmt)}"'},
    )
