"""An instructor accepts an unexplained answer and regrades (issue 16, "Done when"), on the
real demo (web app and its in-process worker): two students give the same answer, 3 × the
key, to a slot on the instructor's own network (so both have the same key); the grader
names no mistake for it (checked offline with ``exercises`` below). The instructor accepts
it from the dashboard's unexplained page with a reason, sees the preview naming the two
students it raises, applies it; the gradebook and both students' submission pages show
the new score and the reason. The preview is photographed for the docs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from browserkit import INSTRUCTOR, NETWORK, Demo, answer_gradient, log_in
from playwright.sync_api import Browser, BrowserContext, Page, expect

import exercises as ex

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long walk through regrades"
FACTOR = 3
REASON = "The lecture scaled the loss by 3: this answer is right for it"
STUDENTS = {"lin@regrade.example": "Lin Scaled", "max@regrade.example": "Max Scaled"}


def scaled_key() -> list[list[float]]:
    """FACTOR × the network's dC/dW, checked to be a wrong answer no mistake names."""
    fitted = ex.fit_variant(ex.get_type("weight-gradient"), ex.read_network(json.dumps(NETWORK)))
    assert fitted is not None
    variant = fitted.variant
    answer: list[list[float]] = (FACTOR * np.asarray(variant.key_values["dC_dW"],
                                                     dtype=float)).tolist()
    graded = ex.grade(variant, ex.parse_answers(variant, {"dC_dW": answer})).to_json()
    assert graded["score"] == 0 and graded["parts"]["dC_dW"]["misconceptions"] == []
    return answer


class Api:
    """The signed-in page's session speaking to API v1 (with its CSRF token)."""

    def __init__(self, page: Page, demo: Demo):
        self.page, self.url = page, demo.url
        me = page.request.get(f"{demo.url}/api/v1/me")
        assert me.ok
        self.headers = {"X-CSRFToken": me.json()["csrf_token"]}

    def post(self, path: str, body: Any = None) -> Any:
        got = self.page.request.post(f"{self.url}/api/v1{path}", data=body,
                                     headers=self.headers)
        assert got.ok, (path, got.status, got.text())
        return got.json()


def test_accept_an_answer_preview_and_apply(browser: Browser, demo: Demo) -> None:
    contexts: list[BrowserContext] = []

    def new_page() -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        return context.new_page()

    try:
        walk(new_page, demo)
    finally:
        for context in contexts:
            context.close()


def walk(new_page: Any, demo: Demo) -> None:
    answer = scaled_key()
    teacher = new_page()
    log_in(teacher, demo, *INSTRUCTOR)
    api = Api(teacher, demo)
    cid = api.post("/courses", {"code": "RG-1", "title": "Regrades, by hand"})["id"]
    links = {}
    for email, name in STUDENTS.items():
        added = api.post(f"/courses/{cid}/roster",
                         {"email": email, "name": name, "create_account": True})
        links[email] = added["set_password_link"]["link"]
    aid = api.post(f"/courses/{cid}/assignments", {
        "title": "Homework R", "attempts_allowed": 3, "published": True,
        "slots": [{"exercise_type": "forward-pass", "points": 1}],
    })["id"]
    slot = api.post(f"/courses/{cid}/assignments/{aid}/slots",
                    {"exercise_type": "weight-gradient", "network": NETWORK, "points": 1})
    assert slot["position"] == 2

    # Both students give the same unexplained answer; it scores 0 and names no mistake.
    students = {}
    for email in STUDENTS:
        student = new_page()
        student.goto(links[email])
        student.get_by_label("New password").fill(PASSWORD)
        student.get_by_label("Repeat the password").fill(PASSWORD)
        student.get_by_role("button", name="Set password").click()
        student.wait_for_url(f"{demo.url}/courses")
        student.goto(f"{demo.url}/courses/{cid}/assignments/{aid}/problems/2")
        answer_gradient(student, answer)
        expect(student.get_by_role("status")).to_contain_text("0%", timeout=30_000)
        expect(student.get_by_role("status").locator(".mistake")).to_have_count(0)
        students[email] = student

    # The unexplained page lists it; the instructor accepts it with a reason.
    teacher.goto(f"{demo.url}/courses/{cid}/assignments/{aid}/unexplained")
    group = teacher.get_by_role("table", name=re.compile("dC_dW"))
    expect(group).to_contain_text(f"{FACTOR} × the key")
    accept = group.locator("details.accept-answer").first
    accept.locator("summary").click()
    accept.get_by_label("Reason").fill(REASON)
    expect(accept.get_by_label("Credit (%)")).to_have_value("100")
    accept.get_by_role("button", name="Accept").click()
    teacher.wait_for_url(re.compile(r"/regrade\?"))
    expect(teacher.get_by_label("Regrade")).to_have_value("2")
    expect(teacher.get_by_label("Never lower a score")).to_be_checked()
    teacher.get_by_role("button", name="Preview").click()
    teacher.wait_for_url(re.compile(r"/regrades/\d+$"))
    preview_url = teacher.url

    # The preview names the two students it raises, 0% → 100%, and changes nothing yet.
    rows = teacher.get_by_role("table", name="Submissions whose score or named mistakes change")
    for email, name in STUDENTS.items():
        row = rows.get_by_role("row").filter(has_text=email)
        expect(row).to_contain_text(name)
        expect(row).to_contain_text("0% → 100%")
    expect(rows.locator("tbody tr")).to_have_count(2)
    expect(teacher.locator("#count-raised")).to_have_text("2")
    expect(teacher.locator("#count-lowered")).to_have_text("0")
    results = Axe().run(teacher)
    assert results.response["violations"] == [], results.generate_report()
    (ROOT / "docs" / "screenshots").mkdir(parents=True, exist_ok=True)
    teacher.screenshot(path=ROOT / "docs" / "screenshots" / "regrade-preview.png",
                       full_page=True)

    teacher.get_by_role("button", name="Apply").click()
    expect(teacher.get_by_role("status")).to_contain_text(
        f"Applied by {INSTRUCTOR[0]} on", timeout=60_000)
    assert teacher.url == preview_url

    # The gradebook: slot 2's point each (slot 1 was not answered).
    teacher.goto(f"{demo.url}/courses/{cid}/gradebook")
    book = teacher.get_by_role("table", name="Gradebook")
    for name in STUDENTS.values():
        expect(book.get_by_role("row").filter(has_text=name).locator("td.num")).to_have_text(
            ["1", "1"])

    # Each student's submission page: the new score and the reason.
    for student in students.values():
        student.reload()
        student.locator("table.history").get_by_role("link", name="#1").click()
        status = student.get_by_role("status")
        expect(status).to_contain_text("100%")
        expect(status).to_contain_text(f"0% → 100%, because {REASON}")
        expect(status).to_contain_text("Regraded on")
