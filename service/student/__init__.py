"""Pages for students: log in and out, courses, assignments, problems, practice.

Server-rendered with Jinja; the maths is MathML made on the server (``mathml``), the
network an inline SVG (``diagram``). A problem page answers through API v1 itself
(``static/problem.js`` posts to ``/api/v1/problems/<id>/submissions`` and polls
``/api/v1/submissions/<id>``), so there is one submission and grading path; with
JavaScript off the same form posts to ``submit_form``, which takes the same path
(``pipeline.submit``) and comes back to the page the form was on. Every page asks
``policy`` before it shows an object; what the caller may not see is a 404.

One blueprint, ``bp`` (endpoints ``student.<view>``), gets its pages from ``signin``,
``courses`` (courses, assignments, practice), ``problem``, ``submissions`` and ``progress``
(my progress, "Practise what I need"); ``base`` and ``render`` hold what they share.
"""

from __future__ import annotations

from . import courses, problem, progress, signin, submissions
from .base import bp, due_text, percent
from .render import feedback_note

__all__ = [
    "bp",
    "courses",
    "due_text",
    "feedback_note",
    "percent",
    "problem",
    "progress",
    "signin",
    "submissions",
]
