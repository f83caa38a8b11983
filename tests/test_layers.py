"""The import graph is one-way: exercises <- the grading core <- {web app, worker, migrations}
<- composition roots.

Every .py file under the four packages is read with ``ast`` (imports inside functions
and ``if TYPE_CHECKING`` blocks count too; relative imports are resolved), each module
is put in a layer by the prefix lists below, and every import of one of our modules
must point to a layer the importing layer may use. The package graph without the
composition roots must have no cycle.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("exercises", "service", "worker", "migrations")

# Layer -> module prefixes (a prefix matches the module and its submodules). The longest
# matching prefix decides; anything else in ``service`` is the web app (so new pages,
# API and query modules land there by default).
LAYERS: dict[str, tuple[str, ...]] = {
    "exercises": ("exercises",),
    "core": (
        "service.config",
        "service.db",
        "service.models",
        "service.pipeline",
        "service.caches",
        "service.marks",
        "service.dispatch",
        "service.lms",
        "service.identifiers",
        "service.rules",
        "service.regrade",
    ),
    "web": ("service",),
    "worker": ("worker",),
    "migrations": ("migrations",),
    # The only modules that may join the web app and the worker.
    "root": ("service.manage", "service.cli", "service.wsgi", "worker.main"),
}
# The package ``service`` itself (its __init__) belongs to no audience: core.
EXACT = {"service": "core"}

MAY_IMPORT: dict[str, set[str]] = {
    "exercises": {"exercises"},
    "core": {"exercises", "core"},
    "web": {"exercises", "core", "web"},
    "worker": {"exercises", "core", "worker"},
    "migrations": {"exercises", "core", "migrations"},
    "root": {"exercises", "core", "web", "worker", "migrations", "root"},
}


@dataclass(frozen=True)
class Import:
    """One import statement of ours: who imports what, where."""

    source: str  # the importing module
    target: str  # the imported module
    where: str  # path:line


def layer_of(module: str) -> str:
    if module in EXACT:
        return EXACT[module]
    best, length = None, -1
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = layer, len(prefix)
    if best is None:
        raise ValueError(f"{module} is in no layer")
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the four packages, by dotted name."""
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imports_of(module: str, path: Path, known: Iterable[str]) -> list[Import]:
    """The imports of our packages in one file, resolved to module names."""
    known = set(known)
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # ``from a import b`` imports the module a.b if there is one, else a name of a.
            targets = [
                f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem
                for alias in node.names
            ]
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        where = f"{shown}:{getattr(node, 'lineno', 0)}"
        found += [
            Import(module, target, where)
            for target in targets
            if target.split(".")[0] in PACKAGES
        ]
    return found


def graph() -> list[Import]:
    found = modules()
    return [i for name, path in found.items() for i in imports_of(name, path, found)]


def wrong_arrows(edges: Iterable[Import]) -> list[str]:
    """Each import that points up or sideways, described."""
    return [
        f"{i.where}: {i.source} ({layer_of(i.source)}) imports {i.target} "
        f"({layer_of(i.target)})"
        for i in edges
        if layer_of(i.target) not in MAY_IMPORT[layer_of(i.source)]
    ]


def package_cycles(edges: Iterable[Import]) -> list[str]:
    """Cycles between top-level packages, composition roots left out, with one import
    of each arrow on the cycle."""
    arrows: dict[tuple[str, str], Import] = {}
    for i in edges:
        a, b = i.source.split(".")[0], i.target.split(".")[0]
        if a != b and layer_of(i.source) != "root":
            arrows.setdefault((a, b), i)
    succ: Mapping[str, list[str]] = {
        p: sorted(b for a, b in arrows if a == p) for p in PACKAGES
    }
    cycles = []
    for start in PACKAGES:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in succ[node]:
                if nxt == start:
                    ring = [*path, start]
                    cycles.append(
                        " -> ".join(ring)
                        + " via "
                        + "; ".join(
                            f"{arrows[a, b].where} ({arrows[a, b].source} imports "
                            f"{arrows[a, b].target})"
                            for a, b in itertools.pairwise(ring)
                        )
                    )
                elif nxt not in path:
                    stack.append((nxt, [*path, nxt]))
    return cycles


def test_every_module_is_read() -> None:
    found = modules()
    assert {"exercises", "service.app", "service.pipeline", "worker.tasks", "migrations.env"} <= (
        found.keys()
    )
    assert len(graph()) > 50


def test_no_import_points_up_or_sideways() -> None:
    assert wrong_arrows(graph()) == []


def test_no_cycle_between_the_packages() -> None:
    assert package_cycles(graph()) == []


def test_the_layer_map_names_its_composition_roots() -> None:
    assert layer_of("service.wsgi") == "root" and layer_of("worker.main") == "root"
    assert layer_of("service.pipeline.grading") == "core"
    assert layer_of("service.pages.problems") == "web"  # a new web module, unlisted
    assert layer_of("worker.outbox") == "worker"


def test_no_other_installed_distribution_claims_our_package_names() -> None:
    """The packages install top level under generic names (see pyproject.toml): in this
    environment, nothing else may ship one of them."""
    from importlib.metadata import packages_distributions

    claimed = packages_distributions()
    others = {
        name: sorted(set(claimed.get(name, [])) - {"backprop-quiz", "backprop_quiz"})
        for name in PACKAGES
    }
    assert {name: found for name, found in others.items() if found} == {}


# --- the checks themselves catch what they are for, on a synthetic graph ----------------


def _edge(source: str, target: str) -> Import:
    return Import(source, target, f"{source.replace('.', '/')}.py:1")


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("exercises.engine", "service.models"),  # the domain reaching up
        ("service.pipeline.grading", "service.api"),  # the core reaching up to the web
        ("service.app", "worker.outbox"),  # the web app reaching sideways
        ("service.pages.problems", "worker.app"),  # a new web module, unlisted
        ("worker.tasks", "service.student"),  # the worker reaching into a page
        ("service.db", "migrations.env"),  # the core importing the migrations
    ],
)
def test_a_planted_bad_import_is_named(source: str, target: str) -> None:
    planted = _edge(source, target)
    assert wrong_arrows([_edge("service.api", "service.pipeline"), planted]) == [
        f"{planted.where}: {source} ({layer_of(source)}) imports {target} ({layer_of(target)})"
    ]


def test_a_planted_cycle_is_named_with_its_imports() -> None:
    edges = [_edge("worker.tasks", "service.pipeline"), _edge("service.db", "worker.app")]
    cycles = package_cycles(edges)
    assert cycles and "service -> worker -> service" in cycles[0]
    assert "service/db.py:1 (service.db imports worker.app)" in cycles[0]
    # A composition root joining the two is no cycle.
    assert package_cycles([edges[0], _edge("service.wsgi", "worker.outbox")]) == []


def test_relative_and_function_level_imports_are_resolved(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"  # read as if it were service/planted.py
    planted.write_text(
        "from . import pipeline\n"
        "from .pipeline import grading\n"
        "def late():\n"
        "    from worker.app import make_celery\n"
        "    import worker.outbox\n"
    )
    found = imports_of(
        "service.planted", planted, ["service.pipeline", "service.pipeline.grading"]
    )
    assert sorted(i.target for i in found) == [
        "service.pipeline",
        "service.pipeline.grading",
        "worker.app",
        "worker.outbox",
    ]
    assert len(wrong_arrows(found)) == 2
