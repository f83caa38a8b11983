"""``backprop-quiz worker``: a prefork Celery worker plus the sweeper loop.

The Flask app (engine, sessions) is built in each child after the fork, never in the
parent before it, so no database connection is shared between processes.
"""

from __future__ import annotations

from celery.signals import worker_process_init, worker_ready, worker_shutdown
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

from service.config import Settings
from service.db import make_engine

from .app import make_celery
from .sweeper import Sweeper


def run_worker(settings: Settings, concurrency: int, loglevel: str, hostname: str) -> None:
    """Run a grading worker (node ``hostname``) in the foreground until it is told to stop."""
    celery = make_celery(settings)

    @worker_process_init.connect(weak=False)
    def _build_app(**_: object) -> None:
        from service.app import create_app, settle

        # Binds itself as celery.flask_app. A grader's writes (claim, result) can all be
        # redone from the submission row the web app committed durably.
        create_app(settings, celery=celery, durable_commits=False)
        settle()

    # The parent forks children, so its engine keeps no pooled connections to inherit.
    sessions = sessionmaker(
        make_engine(settings.database_url, durable_commits=False, poolclass=NullPool)
    )
    sweeper = Sweeper(sessions, celery, settings)
    worker_ready.connect(lambda **_: sweeper.start(), weak=False)
    worker_shutdown.connect(lambda **_: sweeper.stop(), weak=False)

    celery.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--loglevel={loglevel}",
            f"--hostname={hostname}",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )
