"""The web process's composition root: the web app with the worker's outbox bound to it.

The web app (``service.app``) and the worker (``worker``) never import each other;
this module, ``service.manage`` and ``worker.main`` are the only places that join them.
gunicorn loads ``build_app`` through ``backprop-quiz serve``; ``service.wsgi:build_app()``
also works as a WSGI application factory for another server.
"""

from __future__ import annotations

from flask import Flask

from worker.app import GradingCelery, broker_backlog, make_celery
from worker.outbox import Outbox
from worker.pressure import CpuPressure

from .app import create_app
from .config import Settings, load_settings
from .db import sessions_of


def build_app(settings: Settings | None = None, celery: GradingCelery | None = None) -> Flask:
    """The web app from ``settings`` (default: the environment), publishing through ``celery``
    (default: a new Celery app from the settings).

    Tasks run in this process (the demo's embedded worker, tests) use the web app's
    database engine; a separate worker binds its own (``worker.main``).
    """
    settings = settings or load_settings()
    app = create_app(settings)
    celery = celery or make_celery(settings)
    celery.bind_engine(sessions_of(app).kw["bind"])
    Outbox(
        celery,
        interval=settings.publish_interval,
        backlog=broker_backlog(settings),
        contention=CpuPressure.find(),
    ).init_app(app)
    return app
