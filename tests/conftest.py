"""Fixtures every test folder may use.

Playwright's sync API runs one event loop per thread: a second ``sync_playwright()`` in the
same session fails while the first is open. So the one Playwright of a test session lives
here, shared by the browser walks (tests/browser) and the LTI launch in a browser
(tests/lti).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Playwright, sync_playwright


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p
