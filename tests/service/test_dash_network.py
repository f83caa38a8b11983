"""The instructor's own network (issue 14, item 3): the page and its API twin preview every
exercise type on a pasted network, with the CLI's messages for a bad one, and add a type
as a slot whose variant every student gets."""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from servicekit import CSRF_FIELD, Caller, grade_queued, log_in, make_course
from sqlalchemy import select

from service.cli import main
from service.db import db
from service.models import CourseRole, Enrollment, Problem, Slot

# An identity layer: every number of the key exact. By hand: z = Wx + b = (1 − 2, 2 + 6 + 1)
# = (−1, 9), δ = a − y = (−1, 8), dC/dW = δ·xᵀ = [[−1, −2], [8, 16]]; and σ' = 1, so a
# dropped σ'(z) gives the key itself (a warning).
NET: dict[str, Any] = {
    "x": [[1], [2]], "y": [[0], [1]],
    "layers": [{"W": [[1, -1], [2, 3]], "b": [[0], [1]], "activation": "identity"}],
    "loss": "half_sse", "learning_rate": "1/10",
}
KEY = [[-1, -2], [8, 16]]
DROPPED = ("“Dropped σ'(z)” gives the key itself for dC_dW: a student who makes it gets "
           "every answer right, so it cannot be seen.")
# The one-layer types that ask about an elementwise output layer on one example.
TITLES = ["Forward pass", "Loss", "Output error", "Activation derivative",
          "Output-layer error δ", "Bias gradient", "Weight update", "Weight gradient"]
ASSIGNMENT = {"title": "Week 3", "slots": [{"exercise_type": "loss"}]}



def form_post(client: FlaskClient, path: str, data: dict[str, Any]) -> Any:
    """Post a page's form with the CSRF token of the network page."""
    page = client.get(path if path.endswith("/network") else path.rsplit("/", 1)[0])
    token = CSRF_FIELD.search(page.get_data(as_text=True))
    assert token, page.status_code
    return client.post(path, data={"csrf_token": token.group(1), **data})


def text_of(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def cli_message(network_text: str) -> str:
    """What `backprop-quiz derive -` says about this network file, without "error: "."""
    result = CliRunner().invoke(main, ["derive", "-"], input=network_text)
    assert result.exit_code == 2
    return result.stderr.strip().removeprefix("error: ")


@pytest.fixture
def course(instructor: Caller, make_caller: Callable[..., Caller]
           ) -> tuple[int, int, list[Caller]]:
    students = [make_caller("student"), make_caller("student")]
    cid, assignment = make_course(instructor, students, ASSIGNMENT)
    log_in(instructor.client, instructor.email)
    return cid, assignment["id"], students


def test_the_preview_shows_each_applicable_type_with_its_key(
        instructor: Caller, course: tuple[int, int, list[Caller]]) -> None:
    cid, aid, _ = course
    form = instructor.client.get(f"/courses/{cid}/network")
    assert form.status_code == 200
    page = text_of(form)
    for label in ('<label for="network">Network file (JSON)</label>',
                  '<label for="upload">Or upload a network file</label>'):
        assert label in page
    assert "Preview exercises" in page

    response = form_post(instructor.client, f"/courses/{cid}/network",
                         {"network": json.dumps(NET)})
    assert response.status_code == 200
    page = text_of(response)
    headings = re.findall(r'<h2 id="type-[^"]+">([^<]+)</h2>', page)
    assert headings == TITLES
    assert "softmax" not in " ".join(headings).lower()
    # The weight gradient's key, entry by entry, in its MathML.
    section = page[page.index(">Weight gradient</h2>"):]
    key_cell = section[section.index('<td class="formula">'):section.index("</td>")]
    assert re.findall(r"<mn>(\d+)</mn>", key_cell) == ["1", "2", "8", "16"]
    assert key_cell.count("<mo>-</mo>") + key_cell.count("<mo>−</mo>") == 2
    assert "Transposed gradient" in section  # a named mistake
    assert "Show the worked solution" in section
    assert f'value="{aid}">Week 3</option>' in section
    assert "Add Weight gradient to the assignment" in section
    warnings = page[page.index("Warnings on this network"):page.index('<h2 id="type-')]
    assert DROPPED in warnings


@pytest.mark.parametrize("network_text", [
    "{not json",
    json.dumps({**NET, "layers": [{**NET["layers"][0], "activation": "swish"}]}),
    json.dumps({**NET, "x": [[1], [2], [3]]}),
    json.dumps({key: v for key, v in NET.items() if key != "y"}),
])
def test_a_bad_network_shows_the_cli_message(
        instructor: Caller, course: tuple[int, int, list[Caller]], network_text: str) -> None:
    cid, _, _ = course
    response = form_post(instructor.client, f"/courses/{cid}/network", {"network": network_text})
    assert response.status_code == 422
    page = text_of(response)
    assert f'<p class="alert" role="alert" id="network-error">{cli_message(network_text)}</p>' \
        in page
    assert network_text in page  # echoed back to fix
    api = instructor.post(f"/api/v1/courses/{cid}/networks/preview",
                          json={"network": json.loads(network_text)}) \
        if network_text.startswith("{\"") else None
    if api is not None:
        assert api.status_code == 422
        assert api.json["error"] == {"code": "invalid_network",
                                     "message": cli_message(network_text)}


def test_the_size_limits_are_said_plainly(
        instructor: Caller, course: tuple[int, int, list[Caller]]) -> None:
    cid, _, _ = course
    wide = {**NET, "x": [[1]] * 7, "layers": [{"W": [[1] * 7] * 2, "b": [[0], [1]],
                                              "activation": "identity"}]}
    response = form_post(instructor.client, f"/courses/{cid}/network",
                         {"network": json.dumps(wide)})
    assert response.status_code == 422
    assert ("the dashboard previews networks at most 6 units wide (inputs included); this "
            "one has a layer of 7") in text_of(response)
    huge = json.dumps(NET) + " " * 40_000  # the page posts multipart: no encoding overhead
    page = instructor.client.get(f"/courses/{cid}/network").get_data(as_text=True)
    token = CSRF_FIELD.search(page)
    assert token
    response = instructor.client.post(f"/courses/{cid}/network", content_type="multipart/form-data",
                                      data={"csrf_token": token.group(1), "network": huge})
    assert response.status_code == 422
    assert "the network file is larger than 32 KB" in text_of(response)


def test_an_uploaded_file_is_previewed(
        instructor: Caller, course: tuple[int, int, list[Caller]]) -> None:
    import io

    cid, _, _ = course
    page = instructor.client.get(f"/courses/{cid}/network").get_data(as_text=True)
    token = CSRF_FIELD.search(page)
    assert token
    response = instructor.client.post(
        f"/courses/{cid}/network", content_type="multipart/form-data",
        data={"csrf_token": token.group(1), "network": "",
              "upload": (io.BytesIO(json.dumps(NET).encode()), "net.json")})
    assert response.status_code == 200
    assert ">Weight gradient</h2>" in text_of(response)


def test_a_slot_on_the_network_gives_every_student_its_variant(
        app: Flask, instructor: Caller, course: tuple[int, int, list[Caller]]) -> None:
    cid, aid, students = course
    # The page's own form, with the network as it travels in it.
    page = form_post(instructor.client, f"/courses/{cid}/network", {"network": json.dumps(NET)})
    travelling = re.findall(r'name="network" value="([^"]+)"', page.get_data(as_text=True))[0]
    response = form_post(instructor.client, f"/courses/{cid}/network/slots", {
        "network": html.unescape(travelling), "exercise_type": "weight-gradient",
        "assignment": str(aid), "points": "2"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/courses/{cid}/assignments/{aid}/manage")
    with app.app_context():
        slot = db.session.scalars(select(Slot).where(Slot.assignment_id == aid,
                                                     Slot.position == 2)).one()
        assert (slot.exercise_type, slot.points, slot.difficulty) == ("weight-gradient", 2.0, 1)
        assert slot.network == {
            "x": [[1], [2]], "y": [[0], [1]],
            "layers": [{"W": [[1, -1], [2, 3]], "b": [[0], [1]], "activation": "identity"}],
            "loss": "half_sse", "learning_rate": "1/10"}

    ids = []
    for student in students:
        drawn = student.post(f"/api/v1/courses/{cid}/assignments/{aid}/slots/2/problem")
        assert drawn.status_code == 200
        assert drawn.json["network"]["layers"][0]["W"] == [[1, -1], [2, 3]]
        ids.append(drawn.json["id"])
    with app.app_context():
        records = [db.session.get(Problem, uuid.UUID(i)) for i in ids]
        assert all(p is not None and p.variant["key"] == {"dC_dW": KEY} for p in records)
    # Graded as any slot: a transposed gradient is named.
    submitted = students[0].post(f"/api/v1/problems/{ids[0]}/submissions",
                                 json={"answers": {"dC_dW": [[-1, 8], [-2, 16]]}})
    assert submitted.status_code == 202, submitted.json
    grade_queued(app)
    result = students[0].get(f"/api/v1/submissions/{submitted.json['id']}").json
    assert result["parts"]["dC_dW"]["misconceptions"] == ["transposed-gradient"]


def test_the_api_previews_and_adds_a_slot(
        app: Flask, instructor: Caller, course: tuple[int, int, list[Caller]]) -> None:
    cid, aid, _ = course
    preview = instructor.post(f"/api/v1/courses/{cid}/networks/preview", json={"network": NET})
    assert preview.status_code == 200
    types = {t["exercise_type"]: t for t in preview.json["types"]}
    assert [t["title"] for t in preview.json["types"]] == TITLES
    wg = types["weight-gradient"]
    assert wg["key"] == {"dC_dW": KEY}
    assert ["transposed-gradient"] in [p["mistakes"] for p in wg["predictions"]["dC_dW"]]
    assert DROPPED in wg["warnings"]
    assert any("dC_dW" in step["parts"] for step in wg["solution"])

    added = instructor.post(f"/api/v1/courses/{cid}/assignments/{aid}/slots",
                            json={"exercise_type": "weight-gradient", "network": NET,
                                  "points": 3})
    assert added.status_code == 201, added.json
    assert (added.json["position"], added.json["points"]) == (2, 3.0)
    refused = instructor.post(f"/api/v1/courses/{cid}/assignments/{aid}/slots",
                              json={"exercise_type": "softmax-cross-entropy", "network": NET})
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "not_applicable"


def test_who_may_see_and_add(app: Flask, instructor: Caller, make_caller: Callable[..., Caller],
                             course: tuple[int, int, list[Caller]]) -> None:
    cid, aid, students = course
    ta, outsider = make_caller("instructor"), make_caller("instructor")
    with app.app_context():
        db.session.add(Enrollment(course_id=cid, user_id=ta.user_id, role=CourseRole.ta))
        db.session.commit()
    other_cid, other = make_course(outsider, [], ASSIGNMENT, code="NN2")
    add = {"network": json.dumps(NET), "exercise_type": "weight-gradient", "points": "1"}

    # A student: 404 on the page, its preview and the API.
    log_in(students[0].client, students[0].email)
    assert students[0].client.get(f"/courses/{cid}/network").status_code == 404
    assert students[0].post(f"/api/v1/courses/{cid}/networks/preview",
                            json={"network": NET}).status_code == 404
    # A TA previews, but is refused the add (403), page and API alike.
    log_in(ta.client, ta.email)
    assert form_post(ta.client, f"/courses/{cid}/network",
                     {"network": json.dumps(NET)}).status_code == 200
    assert form_post(ta.client, f"/courses/{cid}/network/slots",
                     {**add, "assignment": str(aid)}).status_code == 403
    assert ta.post(f"/api/v1/courses/{cid}/assignments/{aid}/slots",
                   json={"exercise_type": "loss", "network": NET}).status_code == 403
    # Another course's assignment through this course: 404.
    assert form_post(instructor.client, f"/courses/{cid}/network/slots",
                     {**add, "assignment": str(other["id"])}).status_code == 404
    assert instructor.post(f"/api/v1/courses/{cid}/assignments/{other['id']}/slots",
                           json={"exercise_type": "loss", "network": NET}).status_code == 404
    # Another course's page: 404.
    assert instructor.client.get(f"/courses/{other_cid}/network").status_code == 404
    with app.app_context():
        assert db.session.scalars(select(Slot).where(Slot.network.is_not(None))).all() == []


def test_a_pasted_string_is_escaped_in_the_echo(
        instructor: Caller, course: tuple[int, int, list[Caller]]) -> None:
    cid, _, _ = course
    pasted = '</textarea><script>alert("x")</script>'
    response = form_post(instructor.client, f"/courses/{cid}/network", {"network": pasted})
    assert response.status_code == 422
    raw = response.get_data(as_text=True)
    assert "<script>alert" not in raw
    assert "&lt;/textarea&gt;&lt;script&gt;" in raw


def test_the_preview_page_has_unique_ids_and_labelled_fields(
        instructor: Caller, course: tuple[int, int, list[Caller]]) -> None:
    cid, _, _ = course
    raw = form_post(instructor.client, f"/courses/{cid}/network",
                    {"network": json.dumps(NET)}).get_data(as_text=True)
    ids = re.findall(r'\sid="([^"]+)"', raw)
    assert len(ids) == len(set(ids))
    assert "solution-weight-gradient" in ids
    for field in re.findall(r'<(?:select|textarea|input) id="([^"]+)"', raw):
        assert f'<label for="{field}">' in raw
