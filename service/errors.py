"""One error shape for the API: ``{"error": {"code", "message", ...}}``."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

API_PREFIX = "/api/"  # every version of the API lives under it
RETRY_AFTER_SECONDS = 5  # what a client is told to wait while the database is unreachable


class APIError(Exception):
    """An error the API answers with; raised anywhere under a view."""

    def __init__(self, status: int, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    """The JSON response for an error; ``extra`` keys sit beside code and message."""
    response = jsonify({"error": {"code": code, "message": message, **extra}})
    response.status_code = status
    return response


def wants_json() -> bool:
    """True for API and machine routes; pages keep Flask's HTML errors."""
    return request.path.startswith((API_PREFIX, "/healthz", "/metrics"))


def handle_http_exception(error: HTTPException) -> Response | HTTPException:
    """HTTP errors (routing, aborts, request validation) as the API's error shape."""
    if not wants_json():
        return error
    status = error.code or 500
    if isinstance(error, CSRFError):
        return error_response(status, "csrf_failed", error.description or "CSRF check failed")
    code = re.sub(r"[^a-z]+", "_", error.name.lower()).strip("_")
    message = error.description or error.name
    extra: dict[str, Any] = {}
    messages = (getattr(error, "data", None) or {}).get("messages")
    if isinstance(messages, dict) and messages:
        # webargs: {"json": {"field": ["message"]}} for fields that fail validation,
        # {"json": ["message"]} for a body that could not be read at all.
        unreadable = [m for msgs in messages.values() if isinstance(msgs, list) for m in msgs]
        if unreadable:
            return error_response(status, "invalid_json", " ".join(map(str, unreadable)))
        code = "invalid_request"
        extra["fields"] = {
            field: " ".join(map(str, msgs)) if isinstance(msgs, list) else str(msgs)
            for location in messages.values()
            if isinstance(location, dict)
            for field, msgs in location.items()
        }
    if status >= 500:
        message = "internal error; it has been logged"
    response = error_response(status, code, message, **extra)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_api_error(error: APIError) -> Response:
    return error_response(error.status, error.code, error.message, **error.extra)


def handle_database_down(error: Exception) -> Response | tuple[str, int, dict[str, str]]:
    """503 with Retry-After while the database cannot be reached (not a 500: nothing is
    wrong with the request, and a submission is only ever answered 202 after its commit)."""
    current_app.logger.warning("database unavailable: %s", error)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if wants_json():
        response = error_response(
            503, "unavailable", "the database is unavailable; try again in a few seconds"
        )
        response.headers.update(headers)
        return response
    try:
        page = render_template(
            "error.html",
            status=503,
            title="Back in a moment",
            message="The database is unavailable. Try again in a few seconds.",
        )
    except Exception:  # noqa: BLE001 -- the page itself may need the database
        page = "The database is unavailable. Try again in a few seconds."
    return page, 503, headers


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(APIError, handle_api_error)
    for down in (OperationalError, InterfaceError, PoolTimeout):
        app.register_error_handler(down, handle_database_down)
