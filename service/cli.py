"""The ``backprop-quiz`` command (CONTRACT §1).

The offline commands (types, generate, grade, derive) need only the domain; the
service commands (demo, serve, worker, db, users, tokens) are added by
``service.manage`` and import Flask, SQLAlchemy and Celery only when they run.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn, TextIO

import click

import exercises as ex
from exercises.engine import derivation_json
from service import manage


def _dump(data: Any, out: TextIO = sys.stdout) -> None:
    json.dump(data, out, indent=2, ensure_ascii=False)
    out.write("\n")


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """backprop-quiz: backpropagation exercises, graded with mistake diagnosis."""


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
def types(as_json: bool) -> None:
    """List the exercise types."""
    catalogue = [t.describe() for t in ex.catalogue()]
    if as_json:
        _dump(catalogue)
        return
    width = max(len(t["id"]) for t in catalogue)
    for t in catalogue:
        parts = ", ".join(p["name"] for p in t["parts"])
        click.echo(f"{t['id']:<{width}}  {t['summary']}  [parts: {parts}]")


class PublicSeed(click.ParamType):
    """A whole number from 0 to ``ex.SEED_MAX``: a graded variant's seed lies beyond them
    (CONTRACT §11). Digits only, so 7.5 or 1e3 is refused rather than read as something."""

    name = "seed"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        text = str(value).strip()
        # ASCII digits, and no more of them than SEED_MAX has (int() refuses 4,300 and up).
        if not (text.isascii() and text.isdigit() and len(text) <= len(str(ex.SEED_MAX))
                and int(text) <= ex.SEED_MAX):
            self.fail(f"seed must be a whole number from 0 to {ex.SEED_MAX}, got {value!r}",
                      param, ctx)
        return int(text)


PUBLIC_SEED = PublicSeed()


def _variant(type_id: str, seed: int, difficulty: int) -> ex.Variant:
    try:
        return ex.generate(type_id, seed, difficulty)
    except (ex.UnknownExerciseType, ex.InvalidDifficulty, ValueError) as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


@main.command()
@click.argument("type_id", metavar="TYPE")
@click.option("--seed", type=PUBLIC_SEED, required=True)
@click.option("--difficulty", type=click.IntRange(1, 3), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the problem as JSON (CONTRACT §4).")
@click.option("--with-key", is_flag=True, help="Include the answer key.")
def generate(type_id: str, seed: int, difficulty: int, as_json: bool, with_key: bool) -> None:
    """Print one problem."""
    v = _variant(type_id, seed, difficulty)
    if as_json:
        _dump(v.to_json(with_key=with_key))
        return
    click.echo(f"{v.title} — {v.type} (seed {v.seed}, difficulty {v.difficulty})\n")
    click.echo(v.prompt + "\n")
    for p in v.parts:
        line = f"  {p.name} ({p.kind}): {p.label}"
        if with_key:
            line += f"  = {json.dumps(v.key[p.name])}"
        click.echo(line)
        for o in p.options:
            click.echo(f"      {o.id}) {o.label}")


@main.command()
@click.argument("type_id", metavar="TYPE")
@click.option("--seed", type=PUBLIC_SEED, required=True)
@click.option("--difficulty", type=click.IntRange(1, 3), default=1, show_default=True)
@click.option("--answers", "answers_file", type=click.File("r"), required=True,
              help='JSON file {"answers": {...}} (CONTRACT §4); - for stdin.')
def grade(type_id: str, seed: int, difficulty: int, answers_file: TextIO) -> None:
    """Grade an answers file offline and print the result JSON."""
    v = _variant(type_id, seed, difficulty)
    try:
        raw = json.load(answers_file)
    except json.JSONDecodeError as exc:
        _dump(ex.AnswerFormatError(f"the answers file is not JSON: {exc}", {}).to_json())
        sys.exit(2)
    if not isinstance(raw, dict) or "answers" not in raw:
        _dump(ex.AnswerFormatError('expected a JSON object {"answers": {...}}', {}).to_json())
        sys.exit(2)
    try:
        answers = ex.parse_answers(v, raw["answers"])
    except ex.AnswerFormatError as exc:
        _dump(exc.to_json())
        sys.exit(2)
    _dump({"status": "graded", **ex.grade(v, answers).to_json()})


@main.command()
@click.argument("network_file", metavar="NETWORK", type=click.File("r"))
@click.option("--exact", is_flag=True, help="Also print every quantity as an exact string.")
def derive(network_file: TextIO, exact: bool) -> None:
    """Print the full derivation of a network file (CONTRACT §2, §3); - reads stdin."""
    try:
        net = ex.read_network(network_file.read())
    except ex.NetworkError as exc:
        _fail(str(exc))
    _dump(derivation_json(net, exact=exact))


manage.register(main)
