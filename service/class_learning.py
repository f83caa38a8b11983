"""The learning models of a course's students as its staff see them: a heatmap of beliefs
(misconceptions × students), the students most in need of help, and one student's model
with the evidence behind each misconception they probably hold.

Each model is the student's own (``service.learning``): a fold over all their graded work,
practice and other courses included. What the staff may *open* is narrower: only the
submissions of this course are linked; the others are counted (CONTRACT §11: staff see
their course's submissions, not a student's practice or another course's work).

Who may ask is the caller's business (``policy``), as in ``stats``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from statistics import fmean

from exercises import learning
from exercises.mistakes import MISTAKES

from .learning import Answered, Progress, course_progress, progress
from .models import User

# The need rule, stated once: the page shows it and ``need_key`` implements it.
NEED_RULE = (
    "Students are ranked by how many misconceptions they probably hold (belief of 50% or "
    "more), then by the sum of their beliefs over every misconception, then by the lowest "
    "mean mastery of the skills they have practised; students with no graded work come last."
)
IN_NEED = 10  # students listed as most in need of help (those probably holding one)
WEAKEST = 3  # weakest practised skills named per student


def practised(model: learning.StudentModel) -> list[str]:
    """The skills the student has answered at least once, weakest first (a skill never
    practised keeps its prior, which says nothing about this student)."""
    done = [s.id for s in learning.SKILLS if model.opportunities.get(s.id, 0) > 0]
    return sorted(done, key=lambda s: model.mastery[s])


def mean_mastery(model: learning.StudentModel) -> float | None:
    """Mean mastery over the practised skills; None when none is."""
    done = practised(model)
    return fmean(model.mastery[s] for s in done) if done else None


def need_key(model: learning.StudentModel) -> tuple[bool, int, float, float]:
    """``NEED_RULE`` as a sort key, most in need first: no graded work last, then more
    likely misconceptions, a larger sum of beliefs, a lower mean mastery."""
    mean = mean_mastery(model)
    return (model.submissions == 0, -len(model.likely()), -sum(model.beliefs.values()),
            1.0 if mean is None else mean)


@dataclass(frozen=True)
class Cell:
    """One student's belief in one misconception, for the heatmap. ``level`` (0–10) is
    the colour's intensity; ``tested``: some answer of theirs could have shown it."""

    tag: str
    belief: float
    tested: bool

    @property
    def likely(self) -> bool:
        return self.belief >= learning.LIKELY

    @property
    def level(self) -> int:
        return min(10, max(0, round(self.belief * 10)))


@dataclass(frozen=True)
class StudentNeed:
    """A student of the course, their model and their place in the need order (1 first)."""

    user: User
    progress: Progress
    rank: int

    @property
    def model(self) -> learning.StudentModel:
        return self.progress.model

    @property
    def likely(self) -> list[str]:
        return self.model.likely()

    @property
    def mean_mastery(self) -> float | None:
        return mean_mastery(self.model)

    @property
    def weakest(self) -> list[str]:
        """Practised skills not mastered, weakest first, at most ``WEAKEST``."""
        return [s for s in practised(self.model)
                if self.model.mastery[s] < learning.MASTERED][:WEAKEST]

    def cells(self, columns: list[str]) -> list[Cell]:
        m = self.model
        return [Cell(t, m.beliefs[t], m.tested.get(t, 0) > 0 or m.shown.get(t, 0) > 0)
                for t in columns]


@dataclass(frozen=True)
class ClassLearning:
    """The heatmap: its columns (misconceptions) and rows (students, most in need first)."""

    columns: list[str]
    students: list[StudentNeed]

    def in_need(self, n: int = IN_NEED) -> list[StudentNeed]:
        """The first ``n`` students by the need rule among those probably holding some
        misconception: a student who holds none is not "in need" however they rank."""
        return [s for s in self.students if s.likely][:n]


def class_learning(course_id: int) -> ClassLearning:
    """Every student of the course with their model, ordered by ``NEED_RULE`` (ties in
    roster order); columns: the misconceptions likely for some student or tested for
    some, the most widely held first (then the highest belief, then the library's order)."""
    rows = course_progress(course_id)
    ranked = sorted(rows, key=lambda row: need_key(row[1].model))  # stable: roster order
    students = [StudentNeed(user, p, i) for i, (user, p) in enumerate(ranked, start=1)]
    order = {t: i for i, t in enumerate(learning.MISCONCEPTIONS)}
    columns = [
        t for t in learning.MISCONCEPTIONS
        if any(s.model.beliefs[t] >= learning.LIKELY or s.model.tested.get(t, 0) > 0
               for s in students)
    ]
    columns.sort(key=lambda t: (
        -sum(s.model.beliefs[t] >= learning.LIKELY for s in students),
        -max(s.model.beliefs[t] for s in students),
        order[t],
    ))
    return ClassLearning(columns, students)


# --- one student ------------------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """A misconception the student probably holds, with the record behind it: the
    submissions of this course that named it (``linked``, which the staff may open) and
    how many others did (practice or another course: counted, not linked)."""

    tag: str
    belief: float
    record: learning.Record | None
    linked: list[Answered]
    elsewhere: int

    @property
    def name(self) -> str:
        return MISTAKES[self.tag].name

    @property
    def sentence(self) -> str | None:
        return None if self.record is None else self.record.sentence("their")


@dataclass(frozen=True)
class SkillRow:
    id: str
    name: str
    mastery: float
    opportunities: int

    @property
    def mastered(self) -> bool:
        return self.mastery >= learning.MASTERED


@dataclass(frozen=True)
class StudentLearning:
    """One student's model as their course's staff see it."""

    progress: Progress
    held: list[Held]

    @property
    def submissions(self) -> int:
        return self.progress.model.submissions

    @property
    def skills(self) -> list[SkillRow]:
        """Every skill, practised ones first (weakest first), then the rest in order."""
        m = self.progress.model
        done = practised(m)
        rest = [s.id for s in learning.SKILLS if s.id not in done]
        return [SkillRow(s, learning.SKILL_NAMES[s], m.mastery[s], m.opportunities.get(s, 0))
                for s in done + rest]


def held_in(p: Progress, course_id: int) -> list[Held]:
    """The likely misconceptions of ``p``, likeliest first, each with the submissions that
    named it split into this course's (linked) and the rest (counted)."""
    by_id: dict[uuid.UUID, Answered] = {a.submission_id: a for a in p.history}
    out = []
    for tag in p.model.likely():
        r = p.records.get(tag)
        named = [by_id[ref] for ref in r.named if ref in by_id] if r is not None else []
        linked = [a for a in named if a.course_id == course_id]
        out.append(Held(tag, p.model.beliefs[tag], r, linked, len(named) - len(linked)))
    return out


def student_learning(course_id: int, user_id: int) -> StudentLearning:
    """The member's model from all their graded work, for the course's staff page."""
    p = progress(user_id)
    return StudentLearning(p, held_in(p, course_id))
