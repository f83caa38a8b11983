"""The README's offline examples, run (issue 12, item 7): every `backprop-quiz` command of
generate, grade, derive and types in the code blocks of the README and of the documents
under docs/ is run with the installed console script, and its output must be what the
document shows. And every link between the documents leads somewhere (issue 13).

An example is a ```console block: a line `$ command` then the output it prints. In the
output, a line that is just `…` stands for any number of lines, and `…` inside a line for
any text on it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# The README and the guides, design notes and references it links to.
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]
CLI = Path(sys.executable).with_name("backprop-quiz")
# As the README's install leaves it; the test runs the script of the interpreter running it.
WRITTEN = ".venv/bin/backprop-quiz"
OFFLINE = re.compile(r"backprop-quiz (generate|grade|derive|types)\b")
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
# Variables that would point a command at servers or files of the machine's own.
FOREIGN_ENV = ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "INSTANCE_PATH")


def examples(documents: list[Path] = DOCUMENTS) -> list[tuple[str, str]]:
    """(command, the output the document shows) for each `$ ` line of its console blocks."""
    found: list[tuple[str, str]] = []
    for document in documents:
        found += _examples(document)
    return found


def _examples(document: Path) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for language, body in BLOCK.findall(document.read_text(encoding="utf-8")):
        if language != "console":
            continue
        command: str | None = None
        output: list[str] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    found.append((command, "\n".join(output)))
                command, output = line[2:], []
            else:
                output.append(line)
        if command is not None:
            found.append((command, "\n".join(output)))
    return found


def shown(expected: str) -> re.Pattern[str]:
    """The README's output as a pattern: `…` lines any lines, `…` in a line any text."""
    pieces = []
    for line in expected.splitlines():
        if line == "…":
            pieces.append(r"(?:[^\n]*\n)*?")
        else:
            pieces.append("[^\n]*".join(map(re.escape, line.split("…"))) + r"[ \t]*\n")
    return re.compile("".join(pieces))


def test_every_offline_command_of_the_documents_is_an_example_that_is_checked() -> None:
    """No offline command in the README or docs/ escapes this test: each is a `$ ` line of
    a console block, and the README's together show all four."""
    checked = {command for command, _ in examples()}
    for document in DOCUMENTS:
        for language, body in BLOCK.findall(document.read_text(encoding="utf-8")):
            for line in body.splitlines():
                if OFFLINE.search(line):
                    assert language == "console" and line.startswith("$ "), (document, line)
                    assert line[2:] in checked
    in_readme = {command for command, _ in examples([README])}
    shown_commands = {m.group(1) for command in in_readme if (m := OFFLINE.search(command))}
    assert shown_commands == {"generate", "grade", "derive", "types"}


def test_the_readme_writes_the_command_as_its_install_leaves_it() -> None:
    for command, _ in examples():
        if OFFLINE.search(command):
            assert WRITTEN in command, command


@pytest.mark.parametrize(
    ("command", "expected"), examples(), ids=[c[:60] for c, _ in examples()]
)
def test_a_readme_example_prints_what_the_readme_says(
    command: str, expected: str, tmp_path: Path
) -> None:
    assert CLI.exists(), f"the console script is not installed at {CLI}"
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    run = subprocess.run(
        ["bash", "-c", "set -o pipefail; " + command.replace(WRITTEN, str(CLI))],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False,
    )
    output = run.stdout if run.stdout.endswith("\n") else run.stdout + "\n"
    assert run.returncode == 0 and shown(expected).fullmatch(output), (
        f"`{command}` printed (exit status {run.returncode}):\n{run.stdout}{run.stderr}\n"
        f"but the README shows:\n{expected}"
    )


LINK = re.compile(r"\]\(([^)\s]+)\)|<img src=\"([^\"]+)\"")
HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def anchors(document: Path) -> set[str]:
    text = BLOCK.sub("", document.read_text(encoding="utf-8"))  # no headings in code blocks
    return {anchor(h) for h in HEADING.findall(text)}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.name)
def test_every_link_between_the_documents_leads_somewhere(document: Path) -> None:
    """Each relative link and image of a document names a file of the repository, and a
    `#section` of a Markdown file names one of its headings."""
    text = BLOCK.sub("", document.read_text(encoding="utf-8"))
    for link, image in LINK.findall(text):
        target = link or image
        if re.match(r"[a-z]+:", target):
            continue  # http:, mailto: …: not ours to check offline
        path, _, section = target.partition("#")
        file = (document.parent / path).resolve() if path else document
        assert file.exists(), f"{document.name}: {target} names no file"
        if section:
            assert section in anchors(file), f"{document.name}: {target} names no heading"


@pytest.mark.parametrize("document", [d for d in DOCUMENTS if d.name != "contract.md"],
                         ids=lambda d: d.name)
def test_the_contract_is_cited_by_a_link_to_it(document: Path) -> None:
    """The contract is in the repository (docs/contract.md); the documents point there
    rather than cite a "CONTRACT §n" the reader cannot open."""
    assert "CONTRACT §" not in document.read_text(encoding="utf-8")
