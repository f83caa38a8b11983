"""What the stages of the pipeline share: the connection for the hot paths, the
parsed-variant cache, and the tables their Core statements are built on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from cachetools import LRUCache
from sqlalchemy import Connection, CursorResult, Engine, Table
from sqlalchemy import Result as Rows
from sqlalchemy.orm import Session

import exercises as ex

from ..caches import Locked
from ..models import Problem, Result, Submission

# The hot paths (submit, and everything a grading task does) run on a plain Connection:
# a Session's bookkeeping costs about as much as the statements. Both commit alike.
Db = Session | Connection


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """A connection for the hot paths, committed at the end of the block (rolled back on error).

    On PostgreSQL it is in autocommit: each write of submit, claim and finish is a single
    statement there, hence a transaction of its own, and BEGIN and COMMIT would be two
    more round trips each. SQLite has no data-modifying CTEs, so there submit's two
    statements share the block's transaction.
    """
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection
        connection.commit()


VARIANT_CACHE_SIZE = 4096  # problems per process whose parsed variant is kept
# The parsed variants by problem id (a problem's variant never changes once stored).
VARIANTS: Locked[uuid.UUID, ex.Variant] = Locked(LRUCache(VARIANT_CACHE_SIZE))


def parsed_variant(problem_id: uuid.UUID, record: dict[str, Any]) -> ex.Variant:
    """The problem's stored variant, parsed once per process.

    A problem's variant never changes once stored, and parsing a record (every mistake
    prediction into arrays or expressions) costs more than grading with it; the parsed
    variant also keeps the grader's per-variant caches warm.
    """
    variant = VARIANTS.get(problem_id)
    if variant is None:
        variant = ex.Variant.from_record(record)
        VARIANTS.put(problem_id, variant)
    return variant

# The hot paths speak Core, with statements built once: the ORM's unit of work, and
# building and keying a statement on every call, would cost more than the database does.
PROBLEMS = cast(Table, Problem.__table__)
SUBMISSIONS = cast(Table, Submission.__table__)
RESULTS = cast(Table, Result.__table__)


def dialect(session: Db) -> str:
    """The dialect ("postgresql", "sqlite") behind a Session or a Connection."""
    bind = session if isinstance(session, Connection) else session.get_bind()
    return bind.dialect.name


def rowcount(result: Rows[Any]) -> int:
    """The rows an UPDATE matched (``execute`` types its result as a plain Result)."""
    return cast(CursorResult[Any], result).rowcount
