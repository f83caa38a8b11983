"""A student walks the real demo in headless Chromium (issue 4, "Done when"): log in, open a
problem, type the key cell by cell with the keyboard, submit, see full marks without a
reload; a transposed gradient is named; `1/` is flagged with no attempt used; the worked
solution opens; no input lacks an accessible name; every page fits a phone and a desktop."""

from __future__ import annotations

import re
from itertools import chain
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from browserkit import DESKTOP, PHONE, Demo, key_of, log_in
from playwright.sync_api import Browser, Page, expect

import exercises as ex

pytestmark = pytest.mark.browser

TYPE = "weight-gradient"
PART = "dC_dW"
# axe-core rules about names and labels of form controls and other interactive elements.
LABEL_RULES = {
    "label", "button-name", "aria-input-field-name", "aria-toggle-field-name", "select-name",
    "input-button-name", "label-title-only", "form-field-multiple-labels", "link-name",
    "svg-img-alt", "role-img-alt",
}

CONTROL_ROLES = {"textbox", "spinbutton", "radio", "button", "checkbox", "combobox"}


def practice_url(demo: Demo, seed: int, type_id: str = TYPE) -> str:
    return f"{demo.url}/practice/{type_id}?seed={seed}&difficulty=1"


def cell(page: Page, i: int, j: int) -> Any:
    return page.get_by_label(f"{PART} row {i} column {j}", exact=True)


def set_shape(page: Page, rows: int, columns: int) -> None:
    """Type the shape into the labelled controls, as a student would."""
    page.get_by_label(f"{PART} rows", exact=True).click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(rows))
    page.keyboard.press("Tab")  # to the columns control
    page.keyboard.press("Control+A")
    page.keyboard.type(str(columns))


def mark_document(page: Page) -> None:
    """A flag on window that a reload or navigation would wipe."""
    page.evaluate("window.__sameDocument = true")


def assert_same_document(page: Page, url: str) -> None:
    assert page.url == url
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def attempts_used(page: Page, demo: Demo) -> int:
    """The problem's attempt count from API v1, with the page's own session."""
    submit_url = page.locator("#answer-form").get_attribute("data-submit-url")
    problem_url = submit_url.removesuffix("/submissions")
    return page.request.get(demo.url + problem_url).json()["attempts_used"]


def test_the_key_typed_with_the_keyboard_gets_full_marks(
    page: Page, demo: Demo, screenshots: Path
) -> None:
    seed = 7
    key = key_of(TYPE, seed)[PART]
    log_in(page, demo)
    url = practice_url(demo, seed)
    page.goto(url)
    expect(cell(page, 1, 1)).to_be_visible()
    expect(cell(page, 1, 2)).to_have_count(0)  # the grid starts at 1×1, not the key's shape

    mark_document(page)
    set_shape(page, len(key), len(key[0]))
    page.keyboard.press("Tab")  # into row 1, column 1
    for i, row in enumerate(key, start=1):
        for j, value in enumerate(row, start=1):
            expect(cell(page, i, j)).to_be_focused()
            page.keyboard.type(str(value))
            if (i, j) != (len(key), len(row)):
                page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    status = page.get_by_role("status")
    expect(status).to_contain_text("100%", timeout=20_000)
    assert_same_document(page, url)
    n = sum(len(row) for row in key)
    expect(page.locator("input.cell.cell-right")).to_have_count(n)
    expect(page.locator(f"#part-{PART} .part-mark")).to_have_text("✓ correct")
    expect(page.locator("#history")).to_contain_text("100%")
    page.screenshot(path=screenshots / "problem-solved-desktop.png", full_page=True)

    page.get_by_text("Show the worked solution").click()
    steps = page.locator("#solution .step")
    expect(steps.first).to_be_visible()
    expect(page.locator("#solution")).to_contain_text("Weight gradient")
    expect(page.locator("#solution .formula math").first).to_be_visible()
    assert_same_document(page, url)
    page.locator("#solution-section").screenshot(path=screenshots / "solution-desktop.png")


def test_a_transposed_gradient_is_named(page: Page, demo: Demo, screenshots: Path) -> None:
    seed = 8
    key = key_of(TYPE, seed)[PART]
    transposed = [list(column) for column in zip(*key, strict=True)]
    assert transposed != key, "pick a seed whose gradient is not symmetric"
    log_in(page, demo)
    url = practice_url(demo, seed)
    page.goto(url)
    mark_document(page)
    set_shape(page, len(transposed), len(transposed[0]))
    # This time with the arrow keys: along row 1, down, and back along row 2.
    cell(page, 1, 1).click()
    page.keyboard.type(str(transposed[0][0]))
    page.keyboard.press("ArrowRight")
    page.keyboard.type(str(transposed[0][1]))
    page.keyboard.press("ArrowDown")
    expect(cell(page, 2, 2)).to_be_focused()
    page.keyboard.type(str(transposed[1][1]))
    page.keyboard.press("ArrowLeft")
    page.keyboard.type(str(transposed[1][0]))
    page.get_by_role("button", name="Submit").click()

    status = page.get_by_role("status")
    expect(status).to_contain_text("Grading", timeout=5_000)
    expect(status).to_contain_text("Transposed gradient", timeout=20_000)
    expect(status).to_contain_text("0%")
    expect(status).to_contain_text("δ·xᵀ")  # the tutor's explanation, with the right rule
    assert_same_document(page, url)
    expect(page.locator(f"#part-{PART}")).to_have_class(re.compile(r"\bis-wrong\b"))
    # Off the diagonal the transposed entries are wrong, on it they are right.
    pairs = zip(chain.from_iterable(transposed), chain.from_iterable(key), strict=True)
    wrong = sum(a != b for a, b in pairs)
    expect(page.locator("input.cell.cell-wrong")).to_have_count(wrong)
    page.screenshot(path=screenshots / "problem-mistake-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    shoot(page, screenshots / "problem-mistake-phone.png")
    expect(page.locator("#solution-locked")).to_be_visible()  # not solved yet


def test_unreadable_input_is_flagged_and_uses_no_attempt(
    page: Page, demo: Demo, screenshots: Path
) -> None:
    log_in(page, demo)
    url = practice_url(demo, 9)
    page.goto(url)
    mark_document(page)
    counter = page.locator("#attempts")
    before_text, before = counter.inner_text(), attempts_used(page, demo)

    cell(page, 1, 1).click()
    page.keyboard.type("1/")
    page.keyboard.press("Enter")
    error = page.locator(f"#error-{PART}")
    expect(error).to_be_visible(timeout=10_000)
    expect(error).to_contain_text("row 1, column 1")
    expect(page.get_by_role("status")).to_contain_text("no attempt was used")
    expect(cell(page, 1, 1)).to_have_attribute("aria-invalid", "true")
    assert counter.inner_text() == before_text
    assert attempts_used(page, demo) == before
    assert_same_document(page, url)
    page.locator("#answer-form").screenshot(path=screenshots / "format-error-desktop.png")

    page.keyboard.type("2")  # fixing the cell clears the flag
    expect(error).to_be_hidden()


def test_the_expression_preview_shows_how_it_was_read(page: Page, demo: Demo) -> None:
    log_in(page, demo)
    page.goto(practice_url(demo, 3, "symbolic-gradient"))
    field = page.get_by_label("expr", exact=True)
    field.fill("(a2 - y2)*a2*(1 - a2)*x1")
    expect(page.locator("#preview-expr math")).to_be_visible()
    field.fill("(a2 - y2")
    expect(page.locator("#preview-expr")).to_have_class(re.compile(r"\bpreview-error\b"))


def test_a_choice_is_answered_with_radio_buttons(page: Page, demo: Demo) -> None:
    log_in(page, demo)
    page.goto(practice_url(demo, 3, "concept-check"))
    expect(page.locator("svg.network")).to_have_count(0)  # a concept has no network
    page.get_by_role("radiogroup", name="choice").get_by_role("radio").first.check()
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("status")).to_contain_text("%", timeout=20_000)


@pytest.mark.parametrize(
    "type_id", ["weight-gradient", "chain-rule", "symbolic-gradient", "concept-check"]
)
def test_no_input_on_the_problem_page_lacks_a_name(page: Page, demo: Demo, type_id: str) -> None:
    log_in(page, demo)
    page.goto(practice_url(demo, 4, type_id))
    if type_id == TYPE:
        set_shape(page, 2, 3)  # cells made by the script must be named too
        expect(cell(page, 2, 3)).to_be_visible()
    results = Axe().run(page)
    violations = [v for v in results.response["violations"] if v["id"] in LABEL_RULES]
    assert violations == [], results.generate_report()
    # And the same from Chromium's own accessibility tree: every control has a name.
    tree = page.context.new_cdp_session(page).send("Accessibility.getFullAXTree")["nodes"]
    controls = [n for n in tree if n.get("role", {}).get("value") in CONTROL_ROLES]
    assert len(controls) >= 2
    unnamed = [n for n in controls if not n.get("name", {}).get("value", "").strip()]
    assert unnamed == []


def shoot(page: Page, path: Path) -> None:
    """A full-page screenshot, after checking that nothing sticks out sideways."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the window"
    page.screenshot(path=path, full_page=True)


def test_every_page_at_desktop_and_phone_width(
    browser: Browser, demo: Demo, screenshots: Path
) -> None:
    seed = 12
    key = key_of(TYPE, seed)[PART]
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.goto(f"{demo.url}/login")
        shoot(page, screenshots / f"login-{name}.png")
        log_in(page, demo)
        shoot(page, screenshots / f"courses-{name}.png")
        page.get_by_role("link", name=re.compile("Homework 1")).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Homework 1")
        shoot(page, screenshots / f"assignment-{name}.png")
        page.get_by_role("link", name=re.compile(r"problem 5: Weight gradient")).click()
        expect(page.locator("#attempts")).to_contain_text("of 3 left")
        shoot(page, screenshots / f"problem-{name}.png")
        page.goto(f"{demo.url}/practice")
        shoot(page, screenshots / f"practice-{name}.png")
        page.goto(practice_url(demo, 3, "backprop-story"))
        shoot(page, screenshots / f"backprop-story-{name}.png")
        page.goto(practice_url(demo, seed))
        if page.locator("#history a").count() == 0:  # the desktop round solves it
            set_shape(page, len(key), len(key[0]))
            for i, row in enumerate(key, start=1):
                for j, value in enumerate(row, start=1):
                    cell(page, i, j).fill(str(value))
            page.get_by_role("button", name="Submit").click()
            expect(page.get_by_role("status")).to_contain_text("100%", timeout=20_000)
        page.get_by_text("Show the worked solution").click()
        shoot(page, screenshots / f"solved-{name}.png")
        page.locator("#history a").first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Attempt")
        shoot(page, screenshots / f"submission-{name}.png")
        context.close()


def test_every_exercise_type_fits_a_phone(browser: Browser, demo: Demo) -> None:
    """The widest variants (difficulty 3: batches, three-neuron layers) stay within 390 px."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    log_in(page, demo)
    for exercise in ex.catalogue():
        page.goto(f"{demo.url}/practice/{exercise.id}?seed=5&difficulty=3")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{exercise.id} is {overflow}px wider than a phone"
    context.close()
