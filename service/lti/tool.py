"""The tool's own absolute URLs, as platforms must call them."""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for


def tool_url(endpoint: str, **values: Any) -> str:
    """An absolute URL of ours as a platform must call it: under settings.public_url when
    set, else under the host this request came to."""
    public = current_app.extensions["settings"].public_url
    return (public or request.host_url.rstrip("/")) + url_for(endpoint, **values)
