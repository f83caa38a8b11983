"""Fixtures and collection rules every test folder shares.

The suite runs in two processes (pytest-xdist, ``--dist loadgroup``; see tests/run): the
pure tests (the domain: no server, no database) spread over both, while every test that
talks to PostgreSQL, Redis, a worker, a browser or the CLI stays in one group, so those
run one after another in one process exactly as in a serial run. A new test module is in
that group unless it is listed as pure below.

Playwright's sync API runs one event loop per thread: a second ``sync_playwright()`` in the
same session fails while the first is open. So the one Playwright of a test session lives
here, shared by the browser walks (tests/browser) and the LTI launch in a browser
(tests/lti).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Playwright, sync_playwright


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


HERE = Path(__file__).parent
PURE_FOLDERS = {HERE / "types"}
PURE_MODULES = {
    "test_analytics.py", "test_answers.py", "test_catalogue.py", "test_engine.py",
    "test_expressions.py", "test_grading.py", "test_grading_policy.py", "test_layers.py",
    "test_learning.py", "test_learning_fit.py", "test_learning_simulator.py",
    "test_mistake_coverage.py", "test_network.py",
    "test_network_fit.py",
    "test_relations.py", "test_scoring.py",
}


def _pure(path: Path) -> bool:
    return path.parent in PURE_FOLDERS or (path.parent == HERE and path.name in PURE_MODULES)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not _pure(item.path):
            item.add_marker(pytest.mark.xdist_group("servers"))
