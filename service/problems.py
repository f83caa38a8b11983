"""A student's stored problems: a practice draw or the variant of an assignment slot.

The API and the pages both come here, so a variant is drawn in one place. A stored
problem is found before anything is generated: drawing a variant costs far more than
looking one up.

A graded variant's seed is derived, not drawn (CONTRACT §11): an HMAC of the app's
secret with the course, assignment, slot and student. It is stable for the student, lies
beyond every seed a caller may pass (``ex.SEED_MAX``), and is kept only inside the stored
variant record; the ``seed`` column holds practice seeds only.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import exercises as ex

from . import assignments
from .db import db
from .models import Problem, Slot
from .policy import Person


def practice(user: Person, type_id: str, seed: int, difficulty: int) -> Problem:
    """The user's practice problem (type, seed, difficulty), drawn and stored if new.

    Raises UnknownExerciseType and InvalidDifficulty.
    """
    t = ex.get_type(type_id)
    if difficulty not in ex.DIFFICULTIES:
        raise ex.InvalidDifficulty(difficulty)
    problem = db.session.scalar(
        select(Problem).where(
            Problem.owner_id == user.id,
            Problem.slot_id.is_(None),
            Problem.type == t.id,
            Problem.type_version == t.version,
            Problem.seed == seed,
            Problem.difficulty == difficulty,
        )
    )
    if problem is None:
        problem = _new(ex.generate(type_id, seed, difficulty), user, attempts_allowed=None)
        db.session.add(problem)
        db.session.commit()
    return problem


def of_slot(slot: Slot, user: Person) -> Problem | None:
    """The user's variant of an assignment slot, if drawn."""
    return db.session.scalar(
        select(Problem).where(Problem.slot_id == slot.id, Problem.owner_id == user.id)
    )


def draw_for_slot(slot: Slot, user: Person) -> Problem:
    """The user's variant of a slot: drawn on the first call, the same on every later one.

    A slot with the instructor's own network gives every student the variant fitted on it
    (the same numbers for all; no seed); else each student's variant is drawn from their
    graded seed.
    """
    problem = of_slot(slot, user)
    if problem is not None:
        return problem
    if slot.network is not None:
        variant = fitted_variant(slot.exercise_type, json.dumps(slot.network, sort_keys=True))
    else:
        seed = graded_seed(current_app.config["SECRET_KEY"], slot.assignment.course_id,
                           slot.assignment_id, slot.id, user.id)
        variant = ex.generate(slot.exercise_type, seed, slot.difficulty)
    own = assignments.override_of(slot.assignment_id, user.id)
    extra = own.extra_attempts if own is not None else 0
    db.session.add(_new(variant, user, attempts_allowed=slot.assignment.attempts_allowed + extra,
                        slot=slot))
    try:
        db.session.commit()
    except IntegrityError:  # drawn at the same moment by another request: keep that one
        db.session.rollback()
    problem = of_slot(slot, user)
    assert problem is not None
    return problem


@functools.lru_cache(maxsize=64)
def fitted_variant(type_id: str, network_json: str) -> ex.Variant:
    """The variant of a type on a slot's network (JSON text, so it can key the cache): one
    fitting serves every student of the slot. The slot was checked to fit when it was added."""
    fitted = ex.fit_variant(ex.get_type(type_id), ex.parse_network(json.loads(network_json)))
    if fitted is None:
        raise ValueError(f"{type_id} cannot ask about this slot's network")
    return fitted.variant


GRADED_SEED_LABEL = "backprop-quiz graded variant v1"


def graded_seed(secret: str | bytes, course_id: int, assignment_id: int, slot_id: int,
                student_id: int) -> int:
    """The secret seed of a student's variant of a slot: ``ex.GRADED_SEED_BASE`` plus the
    first 128 bits of HMAC-SHA256(secret, label, course, assignment, slot, student).

    The label keeps this use of the secret apart from every other; the NUL-separated
    decimal ids cannot run into one another.
    """
    key = secret.encode() if isinstance(secret, str) else secret
    message = "\0".join(
        [GRADED_SEED_LABEL, *(str(n) for n in (course_id, assignment_id, slot_id, student_id))]
    )
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return ex.GRADED_SEED_BASE + int.from_bytes(digest[:16], "big")


def _new(variant: ex.Variant, user: Person, *, attempts_allowed: int | None,
         slot: Slot | None = None) -> Problem:
    return Problem(
        # A graded problem's seed is secret: it stays in the variant record only.
        type=variant.type, type_version=variant.type_version,
        seed=None if slot is not None else variant.seed,
        difficulty=variant.difficulty, variant=variant.to_record(), owner_id=user.id,
        slot=slot, attempts_allowed=attempts_allowed,
    )
