"""Routes for operators: ``/healthz`` and Prometheus ``/metrics``.

The metrics are read from the database at scrape time, so every web process reports
the same numbers and no multi-process metric store is needed: the rows are the truth.
A scrape costs little whatever the tables' size: the ungraded rows come from their
partial index, and the graded ones from running totals that each scrape brings up to
date by reading only the results written since the last (``ResultTotals``).

/metrics is served only with ``Authorization: Bearer $METRICS_TOKEN``; without a
METRICS_TOKEN it is off (404).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import ColumnElement, case, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from .auth import bearer_token
from .db import db
from .dispatch import dispatcher
from .errors import error_response
from .models import UNGRADED, Result, ResultKind, Status, Submission, utcnow

bp = Blueprint("ops", __name__)

LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# Results younger than this are read afresh on every scrape, not added to the running
# totals: a row whose transaction is still open when a scrape passes its id must not be
# skipped for good. (Each result is written by one short statement or transaction.)
SETTLE_SECONDS = 60


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
    return dispatcher().broker_state()


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition of the grading pipeline's state (bearer METRICS_TOKEN)."""
    token = current_app.extensions["settings"].metrics_token
    if token is None:
        return error_response(404, "not_found", "metrics are off: set METRICS_TOKEN to serve them")
    given = bearer_token(request) or ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        response = error_response(401, "unauthorized", "send Authorization: Bearer $METRICS_TOKEN")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    totals = current_app.extensions.setdefault("result_totals", ResultTotals())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(db.sessionmaker, totals))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


@dataclass
class ResultTotals:
    """Cumulative latency buckets, count and sum of the results with ids up to ``upto``.

    Gradings are written once and never change (a regrade adds a result of its own kind,
    not counted here), so the totals only grow; a scrape adds
    the rows settled since the last one, reading them by primary key (ids above
    ``upto``), and never the whole table again (only the first scrape of a process
    reads it all).
    """

    upto: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))
    count: int = 0
    total: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, session: Session) -> tuple[list[int], int, float]:
        """Buckets, count and sum over every result: the totals plus the unsettled rows."""
        with self.lock:
            horizon = utcnow() - timedelta(seconds=SETTLE_SECONDS)
            newer = Result.id > self.upto
            unsettled = session.scalar(
                select(func.min(Result.id)).where(newer, Result.created_at >= horizon)
            )
            settled = newer if unsettled is None else newer & (Result.id < unsettled)
            *buckets, count, total, last = session.execute(
                _latency_buckets(settled, func.max(Result.id))
            ).one()
            if last is not None:
                self.buckets = [a + int(b or 0) for a, b in zip(self.buckets, buckets, strict=True)]
                self.count += int(count or 0)
                self.total += float(total or 0.0)
                self.upto = last
            *fresh, fresh_count, fresh_total = session.execute(
                _latency_buckets(Result.id > self.upto)
            ).one()
            return (
                [a + int(b or 0) for a, b in zip(self.buckets, fresh, strict=True)],
                self.count + int(fresh_count or 0),
                self.total + float(fresh_total or 0.0),
            )


class PipelineCollector:
    """Submissions by status, submit-to-graded latency, and the age of the oldest queued row."""

    def __init__(self, sessions: sessionmaker[Session], totals: ResultTotals):
        self.sessions = sessions
        self.totals = totals

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
            cumulative, total, latency_sum = self.totals.read(session)
        counts[Status.graded] = total
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
                ("+Inf", total),
            ],
            sum_value=latency_sum,
        )


def _latency_buckets(where: ColumnElement[bool], *extra: Any) -> Any:
    # One pass over those results: a cumulative count per bucket, the count and the sum.
    latency = Result.latency_seconds
    return select(
        *(func.sum(case((latency <= le, 1), else_=0)) for le in LATENCY_BUCKETS),
        func.count(),
        func.sum(latency),
        *extra,
    ).where(where, Result.kind == ResultKind.graded)  # a regrade is not a grading
