"""TODO: API v1 twins of the people pages."""

from __future__ import annotations

from .common import bp

__all__ = ["bp"]
