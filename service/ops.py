"""Routes for operators: ``/healthz`` and Prometheus ``/metrics``.

The metrics are read from the database at scrape time, so every web process reports
the same numbers and no multi-process metric store is needed: the rows are the truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from .db import db
from .models import UNGRADED, Result, Status, Submission, utcnow

bp = Blueprint("ops", __name__)

LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database answers; the broker's state is reported (submissions still
    succeed while it is down, so it does not make the web app unhealthy)."""
    checks = {"database": _database_state(), "broker": _broker_state()}
    healthy = checks["database"] == "ok"
    return jsonify({"status": "ok" if healthy else "failing", **checks}), 200 if healthy else 503


def _database_state() -> str:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 -- any failure is the state to report
        return f"down: {type(exc).__name__}"
    finally:
        db.session.rollback()
    return "ok"


def _broker_state() -> str:
    celery = current_app.extensions["celery"]
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0, timeout=2)
    except Exception as exc:  # noqa: BLE001 -- any failure is the state to report
        return f"down: {type(exc).__name__}"
    return "ok"


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition of the grading pipeline's state."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(db.sessionmaker))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class PipelineCollector:
    """Submissions by status, submit-to-graded latency, and the age of the oldest queued row."""

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        with self.sessions() as session:
            # The ungraded rows are few and indexed; the graded ones are counted with their
            # results below (a row is marked graded in the statement that writes its result).
            counts = dict(
                session.execute(
                    select(Submission.status, func.count())
                    .where(UNGRADED)
                    .group_by(Submission.status)
                ).all()
            )
            oldest = session.scalar(
                select(func.min(Submission.queued_at)).where(
                    UNGRADED, Submission.status == Status.queued
                )
            )
            buckets = session.execute(_latency_buckets()).one()
        *cumulative, total, latency_sum = buckets
        counts[Status.graded] = int(total or 0)
        by_status = GaugeMetricFamily(
            "backprop_quiz_submissions",
            "Submissions by grading status.",
            labels=["status"],
        )
        for status in Status:
            by_status.add_metric([status.value], counts.get(status, 0))
        yield by_status
        yield GaugeMetricFamily(
            "backprop_quiz_oldest_queued_age_seconds",
            "Seconds the oldest queued submission has been waiting (0 when none is).",
            value=(utcnow() - oldest).total_seconds() if oldest is not None else 0.0,
        )
        yield HistogramMetricFamily(
            "backprop_quiz_grading_latency_seconds",
            "Seconds from a submission's arrival to its graded result.",
            buckets=[
                *(
                    (str(le), int(n or 0))
                    for le, n in zip(LATENCY_BUCKETS, cumulative, strict=True)
                ),
                ("+Inf", int(total or 0)),
            ],
            sum_value=float(latency_sum or 0.0),
        )


def _latency_buckets() -> Any:
    # One pass over the results: a cumulative count per bucket, the total and the sum.
    latency = Result.latency_seconds
    return select(
        *(func.sum(case((latency <= le, 1), else_=0)) for le in LATENCY_BUCKETS),
        func.count(),
        func.sum(latency),
    )
