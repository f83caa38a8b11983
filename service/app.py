"""The app factory: extensions are created unbound and bound here, one blueprint per audience."""

from __future__ import annotations

import gc
import logging
import secrets

from flask import Flask
from flask_smorest import Api
from flask_smorest.spec.plugins import integerconverter2paramschema
from werkzeug.middleware.proxy_fix import ProxyFix

from . import api, auth, dashboard, dispatch, errors, inputs, lti, ops, schemas, student
from .config import Settings, load_settings
from .db import db
from .lti import admin as lti_admin


class ServiceApi(Api):
    """flask-smorest's Api, answering and documenting errors in our one shape."""

    ERROR_SCHEMA = schemas.Error

    def handle_http_exception(self, error):  # type: ignore[no-untyped-def]
        return errors.handle_http_exception(error)


def create_app(
    settings: Settings | None = None,
    dispatcher: dispatch.Dispatcher | None = None,
    durable_commits: bool = True,
) -> Flask:
    """Build the web app from ``settings`` (default: the environment).

    ``dispatcher`` takes the ids of committed submissions to grade; a grading back end may
    also bind itself later with its own ``init_app(app)`` (``service.wsgi.build_app`` binds
    the worker's outbox). With none, submitted rows wait for the sweeper.
    ``durable_commits=False`` is only for processes whose writes can all be redone (see
    ``db.make_engine``).
    """
    settings = settings or load_settings()
    app = Flask(__name__, instance_path=str(settings.instance_path))
    # Before any route is added: every <int:...> in a URL stops at an INTEGER column's range.
    app.url_map.converters["int"] = inputs.IdConverter
    app.config.update(
        # No key means one random per process: fine for workers and tests, not for `serve`.
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        MAX_CONTENT_LENGTH=settings.max_content_length,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings.session_cookie_secure),
        REMEMBER_COOKIE_SECURE=bool(settings.session_cookie_secure),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # valid for the session's life
        API_TITLE="backprop-quiz",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.extensions["settings"] = settings
    if settings.proxy_hops:
        # Believe only as many forwarding hops as there are proxies we run: a client
        # could write any X-Forwarded-For itself.
        n = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    app.logger.setLevel(logging.getLevelName(settings.log_level))

    db.init_app(app, settings.database_url, durable_commits)
    auth.init_app(app)
    if dispatcher is not None:
        dispatch.init_app(app, dispatcher)

    openapi = ServiceApi(app, spec_kwargs={"security": [{"bearer": []}, {"session": []}]})
    openapi.register_converter(inputs.IdConverter, integerconverter2paramschema)
    openapi.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    openapi.spec.components.security_scheme(
        "session", {"type": "apiKey", "in": "cookie", "name": app.config["SESSION_COOKIE_NAME"]}
    )
    # The API checks CSRF itself, for session callers only (auth.api_user).
    auth.csrf.exempt(api.bp)
    openapi.register_blueprint(api.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(student.bp)
    app.register_blueprint(dashboard.bp)
    # Platforms post to the LTI routes cross-site; each checks its own state, nonce or ticket.
    auth.csrf.exempt(lti.bp)
    app.register_blueprint(lti.bp)
    app.register_blueprint(lti_admin.admin_bp)
    errors.init_app(app)
    return app


def settle() -> None:
    """Take what start-up built (imports, app, engine) out of the garbage collector's reach.

    Call it once a long-running process is ready to serve. It keeps all of that for its
    life, yet each full collection would walk it, with the GIL held: a stall of every
    request in flight. Frozen objects are never collected, hence not for tests.
    """
    gc.freeze()
