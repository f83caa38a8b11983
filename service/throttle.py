"""Failed logins, limited per account and per client address over a sliding window.

The counts live in the database (``login_failures``), so every web process and every
gunicorn worker sees the same ones, on SQLite (the demo) as on PostgreSQL, with no
Redis. A refused attempt is not checked and not counted, so a lock lasts at most one
window after the failure that set it; a successful login clears its account's count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .auth import normal_email
from .config import Settings
from .models import LoginFailure

MAX_ACCOUNT = 254  # LoginFailure.account's length; longer emails are no account anyway


@dataclass(frozen=True)
class Limited:
    """Logins are refused for ``retry_after`` seconds, because of too many failures of ``by``."""

    by: str  # "account" or "address"
    retry_after: int

    @property
    def message(self) -> str:
        minutes = math.ceil(self.retry_after / 60)
        who = "this account" if self.by == "account" else "your network address"
        return (
            f"Too many failed logins for {who}. Try again in {minutes} "
            f"minute{'' if minutes == 1 else 's'}."
        )


def account_of(email: str) -> str:
    return normal_email(email)[:MAX_ACCOUNT]


def limited(
    session: Session, settings: Settings, email: str, address: str, now: datetime
) -> Limited | None:
    """Why logging in is refused now, or None when it may be tried."""
    window = timedelta(seconds=settings.login_failure_window)
    for by, column, key, limit in (
        ("account", LoginFailure.account, account_of(email), settings.login_failures_per_account),
        ("address", LoginFailure.address, address, settings.login_failures_per_address),
    ):
        # The limit-th most recent failure in the window: once it leaves the window,
        # fewer than ``limit`` remain and logging in may be tried again.
        pivot = session.scalar(
            select(LoginFailure.failed_at)
            .where(column == key, LoginFailure.failed_at > now - window)
            .order_by(LoginFailure.failed_at.desc())
            .offset(limit - 1)
            .limit(1)
        )
        if pivot is not None:
            return Limited(by, max(1, math.ceil((pivot + window - now).total_seconds())))
    return None


def failed(session: Session, settings: Settings, email: str, address: str, now: datetime) -> None:
    """Count a failed login (and forget failures older than the window); not committed."""
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.failed_at <= now - timedelta(seconds=settings.login_failure_window)
        )
    )
    session.add(LoginFailure(account=account_of(email), address=address, failed_at=now))


def succeeded(session: Session, email: str) -> None:
    """The account's owner got in: its failures no longer count; not committed."""
    session.execute(delete(LoginFailure).where(LoginFailure.account == account_of(email)))
