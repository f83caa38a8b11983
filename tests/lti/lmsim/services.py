"""The platform's services part (stub: filled by its helper)."""

from __future__ import annotations

from typing import Any


class Services:
    """Mixin of ``Lms``: ``setup`` registers this part's blueprint on ``self.app``."""

    app: Any

    def setup(self) -> None:
        pass
