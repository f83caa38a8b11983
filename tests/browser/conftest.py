"""The real product in a real browser: `backprop-quiz demo` (web app, in-process Celery
worker, SQLite in a temporary instance folder) driven by headless Chromium.

Screenshots go to test-artifacts/screenshots; the run prints that folder at the end.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import CLI, DESKTOP, Demo
from playwright.sync_api import Browser, Page, Playwright

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# Variables that would point the demo at servers or files other than its own.
FOREIGN_ENV = ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "INSTANCE_PATH")


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`backprop-quiz demo --port 0` with its own instance folder, stopped with Ctrl-C."""
    instance = tmp_path_factory.mktemp("demo-instance")
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env["INSTANCE_PATH"] = str(instance)
    process = subprocess.Popen(
        [CLI, "demo", "--port", "0"],
        env=env, cwd=instance, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        # Keep reading so a chatty worker never fills the pipe and blocks the demo.
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip())
            if "http://" in line:
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    ready.wait(timeout=60)
    url = next((m.group(0) for line in lines if (m := re.search(r"http://\S+", line))), None)
    if url is None:
        process.kill()
        pytest.fail("the demo did not start:\n" + "\n".join(lines))
    yield Demo(url.rstrip("/"), lines)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh desktop-sized tab with no cookies; page errors fail the test."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.iterdir()):
        terminalreporter.write_line(f"browser screenshots: {SCREENSHOTS}")
