"""Pages for a course's staff: the dashboard (CONTRACT §9).

Server-rendered like the student pages, with the same headers, error pages and CSRF.
Every page asks ``base.staff_course`` (or ``managed_course`` to change policy) first; a
student or an outsider gets 404. Each page's numbers come from a read shared with its
JSON twin under ``/api/v1/courses/...``; charts are SVG made on the server, each with a
table of the same numbers.

One blueprint, ``bp`` (endpoints ``dashboard.<view>``), gets its pages from ``course``
(overview, misconceptions, a student), ``roster``, ``assignments``, ``networks``,
``gradebook``, ``stats``, ``live`` (the lecture view and unexplained answers), ``lms``
(the course's LTI link: roster sync and grade pushes) and ``regrades`` (grading policies,
accepted answers, regrades with their preview, score overrides).
"""

from __future__ import annotations

from . import assignments, course, gradebook, live, lms, networks, regrades, roster, stats
from .base import bp

__all__ = [
    "assignments", "bp", "course", "gradebook", "live", "lms", "networks", "regrades", "roster",
    "stats",
]
