"""An instructor runs a course on the real demo (issue 14, "Done when"): creates a course,
imports a roster (a bad row rejected, nothing applied until confirmed), builds an
assignment with a catalogue slot and a slot on a pasted network, publishes it; three
students set their passwords and submit (one right, two with a transposed gradient,
graded by the demo's real worker); the gradebook, the misconception chart and its table,
and the CSV export agree; a TA is refused a policy change; a student gets 404 on the
dashboard. Every dashboard page passes axe and is photographed for the README."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from browserkit import CLI, DESKTOP, INSTRUCTOR, NETWORK, PHONE, Demo, answer_gradient, log_in
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytestmark = pytest.mark.browser

PASSWORD = "a long walk through backprop"
GOOD_ROWS = [
    "ada@walk.example,Ada Lovelace,student,A",
    "bob@walk.example,Bob Babbage,,A",
    "cy@walk.example,Cy Shannon,student,B",
    "tim@walk.example,Tim Assist,ta,",
]
BAD_ROW = "not-an-email,Mallory,student,A"
DOCS_HEIGHT = 1800  # px: the most of a page the README's screenshots show


def roster_csv(rows: list[str]) -> dict[str, Any]:
    text = "\n".join(["email,name,role,section", *rows]) + "\n"
    return {"name": "roster.csv", "mimeType": "text/csv", "buffer": text.encode()}


def gradient_key() -> list[list[float]]:
    """dC/dW of the pasted network from the offline CLI, independent of the server."""
    out = subprocess.run([CLI, "derive", "-"], input=json.dumps(NETWORK), capture_output=True,
                         text=True, check=True)
    key: list[list[float]] = json.loads(out.stdout)["layers"][0]["dC_dW"]
    return key


@dataclass
class Walk:
    demo: Demo
    browser: Browser
    screenshots: Path
    docs: Path
    contexts: list[BrowserContext] = field(default_factory=list)

    def page(self, viewport: dict[str, int] = DESKTOP) -> Page:
        context = self.browser.new_context(viewport=viewport)
        self.contexts.append(context)
        return context.new_page()

    def check(self, page: Page, name: str) -> None:
        """No axe violation on a dashboard page; a screenshot of it for the README."""
        results = Axe().run(page)
        assert results.response["violations"] == [], results.generate_report()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{page.url} is {overflow}px wider than the window"
        page.screenshot(path=self.screenshots / f"dashboard-{name}.png", full_page=True)
        # The README's copy: the top of a long page (the network preview runs to metres).
        height = min(page.evaluate("document.documentElement.scrollHeight"), DOCS_HEIGHT)
        width = page.viewport_size["width"] if page.viewport_size else DESKTOP["width"]
        page.screenshot(path=self.docs / f"dashboard-{name}.png", full_page=True,
                        clip={"x": 0, "y": 0, "width": width, "height": height})


@pytest.fixture
def walk(browser: Browser, demo: Demo, screenshots: Path) -> Any:
    docs = screenshots / "docs"
    docs.mkdir(exist_ok=True)
    w = Walk(demo, browser, screenshots, docs)
    yield w
    for context in w.contexts:
        context.close()


def set_password(walk: Walk, link: str) -> Page:
    page = walk.page()
    page.goto(link)
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url(f"{walk.demo.url}/courses")
    return page


def test_an_instructor_runs_a_course(walk: Walk) -> None:
    demo = walk.demo
    teacher = walk.page()
    log_in(teacher, demo, *INSTRUCTOR)

    # A course.
    teacher.goto(f"{demo.url}/courses/new")
    walk.check(teacher, "course-new")
    teacher.get_by_label("Course code").fill("DL-101")
    teacher.get_by_label("Title").fill("Deep learning, by hand")
    teacher.get_by_role("button", name="Create course").click()
    teacher.wait_for_url(re.compile(r"/courses/\d+$"))
    course_url = teacher.url
    cid = int(course_url.rsplit("/", 1)[1])

    # The roster: a file with a bad row is previewed, rejected, and applies nothing.
    teacher.goto(f"{course_url}/roster")
    teacher.get_by_label("Roster CSV file").set_input_files(roster_csv([*GOOD_ROWS, BAD_ROW]))
    teacher.get_by_role("button", name="Preview import").click()
    preview = teacher.get_by_role("table", name="Import preview")
    bad = preview.get_by_role("row").filter(has_text="not-an-email")
    expect(bad).to_contain_text("Rejected")
    expect(bad).to_contain_text("email")
    expect(preview.get_by_role("row").filter(has_text="ada@walk.example")).to_contain_text("New")
    expect(teacher.get_by_text("Nothing was applied")).to_be_visible()
    expect(teacher.get_by_role("button", name="Apply import")).to_have_count(0)
    walk.check(teacher, "roster-import-rejected")
    teacher.goto(f"{course_url}/roster")
    expect(teacher.get_by_text("ada@walk.example")).to_have_count(0)

    # The fixed file: previewed, then applied; each new account gets a set-password link.
    teacher.get_by_label("Roster CSV file").set_input_files(roster_csv(GOOD_ROWS))
    teacher.get_by_role("button", name="Preview import").click()
    teacher.get_by_role("button", name="Apply import").click()
    links_table = teacher.get_by_role("table", name="Set-password links")
    links = {}
    for email in ("ada", "bob", "cy", "tim"):
        row = links_table.get_by_role("row").filter(has_text=f"{email}@walk.example")
        links[email] = row.get_by_role("link").get_attribute("href")
    assert all(link and "/invite/" in link for link in links.values()), links
    # No mail server: the demo prints each new link on its console too.
    for email, link in links.items():
        assert f"set-password link for {email}@walk.example: {link}" in demo.lines
    teacher.goto(f"{course_url}/roster")
    expect(teacher.get_by_text("cy@walk.example")).to_be_visible()
    walk.check(teacher, "roster")

    # An assignment with a catalogue slot...
    teacher.goto(f"{course_url}/assignments/new")
    walk.check(teacher, "assignment-new")
    teacher.get_by_label("Title", exact=True).fill("Homework 1")
    teacher.get_by_label("Feedback mode").select_option(label="Practice feedback")
    teacher.get_by_label("Attempts per problem").fill("3")
    teacher.get_by_label("Slot 1 exercise type").select_option(label="Forward pass")
    teacher.get_by_role("button", name="Create assignment").click()
    teacher.wait_for_url(re.compile(r"/assignments/\d+/manage$"))
    manage_url = teacher.url
    aid = int(manage_url.split("/")[-2])

    # ... and a slot on the instructor's own network.
    teacher.goto(f"{course_url}/network")
    teacher.get_by_label("Network file (JSON)").fill(json.dumps(NETWORK, indent=2))
    teacher.get_by_role("button", name="Preview exercises").click()
    expect(teacher.get_by_role("heading", name="Weight gradient")).to_be_visible()
    walk.check(teacher, "network")
    add = teacher.get_by_role("button", name="Add Weight gradient to the assignment")
    form = teacher.locator("form").filter(has=add)
    form.get_by_label("Assignment").select_option(label="Homework 1")
    add.click()
    teacher.goto(manage_url)
    expect(teacher.get_by_text("Weight gradient").first).to_be_visible()
    teacher.get_by_role("button", name="Publish").click()
    expect(teacher.get_by_role("button", name="Unpublish")).to_be_visible()
    walk.check(teacher, "assignment")

    # The live view, open before anyone submits, for a lecture's projector.
    lecture = walk.page()
    log_in(lecture, demo, *INSTRUCTOR)
    lecture.goto(f"{course_url}/assignments/{aid}/live")
    expect(lecture.locator(".live-graded")).to_have_text("0")
    lecture.evaluate("window.__sameDocument = true")

    # Three students: one right, two with a transposed gradient.
    key = gradient_key()
    transposed = [list(col) for col in zip(*key, strict=True)]
    for name, answer, expected in (("ada", key, "100%"), ("bob", transposed,
                                   "Transposed gradient"), ("cy", transposed,
                                   "Transposed gradient")):
        student = set_password(walk, links[name])
        student.get_by_role("link", name=re.compile("Homework 1")).click()
        student.get_by_role("link", name=re.compile(r"problem 2: Weight gradient")).click()
        answer_gradient(student, answer)
        expect(student.get_by_role("status")).to_contain_text(expected, timeout=30_000)

    # The live view caught up by itself, without a reload.
    expect(lecture.locator(".live-graded")).to_have_text("3", timeout=20_000)
    expect(lecture.get_by_role("table", name=re.compile("Mistakes in the last"))
           .get_by_role("row").filter(has_text="Transposed gradient")).to_contain_text("2")
    assert lecture.evaluate("window.__sameDocument === true"), "the live view was reloaded"

    # The gradebook shows their scores in points. Homework 1 is two slots of 1 point, and
    # only slot 2 was answered: Ada's key earns its point; a transposed 2×2 gradient has
    # its diagonal right (δ·xᵀ and x·δᵀ agree there), 2 entries of 4: half a point.
    expected = {"Ada Lovelace": "1", "Bob Babbage": "0.5", "Cy Shannon": "0.5"}
    teacher.goto(f"{course_url}/gradebook")
    book = teacher.get_by_role("table", name="Gradebook")
    expect(book.get_by_role("columnheader", name=re.compile("Homework 1"))).to_be_visible()
    for name, points in expected.items():
        row = book.get_by_role("row").filter(has_text=name)
        expect(row.locator("td.num")).to_have_text([points, points])  # the cell, the total
    walk.check(teacher, "gradebook")
    phone = walk.page(PHONE)
    log_in(phone, demo, *INSTRUCTOR)
    phone.goto(f"{course_url}/gradebook")
    walk.check(phone, "gradebook-phone")

    # The misconception chart and its table: "Transposed gradient: 2".
    teacher.goto(f"{course_url}/assignments/{aid}/stats")
    table = teacher.get_by_role("table", name="Mistakes in slot 2")
    row = table.get_by_role("row").filter(has_text="Transposed gradient")
    expect(row).to_contain_text("2")
    expect(teacher.get_by_role("img").filter(has_text="Transposed gradient").first).to_be_visible()
    walk.check(teacher, "stats")

    # The CSV export holds the same numbers.
    exported = teacher.request.get(f"{course_url}/gradebook.csv")
    assert exported.ok
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(exported.text()))}
    # Our CSV gives fractions of the assignment's 2 points.
    assert rows["ada@walk.example"]["Homework 1"] == "0.5"
    assert rows["bob@walk.example"]["Homework 1"] == "0.25"
    assert rows["cy@walk.example"]["Homework 1"] == "0.25"
    assert "tim@walk.example" not in rows  # staff are not graded

    # The heatmap: Bob and Cy (one transposed gradient each: belief 66%) before Ada.
    teacher.goto(f"{course_url}/misconceptions")
    heatmap = teacher.get_by_role("table", name="Belief per misconception and student")
    expect(heatmap.get_by_role("rowheader")).to_have_text(
        ["Bob Babbage", "Cy Shannon", "Ada Lovelace"])
    expect(heatmap.get_by_role("row").filter(has_text="Bob Babbage")).to_contain_text("66%")

    # The remaining dashboard pages, checked and photographed.
    for path, name in ((course_url, "course"), (f"{course_url}/misconceptions", "misconceptions"),
                       (f"{course_url}/assignments/{aid}/live", "live"),
                       (f"{course_url}/assignments/{aid}/unexplained", "unexplained")):
        teacher.goto(path)
        walk.check(teacher, name)
    teacher.goto(f"{course_url}/gradebook")
    # A score cell opens the student's page (Bob's: a transposed gradient, so a likely
    # misconception in the learning model). Not "the first link with a digit": the
    # "Homework 1" column header, which only sorts.
    teacher.get_by_role("table", name="Gradebook").get_by_role("row").filter(
        has_text="Bob Babbage").get_by_role("link", name="0.5").click()
    teacher.wait_for_url(re.compile(r"/students/\d+"))
    expect(teacher.get_by_role("heading", name="Learning model")).to_be_visible()
    expect(teacher.locator("#student-held")).to_contain_text(
        "Transposed gradient in 1 of their last 1 dC/dW answers")
    walk.check(teacher, "student")

    # A TA sees the assignment but may not change its policy.
    ta = set_password(walk, links["tim"])
    ta.goto(manage_url)
    expect(ta.get_by_role("button", name="Save settings")).to_have_count(0)
    token = ta.locator('meta[name="csrf-token"]').get_attribute("content")
    refused = ta.request.post(f"{manage_url.removesuffix('/manage')}/unpublish",
                              form={"csrf_token": token or ""})
    assert refused.status == 403

    # A student gets 404 on the dashboard.
    ada = walk.page()
    log_in(ada, demo, "ada@walk.example", PASSWORD)
    for path in (course_url, f"{course_url}/gradebook", f"{course_url}/roster",
                 f"{course_url}/assignments/{aid}/stats"):
        response = ada.goto(path)
        assert response is not None and response.status == 404, path
    assert cid > 0
