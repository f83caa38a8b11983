"""API v1 twins of the statistics pages: an assignment's statistics per slot, the course
overview, the class's mistakes across the course, each student's learning model, and one
student's work (staff only)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

import exercises as ex

from .. import class_learning, schemas
from .. import stats as reads
from ..errors import APIError
from ..inputs import MAX_ID
from .common import bp, responds
from .courses import staff_assignment, taught_course


class MistakeCount(Schema):
    tag = fields.String(required=True)
    name = fields.String(required=True)
    explanation = fields.String(required=True)
    students = fields.Integer(required=True, metadata={"description": "students who made it"})


class SolvedOnAttempt(Schema):
    attempt = fields.Integer(required=True)
    students = fields.Integer(required=True, metadata={"description": "first solved on it"})


class Discrimination(Schema):
    index = fields.Float(required=True, metadata={"description": "D = p_upper - p_lower"})
    group_size = fields.Integer(
        required=True, metadata={"description": "n_g = max(1, round(0.27 N)), halves up"}
    )
    p_upper = fields.Float(required=True)
    p_lower = fields.Float(required=True)


class SlotStats(Schema):
    position = fields.Integer(required=True)
    exercise_type = fields.String(required=True)
    title = fields.String(required=True)
    difficulty = fields.Integer(required=True)
    points = fields.Float(required=True)
    students = fields.Integer(
        required=True, metadata={"description": "enrolled students with a graded submission"}
    )
    submissions = fields.Integer(required=True, metadata={"description": "graded submissions"})
    mean_best_score = fields.Float(allow_none=True)
    solved = fields.Integer(required=True, metadata={"description": "students with full marks"})
    solved_fraction = fields.Float(allow_none=True)
    attempts_to_solve = fields.List(fields.Nested(SolvedOnAttempt), required=True)
    median_seconds_to_solve = fields.Float(
        allow_none=True, metadata={"description": "from first view to the solving attempt"}
    )
    discrimination = fields.Nested(
        Discrimination, allow_none=True,
        metadata={"description": "upper-lower 27% index against the assignment total"},
    )
    point_biserial = fields.Float(
        allow_none=True, metadata={"description": "r_pb = (M1 - M0) / s_n * sqrt(p q)"}
    )
    misconceptions = fields.Dict(
        keys=fields.String(), values=fields.Integer(),
        metadata={"description": "tag -> students who made it (once per student)"},
    )
    mistakes = fields.List(fields.Nested(MistakeCount), required=True)


class AssignmentStats(Schema):
    assignment_id = fields.Integer(required=True)
    students = fields.Integer(required=True, metadata={"description": "N of the indices"})
    slots = fields.List(fields.Nested(SlotStats), required=True)


def mistake_json(m: reads.MistakeCount) -> dict[str, Any]:
    return {"tag": m.tag, "name": m.name, "explanation": m.explanation, "students": m.students}


def slot_json(s: reads.SlotStats) -> dict[str, Any]:
    d = s.discrimination
    return {
        "position": s.slot.position,
        "exercise_type": s.slot.exercise_type,
        "title": s.title,
        "difficulty": s.slot.difficulty,
        "points": s.slot.points,
        "students": s.students,
        "submissions": s.submissions,
        "mean_best_score": s.mean_best_score,
        "solved": s.solved,
        "solved_fraction": s.solved_fraction,
        "attempts_to_solve": [{"attempt": a, "students": n} for a, n in s.attempts_to_solve],
        "median_seconds_to_solve": s.median_seconds_to_solve,
        "discrimination": None if d is None else {
            "index": d.index, "group_size": d.group_size,
            "p_upper": d.p_upper, "p_lower": d.p_lower,
        },
        "point_biserial": s.point_biserial,
        "misconceptions": {m.tag: m.students for m in s.mistakes},
        "mistakes": [mistake_json(m) for m in s.mistakes],
    }


@bp.route("/courses/<int:course_id>/assignments/<int:assignment_id>/stats")
class AssignmentStatsView(MethodView):
    @bp.response(200, AssignmentStats)
    @responds(401, 404)
    def get(self, course_id: int, assignment_id: int) -> dict[str, Any]:
        """Per slot: attempted, mean best score, solved, attempts to solve, median time to
        solve, discrimination indices, and the students who made each mistake (staff only)."""
        stats = reads.assignment_stats(staff_assignment(course_id, assignment_id))
        return {
            "assignment_id": assignment_id,
            "students": stats.students,
            "slots": [slot_json(s) for s in stats.slots],
        }


class AssignmentOverview(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    mode = fields.String(required=True)
    published = fields.Boolean(required=True)
    due_at = fields.DateTime(allow_none=True)
    slots = fields.Integer(required=True)
    points = fields.Float(required=True)
    students = fields.Integer(required=True, metadata={"description": "with a graded submission"})
    mean_points = fields.Float(allow_none=True, metadata={"description": "after the late policy"})


class SectionCount(Schema):
    section = fields.String(required=True)
    students = fields.Integer(required=True)


class RosterCounts(Schema):
    students = fields.Integer(required=True)
    tas = fields.Integer(required=True)
    instructors = fields.Integer(required=True)
    sections = fields.List(fields.Nested(SectionCount), required=True)


class CourseOverview(Schema):
    course_id = fields.Integer(required=True)
    assignments = fields.List(fields.Nested(AssignmentOverview), required=True)
    roster = fields.Nested(RosterCounts, required=True)
    top_mistakes = fields.List(fields.Nested(MistakeCount), required=True)


@bp.route("/courses/<int:course_id>/overview")
class CourseOverviewView(MethodView):
    @bp.response(200, CourseOverview)
    @responds(401, 404)
    def get(self, course_id: int) -> dict[str, Any]:
        """The course at a glance: assignments with their mean score, the roster's counts,
        the class's top mistakes (staff only)."""
        course = taught_course(course_id)
        view = reads.overview(course)
        r = view.roster
        return {
            "course_id": course.id,
            "assignments": [
                {
                    "id": row.assignment.id, "title": row.assignment.title,
                    "mode": row.assignment.mode.value, "published": row.assignment.published,
                    "due_at": row.assignment.due_at, "slots": len(row.assignment.slots),
                    "points": row.points, "students": row.students, "mean_points": row.mean_points,
                }
                for row in view.assignments
            ],
            "roster": {
                "students": r.students, "tas": r.tas, "instructors": r.instructors,
                "sections": [{"section": name, "students": n} for name, n in r.sections],
            },
            "top_mistakes": [mistake_json(m) for m in view.top_mistakes],
        }


class CourseMistakeCount(MistakeCount):
    per_assignment = fields.Dict(
        keys=fields.String(), values=fields.Integer(),
        metadata={"description": "assignment id -> students who made it there"},
    )


class CourseMisconceptions(Schema):
    course_id = fields.Integer(required=True)
    students = fields.Integer(required=True, metadata={"description": "enrolled students"})
    mistakes = fields.List(fields.Nested(CourseMistakeCount), required=True)


@bp.route("/courses/<int:course_id>/misconceptions")
class CourseMisconceptionsView(MethodView):
    @bp.response(200, CourseMisconceptions)
    @responds(401, 404)
    def get(self, course_id: int) -> dict[str, Any]:
        """Each named mistake: students who made it at least once, in the course and per
        assignment, most first (staff only)."""
        course = taught_course(course_id)
        return {
            "course_id": course.id,
            "students": reads.roster_summary(course.id).students,
            "mistakes": [
                mistake_json(row.mistake)
                | {"per_assignment": {str(a): n for a, n in row.per_assignment.items()}}
                for row in reads.course_mistakes(course)
            ],
        }


class CourseLearningColumn(Schema):
    tag = fields.String(required=True)
    name = fields.String(required=True)


class CourseLearningStudent(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    need_rank = fields.Integer(
        required=True, metadata={"description": "1 = most in need of help, by the rule"}
    )
    in_need = fields.Boolean(
        required=True, metadata={"description": "listed as most in need: probably holds one"}
    )
    submissions = fields.Integer(required=True, metadata={"description": "graded, anywhere"})
    likely = fields.List(
        fields.String(), required=True,
        metadata={"description": "tags with belief >= 0.5, likeliest first"},
    )
    beliefs = fields.Dict(
        keys=fields.String(), values=fields.Float(), required=True,
        metadata={"description": "tag -> P(holds it), every tracked misconception"},
    )
    tested = fields.List(
        fields.String(), required=True,
        metadata={"description": "tags some answer of theirs could have shown"},
    )
    mastery = fields.Dict(
        keys=fields.String(), values=fields.Float(), required=True,
        metadata={"description": "skill -> P(mastered), every skill (BKT)"},
    )
    mean_mastery = fields.Float(
        allow_none=True, metadata={"description": "over the skills practised; null if none"}
    )
    weakest = fields.List(
        fields.String(), required=True,
        metadata={"description": "practised skills not mastered, weakest first (at most 3)"},
    )


class CourseLearning(Schema):
    course_id = fields.Integer(required=True)
    rule = fields.String(required=True, metadata={"description": "the need rule, in words"})
    misconceptions = fields.List(
        fields.Nested(CourseLearningColumn), required=True,
        metadata={"description": "the heatmap's columns: likely or tested for some student"},
    )
    students = fields.List(
        fields.Nested(CourseLearningStudent), required=True,
        metadata={"description": "every student, most in need first"},
    )


def learning_student_json(row: class_learning.StudentNeed, in_need: bool) -> dict[str, Any]:
    m = row.model
    return {
        "id": row.user.id, "name": row.user.name, "email": row.user.email,
        "need_rank": row.rank, "in_need": in_need, "submissions": m.submissions,
        "likely": row.likely,
        "beliefs": dict(m.beliefs),
        "tested": [t for t in m.beliefs if m.tested.get(t, 0) or m.shown.get(t, 0)],
        "mastery": dict(m.mastery),
        "mean_mastery": row.mean_mastery,
        "weakest": row.weakest,
    }


# A route of its own rather than more fields on /misconceptions: that response's `students`
# is already the number of enrolled students, and the models cost a fold per student that
# the class's mistake counts should not pay.
@bp.route("/courses/<int:course_id>/learning")
class CourseLearningView(MethodView):
    @bp.response(200, CourseLearning)
    @responds(401, 404)
    def get(self, course_id: int) -> dict[str, Any]:
        """Each student's learning model, from their own graded work (practice included):
        beliefs per misconception, mastery per skill, and their rank by the need rule; the
        twin of the misconceptions page's heatmap and need list (staff only)."""
        course = taught_course(course_id)
        view = class_learning.class_learning(course.id)
        in_need = {row.user.id for row in view.in_need()}
        return {
            "course_id": course.id,
            "rule": class_learning.NEED_RULE,
            "misconceptions": [{"tag": t, "name": ex.MISTAKES[t].name} for t in view.columns],
            "students": [learning_student_json(row, row.user.id in in_need)
                         for row in view.students],
        }


class StudentWorkSubmission(Schema):
    id = fields.UUID(required=True)
    attempt = fields.Integer(required=True)
    status = fields.String(required=True)
    received_at = fields.DateTime(required=True)
    answers = fields.Dict(required=True)
    score = fields.Float(allow_none=True)
    parts = fields.Dict(allow_none=True, metadata={"description": "per part, as graded"})


class StudentWorkSlot(Schema):
    position = fields.Integer(required=True)
    exercise_type = fields.String(required=True)
    graded = fields.Integer(required=True)
    best_score = fields.Float(allow_none=True)
    credit = fields.Float(allow_none=True)
    solved_attempt = fields.Integer(allow_none=True)
    submissions = fields.List(fields.Nested(StudentWorkSubmission), required=True)


class StudentWorkAssignment(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    points = fields.Float(required=True)
    earned = fields.Float(required=True)
    slots = fields.List(fields.Nested(StudentWorkSlot), required=True)


class MistakeWhere(Schema):
    assignment_id = fields.Integer(required=True)
    position = fields.Integer(required=True)


class StudentWorkMistake(Schema):
    tag = fields.String(required=True)
    name = fields.String(required=True)
    explanation = fields.String(required=True)
    times = fields.Integer(required=True, metadata={"description": "submissions that made it"})
    slots = fields.List(fields.Nested(MistakeWhere), required=True)


class MemberMisconception(Schema):
    tag = fields.String(required=True)
    name = fields.String(required=True)
    belief = fields.Float(required=True)
    sentence = fields.String(
        allow_none=True, metadata={"description": "the record: named in k of their last n"}
    )
    submissions = fields.List(
        fields.UUID(), required=True,
        metadata={"description": "this course's submissions that named it"},
    )
    elsewhere = fields.Integer(
        required=True,
        metadata={"description": "submissions outside this course that named it (not listed)"},
    )


class MemberLearning(Schema):
    submissions = fields.Integer(required=True, metadata={"description": "graded, anywhere"})
    skills = fields.List(fields.Nested(schemas.SkillMastery), required=True)
    likely = fields.List(fields.Nested(MemberMisconception), required=True)


class StudentWork(Schema):
    user_id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    section = fields.String(required=True)
    assignments = fields.List(fields.Nested(StudentWorkAssignment), required=True)
    mistakes = fields.List(fields.Nested(StudentWorkMistake), required=True)
    learning = fields.Nested(
        MemberLearning, required=True,
        metadata={"description": "their learning model, from all their graded work"},
    )


class StudentWorkQuery(Schema):
    assignment = fields.Integer(strict=False, metadata={"description": "one assignment only"})


def _submission_json(sub: Any) -> dict[str, Any]:
    graded = sub.result if sub.status.value == "graded" else None
    return {
        "id": sub.id, "attempt": sub.attempt, "status": sub.status.value,
        "received_at": sub.received_at, "answers": sub.answers,
        "score": graded.score if graded is not None else None,
        "parts": graded.parts if graded is not None else None,
    }


def _slot_json(s: reads.StudentSlot) -> dict[str, Any]:
    m = s.mark
    return {
        "position": s.slot.position, "exercise_type": s.slot.exercise_type,
        "graded": m.graded if m else 0,
        "best_score": m.best_score if m else None,
        "credit": m.credit if m else None,
        "solved_attempt": m.solved_attempt if m else None,
        "submissions": [_submission_json(sub) for sub in s.submissions],
    }


@bp.route("/courses/<int:course_id>/students/<int:user_id>")
class StudentWorkView(MethodView):
    @bp.arguments(StudentWorkQuery(), location="query")
    @bp.response(200, StudentWork)
    @responds(401, 404)
    def get(self, query: dict[str, Any], course_id: int, user_id: int) -> dict[str, Any]:
        """One member's marks and submissions per assignment and slot, the mistakes they
        made most, with where, and their learning model (staff only; 404 unless the user is
        in the course)."""
        course = taught_course(course_id)
        enrollment = reads.member(course.id, user_id)
        if enrollment is None:
            raise APIError(404, "not_found", "no such student")
        assignments = list(course.assignments)
        if "assignment" in query:
            if not 0 < query["assignment"] <= MAX_ID:  # no such id: as for a missing one
                raise APIError(404, "not_found", "no such assignment")
            assignments = [staff_assignment(course.id, query["assignment"])]
        report = reads.student_report(enrollment, assignments)
        return {
            "user_id": report.user.id, "email": report.user.email, "name": report.user.name,
            "role": enrollment.role.value, "section": enrollment.section,
            "assignments": [
                {
                    "id": a.assignment.id, "title": a.assignment.title,
                    "points": a.points, "earned": a.earned,
                    "slots": [_slot_json(s) for s in a.slots],
                }
                for a in report.assignments
            ],
            "mistakes": [
                {
                    "tag": m.mistake.tag, "name": m.mistake.name,
                    "explanation": m.mistake.explanation, "times": m.times,
                    "slots": [{"assignment_id": a.id, "position": sl.position}
                              for a, sl in m.slots],
                }
                for m in report.mistakes
            ],
            "learning": student_learning_json(
                class_learning.student_learning(course.id, report.user.id)
            ),
        }


def student_learning_json(view: class_learning.StudentLearning) -> dict[str, Any]:
    return {
        "submissions": view.submissions,
        "skills": [{"id": s.id, "name": s.name, "mastery": s.mastery,
                    "opportunities": s.opportunities, "mastered": s.mastered}
                   for s in view.skills],
        "likely": [{"tag": h.tag, "name": h.name, "belief": h.belief, "sentence": h.sentence,
                    "submissions": [a.submission_id for a in h.linked],
                    "elsewhere": h.elsewhere} for h in view.held],
    }
