"""What the pages render with: LaTeX to safe MathML, the network as SVG, feedback notes."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

import exercises as ex
from service import diagram, mathml
from service.student import due_text, feedback_note, percent


def test_text_outside_the_maths_is_escaped() -> None:
    html = mathml.text("a <b>&</b> $x^2$ and `<i>`")
    assert html.startswith("a &lt;b&gt;&amp;&lt;/b&gt; <math")
    assert "<msup><mi>x</mi><mn>2</mn></msup>" in html
    assert html.endswith("and <code>&lt;i&gt;</code>")


def test_text_inside_the_maths_is_escaped_and_links_dropped() -> None:
    # latex2mathml copies \text{...} through raw and writes \href as an href attribute.
    html = mathml.formula(r"\text{<script>alert(1)</script>} < y + \href{javascript:alert(1)}{z}")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<mo>&lt;</mo>" in html
    assert "href" not in html and "javascript" not in html
    ElementTree.fromstring(html)  # well-formed XML


def test_matrix_brackets_become_a_styled_table() -> None:
    html = mathml.formula(r"W = \begin{bmatrix} 1 & -2 \\ \frac{1}{2} & 0 \end{bmatrix}")
    assert '<mtable class="bmatrix">' in html
    assert "<mo>[</mo>" not in html and "<mo>]</mo>" not in html
    assert html.count("<mtr>") == 2 and html.count("<mtd>") == 4


def test_broken_latex_is_shown_as_its_source() -> None:
    assert mathml.formula(r"<b>^") == '<code class="tex">&lt;b&gt;^</code>'


@pytest.mark.parametrize("type_id", [t.id for t in ex.catalogue()])
def test_every_prompt_label_and_solution_step_converts(type_id: str) -> None:
    for difficulty in ex.DIFFICULTIES:
        variant = ex.generate(type_id, 5, difficulty)
        texts = [variant.prompt] + [p.label for p in variant.parts]
        texts += [o.label for p in variant.parts for o in p.options]
        for text in texts:
            html = mathml.text(text)
            assert 'class="tex"' not in html, text
            assert "$" not in html, text
        for step in ex.worked_solution(variant).steps:
            if step.latex:
                html = mathml.formula(step.latex, display=True)
                assert html.startswith('<math xmlns="http://www.w3.org/1998/Math/MathML" '
                                       'display="block">'), step.latex


NETWORK = {
    "x": [[3], ["-1/2"]],
    "y": [[2], [-1], [0]],
    "layers": [
        {"W": [[-2, 1], [1, 1], [0.25, "<b>"]], "b": [[-1], [1], [0]], "activation": "relu"}
    ],
    "loss": "half_sse",
    "learning_rate": "1/4",
}


def test_the_diagram_draws_each_neuron_and_weight() -> None:
    svg = diagram.svg(NETWORK)
    root = ElementTree.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert root.get("role") == "img"
    assert "2 inputs; layer 1: 3 ReLU neurons" in root.find("s:title", ns).text
    assert len(root.findall("s:circle", ns)) == 2 + 3
    assert len(root.findall("s:line", ns)) == 2 * 3
    weights = [t.text for t in root.findall("s:text", ns) if t.get("class") == "weight"]
    assert weights == ["-2", "1", "1", "1", "0.25", "<b>"]  # W[i][j] on the edge j -> i
    sides = [t.text for t in root.findall("s:text", ns) if "side" in t.get("class", "")]
    assert sides == ["x₁ = 3", "x₂ = -1/2", "y₁ = 2", "y₂ = -1", "y₃ = 0"]
    assert "<b>" not in svg  # the text was escaped; the parser above unescaped it


def test_a_batch_shows_no_input_values() -> None:
    batch = dict(NETWORK, x=[[1, 2], [3, 4]], y=[[0, 1], [1, 0], [0, 0]])
    root = ElementTree.fromstring(diagram.svg(batch))
    assert not [t for t in root.iter() if "side" in (t.get("class") or "")]


def test_feedback_notes_keep_only_what_the_mistake_cards_do_not_say() -> None:
    m = ex.MISTAKES["transposed-gradient"]
    assert feedback_note(f"{m.name}: {m.explanation}", [m.tag]) == ""
    assert feedback_note(f"{m.name}: {m.explanation} (W should be 2×2.)", [m.tag]) == (
        "(W should be 2×2.)"
    )
    slip = ex.MISTAKES["arithmetic-slip"]
    assert feedback_note(f"{slip.explanation} (row 1, column 2)", [slip.tag]) == "(row 1, column 2)"
    assert feedback_note("Correct.", []) == ""
    assert feedback_note("3 of 4 entries are right.", []) == "3 of 4 entries are right."


@pytest.mark.parametrize(
    ("score", "shown"), [(1.0, "100%"), (0.999, "99%"), (0.75, "75%"), (0.0, "0%"), (None, "–")]
)
def test_only_full_marks_read_as_100_percent(score: float | None, shown: str) -> None:
    assert percent(score) == shown


def test_due_text() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert due_text(None, now) == "no due date"
    assert due_text(now + timedelta(days=13, hours=2), now) == "due in 13 days"
    assert due_text(now + timedelta(hours=1), now) == "due in 1 hour"
    assert due_text(now + timedelta(hours=21), now) == "due in 21 hours"
    assert re.fullmatch(r"was due 3 days ago", due_text(now - timedelta(days=3), now))


def test_the_diagrams_text_alternative_lists_every_weight_and_bias() -> None:
    two_layers = dict(NETWORK, y=[[1]], layers=[
        NETWORK["layers"][0],
        {"W": [["3/4", -5, 0.125]], "b": [["-7/8"]], "activation": "sigmoid"},
    ])
    root = ElementTree.fromstring(diagram.svg(two_layers))
    title = root.find("{http://www.w3.org/2000/svg}title").text
    for name, value in [("w₁₁", "-2"), ("w₁₂", "1"), ("w₂₁", "1"), ("w₂₂", "1"), ("w₃₁", "0.25"),
                        ("w₃₂", "<b>"), ("b₁", "-1"), ("b₂", "1"), ("b₃", "0")]:
        assert f"{name} = {value}" in title.split("Layer 2")[0].split("Layer 1")[1]
    layer2 = title.split("Layer 2")[1]
    for text in ("w₁₁ = 3/4", "w₁₂ = -5", "w₁₃ = 0.125", "b₁ = -7/8"):
        assert text in layer2
