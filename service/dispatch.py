"""How the web side hands committed submissions on to be graded, without knowing who grades.

The web app speaks only to the ``Dispatcher`` protocol; a grading back end (the
worker's outbox) binds itself to an app with ``init_app``. An app with none bound
(a CLI command, a test of pages only) still takes submissions: their rows are
committed ``queued``, and any sweeper publishes them after ``requeue_after``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Protocol

from flask import Flask, current_app

EXTENSION = "dispatcher"

log = logging.getLogger(__name__)


class Dispatcher(Protocol):
    """Where committed submission ids go to be graded."""

    def notify(self, ids: Iterable[uuid.UUID]) -> None:
        """Hand over these ids, their rows committed ``queued``; returns at once, never raises."""

    def broker_state(self) -> str:
        """"ok", or "down: <reason>" (for the health check; never raises)."""

    def regrade(self, regrade_id: int) -> bool:
        """Hand over a started regrade to be applied; False (never raises) when that
        failed: it stays ``applying`` and the sweeper hands it over once it stalls."""


class LeftForSweeper:
    """The dispatcher of an app with none bound: rows wait for the next sweep."""

    def notify(self, ids: Iterable[uuid.UUID]) -> None:
        log.debug("no dispatcher bound: %d submission(s) left for the sweeper", len(list(ids)))

    def regrade(self, regrade_id: int) -> bool:
        log.info("no dispatcher bound: regrade %d left for the sweeper", regrade_id)
        return False

    def broker_state(self) -> str:
        return "none: no grading back end is bound to this app"


def init_app(app: Flask, dispatcher: Dispatcher) -> None:
    """Bind ``dispatcher`` to ``app`` (one per app)."""
    app.extensions[EXTENSION] = dispatcher


def dispatcher(app: Flask | None = None) -> Dispatcher:
    """The dispatcher bound to ``app`` (default: the current app)."""
    found: Dispatcher | None = (app or current_app).extensions.get(EXTENSION)
    return found if found is not None else LeftForSweeper()
