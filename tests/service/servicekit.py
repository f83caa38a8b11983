"""Helpers shared by the service tests (a module of its own, so tests can import it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient

import exercises as ex
from service.models import Problem

PASSWORD = "correct horse battery"


@dataclass
class Caller:
    """A user and an API client speaking for them with a bearer token."""

    user_id: int
    email: str
    token: str
    client: FlaskClient

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self._call("POST", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self._call("DELETE", path, **kwargs)


def practice_problem(seed: int, **owner: Any) -> Problem:
    """A new (unsaved) practice problem: a weight-gradient variant, unlimited attempts.

    ``owner`` is ``owner_id=...`` or ``owner=<User>``, and any other column to set.
    """
    variant = ex.generate("weight-gradient", seed, 1)
    return Problem(
        type=variant.type,
        type_version=variant.type_version,
        seed=seed,
        difficulty=1,
        variant=variant.to_record(),
        attempts_allowed=None,
        **owner,
    )
