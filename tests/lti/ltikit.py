"""What the LTI tests share besides fixtures: the running tool as a test sees it, and the
people, courses and browsers the tests make on the test platform."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from flask import Flask
from lmsim import INSTRUCTOR, Context, Lms, LmsUser
from sqlalchemy import select
from sqlalchemy.orm import Session

from service import assignments
from service.db import db
from service.models import Course, LtiContext, LtiIdentity, LtiPlatform, User
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


def person(*roles: str, name: str = "Ada Lovelace") -> LmsUser:
    tag = uuid.uuid4().hex[:12]
    return LmsUser(
        sub=f"user-{tag}", name=name, email=f"{tag}@school.example.edu", roles=list(roles)
    )


def course_context() -> Context:
    tag = uuid.uuid4().hex[:8]
    return Context(id=f"ctx-{tag}", label=f"NN {tag}", title=f"Neural networks {tag}")


def browser() -> requests.Session:
    return requests.Session()


def user_of(tool: Tool, lms: Lms, who: LmsUser) -> User | None:
    with tool.db() as session:
        return session.scalars(
            select(User)
            .join(LtiIdentity, LtiIdentity.user_id == User.id)
            .where(LtiIdentity.issuer == lms.issuer, LtiIdentity.sub == who.sub)
        ).first()


def context_row(tool: Tool, lms: Lms, context: Context) -> LtiContext:
    with tool.db() as session:
        return session.scalars(
            select(LtiContext)
            .join(LtiPlatform, LtiPlatform.id == LtiContext.platform_id)
            .where(LtiPlatform.issuer == lms.issuer, LtiContext.context_id == context.id)
        ).one()


def course_with_assignment(tool: Tool, lms: Lms, context: Context) -> tuple[int, int, str]:
    """The context's course, made by its instructor's first launch, with a new assignment."""
    assert lms.launch(browser(), person(INSTRUCTOR), context=context).status_code == 200
    course_id = context_row(tool, lms, context).course_id
    title = f"Backprop by hand {uuid.uuid4().hex[:6]}"
    with tool.db() as session:
        course = session.get(Course, course_id)
        assert course is not None
        made = assignments.create(
            course,
            assignments.Settings(title=title),
            [assignments.SlotSettings(exercise_type="forward-pass")],
            published=True,
        )
        return course_id, made.id, title


DEADLINE = 60.0  # seconds any wait may take on a loaded machine (a bound, not a speed claim)


def wait_for(check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` until it returns something true (returned), or fail after DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {DEADLINE:.0f} s: {what}")


def tell(lms: Lms, tool: Tool) -> None:
    """Give the platform the tool's URLs, as an LMS admin types them in when registering by
    hand (Dynamic Registration tells them itself)."""
    lms.tool = {
        "login": f"{tool.url}/lti/login",
        "launch": f"{tool.url}/lti/launch",
        "jwks": f"{tool.url}/lti/jwks",
        "deep_link": f"{tool.url}/lti/launch",
    }
