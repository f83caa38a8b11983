"""Exercise types and their one registry; drawing a variant worth asking.

An exercise type is ``draw → extract → (prompt, story)``: it draws a setup (a network
plus visible parameters) from an explicit ``numpy.random.Generator``, and extracts
its parts from a derivation. Everything else is generic and lives here: the key from
the exact engine, the mistake predictions from the float engine with slips, and the
checks that reject degenerate or ambiguous variants.
"""

from __future__ import annotations

import abc
import importlib
import itertools
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from .engine import FLOAT, NUMERIC, Derivation, Slip, derive, derive_arrays
from .mistakes import MISTAKES
from .network import Network, parse_network
from .problem import Part, Prediction, Variant, to_grading_form, value_to_json

DIFFICULTIES = (1, 2, 3)
MAX_DRAWS = 400


class UnknownExerciseType(LookupError):
    """No exercise type is registered under this id."""

    def __init__(self, type_id: str):
        super().__init__(f"unknown exercise type {type_id!r} (see `backprop-quiz types`)")
        self.type_id = type_id


class InvalidDifficulty(ValueError):
    """Difficulty outside 1–3."""

    def __init__(self, difficulty: object):
        super().__init__(f"difficulty must be 1, 2 or 3, got {difficulty!r}")


class Degenerate(Exception):
    """A drawn setup that would make a poor or ambiguous problem; draw again."""


@dataclass
class Setup:
    """What a type draws: the network and the visible parameters (which layer, entry, ...).
    A type whose questions need no network (concept-check) draws None."""

    network: Network | None
    params: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def exact(self) -> Derivation:
        """The reference derivation for keys and stories: rationals exact, transcendental
        values to 40 digits (the same float64 and printed digits as symbolic, far faster)."""
        return derive(self.network, NUMERIC)

    @cached_property
    def arrays(self) -> tuple[Any, Any, list[tuple[Any, Any, str, Any]]]:
        x, y = FLOAT.matrix(self.network.x), FLOAT.matrix(self.network.y)
        layers = [(FLOAT.matrix(L.W), FLOAT.matrix(L.b), L.activation, FLOAT.scalar(L.alpha))
                  for L in self.network.layers]
        return x, y, layers

    @cached_property
    def memo(self) -> dict[Any, Any]:
        """Stages shared by every float derivation of this setup (see ``derive_arrays``)."""
        return {}

    def float_derivation(self, slips: frozenset[Slip] = frozenset()) -> Derivation:
        x, y, layers = self.arrays
        return derive_arrays(FLOAT, x, y, layers, self.network.loss,
                             FLOAT.scalar(self.network.learning_rate), slips, self.memo)

    @cached_property
    def plain(self) -> Derivation:
        """The mistake-free float derivation."""
        return self.float_derivation()


class ExerciseType(abc.ABC):
    """One kind of exercise. Subclasses set the class attributes and the abstract methods."""

    id: ClassVar[str]
    version: ClassVar[int] = 1
    title: ClassVar[str]
    summary: ClassVar[str]
    parts: ClassVar[tuple[Part, ...]]

    @abc.abstractmethod
    def shows(self, difficulty: int) -> tuple[str, ...]:
        """The mistake tags every variant at this difficulty can show (and tell apart)."""

    @abc.abstractmethod
    def draw(self, rng: np.random.Generator, difficulty: int) -> Setup:
        """A candidate setup; raise ``Degenerate`` (or let the generic checks) to redraw."""

    @abc.abstractmethod
    def extract(self, setup: Setup, d: Derivation) -> dict[str, Any]:
        """The value of each part in derivation ``d`` (None where a slip leaves it undefined)."""

    @abc.abstractmethod
    def prompt(self, setup: Setup) -> str:
        """The question, in text with $LaTeX$."""

    @abc.abstractmethod
    def story(self, setup: Setup) -> list[Any]:
        """The worked solution: a list of ``solution.Step`` with this variant's numbers."""

    def also_shows(self, setup: Setup) -> tuple[str, ...]:
        """Mistake tags this setup shows beyond ``shows(difficulty)`` (a choice's other
        distractors); checked and predicted like those."""
        return ()

    def parts_for(self, setup: Setup) -> tuple[Part, ...]:
        """The parts of this variant (choice options may depend on the setup)."""
        return self.parts

    def key(self, setup: Setup) -> dict[str, Any]:
        return self.extract(setup, setup.exact)

    def predict(self, setup: Setup, slips: frozenset[Slip]) -> dict[str, Any]:
        return self.extract(setup, setup.float_derivation(slips))

    def follow_on(self, setup: Setup, part: str, given: dict[str, Any]) -> Any | None:
        """What ``part`` should be if computed correctly from the student's own earlier
        answers ``given`` (grading forms); None when the part does not build on them."""
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "summary": self.summary,
            "parts": [{"name": p.name, "kind": p.kind} for p in self.parts],
            "difficulties": list(DIFFICULTIES),
            "mistakes": {str(d): list(self.shows(d)) for d in DIFFICULTIES},
        }

    def setup_from(self, variant: Variant) -> Setup:
        """Rebuild the setup from a stored variant (the stored network is the truth)."""
        return Setup(parse_network(variant.network), dict(variant.params))


_REGISTRY: dict[str, ExerciseType] = {}


def register(cls: type[ExerciseType]) -> type[ExerciseType]:
    """Class decorator: add an exercise type to the registry under its id."""
    if cls.id in _REGISTRY:
        raise ValueError(f"exercise type {cls.id!r} registered twice")
    _REGISTRY[cls.id] = cls()
    return cls


def get_type(type_id: str) -> ExerciseType:
    _load_catalogue()
    try:
        return _REGISTRY[type_id]
    except KeyError:
        raise UnknownExerciseType(type_id) from None


def catalogue() -> list[ExerciseType]:
    _load_catalogue()
    return list(_REGISTRY.values())


def _load_catalogue() -> None:
    importlib.import_module(f"{__package__}.types")  # importing registers every type


# --- drawing a variant ---------------------------------------------------------------


# Seeds split in two ranges. A caller (the practice pages, POST /api/v1/problems, the CLI)
# may pass only a public seed, 0..SEED_MAX. A graded (assignment) variant is drawn from a
# seed of GRADED_SEED_BASE or more, derived from the server's secret (service.problems):
# its entropy list for numpy's SeedSequence is longer than any public seed's, so no public
# seed yields its generator, and it never leaves the server.
SEED_MAX = 2**63 - 1
GRADED_SEED_BASE = 2**64


def rng_for(type_id: str, seed: int, difficulty: int) -> np.random.Generator:
    """The one generator of a variant: (type, seed, difficulty) reproduce it exactly.

    Takes any non-negative integer: a public seed (0..SEED_MAX) or an internal graded one
    (GRADED_SEED_BASE and up); checking that a caller's seed is public is the caller's job.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng([zlib.crc32(type_id.encode()), difficulty, seed])


def generate(type_id: str, seed: int, difficulty: int = 1) -> Variant:
    """Draw the variant (type, seed, difficulty), redrawing degenerate setups.

    ``seed`` may be public or an internal graded seed, as for ``rng_for``.
    """
    t = get_type(type_id)
    if difficulty not in DIFFICULTIES:
        raise InvalidDifficulty(difficulty)
    rng = rng_for(type_id, seed, difficulty)
    last = ""
    for _ in range(MAX_DRAWS):
        try:
            return build_variant(t, t.draw(rng, difficulty), seed, difficulty)
        except Degenerate as exc:
            last = str(exc)
    raise RuntimeError(f"{type_id}: no usable variant in {MAX_DRAWS} draws (last: {last})")


def build_variant(t: ExerciseType, setup: Setup, seed: int, difficulty: int) -> Variant:
    """Key, predictions and checks for one setup; raises ``Degenerate``."""
    parts = t.parts_for(setup)
    # Float first: every check runs on float64, so a redraw never pays for SymPy.
    float_key = t.predict(setup, frozenset())
    key = {p.name: to_grading_form(p.kind, float_key[p.name]) for p in parts}
    for p in parts:
        _check_key(p, key[p.name])
    _check_healthy(setup)

    shown = tuple(dict.fromkeys((*t.shows(difficulty), *t.also_shows(setup))))
    singles = _single_predictions(t, setup, parts, key, shown)
    predictions = {p.name: list(singles[p.name]) for p in parts}
    seen = {p.name: _Seen(p, [key[p.name], *(q.value for q in singles[p.name])]) for p in parts}
    for tags, values in _pair_predictions(t, setup, parts, shown):
        for p in parts:
            v = values.get(p.name)
            # A pair that looks like the key, a single mistake or an earlier pair adds
            # nothing: the simpler explanation already covers it.
            if v is not None and seen[p.name].add_if_new(v):
                predictions[p.name].append(Prediction(tags, v))

    exact_key = t.key(setup)
    return Variant(
        type=t.id, type_version=t.version, seed=seed, difficulty=difficulty, title=t.title,
        prompt=t.prompt(setup),
        network=None if setup.network is None else setup.network.to_json(),
        params=setup.params, parts=parts,
        key={p.name: value_to_json(p.kind, exact_key[p.name]) for p in parts},
        predictions={name: tuple(preds) for name, preds in predictions.items() if preds},
    )


def _single_predictions(t, setup, parts, key, tags) -> dict[str, list[Prediction]]:
    """Each shown mistake must change some part, and no two may look alike."""
    out: dict[str, list[Prediction]] = {p.name: [] for p in parts}
    for tag in tags:
        shown = False
        for slips in MISTAKES[tag].variants:
            values = t.predict(setup, slips)
            for p in parts:
                v = values.get(p.name)
                if v is None:
                    continue
                v = to_grading_form(p.kind, v)
                if not _finite(p, v):
                    raise Degenerate(f"{tag} gives a non-finite {p.name}")
                if _close(p, v, key[p.name]):
                    continue
                if _rounding_close(p, v, key[p.name]):
                    raise Degenerate(f"{tag} on {p.name} is within rounding of the key")
                clash = [q for q in out[p.name] if _close(p, v, q.value)]
                if any(q.tags != (tag,) for q in clash):
                    raise Degenerate(f"{tag} and {clash[0].tags[0]} coincide on {p.name}")
                if not clash:
                    out[p.name].append(Prediction((tag,), v))
                shown = True
        if not shown:
            raise Degenerate(f"{tag} does not change any part")
    return out


class _Seen:
    """Answers of one part seen so far, stacked by shape so one comparison tests them all."""

    def __init__(self, part: Part, values: list[Any]):
        self.part = part
        self.others: list[Any] = []
        self.stacks: dict[tuple[int, ...], np.ndarray] = {}
        for v in values:
            self.add_if_new(v)

    def add_if_new(self, v: Any) -> bool:
        if self.part.kind not in ("matrix", "scalar"):
            if any(_close(self.part, v, o) for o in self.others):
                return False
            self.others.append(v)
            return True
        v = np.asarray(v, dtype=np.float64)
        stack = self.stacks.get(v.shape)
        if stack is not None:
            close = np.abs(v - stack) <= self.part.atol + self.part.rtol * np.abs(stack)
            if close.reshape(len(stack), -1).all(axis=1).any():
                return False
            self.stacks[v.shape] = np.concatenate([stack, v[None]])
        else:
            self.stacks[v.shape] = v[None]
        return True


def _pair_predictions(t, setup, parts, tags) -> Iterator[tuple[tuple[str, str], dict]]:
    tags = [tag for tag in tags if MISTAKES[tag].variants]
    for t1, t2 in itertools.combinations(tags, 2):
        for s1, s2 in itertools.product(MISTAKES[t1].variants, MISTAKES[t2].variants):
            values = t.predict(setup, s1 | s2)
            yield (t1, t2), {
                p.name: to_grading_form(p.kind, values[p.name])
                for p in parts if values.get(p.name) is not None
                and _finite(p, to_grading_form(p.kind, values[p.name]))
            }


def _close(part: Part, a: Any, b: Any, rtol: float | None = None, atol: float | None = None) -> bool:
    """Same answer within the part's tolerance (shape included)."""
    if part.kind == "matrix":
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        return bool(np.all(np.abs(a - b) <= (atol or part.atol) + (rtol or part.rtol) * np.abs(b)))
    if part.kind == "scalar":
        return abs(a - b) <= (atol or part.atol) + (rtol or part.rtol) * abs(b)
    if part.kind == "expression":
        from .expressions import equivalent

        return equivalent(a, b, part.symbols)
    return a == b


def _rounding_close(part: Part, a: Any, b: Any) -> bool:
    from .problem import ROUNDING_ATOL, ROUNDING_RTOL

    if part.kind not in ("matrix", "scalar"):
        return False
    return _close(part, a, b, ROUNDING_RTOL, ROUNDING_ATOL)


def _finite(part: Part, v: Any) -> bool:
    if part.kind in ("matrix", "scalar"):
        return bool(np.all(np.isfinite(v)))
    return True


def _check_key(part: Part, v: Any) -> None:
    if part.kind not in ("matrix", "scalar"):
        return
    a = np.atleast_2d(np.asarray(v, dtype=np.float64))
    if not np.all(np.isfinite(a)):
        raise Degenerate(f"{part.name} is not finite")
    if np.max(np.abs(a)) > 1e3:
        raise Degenerate(f"{part.name} is too large to work by hand")
    if np.all(np.abs(a) < 1e-3):
        raise Degenerate(f"{part.name} is (nearly) zero")
    if a.shape[0] == a.shape[1] > 1 and np.allclose(a, a.T, rtol=part.rtol, atol=part.atol):
        raise Degenerate(f"{part.name} equals its own transpose")


def _check_healthy(setup: Setup) -> None:
    """No saturated sigmoid/tanh, no layer of all-dead ReLUs."""
    if setup.network is None:
        return
    d = setup.plain
    for l, L in enumerate(d.layers):
        act = L.activation
        if act == "sigmoid" and np.any((L.a < 0.02) | (L.a > 0.98)):
            raise Degenerate(f"layer {l + 1} sigmoid saturates")
        if act == "tanh" and np.any(np.abs(L.a) > 0.96):
            raise Degenerate(f"layer {l + 1} tanh saturates")
        if act == "relu" and not np.any(L.z > 0):  # a leaky unit still passes α·z back
            raise Degenerate(f"layer {l + 1} ReLUs are all dead")
        if act in ("relu", "leaky_relu") and np.any(np.abs(L.z) < 1e-9):
            raise Degenerate(f"layer {l + 1} has z = 0 at a ReLU kink")
