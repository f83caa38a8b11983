"""The course roster from the LMS (LTI NRPS). Stub."""

from __future__ import annotations
