"""What the LTI tests share besides fixtures: the running tool as a test sees it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask
from sqlalchemy.orm import Session

from service.db import db
from worker.app import GradingCelery


@dataclass
class Tool:
    """backprop-quiz, running: ``url`` is where a browser or a platform reaches it."""

    app: Flask
    celery: GradingCelery
    url: str

    @contextmanager
    def db(self) -> Iterator[Session]:
        """The app's database session in an app context (the caller commits)."""
        with self.app.app_context():
            yield db.session
