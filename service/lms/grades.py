"""Scores back to the LMS gradebook (LTI AGS). Stub: ``enqueue`` is called by grading."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session


def enqueue(session: Session | Connection, submission_ids: Sequence[uuid.UUID]) -> None:
    """Add a pending push for each student whose assignment score these results changed,
    where the assignment is linked to an LMS line item; runs in grading's transaction."""
