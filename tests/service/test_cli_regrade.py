"""``backprop-quiz regrade``: the preview printed, nothing written with --dry-run, applied
without it; an unknown assignment is a clear error (exit 2). The homework is
test_regrade's (Ada raised from (n-1)/n to 1 by a tolerance of 2%)."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from flask import Flask
from servicekit import cli_env
from sqlalchemy import func, select
from test_regrade import current, homework, set_policy  # noqa: F401 -- homework: a fixture

from service.cli import main
from service.config import Settings
from service.db import db
from service.models import Regrade, RegradeItem, Result, ResultKind


def table_sizes(app: Flask) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(  # type: ignore[return-value]
            db.session.scalar(select(func.count()).select_from(t)) or 0
            for t in (Result, Regrade, RegradeItem)
        )


def test_dry_run_prints_the_preview_and_writes_nothing_then_it_applies(
    app: Flask, settings: Settings, homework: dict[str, Any]  # noqa: F811
) -> None:
    n, ada = homework["n"], homework["students"]["ada"]
    set_policy(app, homework["slot"], {"rtol": 0.02})
    runner = CliRunner()
    args = ["regrade", "--assignment", str(homework["aid"]), "--reason", "tolerance 2%"]
    sizes = table_sizes(app)

    dry = runner.invoke(main, [*args, "--dry-run"], env=cli_env(settings))
    assert dry.exit_code == 0, dry.output
    lines = dry.output.splitlines()
    assert "1 raised, 0 lowered, 3 unchanged, 0 kept" in lines[0]
    old = f"{(n - 1) / n * 100:.4g}%"
    (row,) = [line for line in lines if ada.email in line and "attempt" in line]
    assert f"slot 1  attempt 1  {old} -> 100%" in row and row.endswith("raised")
    (effect,) = [line for line in lines if ada.email in line and "attempt" not in line]
    assert effect.endswith(f"{old} -> 100%")
    assert lines[-1] == "dry run: nothing written"
    assert table_sizes(app) == sizes
    assert current(app, homework["subs"]["ada"])[1] == ResultKind.graded

    done = runner.invoke(main, args, env=cli_env(settings))
    assert done.exit_code == 0, done.output
    assert "applied 4/4" in done.output
    assert done.output.splitlines()[-1].startswith("regrade ")
    assert "4 result(s) written, 0 skipped" in done.output
    assert current(app, homework["subs"]["ada"])[:2] == (1.0, ResultKind.regraded)


def test_an_unknown_assignment_exits_2(settings: Settings, app: Flask) -> None:
    result = CliRunner().invoke(main, ["regrade", "--assignment", "999999"],
                                env=cli_env(settings))
    assert result.exit_code == 2
    assert "no assignment 999999" in result.output
