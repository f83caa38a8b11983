"""The learning loop's model: what a student knows, which misconceptions they hold, and
which problem to ask next.

Everything here is a pure function of *evidence*: what one graded submission says about
its student, part by part (``observe``). A ``StudentModel`` is a fold over a student's
evidence in the order they answered (``StudentModel.fold``), so it can always be rebuilt:
after a regrade, an override, or new parameters.

Two kinds of unknowns are tracked, each a probability:

* **Mastery per skill** (the steps of the chain rule, ``SKILLS``), by Bayesian knowledge
  tracing (Corbett & Anderson 1995). Each answered part is one opportunity for its skill:
  right (or right from the student's own earlier answers) counts as correct; anything
  else as wrong. With L the mastery, S the slip, G the guess and T the learning rate::

      P(L | right) = L(1−S) / (L(1−S) + (1−L)G)
      P(L | wrong) = LS / (LS + (1−L)(1−G))
      L'           = P(L | obs) + (1 − P(L | obs))·T

* **A belief per misconception** (every tag of the mistake library that has slips, so
  the engine predicts its answer). One submission is one observation per misconception m
  that the variant could reveal (some part's predicted answer for m differs from its
  key: the problem's predictions say where). A student who holds m applies it with
  probability h (consistency); anyone, holder or not, makes an unrecognised slip with
  probability s; a non-holder's answer matches m's prediction by chance with probability
  f. So the three outcomes have likelihood ratios (holder : non-holder)::

      m named on a part         LR = (h + (1−h)·f′) / f′
      clean where m would show  LR = 1 − h        (right, a slip, or another named mistake)
      only unexplained answers  LR = 1            (weak evidence for nothing)

  where f′ = 1 − (1−f)·Π(1 − h·b_k) over the other mistakes k the grader named as equally
  good explanations of the same answer (f′ = f when m alone explains it: an answer two
  mistakes explain is weaker evidence for each). Beliefs multiply their odds by the LR.
  Once a student has been shown a mistake (it was named), a holder drops it with
  probability r (BKT's learning transition, for misconceptions): b ← b·(1 − r).

The next problem (``choose``) maximises expected information gain, in bits, per answer
box: for a candidate variant v with parts P(v), revealable misconceptions R(v) and skills
K(v)::

      score(v) = [ Σ_{m ∈ R(v)} IG(b_m) + Σ_{k ∈ K(v)} IG(L_k) ] / |P(v)|^γ

      IG(p) = H(p) − Σ_o P(o) · H(p | o)      (H the binary entropy, o the outcomes above)

restricted, when the student probably holds some misconception (b ≥ ``LIKELY``), to the
variants that reveal the likeliest one: settle what they probably hold first.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

import numpy as np

from .mistakes import MISTAKES
from .problem import Variant
from .registry import DIFFICULTIES, catalogue, generate, get_type, reveal_sample

# --- skills -------------------------------------------------------------------------


@dataclass(frozen=True)
class Skill:
    """One step of the chain rule that exercises practise."""

    id: str
    name: str


SKILLS: tuple[Skill, ...] = (
    Skill("forward-pass", "Forward pass"),
    Skill("loss", "Loss"),
    Skill("output-error", "dC/da"),
    Skill("activation-derivative", "σ′(z)"),
    Skill("delta", "δ"),
    Skill("weight-gradient", "dC/dW"),
    Skill("bias-gradient", "dC/db"),
    Skill("weight-update", "Update"),
    Skill("backward-error", "Backward error"),
    Skill("batch", "Batch"),
    Skill("softmax-cross-entropy", "Softmax and cross-entropy"),
)
SKILL_NAMES: dict[str, str] = {s.id: s.name for s in SKILLS}

# A type that practises one skill in all its parts.
_TYPE_SKILL = {"batch-gradient": "batch", "softmax-cross-entropy": "softmax-cross-entropy"}
# Otherwise the part says which step it asks for (the names of CONTRACT §5).
_PART_SKILL = {
    "z": "forward-pass", "a": "forward-pass", "z1": "forward-pass", "a1": "forward-pass",
    "z2": "forward-pass", "a2": "forward-pass",
    "C": "loss",
    "dC_da": "output-error",
    "da_dz": "activation-derivative",
    "delta": "delta", "delta2": "delta",
    "delta1": "backward-error",
    "dC_dW": "weight-gradient", "dC_dW1": "weight-gradient", "dC_dW2": "weight-gradient",
    "dz_dw": "weight-gradient", "dC_dw": "weight-gradient", "expr": "weight-gradient",
    "dC_db": "bias-gradient", "dC_db1": "bias-gradient", "dC_db2": "bias-gradient",
    "W_new": "weight-update", "w_entry": "weight-update", "W1_new": "weight-update",
    "W2_new": "weight-update",
}
# concept-check asks one template's question; each is about one step.
_TEMPLATE_SKILL = {
    "gradient-shape": "weight-gradient", "outer-product": "weight-gradient",
    "update-rule": "weight-update", "update-number": "weight-update",
    "update-step": "weight-update",
    "loss-function": "loss", "loss-value": "loss",
    "loss-derivative": "output-error", "loss-gradient": "output-error",
    "delta-output": "delta", "delta-values": "delta",
    "sigmoid-derivative": "activation-derivative", "sigmoid-slopes": "activation-derivative",
    "chain-factors": "weight-gradient", "chain-number": "weight-gradient",
    "neuron-gradient": "weight-gradient",
    "send-back": "backward-error", "send-back-values": "backward-error",
    "hidden-delta": "backward-error", "hidden-delta-values": "backward-error",
    "hidden-weight-gradient": "weight-gradient", "hidden-weight-values": "weight-gradient",
    "batch-gradient": "batch", "batch-mean": "batch",
    "softmax-delta": "softmax-cross-entropy",
}


def skill_of(type_id: str, part: str, params: Mapping[str, Any] | None = None) -> str:
    """The skill a part of a type practises (``params``: the variant's, for concept-check)."""
    if type_id in _TYPE_SKILL:
        return _TYPE_SKILL[type_id]
    if part == "choice":
        return _TEMPLATE_SKILL.get(str((params or {}).get("template")), "weight-gradient")
    try:
        return _PART_SKILL[part]
    except KeyError:
        raise KeyError(f"no skill for part {part!r} of {type_id!r}") from None


# The misconceptions tracked: every mistake the engine can predict (has slips).
# arithmetic-slip and rounding are slips of care, recognised against the key: no belief.
MISCONCEPTIONS: tuple[str, ...] = tuple(m.tag for m in MISTAKES.values() if m.variants)
_CARE = frozenset({"arithmetic-slip", "rounding"})

# --- evidence -------------------------------------------------------------------------

Outcome = Literal["right", "carried", "slip", "mistake", "unexplained"]


@dataclass(frozen=True)
class PartEvidence:
    """What one graded part says: its skill, how it went, the mistakes named (each
    explanation the grader found, as tag tuples) and the misconceptions whose predicted
    answer for this part differs from the key (``revealable``). ``options`` is the number
    of choices of a choice part (its guess rate is 1/options), 0 for a computed answer."""

    part: str
    skill: str
    outcome: Outcome
    revealable: tuple[str, ...] = ()
    shown: tuple[tuple[str, ...], ...] = ()
    options: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"part": self.part, "skill": self.skill, "outcome": self.outcome,
                               "revealable": list(self.revealable)}
        if self.shown:
            out["shown"] = [list(e) for e in self.shown]
        if self.options:
            out["options"] = self.options
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PartEvidence:
        return cls(data["part"], data["skill"], data["outcome"],
                   tuple(data.get("revealable", ())),
                   tuple(tuple(e) for e in data.get("shown", ())), int(data.get("options", 0)))

    @property
    def correct(self) -> bool:
        """An opportunity answered right, for knowledge tracing."""
        return self.outcome in ("right", "carried")

    @cached_property
    def named(self) -> frozenset[str]:
        """Every tag of every explanation named for this part."""
        return frozenset(t for e in self.shown for t in e)

    def names(self, tag: str) -> bool:
        return tag in self.named


@dataclass(frozen=True)
class Evidence:
    """What one graded submission says about its student."""

    type: str
    difficulty: int
    parts: tuple[PartEvidence, ...]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "difficulty": self.difficulty,
                "parts": [p.to_json() for p in self.parts]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evidence:
        return cls(data["type"], int(data["difficulty"]),
                   tuple(PartEvidence.from_json(p) for p in data["parts"]))

    def revealable(self) -> set[str]:
        return {m for p in self.parts for m in p.revealable}


def revealable(variant: Variant) -> dict[str, tuple[str, ...]]:
    """Per part, the tracked misconceptions whose own (single) predicted answer differs
    from the key there: where a right answer is evidence against them."""
    out: dict[str, tuple[str, ...]] = {}
    for part in variant.parts:
        tags = {p.tags[0] for p in variant.predictions.get(part.name, ()) if len(p.tags) == 1}
        out[part.name] = tuple(m for m in MISCONCEPTIONS if m in tags)
    return out


def observe(variant: Variant, parts: Mapping[str, Mapping[str, Any]]) -> Evidence:
    """The evidence of one graded submission: ``parts`` is its result's parts (CONTRACT §4
    JSON, as ``Grade.to_json()["parts"]``)."""
    where = revealable(variant)
    out = []
    for part in variant.parts:
        r = parts.get(part.name)
        if r is None:
            continue
        tags = tuple(r.get("misconceptions", ()))
        shown: tuple[tuple[str, ...], ...] = ()
        outcome: Outcome
        if r.get("carried_forward"):  # right from the student's own (wrong) earlier answers
            outcome = "carried"
        elif r.get("correct"):
            outcome = "right"
        elif tags and set(tags) <= _CARE:
            outcome = "slip"
        elif tags:
            outcome = "mistake"
            shown = tuple(tuple(e) for e in r.get("explanations", ())) or (tags,)
        else:
            outcome = "unexplained"
        out.append(PartEvidence(part.name, skill_of(variant.type, part.name, variant.params),
                                outcome, where[part.name], shown, len(part.options)))
    return Evidence(variant.type, variant.difficulty, tuple(out))


# --- parameters ---------------------------------------------------------------------


@dataclass(frozen=True)
class Parameters:
    """The model's parameters; README "The learning loop" says where each comes from."""

    # Knowledge tracing, per skill.
    mastery_prior: float = 0.3  # L0
    learn: float = 0.1  # T: mastery gained per opportunity
    slip: float = 0.1  # S: a wrong answer although mastered
    guess: float = 0.02  # G for a computed answer (a choice part guesses 1/options)
    # Misconceptions.
    belief_prior: float = 0.1
    consistency: float = 0.85  # h: a holder applies it where it shows
    false_match: float = 0.02  # f: a non-holder's answer matches its prediction by chance
    unexplained: float = 0.1  # s: an answer nothing explains (for expected information)
    unlearn: float = 0.2  # r: a holder drops it once it has been named to them
    # Choosing the next problem.
    effort: float = 0.5  # γ: information is divided by (number of parts)^γ

    def to_json(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


DEFAULT_PARAMETERS = Parameters()

MASTERED = 0.95  # mastery at which a skill is shown as mastered
LIKELY = 0.5  # belief at which a misconception is shown as held
_EDGE = 1e-4  # beliefs and mastery stay inside [EDGE, 1 − EDGE]: never certain


def _clip(p: float) -> float:
    return min(1.0 - _EDGE, max(_EDGE, p))


def bkt_update(mastery: float, correct: bool, guess: float, p: Parameters) -> float:
    """Knowledge tracing: the mastery after one opportunity (posterior, then learning)."""
    if correct:
        post = mastery * (1 - p.slip) / (mastery * (1 - p.slip) + (1 - mastery) * guess)
    else:
        post = mastery * p.slip / (mastery * p.slip + (1 - mastery) * (1 - guess))
    return _clip(post + (1 - post) * p.learn)


def _guess(part: PartEvidence, p: Parameters) -> float:
    return 1.0 / part.options if part.options else p.guess


Signal = Literal["shown", "clean", "none"]


def signals(evidence: Evidence) -> dict[str, tuple[Signal, tuple[tuple[str, ...], ...]]]:
    """What one submission says about each misconception it concerns, in one pass: named on
    some part (with the first such part's explanations), else clean where it would have
    shown (a right part, a slip, another mistake). Tags it says nothing about are absent."""
    out: dict[str, tuple[Signal, tuple[tuple[str, ...], ...]]] = {}
    for q in evidence.parts:
        named = q.named
        for tag in named:
            if out.get(tag, ("none",))[0] != "shown":
                out[tag] = ("shown", q.shown)
        if q.outcome in ("right", "slip", "mistake"):
            for tag in q.revealable:
                if tag not in named:
                    out.setdefault(tag, ("clean", ()))
    return out


def signal(evidence: Evidence, tag: str) -> tuple[Signal, tuple[tuple[str, ...], ...]]:
    """What one submission says about one misconception (``signals``): shown, clean or none."""
    return signals(evidence).get(tag, ("none", ()))


def likelihood_ratio(sig: Signal, tag: str, explanations: Sequence[Sequence[str]],
                     beliefs: Mapping[str, float], p: Parameters) -> float:
    """P(signal | holds tag) / P(signal | does not), as in the module's docstring."""
    h, f = p.consistency, p.false_match
    if sig == "none":
        return 1.0
    if sig == "clean":
        return 1.0 - h
    others = {k for e in explanations if tag not in e for k in e if k in beliefs}
    chance = 1.0 - (1.0 - f) * math.prod(1.0 - h * beliefs[k] for k in others)
    return (h + (1.0 - h) * chance) / chance


def belief_update(belief: float, lr: float) -> float:
    """Bayes in odds form: posterior odds = prior odds × likelihood ratio."""
    odds = belief / (1.0 - belief) * lr
    return _clip(odds / (1.0 + odds))


# --- the student model --------------------------------------------------------------


@dataclass(frozen=True)
class StudentModel:
    """Mastery per skill and belief per misconception, with how much evidence each has."""

    mastery: dict[str, float]
    beliefs: dict[str, float]
    opportunities: dict[str, int] = field(default_factory=dict)  # per skill
    shown: dict[str, int] = field(default_factory=dict)  # submissions naming each tag
    tested: dict[str, int] = field(default_factory=dict)  # submissions that could show it
    submissions: int = 0
    parameters: Parameters = DEFAULT_PARAMETERS

    @classmethod
    def new(cls, p: Parameters = DEFAULT_PARAMETERS) -> StudentModel:
        return cls({s.id: p.mastery_prior for s in SKILLS},
                   dict.fromkeys(MISCONCEPTIONS, p.belief_prior), parameters=p)

    @classmethod
    def fold(cls, evidence: Iterable[Evidence], p: Parameters = DEFAULT_PARAMETERS
             ) -> StudentModel:
        """The model after each submission's evidence in turn (in the order answered)."""
        model = cls.new(p)
        for e in evidence:
            model = model.update(e)
        return model

    def update(self, evidence: Evidence) -> StudentModel:
        """The model after one more graded submission."""
        p = self.parameters
        mastery, opportunities = dict(self.mastery), dict(self.opportunities)
        for q in evidence.parts:
            if q.skill in mastery:
                mastery[q.skill] = bkt_update(mastery[q.skill], q.correct, _guess(q, p), p)
                opportunities[q.skill] = opportunities.get(q.skill, 0) + 1
        beliefs, shown, tested = dict(self.beliefs), dict(self.shown), dict(self.tested)
        for tag, (sig, explanations) in signals(evidence).items():
            if tag not in beliefs:
                continue  # a tag no belief is kept for (a slip of care, a distractor's own)
            # Every likelihood uses the beliefs before this submission (``self.beliefs``).
            b = belief_update(self.beliefs[tag],
                              likelihood_ratio(sig, tag, explanations, self.beliefs, p))
            tested[tag] = tested.get(tag, 0) + 1
            if sig == "shown":
                shown[tag] = shown.get(tag, 0) + 1
                b = _clip(b * (1.0 - p.unlearn))
            beliefs[tag] = b
        return replace(self, mastery=mastery, beliefs=beliefs, opportunities=opportunities,
                       shown=shown, tested=tested, submissions=self.submissions + 1)

    def likely(self, threshold: float = LIKELY) -> list[str]:
        """The misconceptions probably held, likeliest first."""
        held = [m for m in MISCONCEPTIONS if self.beliefs[m] >= threshold]
        return sorted(held, key=lambda m: -self.beliefs[m])

    def weakest(self) -> list[str]:
        """The skills not yet mastered, weakest first."""
        return sorted((s for s in self.mastery if self.mastery[s] < MASTERED),
                      key=lambda s: self.mastery[s])

    def to_json(self) -> dict[str, Any]:
        return {
            "submissions": self.submissions,
            "skills": [{"id": s.id, "name": s.name, "mastery": self.mastery[s.id],
                        "opportunities": self.opportunities.get(s.id, 0),
                        "mastered": self.mastery[s.id] >= MASTERED} for s in SKILLS],
            "misconceptions": [
                {"tag": m, "name": MISTAKES[m].name, "belief": self.beliefs[m],
                 "shown": self.shown.get(m, 0), "tested": self.tested.get(m, 0),
                 "likely": self.beliefs[m] >= LIKELY} for m in MISCONCEPTIONS],
        }


# --- expected information and the next problem -----------------------------------------


def entropy(p: float) -> float:
    """Binary entropy in bits."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def _gain(prior: float, outcomes: Sequence[tuple[float, float]]) -> float:
    """H(prior) − Σ P(o)·H(posterior | o), outcomes given as (P(o | holds), P(o | not))."""
    total = entropy(prior)
    for yes, no in outcomes:
        po = prior * yes + (1 - prior) * no
        if po > 0:
            total -= po * entropy(prior * yes / po)
    return max(0.0, total)


def belief_gain(belief: float, p: Parameters) -> float:
    """Expected information (bits) about one misconception from one variant that can
    reveal it: outcomes shown, clean, none (an unexplained answer, probability s)."""
    h, f, s = p.consistency, p.false_match, p.unexplained
    return _gain(belief, [((1 - s) * (h + (1 - h) * f), (1 - s) * f),
                          ((1 - s) * (1 - h) * (1 - f), (1 - s) * (1 - f)),
                          (s, s)])


def mastery_gain(mastery: float, guess: float, p: Parameters) -> float:
    """Expected information (bits) about one skill's mastery from one opportunity."""
    return _gain(mastery, [(1 - p.slip, guess), (p.slip, 1 - guess)])


@dataclass(frozen=True)
class Candidate:
    """A problem that could come next: what it asks and what it can reveal. A ``Variant``
    is one (``candidate``); a type and difficulty's sampled profile is another."""

    type: str
    difficulty: int
    parts: int
    skills: frozenset[str]
    reveals: Mapping[str, float]  # misconception -> probability that it can show
    seed: int | None = None
    options: int = 0


def candidate(variant: Variant) -> Candidate:
    """A drawn variant as a candidate: what exactly it can reveal."""
    where = revealable(variant)
    return Candidate(
        variant.type, variant.difficulty, len(variant.parts),
        frozenset(skill_of(variant.type, q.name, variant.params) for q in variant.parts),
        {m: 1.0 for tags in where.values() for m in tags}, variant.seed,
        max((len(q.options) for q in variant.parts), default=0))


def information(model: StudentModel, c: Candidate) -> float:
    """The expected information of candidate ``c`` for this student, per unit of effort
    (the module's docstring has the formula)."""
    p = model.parameters
    guess = 1.0 / c.options if c.options else p.guess
    bits = sum(share * belief_gain(model.beliefs[m], p)
               for m, share in c.reveals.items() if m in model.beliefs)
    bits += sum(mastery_gain(model.mastery[k], guess, p) for k in c.skills if k in model.mastery)
    return bits / c.parts ** p.effort


def target(model: StudentModel) -> str | None:
    """The misconception to settle first: the likeliest one held, if any."""
    held = model.likely()
    return held[0] if held else None


def choose(model: StudentModel, candidates: Iterable[Candidate]) -> Candidate | None:
    """The candidate with the most expected information; when the student probably holds a
    misconception, only among those that can reveal it. None when there is no candidate."""
    pool = list(candidates)
    focus = target(model)
    if focus is not None:
        revealing = [c for c in pool if c.reveals.get(focus, 0.0) > 0]
        pool = revealing or pool
    if not pool:
        return None
    return max(pool, key=lambda c: information(model, c))


# --- a student's record, for "transposed the gradient in 3 of your last 5 dC/dW answers" --


@dataclass(frozen=True)
class Record:
    """One misconception's recent record: over the last answers of its most telling
    skill where it could show, which named it (``refs`` identify the submissions)."""

    tag: str
    skill: str
    named: tuple[Any, ...]
    of: tuple[Any, ...]

    def sentence(self, whose: str = "your") -> str:
        """"Transposed gradient in 3 of your last 5 dC/dW answers" (``whose``: "their", for
        the staff)."""
        m = MISTAKES[self.tag]
        return (f"{m.name} in {len(self.named)} of {whose} last {len(self.of)} "
                f"{SKILL_NAMES[self.skill]} answers")


def records(history: Sequence[tuple[Any, Evidence]], last: int = 5) -> dict[str, Record]:
    """The record of every tag over ``history`` (oldest first, each with a reference such
    as a submission id): in the skill where it was named most, the ``last`` parts that
    could show it, and which of them named it. Tags that never could show are absent."""
    by_tag: dict[str, dict[str, list[tuple[Any, bool]]]] = {}
    for ref, e in history:
        for q in e.parts:
            for tag in q.named.union(q.revealable):
                by_tag.setdefault(tag, {}).setdefault(q.skill, []).append((ref, tag in q.named))
    out = {}
    for tag, by_skill in by_tag.items():
        def telling(k: str, by_skill: dict[str, list[tuple[Any, bool]]] = by_skill
                    ) -> tuple[int, int]:
            return sum(n for _, n in by_skill[k][-last:]), len(by_skill[k])

        skill = max(by_skill, key=telling)
        recent = by_skill[skill][-last:]
        out[tag] = Record(tag, skill, tuple(ref for ref, n in recent if n),
                          tuple(ref for ref, _ in recent))
    return out


def record(tag: str, history: Sequence[tuple[Any, Evidence]], last: int = 5) -> Record | None:
    """The record of one tag (``records``); None where it never could show."""
    return records(history, last).get(tag)


# --- drawing the next problem -------------------------------------------------------


def profile(type_id: str, difficulty: int) -> Candidate:
    """A type and difficulty as a candidate: each misconception weighted by the share of
    sampled variants that can reveal it (a variant's exact set is known once drawn)."""
    sample = reveal_sample(type_id, difficulty)
    t = get_type(type_id)
    counts: dict[str, int] = {}
    skills: set[str] = set()
    for setup in sample:
        skills.update(skill_of(type_id, part, setup.params) for part in setup.parts)
        for m in {m for tags in setup.parts.values() for m in tags if m in MISCONCEPTIONS}:
            counts[m] = counts.get(m, 0) + 1
    n = max(1, len(sample))
    return Candidate(type_id, difficulty, len(t.parts), frozenset(skills),
                     {m: c / n for m, c in counts.items()},
                     options=max((s.options for s in sample), default=0))


Seen = Collection[tuple[str, int, int]]  # (type, difficulty, seed) of every variant seen


def next_problem(model: StudentModel, seen: Seen, rng: np.random.Generator,
                 draws: int = 3, types: Sequence[str] | None = None) -> Variant:
    """The practice variant to ask next: ``choose`` first among the types and difficulties
    (by their profiles), then among ``draws`` fresh variants of the best of them, drawn
    from public seeds the student has never seen. With a target misconception, a type
    whose draws all fail to reveal it gives way to the next best type."""
    ids = list(types) if types is not None else [t.id for t in catalogue()]
    profiles = [profile(t, d) for t in ids for d in DIFFICULTIES]
    focus = target(model)
    ranked = sorted(profiles, key=lambda c: -information(model, c))
    if focus is not None:
        ranked.sort(key=lambda c: c.reveals.get(focus, 0.0) == 0)  # stable: revealing first
    fallback: Variant | None = None
    for best in ranked:
        variants: list[Variant] = []
        while len(variants) < draws:
            seed = int(rng.integers(0, PRACTICE_SEEDS))
            if (best.type, best.difficulty, seed) not in seen:
                variants.append(generate(best.type, seed, best.difficulty))
        by_seed = {v.seed: v for v in variants}
        chosen = choose(model, [candidate(v) for v in variants])
        assert chosen is not None and chosen.seed is not None
        variant = by_seed[chosen.seed]
        if focus is None or chosen.reveals.get(focus, 0.0) > 0:
            return variant
        fallback = fallback or variant
    assert fallback is not None
    return fallback


# Public seeds the next problem is drawn from: far more than anyone answers, and short
# enough to read in a practice page's address.
PRACTICE_SEEDS = 10**9


# --- fitting knowledge tracing to data ------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """Knowledge-tracing parameters fitted to answer sequences, with their log-likelihood
    and that of the parameters in use, over ``answers`` opportunities in ``sequences``."""

    mastery_prior: float
    learn: float
    slip: float
    guess: float
    log_likelihood: float
    current_log_likelihood: float
    sequences: int
    answers: int

    def parameters(self, base: Parameters = DEFAULT_PARAMETERS) -> Parameters:
        return replace(base, mastery_prior=self.mastery_prior, learn=self.learn,
                       slip=self.slip, guess=self.guess)

    def to_json(self) -> dict[str, float | int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# The grid searched by ``fit_knowledge_tracing`` (BKT's brute-force fit, Baker et al. 2010):
# guess and slip below 1/2, so that a right answer is evidence of mastery.
_GRID = {
    "mastery_prior": (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    "learn": (0.01, 0.03, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4),
    "slip": (0.01, 0.03, 0.05, 0.1, 0.15, 0.2, 0.3),
    "guess": (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3),
}


def sequences(history: Iterable[Evidence]) -> dict[str, list[bool]]:
    """One student's answers per skill, in order (right or not): what BKT is fitted to.
    Choice parts are left out: their guess rate is fixed by their options."""
    out: dict[str, list[bool]] = {}
    for e in history:
        for q in e.parts:
            if not q.options:
                out.setdefault(q.skill, []).append(q.correct)
    return out


def fit_knowledge_tracing(data: Iterable[Sequence[bool]],
                          current: Parameters = DEFAULT_PARAMETERS) -> Fit | None:
    """The grid point of (L0, T, S, G) of highest likelihood for these answer sequences
    (one per student and skill), every grid point run at once. None without any answer."""
    seqs = [list(s) for s in data if len(s)]
    if not seqs:
        return None
    grid = np.array(np.meshgrid(*_GRID.values(), indexing="ij")).reshape(4, -1)
    grid = np.concatenate([grid, [[current.mastery_prior], [current.learn], [current.slip],
                                  [current.guess]]], axis=1)
    l0, learn, slip, guess = grid
    total = np.zeros(grid.shape[1])
    longest = max(len(s) for s in seqs)
    # Step t of every sequence at once: a (sequences × grid) array of masteries.
    answers = np.full((len(seqs), longest), -1, dtype=np.int8)
    for i, s in enumerate(seqs):
        answers[i, :len(s)] = s
    mastery = np.tile(l0, (len(seqs), 1))
    for t in range(longest):
        present = answers[:, t] >= 0
        right = (answers[:, t] == 1)[:, None]
        p_right = mastery * (1 - slip) + (1 - mastery) * guess
        p_obs = np.where(right, p_right, 1 - p_right)
        total += np.log(np.where(present[:, None], p_obs, 1.0)).sum(axis=0)
        post = np.where(right, mastery * (1 - slip), mastery * slip) / p_obs
        mastery = np.where(present[:, None], post + (1 - post) * learn, mastery)
    best = int(np.argmax(total[:-1]))
    return Fit(float(l0[best]), float(learn[best]), float(slip[best]), float(guess[best]),
               float(total[best]), float(total[-1]), len(seqs),
               int(sum(len(s) for s in seqs)))
