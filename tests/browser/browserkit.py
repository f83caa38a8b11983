"""Helpers for the browser tests (a module of its own, so tests can import it)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

CLI = str(Path(sys.executable).with_name("backprop-quiz"))
STUDENT = ("student@demo.local", "student-demo")  # seeded by service/demo.py
INSTRUCTOR = ("instructor@demo.local", "instructor-demo")
# An instructor's own network for the walks: a 2-2 sigmoid layer, so dC/dW = δ·xᵀ is not
# symmetric and its transpose is a wrong answer.
NETWORK = {
    "x": [[1], [2]],
    "y": [[0], [1]],
    "layers": [{"W": [["1/2", -1], [2, "1/4"]], "b": [[0], ["1/10"]], "activation": "sigmoid"}],
    "loss": "half_sse",
    "learning_rate": "1/10",
}
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Demo:
    """A running `backprop-quiz demo`: its URL and what it printed."""

    url: str
    lines: list[str]


def log_in(page: Page, demo: Demo, email: str = STUDENT[0], password: str = STUDENT[1]) -> None:
    """Log in through the form, by its labelled fields."""
    page.goto(f"{demo.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{demo.url}/courses")


def key_of(type_id: str, seed: int, difficulty: int = 1) -> dict[str, Any]:
    """The key of a variant from the offline CLI, independent of the running server."""
    out = subprocess.run(
        [CLI, "generate", type_id, "--seed", str(seed), "--difficulty", str(difficulty),
         "--json", "--with-key"],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout)["key"]


def answer_gradient(page: Page, matrix: list[list[float]]) -> None:
    """Fill the dC_dW part of a problem page with ``matrix`` (its shape first) and submit."""
    page.get_by_label("dC_dW rows", exact=True).fill(str(len(matrix)))
    page.get_by_label("dC_dW columns", exact=True).fill(str(len(matrix[0])))
    for i, row in enumerate(matrix, start=1):
        for j, value in enumerate(row, start=1):
            page.get_by_label(f"dC_dW row {i} column {j}", exact=True).fill(repr(value))
    page.get_by_role("button", name="Submit").click()
