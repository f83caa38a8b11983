"""The problem page in Chromium (issue 12, item 7): no stale ✓/✗ after an unreadable answer,
Submit with JavaScript off keeps the problem and shows the result, the worked solution
scrolls inside its own box at phone width, and the network diagram's weights are legible."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from browserkit import DESKTOP, PHONE, Demo, key_of, log_in
from playwright.sync_api import Browser, Page, expect

import exercises as ex
from service import diagram

pytestmark = pytest.mark.browser

TYPE = "weight-gradient"
PART = "dC_dW"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def practice_url(demo: Demo, seed: int, type_id: str = TYPE, difficulty: int = 1) -> str:
    return f"{demo.url}/practice/{type_id}?seed={seed}&difficulty={difficulty}"


def cell(page: Page, i: int, j: int) -> Any:
    return page.get_by_label(f"{PART} row {i} column {j}", exact=True)


def test_an_unreadable_answer_leaves_no_mark_of_the_earlier_result(page: Page, demo: Demo) -> None:
    seed = 21  # seeds of its own: the walk expects its seeds unanswered
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
    seed = 22
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


CSS = Path(__file__).resolve().parents[2] / "service" / "static" / "site.css"
MEASURE = """() => [...document.querySelectorAll("svg.network")].map((svg) => ({
  weights: [...svg.querySelectorAll("text.weight")].map((t) => {
    const b = t.getBBox();
    // The rotation about the label's own point (x, y), from its transform attribute.
    const angle = Number(/rotate\\(([-\\d.]+)/.exec(t.getAttribute("transform"))[1]);
    return {text: t.textContent, box: [b.x, b.y, b.width, b.height], angle,
            at: [Number(t.getAttribute("x")), Number(t.getAttribute("y"))]};
  }),
  others: [...svg.querySelectorAll("circle, text.bias, text.side, text.node-label")]
    .map((e) => { const b = e.getBBox(); return [b.x, b.y, b.width, b.height]; }),
  lines: [...svg.querySelectorAll("line.edge")].map((l) =>
    ["x1", "y1", "x2", "y2"].map((a) => Number(l.getAttribute(a)))),
  title: svg.querySelector("title").textContent,
}))"""
HALO = 2.0  # the white stroke around each weight (site.css: stroke-width 4px)


def corners(box: list[float], angle: float, about: list[float], grow: float) -> list[tuple]:
    """The corners of a text's box as drawn: grown by the halo, turned about its point."""
    x, y, w, h = box[0] - grow, box[1] - grow, box[2] + 2 * grow, box[3] + 2 * grow
    a = math.radians(angle)
    cx, cy = about
    return [(cx + (px - cx) * math.cos(a) - (py - cy) * math.sin(a),
             cy + (px - cx) * math.sin(a) + (py - cy) * math.cos(a))
            for px, py in ((x, y), (x + w, y), (x + w, y + h), (x, y + h))]


def separated(p: list[tuple], q: list[tuple]) -> bool:
    """Two convex polygons do not intersect (some edge normal separates them)."""
    for poly in (p, q):
        for k in range(len(poly)):
            (x0, y0), (x1, y1) = poly[k], poly[(k + 1) % len(poly)]
            n = (y0 - y1, x1 - x0)
            a = [n[0] * x + n[1] * y for x, y in p]
            b = [n[0] * x + n[1] * y for x, y in q]
            if max(a) <= min(b) or max(b) <= min(a):
                return True
    return False


def crossings(lines: list[list[float]]) -> list[tuple]:
    points = []
    for k, (x1, y1, x2, y2) in enumerate(lines):
        for x3, y3, x4, y4 in lines[k + 1:]:
            den = (x1 - x2) * (y3 - y4) - (y1 - y2) * (x3 - x4)
            if den == 0:
                continue
            t = ((x1 - x3) * (y3 - y4) - (y1 - y3) * (x3 - x4)) / den
            u = ((x1 - x3) * (y1 - y2) - (y1 - y3) * (x1 - x2)) / den
            if 0 < t < 1 and 0 < u < 1:
                points.append((x1 + t * (x2 - x1), y1 + t * (y2 - y1)))
    return points


def assert_legible(drawing: dict[str, Any], network: dict[str, Any]) -> None:
    """Every weight drawn once, on no other weight, neuron, bias or crossing of edges; and
    every weight and bias named in the text alternative."""
    weights = drawing["weights"]
    expected = sorted(str(w).strip() if isinstance(w, str) else (f"{w:.4g}" if isinstance(
        w, float) else str(w)) for layer in network["layers"] for row in layer["W"] for w in row)
    assert sorted(w["text"] for w in weights) == expected
    boxes = [corners(w["box"], w["angle"], w["at"], HALO) for w in weights]
    for k, box in enumerate(boxes):
        for other in boxes[k + 1:]:
            assert separated(box, other), "two weight labels overlap"
        for x, y, w, h in drawing["others"]:
            rect = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
            assert separated(box, rect), f"{weights[k]['text']} covers a neuron or a label"
        for cx, cy in crossings(drawing["lines"]):
            dot = [(cx - 1, cy - 1), (cx + 1, cy - 1), (cx + 1, cy + 1), (cx - 1, cy + 1)]
            assert separated(box, dot), f"{weights[k]['text']} sits on a crossing"
    for layer in network["layers"]:
        for row in layer["W"]:
            for w in row:
                assert f"= {diagram.number(w)}" in drawing["title"]
        for (b,) in layer["b"]:
            assert f"= {diagram.number(b)}" in drawing["title"]


def test_no_weight_label_overlaps_in_any_diagram(page: Page) -> None:
    """Every network of the catalogue over a sample of seeds, measured with the real font."""
    networks = [v.network for t in ex.catalogue() for d in ex.DIFFICULTIES for seed in range(8)
                if (v := ex.generate(t.id, seed, d)).network]
    html = "".join(str(diagram.svg(n)) for n in networks)
    page.set_content(f"<style>{CSS.read_text()}</style><main>{html}</main>")
    drawings = page.evaluate(MEASURE)
    assert len(drawings) == len(networks)
    for drawing, network in zip(drawings, networks, strict=True):
        assert_legible(drawing, network)


def test_the_diagram_of_a_2_3_2_net_is_legible(page: Page, demo: Demo, screenshots: Path) -> None:
    log_in(page, demo)
    page.goto(practice_url(demo, 0, TYPE, 3))
    figure = page.locator("figure.diagram")
    expect(figure.locator("svg.network")).to_be_visible()
    [drawing] = page.evaluate(MEASURE)
    network = page.request.get(
        demo.url + page.locator("#answer-form").get_attribute("data-submit-url")
        .removesuffix("/submissions")).json()["network"]
    sizes = [len(network["x"])] + [len(layer["W"]) for layer in network["layers"]]
    assert sizes == [2, 3, 2]
    assert_legible(drawing, network)
    expect(page.get_by_role("img", name=re.compile("Network diagram"))).to_have_accessible_name(
        re.compile(r"w₁₁ = .*w₂₃ = "))
    figure.screenshot(path=screenshots / "diagram-2-3-2.png")
