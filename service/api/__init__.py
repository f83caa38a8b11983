"""API v1 (CONTRACT §7): problems, submissions and results, and courses for instructors.

Every route resolves the caller (bearer token or CSRF-checked session) and asks
``policy`` before touching an object; objects the caller may not see are 404s.
The OpenAPI document at /api/v1/openapi.json is generated from these views and schemas.
One blueprint, ``bp`` (endpoints ``api.<View>``), gets its routes from a module per
audience and task: ``problems`` (solving), ``submissions`` (a result, and the caller),
``courses`` (members), ``progress`` (the caller's own learning model and next practice
problem); for a course's staff, the JSON twins of the dashboard's pages:
``people`` (course, roster, import, set-password links), ``assignments`` (settings,
publishing, overrides), ``networks`` (an instructor's own network), ``gradebook``,
``stats``, ``live`` (the lecture view, unexplained answers), ``regrades`` (grading
policies, accepted answers, regrades, score overrides) and ``instructor`` (the course's
submissions). Reads shared with the pages are in ``service.queries`` and in
one module per dashboard page (``service.gradebook``, ``service.stats``, ...).
"""

from __future__ import annotations

from . import (
    assignments,
    courses,
    gradebook,
    instructor,
    live,
    lti,
    networks,
    people,
    problems,
    progress,
    regrades,
    stats,
    submissions,
)
from .common import bp

__all__ = [
    "assignments", "bp", "courses", "gradebook", "instructor", "live", "lti", "networks", "people",
    "problems", "progress", "regrades", "stats", "submissions",
]
