"""A student's learning loop on the real demo (issue 17): they transpose the gradient on two
practice problems (graded by the demo's own worker), open "My progress" from the menu and
see that misconception named with the sentence and links to both answers, then press
"Practise what I need" and land on a problem where transposing would show, checked on the
stored variant's own predictions. The page passes axe and is photographed for the docs."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from browserkit import CLI, PHONE, Demo, answer_gradient, log_in
from playwright.sync_api import Page, expect

import exercises as ex

pytestmark = pytest.mark.browser

EMAIL, PASSWORD = "tia@progress.example", "a long walk through my progress"
TAG = "transposed-gradient"
SEEDS = (11, 12)  # weight-gradient, difficulty 1: dC/dW is not square, so xδᵀ is wrong
SENTENCE = "Transposed gradient in 2 of your last 2 dC/dW answers"
DOCS_HEIGHT = 1800  # px: the most of a page the docs' screenshots show


def database(demo: Demo) -> Path:
    """The demo's SQLite file, as it printed it."""
    url = next(m.group(1) for line in demo.lines
               if (m := re.search(r"database: sqlite:///(\S+)", line)))
    return Path(url)


def create_student(demo: Demo) -> None:
    """A student of her own (the demo's student is shared by the other walks), by the CLI."""
    path = database(demo)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "INSTANCE_PATH": str(path.parent)}
    subprocess.run([CLI, "users", "create", "--email", EMAIL, "--password", PASSWORD,
                    "--role", "student", "--name", "Tia Transposer"],
                   env=env, capture_output=True, text=True, check=True)


def stored(demo: Demo, type_id: str, seed: int, difficulty: int) -> ex.Variant:
    """The student's stored practice variant (the service's truth), read from its database."""
    with sqlite3.connect(f"file:{database(demo)}?mode=ro", uri=True) as db:
        (record,) = db.execute(
            "SELECT p.variant FROM problems p JOIN users u ON u.id = p.owner_id "
            "WHERE u.email = ? AND p.type = ? AND p.seed = ? AND p.difficulty = ?",
            (EMAIL, type_id, seed, difficulty)).fetchone()
    return ex.Variant.from_record(json.loads(record))


def transposed(variant: ex.Variant) -> list[list[float]]:
    """x·δᵀ: the variant's own prediction of the transposed gradient for dC/dW."""
    (wrong,) = [p.value for p in variant.predictions["dC_dW"] if p.tags == (TAG,)]
    matrix: list[list[float]] = np.asarray(wrong, dtype=float).tolist()
    return matrix


def differs(prediction: Any, key: Any) -> bool:
    """Whether a predicted answer (grading form) is not the key."""
    if isinstance(key, np.ndarray):
        a = np.asarray(prediction, dtype=float)
        return a.shape != key.shape or not np.allclose(a, key, rtol=0, atol=1e-9)
    if isinstance(key, float):
        return abs(float(prediction) - key) > 1e-9
    return bool(prediction != key)


def no_axe_violations(page: Page) -> None:
    results = Axe().run(page)
    assert results.response["violations"] == [], results.generate_report()


def test_a_transposer_sees_it_and_practises_what_she_needs(
        page: Page, demo: Demo, screenshots: Path) -> None:
    create_student(demo)
    log_in(page, demo, EMAIL, PASSWORD)

    # Two weight gradients, each answered x·δᵀ.
    answered = []
    for seed in SEEDS:
        page.goto(f"{demo.url}/practice/weight-gradient?seed={seed}&difficulty=1")
        variant = stored(demo, "weight-gradient", seed, 1)
        answer_gradient(page, transposed(variant))
        status = page.get_by_role("status")
        expect(status).to_contain_text("Transposed gradient", timeout=20_000)
        answered.append(page.locator("#history a").first.get_attribute("href"))

    # My progress, from the menu: the misconception, its sentence, both answers linked.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My progress").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My progress")
    likely = page.locator(f'li.belief-item[data-mistake="{TAG}"]')
    expect(likely.get_by_role("heading", level=3)).to_have_text("Transposed gradient")
    expect(likely).to_contain_text(SENTENCE)
    expect(likely).to_contain_text("The gradient must have the shape of W")
    links = likely.locator(".named-answers a")
    expect(links).to_have_count(2)
    assert [links.nth(i).get_attribute("href") for i in range(2)] == answered
    expect(page.get_by_role("cell", name="dC/dW", exact=True)).to_have_count(0)  # a row header
    expect(page.get_by_role("rowheader", name="dC/dW", exact=True)).to_be_visible()
    expect(page.get_by_label("How likely you hold it: Transposed gradient")).to_be_visible()

    no_axe_violations(page)
    page.screenshot(path=screenshots / "my-progress.png", full_page=True)
    docs = screenshots / "docs"
    docs.mkdir(exist_ok=True)
    height = min(page.evaluate("document.documentElement.scrollHeight"), DOCS_HEIGHT)
    page.screenshot(path=docs / "my-progress.png", full_page=True,
                    clip={"x": 0, "y": 0, "width": 1280, "height": height})
    # The other misconceptions, opened: still accessible.
    page.get_by_text(re.compile(r"^The other \d+ misconceptions")).click()
    expect(page.get_by_role("table", name=re.compile("other misconceptions"))).to_be_visible()
    no_axe_violations(page)
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"My progress is {overflow}px wider than a phone"
    page.screenshot(path=screenshots / "my-progress-phone.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # Each link is that answer's page, which names the mistake.
    links.first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Attempt 1")
    expect(page.locator(f'.mistake[data-mistake="{TAG}"]')).to_be_visible()
    page.go_back()

    # Practise what I need: a problem of her own where transposing would show.
    page.get_by_role("button", name="Practise what I need").click()
    page.wait_for_url(re.compile(r"/practice/[a-z-]+\?seed=\d+&difficulty=\d$"))
    match = re.search(r"/practice/([a-z-]+)\?seed=(\d+)&difficulty=(\d)$", page.url)
    assert match
    type_id, seed, difficulty = match.group(1), int(match.group(2)), int(match.group(3))
    assert (type_id, seed) not in {("weight-gradient", s) for s in SEEDS}
    expect(page.locator("#answer-form")).to_be_visible()
    variant = stored(demo, type_id, seed, difficulty)
    assert any(
        p.tags == (TAG,) and differs(p.value, variant.key_values[part])
        for part, predictions in variant.predictions.items() for p in predictions
    ), f"{type_id} seed {seed}: no part where transposing differs from the key"
