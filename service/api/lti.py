"""API v1 twins of the course's LMS page (roster sync, grade pushes). Stub."""

from __future__ import annotations

from .common import bp

__all__ = ["bp"]
