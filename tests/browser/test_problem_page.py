"""The problem page in Chromium (issue 12, item 7): no stale ✓/✗ after an unreadable answer,
Submit with JavaScript off keeps the problem and shows the result, the worked solution
scrolls inside its own box at phone width, and the network diagram's weights are legible."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from browserkit import DESKTOP, PHONE, Demo, key_of, log_in

pytestmark = pytest.mark.browser

TYPE = "weight-gradient"
PART = "dC_dW"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def practice_url(demo: Demo, seed: int, type_id: str = TYPE, difficulty: int = 1) -> str:
    return f"{demo.url}/practice/{type_id}?seed={seed}&difficulty={difficulty}"


def cell(page: Page, i: int, j: int) -> Any:
    return page.get_by_label(f"{PART} row {i} column {j}", exact=True)


def test_an_unreadable_answer_leaves_no_mark_of_the_earlier_result(page: Page, demo: Demo) -> None:
    seed = 8
    key = key_of(TYPE, seed)[PART]
    transposed = [list(column) for column in zip(*key, strict=True)]
    log_in(page, demo)
    page.goto(practice_url(demo, seed))
    page.get_by_label(f"{PART} rows", exact=True).fill("2")
    page.get_by_label(f"{PART} columns", exact=True).fill("2")
    for i, row in enumerate(transposed, start=1):
        for j, value in enumerate(row, start=1):
            cell(page, i, j).fill(str(value))
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("status")).to_contain_text("Transposed gradient", timeout=20_000)
    marks = page.locator(f"#part-{PART} .cell-mark")
    expect(marks).to_have_count(4)  # the earlier result, entry by entry

    cell(page, 2, 2).fill("1/")  # unreadable; the other three cells keep their marks so far
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("status")).to_contain_text("no attempt was used", timeout=10_000)
    expect(page.locator(f"#error-{PART}")).to_contain_text("row 2, column 2")
    expect(marks).to_have_count(0)
    expect(page.locator(f"#part-{PART} input.cell-right, #part-{PART} input.cell-wrong")) \
        .to_have_count(0)
    expect(page.locator(f"#part-{PART} .part-mark")).to_have_text("")
    expect(page.locator(f"#part-{PART}")).not_to_have_class(re.compile(r"\bis-(right|wrong)\b"))


def test_submit_without_javascript_shows_the_result_on_the_same_problem(
    browser: Browser, demo: Demo, screenshots: Path
) -> None:
    seed = 7
    key = key_of(TYPE, seed)[PART]
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    log_in(page, demo)
    url = practice_url(demo, seed)
    page.goto(url)
    prompt = page.locator(".prompt-text").inner_text()

    # The grid starts at 1×1: without the script, Submit with a new shape reshapes it.
    page.get_by_label(f"{PART} rows", exact=True).fill(str(len(key)))
    page.get_by_label(f"{PART} columns", exact=True).fill(str(len(key[0])))
    page.get_by_role("button", name="Submit").click()
    expect(cell(page, len(key), len(key[0]))).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Nothing was graded")
    for i, row in enumerate(key, start=1):
        for j, value in enumerate(row, start=1):
            cell(page, i, j).fill(str(value))
    page.get_by_role("button", name="Submit").click()

    status = page.get_by_role("status")
    expect(status).to_contain_text("100%", timeout=20_000)
    assert page.url.startswith(url), page.url  # the same practice problem, same seed
    assert page.locator(".prompt-text").inner_text() == prompt
    expect(page.locator("#history")).to_contain_text("100%")
    expect(cell(page, 1, 1)).to_have_value(str(key[0][0]))  # the answer stays in the grid

    # An unreadable answer comes back on the same page with its reason and no attempt used.
    cell(page, 1, 1).fill("1/")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("status")).to_contain_text("no attempt was used")
    expect(page.locator(f"#error-{PART}")).to_contain_text("row 1, column 1")
    expect(cell(page, 1, 1)).to_have_value("1/")
    assert page.locator(".prompt-text").inner_text() == prompt
    page.screenshot(path=screenshots / "no-script-desktop.png", full_page=True)
    context.close()


def overflowing_content(page: Page, root: str) -> list[str]:
    """Elements under ``root`` reaching past its right edge with no scrolling box between."""
    return page.evaluate(
        """(root) => {
          const box = document.querySelector(root);
          const right = box.getBoundingClientRect().right;
          const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
          const bad = [];
          for (const el of box.querySelectorAll("math, p, li, div, h3, table")) {
            if (el.getBoundingClientRect().right <= right + 0.5) continue;
            let up = el.parentElement, held = false;
            while (up && up !== box) {
              if (scrolls(up) && up.getBoundingClientRect().right <= right + 0.5) {
                held = true; break;
              }
              up = up.parentElement;
            }
            if (!held) bad.push(el.tagName + "." + el.className + ": " +
                                el.textContent.slice(0, 40));
          }
          return bad;
        }""",
        root,
    )


def test_the_worked_solution_scrolls_in_its_own_box_at_phone_width(
    browser: Browser, demo: Demo, screenshots: Path
) -> None:
    type_id, seed, difficulty = "backprop-story", 5, 3  # the widest formulas of the catalogue
    key = key_of(type_id, seed, difficulty)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    log_in(page, demo)
    page.goto(practice_url(demo, seed, type_id, difficulty))
    submit_url = page.locator("#answer-form").get_attribute("data-submit-url")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    sent = page.request.post(demo.url + submit_url, data={"answers": key},
                             headers={"X-CSRFToken": token})
    assert sent.status == 202, sent.text()
    for _ in range(100):  # until graded: the solution opens once the problem is solved
        page.reload()
        if page.locator("#solution").count():
            break
        page.wait_for_timeout(200)
    page.get_by_text("Show the worked solution").click()
    expect(page.locator("#solution .step").first).to_be_visible()

    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert overflowing_content(page, "#solution-section") == []
    page.locator("#solution-section").screenshot(path=screenshots / "solution-phone.png")

    # Each formula wider than the phone scrolls in its own box, which Tab reaches and the
    # keyboard scrolls to the formula's end.
    wide = page.locator("#solution .formula").filter(
        has=page.locator("math")).evaluate_all(
        "(boxes) => boxes.map((b, i) => [i, b.scrollWidth > b.clientWidth + 1])")
    scrolling = [i for i, wider in wide if wider]
    assert scrolling, "pick a variant whose solution is wider than a phone"
    for i in scrolling[:3]:
        box = page.locator("#solution .formula").nth(i)
        expect(box).to_have_attribute("tabindex", "0")
        expect(box).to_have_accessible_name(re.compile("scrolls sideways"))
        box.focus()
        expect(box).to_be_focused()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("(b) => b.scrollLeft > 0", arg=box.element_handle())
        # Scrolled to its end, the formula's last symbol shows inside the box.
        assert box.evaluate(
            """(b) => {
              b.scrollLeft = b.scrollWidth;
              const right = Math.max(...[...b.querySelectorAll("math *")]
                .map((e) => e.getBoundingClientRect().right));
              return right <= b.getBoundingClientRect().right + 1;
            }"""
        )
    results = Axe().run(page, context="#solution-section")
    focusable = [v for v in results.response["violations"]
                 if v["id"] == "scrollable-region-focusable"]
    assert focusable == [], results.generate_report()
    context.close()
