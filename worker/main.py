"""``backprop-quiz worker``: a prefork Celery worker plus the sweeper loop.

Each child makes its own database engine after the fork, never the parent before it,
so no database connection is shared between processes; no web app is built here.
"""

from __future__ import annotations

import gc

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
    def _bind_engine(**_: object) -> None:
        # A grader's writes (claim, result) can all be redone from the submission row the
        # web app committed durably.
        celery.bind_engine(make_engine(settings.database_url, durable_commits=False))
        # What start-up built is kept for the process's life: take it out of the garbage
        # collector's reach, so full collections stop walking it.
        gc.freeze()

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
