"""TODO: API v1 twins of the networks pages."""

from __future__ import annotations

from .common import bp

__all__ = ["bp"]
