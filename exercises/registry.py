"""Exercise types and their one registry; drawing a variant worth asking.

An exercise type is ``draw → extract → (prompt, story)``: it draws a setup (a network
plus visible parameters) from an explicit ``numpy.random.Generator``, and extracts
its parts from a derivation. Everything else is generic and lives here: the key from
the exact engine, the mistake predictions from the float engine with slips, and the
checks that reject degenerate or ambiguous variants.
"""

from __future__ import annotations

import abc
import functools
import importlib
import itertools
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from .engine import FLOAT, NUMERIC, Derivation, Slip, derive, derive_arrays
from .mistakes import MISTAKES
from .network import Network, parse_network
from .problem import (
    Part,
    Prediction,
    Variant,
    reads_as_rounded_key,
    to_grading_form,
    value_to_json,
)

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


class Findings:
    """What the checks of a variant find wrong with its setup, as sentences.

    One set of checks serves both ways of making a variant: a seeded draw (``strict``)
    raises ``Degenerate`` at the first rejection and is drawn again; a given network
    (``generate`` cannot redraw it) keeps every finding as a warning. ``equal`` holds, per
    mistake the type is built to show, the parts where it gives the key itself.
    """

    def __init__(self, strict: bool):
        self.strict = strict
        self.found: list[str] = []
        self.equal: dict[str, list[str]] = {}

    def reject(self, sentence: str) -> None:
        """A reason a seeded draw is drawn again."""
        if self.strict:
            raise Degenerate(sentence)
        if sentence not in self.found:
            self.found.append(sentence)



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
        return derive(self.net, NUMERIC)

    @property
    def net(self) -> Network:
        """The network, for the derivations; only a type that draws one asks for them."""
        if self.network is None:
            raise TypeError("this setup has no network to derive")
        return self.network

    @cached_property
    def arrays(self) -> tuple[Any, Any, list[tuple[Any, Any, str, Any]]]:
        x, y = FLOAT.matrix(self.net.x), FLOAT.matrix(self.net.y)
        layers = [(FLOAT.matrix(L.W), FLOAT.matrix(L.b), L.activation, FLOAT.scalar(L.alpha))
                  for L in self.net.layers]
        return x, y, layers

    @cached_property
    def memo(self) -> dict[Any, Any]:
        """Stages shared by every float derivation of this setup (see ``derive_arrays``)."""
        return {}

    def float_derivation(self, slips: frozenset[Slip] = frozenset()) -> Derivation:
        x, y, layers = self.arrays
        return derive_arrays(FLOAT, x, y, layers, self.net.loss,
                             FLOAT.scalar(self.net.learning_rate), slips, self.memo)

    @cached_property
    def plain(self) -> Derivation:
        """The mistake-free float derivation."""
        return self.float_derivation()


class ExerciseType(abc.ABC):
    """One kind of exercise. Subclasses set the class attributes and the abstract methods."""

    id: ClassVar[str]
    # Bumped whenever a seed draws another variant or other predictions: a practice problem
    # is looked up by (type, version, seed, difficulty), and a stored one keeps its record.
    version: ClassVar[int] = 1
    title: ClassVar[str]
    summary: ClassVar[str]
    parts: ClassVar[tuple[Part, ...]]
    # Pairs of mistakes a variant must tell apart: a setup where they coincide on a part is
    # drawn again. (Others that coincide are named together, as alternatives.) Dropping the
    # MSE's 1/n over n outputs looks like summing a batch of m = n examples.
    told_apart: ClassVar[tuple[tuple[str, str], ...]] = (("loss-not-averaged",
                                                          "batch-sum-not-mean"),)

    def must_show(self, difficulty: int) -> tuple[str, ...]:
        """Mistakes every variant of this difficulty must make visible (change some part):
        what the type's draws are built for; a setup where one changes nothing is drawn
        again. The engine offers every other mistake wherever it shows, too."""
        return ()

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
        """Mistake tags this setup tries beyond the library's (a choice's distractors);
        predicted like those."""
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
            "mistakes": {str(d): list(self.can_show(d)) for d in DIFFICULTIES},
        }

    def can_show(self, difficulty: int) -> tuple[str, ...]:
        """The mistakes this type offered on some part over a fixed sample of variants of
        ``difficulty`` (seeds 0 to SAMPLE − 1), in the library's order. A sample, not a
        guarantee: which mistakes a variant shows depends on its numbers."""
        return _can_show(self.id, difficulty)

    def setup_from(self, variant: Variant) -> Setup:
        """Rebuild the setup from a stored variant (the stored network is the truth)."""
        return Setup(parse_network(variant.network), dict(variant.params))

    def fit(self, network: Network) -> Setup | None:
        """The setup that asks this type's question about a given ``network``, its visible
        parameters chosen deterministically; None where the type cannot ask about it."""
        return None


_REGISTRY: dict[str, ExerciseType] = {}
SAMPLE = 3


@functools.cache
def _can_show(type_id: str, difficulty: int) -> tuple[str, ...]:
    """The single mistakes of the first usable setup of seeds 0 to SAMPLE − 1 (the setups
    ``generate`` draws; the pairs, which add no tag, are not computed)."""
    shown = {tag for setup in reveal_sample(type_id, difficulty)
             for tags in setup.parts.values() for tag in tags}
    return tuple(tag for tag in MISTAKES if tag in shown)


@dataclass(frozen=True)
class Revealed:
    """One sampled setup of a type: per part, the single mistakes that change it (in the
    library's order), the number of options of a choice part, and its visible parameters."""

    parts: dict[str, tuple[str, ...]]
    options: int = 0
    params: dict[str, Any] = field(default_factory=dict)


@functools.cache
def reveal_sample(type_id: str, difficulty: int) -> tuple[Revealed, ...]:
    """What the first usable setup of each of seeds 0 to SAMPLE − 1 can reveal, part by
    part: a type and difficulty's profile, without SymPy or the pairs."""
    t = get_type(type_id)
    out = []
    for seed in range(SAMPLE):
        rng = rng_for(type_id, seed, difficulty)
        for _ in range(MAX_DRAWS):
            try:
                setup = t.draw(rng, difficulty)
                parts = t.parts_for(setup)
                singles = _singles(t, setup, parts, difficulty, Findings(strict=True))[1]
                out.append(Revealed(
                    {p.name: tuple(dict.fromkeys(q.tags[0] for q in singles[p.name]))
                     for p in parts},
                    max((len(p.options) for p in parts), default=0), setup.params))
                break
            except Degenerate:
                continue
    return tuple(out)


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


def build_variant(t: ExerciseType, setup: Setup, seed: int, difficulty: int,
                  findings: Findings | None = None) -> Variant:
    """Key, predictions and checks for one setup; raises ``Degenerate``, unless ``findings``
    collects the checks' findings (a given network, see ``for_network``).

    Every mistake of the library is tried, alone and in pairs: a mistake is offered on a
    part where its slips change that part in this variant. Mistakes that coincide there
    are all kept (grading names each of them); one that equals the key cannot be seen and
    is not offered, and a pair that equals the key or a single mistake adds nothing.
    """
    parts = t.parts_for(setup)
    key, singles, changing = _singles(t, setup, parts, difficulty,
                                      findings or Findings(strict=True))
    predictions = {p.name: list(singles[p.name]) for p in parts}
    covered = {p.name: _Seen(p, [*_unseeable(p, key[p.name]),
                                 *(q.value for q in singles[p.name])]) for p in parts}
    # A pair's slip sets come one after another: ``same`` holds what the current pair gave.
    same: dict[str, list[Any]] = {}
    current: tuple[str, str] | None = None
    for tags2, values in _pair_predictions(t, setup, parts, changing, key):
        if tags2 != current:
            current, same = tags2, {p.name: [] for p in parts}
        for p in parts:
            v = values.get(p.name)
            if v is None or covered[p.name].has(v) or reads_as_rounded_key(p, v, key[p.name]):
                continue  # the key, or a simpler explanation, covers it
            if any(_close(p, v, w) for w in same[p.name]):
                continue  # another slip set of the same two mistakes gave it already
            same[p.name].append(v)
            predictions[p.name].append(Prediction(tags2, v))

    exact_key = t.key(setup)
    return Variant(
        type=t.id, type_version=t.version, seed=seed, difficulty=difficulty, title=t.title,
        prompt=t.prompt(setup),
        network=None if setup.network is None else setup.network.to_json(),
        params=setup.params, parts=parts,
        key={p.name: value_to_json(p.kind, exact_key[p.name]) for p in parts},
        predictions={name: tuple(preds) for name, preds in predictions.items() if preds},
    )


# --- a variant of a given network --------------------------------------------------------


@dataclass
class Fitted:
    """One type asked about a given network: the variant (built by ``build_variant``, as a
    seeded one is), its worked solution, and the checks' findings as warnings."""

    type: ExerciseType
    variant: Variant
    solution: Any  # solution.Solution
    warnings: list[str]


def network_difficulty(net: Network) -> int:
    """The difficulty whose mistakes a given network is checked for: 3 over a batch, 2 with
    a sigmoid, tanh or softmax (a derivative formula to get wrong), 1 otherwise."""
    if net.m > 1:
        return 3
    if any(L.activation in ("sigmoid", "tanh", "softmax") for L in net.layers):
        return 2
    return 1


def fit_variant(t: ExerciseType, net: Network) -> Fitted | None:
    """Type ``t`` asked about ``net``, or None where it cannot ask about it (its ``fit``
    declines, or the key is not finite). Same numbers for everyone: the seed is 0."""
    from .solution import worked_solution

    setup = t.fit(net)
    if setup is None:
        return None
    findings = Findings(strict=False)
    try:
        variant = build_variant(t, setup, 0, network_difficulty(net), findings)
    except Degenerate:
        return None
    return Fitted(t, variant, worked_solution(variant), findings.found)


def for_network(net: Network) -> list[Fitted]:
    """Every type of the catalogue that can ask about ``net``, in catalogue order."""
    return [f for t in catalogue() if (f := fit_variant(t, net)) is not None]


def _singles(t: ExerciseType, setup: Setup, parts: tuple[Part, ...], difficulty: int,
             findings: Findings
             ) -> tuple[dict[str, Any], dict[str, list[Prediction]], list[str]]:
    """The float key (checked), each single mistake's predictions, and the mistakes that
    change some part; the checks report to ``findings``."""
    # Float first: every check runs on float64, so a redraw never pays for SymPy.
    float_key = t.predict(setup, frozenset())
    key = {p.name: to_grading_form(p.kind, float_key[p.name]) for p in parts}
    for p in parts:
        _check_key(p, key[p.name], findings)
    _check_healthy(setup, findings)

    tags = tuple(dict.fromkeys((*(m.tag for m in MISTAKES.values() if m.variants),
                                *t.also_shows(setup))))
    hidden = {p.name: _Seen(p, _unseeable(p, key[p.name])) for p in parts}
    singles, changing = _single_predictions(t, setup, parts, key, hidden, tags,
                                            t.must_show(difficulty), findings)
    for tag in t.must_show(difficulty):
        if tag not in changing:
            same = findings.equal.get(tag)
            findings.reject(
                f"{_named(tag)} gives the key itself for {' and '.join(dict.fromkeys(same))}: "
                "a student who makes it gets every answer right, so it cannot be seen."
                if same else f"{_named(tag)} changes no part (or only within rounding of the "
                "key), so it cannot be seen.")
    for t1, t2 in t.told_apart:
        for p in parts:
            values2 = [q.value for q in singles[p.name] if q.tags == (t2,)]
            if any(_close(p, q.value, v) for q in singles[p.name] if q.tags == (t1,)
                   for v in values2):
                findings.reject(f"{_named(t1)} and {_named(t2)} give the same {p.name}: "
                                "the two cannot be told apart there.")
    return key, singles, changing


def _named(tag: str) -> str:
    """A mistake as a sentence names it: its name in quotes (the tag where it has none)."""
    m = MISTAKES.get(tag)
    return f"“{m.name}”" if m is not None else f"“{tag}”"


def _unseeable(part: Part, key: Any) -> list[Any]:
    """Answers no mistake can be told by: the key, and the key rounded to 2 and to 3
    significant figures (a right answer written with fewer digits)."""
    if part.kind not in ("matrix", "scalar"):
        return [key]
    return [key, *(_significant(key, digits) for digits in (2, 3))]


def _significant(v: Any, digits: int) -> Any:
    """``v`` rounded to ``digits`` significant figures, entry by entry."""
    a = np.asarray(v, dtype=np.float64)
    with np.errstate(divide="ignore"):
        scale = np.where(a == 0, 1.0, 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(a)))))
    out = np.round(a * scale) / scale
    return float(out) if np.ndim(v) == 0 else out


def _single_predictions(t: ExerciseType, setup: Setup, parts: tuple[Part, ...],
                        key: dict[str, Any], hidden: dict[str, _Seen], tags: tuple[str, ...],
                        strict: Collection[str], findings: Findings
                        ) -> tuple[dict[str, list[Prediction]], list[str]]:
    """Each mistake's value on each part it changes (beyond tolerance of every answer in
    ``hidden``), and the mistakes that change some part. Mistakes that coincide are all kept;
    two slip sets of one mistake that coincide are kept once. A ``strict`` mistake (one the
    draws are built to show) within the band of early rounding of the key is rejected, one
    equal to the key noted (``findings``)."""
    out: dict[str, list[Prediction]] = {p.name: [] for p in parts}
    changing: list[str] = []
    for tag in tags:
        for slips in MISTAKES[tag].variants:
            values = t.predict(setup, slips)
            for p in parts:
                v = values.get(p.name)
                if v is None:
                    continue
                v = as_read(p, to_grading_form(p.kind, v), key[p.name])
                if not _finite(p, v):
                    continue
                if _close(p, v, key[p.name]):
                    if tag in strict:
                        findings.equal.setdefault(tag, []).append(p.name)
                    continue
                if tag in strict and _rounding_close(p, v, key[p.name]):
                    findings.reject(f"{_named(tag)} gives a {p.name} within rounding of the "
                                    "key: it would pass for a right answer written early.")
                    continue
                if hidden[p.name].has(v) or reads_as_rounded_key(p, v, key[p.name]):
                    continue
                if any(q.tags == (tag,) and _close(p, v, q.value) for q in out[p.name]):
                    continue
                out[p.name].append(Prediction((tag,), v))
                if tag not in changing:
                    changing.append(tag)
    return out, changing


class _Seen:
    """Answers of one part, stacked by shape so one comparison tests them all."""

    def __init__(self, part: Part, values: list[Any]):
        self.part = part
        self.others: list[Any] = []
        self.stacks: dict[tuple[int, ...], np.ndarray] = {}
        for v in values:
            if self.part.kind not in ("matrix", "scalar"):
                self.others.append(v)
                continue
            v = np.asarray(v, dtype=np.float64)
            stack = self.stacks.get(v.shape)
            self.stacks[v.shape] = v[None] if stack is None else np.concatenate([stack, v[None]])

    def has(self, v: Any) -> bool:
        """Whether ``v`` is within the part's tolerance of one of the answers."""
        if self.part.kind not in ("matrix", "scalar"):
            return any(_close(self.part, v, o) for o in self.others)
        v = np.asarray(v, dtype=np.float64)
        stack = self.stacks.get(v.shape)
        if stack is None:
            return False
        close = np.abs(v - stack) <= self.part.atol + self.part.rtol * np.abs(stack)
        return bool(close.reshape(len(stack), -1).all(axis=1).any())


def _pair_predictions(t: ExerciseType, setup: Setup, parts: tuple[Part, ...],
                      tags: list[str], key: dict[str, Any]
                      ) -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
    """Each pair of ``tags`` (mistakes that change some part alone) made together."""
    for t1, t2 in itertools.combinations(tags, 2):
        for s1, s2 in itertools.product(MISTAKES[t1].variants, MISTAKES[t2].variants):
            values = t.predict(setup, s1 | s2)
            out: dict[str, Any] = {}
            for p in parts:
                if values.get(p.name) is not None:
                    v = as_read(p, to_grading_form(p.kind, values[p.name]), key[p.name])
                    if _finite(p, v):
                        out[p.name] = v
            yield (t1, t2), out


def as_read(part: Part, v: Any, key: Any) -> Any:
    """A vector prediction in the orientation its part asks for: answers are read that way
    (``answers.read_matrix``; a vector written the other way round is refused, not graded),
    so the mistake is recognised in the shape the student is made to write it in."""
    if part.kind != "matrix":
        return v
    shape, want = np.shape(v), np.shape(key)
    if shape != want and 1 in shape and 1 in want and np.size(v) == np.size(key):
        return np.reshape(v, want)
    return v


def _close(part: Part, a: Any, b: Any,
           rtol: float | None = None, atol: float | None = None) -> bool:
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


def _check_key(part: Part, v: Any, findings: Findings) -> None:
    if part.kind not in ("matrix", "scalar"):
        return
    a = np.atleast_2d(np.asarray(v, dtype=np.float64))
    if not np.all(np.isfinite(a)):
        raise Degenerate(f"The key's {part.name} is not finite.")  # nothing to ask, either way
    if np.max(np.abs(a)) > 1e3:
        findings.reject(f"The key's {part.name} is too large to work out by hand.")
    if np.all(np.abs(a) < 1e-3):
        findings.reject(f"The key's {part.name} is (nearly) zero: most mistakes leave it so.")
    if a.shape[0] == a.shape[1] > 1 and np.allclose(a, a.T, rtol=part.rtol, atol=part.atol):
        findings.reject(f"The key's {part.name} equals its own transpose: a transposed "
                        "answer cannot be told from it.")


def _check_healthy(setup: Setup, findings: Findings) -> None:
    """No saturated sigmoid/tanh, no layer of all-dead ReLUs."""
    if setup.network is None:
        return
    d = setup.plain
    for n, layer in enumerate(d.layers, start=1):
        act, a, z = layer.activation, layer.a, layer.z
        assert a is not None and z is not None  # a plain derivation computes every stage
        if act == "sigmoid" and np.any((a < 0.02) | (a > 0.98)):
            findings.reject(f"Layer {n}'s sigmoid saturates (an output below 0.02 or above "
                            "0.98): its derivative is nearly 0.")
        if act == "tanh" and np.any(np.abs(a) > 0.96):
            findings.reject(f"Layer {n}'s tanh saturates (|a| above 0.96): its derivative "
                            "is nearly 0.")
        if act == "relu" and not np.any(z > 0):  # a leaky unit still passes α·z back
            findings.reject(f"Layer {n}'s ReLUs are all dead (no z above 0): no error "
                            "passes back.")
        if act in ("relu", "leaky_relu") and np.any(np.abs(z) < 1e-9):
            findings.reject(f"Layer {n} has z = 0 at a ReLU kink, where the derivative "
                            "is undefined.")
