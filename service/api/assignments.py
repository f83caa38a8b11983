"""TODO: API v1 twins of the assignments pages."""

from __future__ import annotations

from .common import bp

__all__ = ["bp"]
