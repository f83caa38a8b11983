"""A launch in a real browser, inside an LMS's page: the test platform's course page frames
the tool from another site (localhost against 127.0.0.1), as Canvas and Moodle do, and
Chromium applies its real cookie and framing rules. The screenshot of the framed launch is
the README's."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from lmsim import LEARNER, Lms
from ltikit import Tool, course_context, course_with_assignment, person, tell
from playwright.sync_api import Browser, Playwright, expect

from service.lms import registry

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("tool_database", ["sqlite"], indirect=True),
]


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
    )
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def elsewhere(tool: Tool) -> Iterator[Lms]:
    """A platform on another site than the tool, registered through the registry."""
    lms = Lms(host="localhost").start()
    with tool.db() as session:
        registry.add_platform(
            session,
            registry.PlatformSpec(
                issuer=lms.issuer,
                client_id=lms.client_id,
                auth_login_url=f"{lms.url}/auth",
                auth_token_url=f"{lms.url}/token",
                jwks_url=f"{lms.url}/jwks",
                deployment_ids=(lms.deployment_id,),
                name="Test LMS",
            ),
            registered_by="cli",
        )
        session.commit()
    tell(lms, tool)
    yield lms
    lms.stop()


def test_a_framed_launch_opens_the_assignment_in_a_new_window_signed_in(
    tool: Tool, elsewhere: Lms, chromium: Browser
) -> None:
    context = course_context()
    _, assignment_id, title = course_with_assignment(tool, elsewhere, context)
    student = person(LEARNER, name="Grace Hopper")
    page_url = elsewhere.course_page(
        student,
        "link-week-3",
        title=title,
        custom={"assignment_id": str(assignment_id)},
        context=context,
    )
    browser = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = browser.new_page()
    page.goto(page_url)

    frame = page.frame_locator("iframe[name=tool]")
    open_link = frame.get_by_role("link", name="Open in a new window")
    expect(open_link).to_be_visible(timeout=30_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "lti-launch-frame.png"
    page.screenshot(path=str(shot))
    DOCS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, DOCS / "lti-launch-frame.png")

    with page.expect_popup() as opened:
        open_link.click()
    window = opened.value
    window.wait_for_load_state()
    expect(window.get_by_role("heading", name=title)).to_be_visible(timeout=30_000)
    assert window.url.endswith(f"/assignments/{assignment_id}")
    assert window.locator("input[type=password]").count() == 0
    browser.close()
