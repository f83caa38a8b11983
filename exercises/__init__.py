"""backprop-quiz's pure domain: networks, the reference engine, exercise types, mistakes, grading.

No Flask, no database, no Celery: it takes a seed or a network and returns data.
"""

from .answers import AnswerFormatError
from .grading import SCORING_RULE, Answers, Grade, PartResult, grade, parse_answers
from .mistakes import MISTAKES, Mistake
from .network import Network, NetworkError, parse_network
from .problem import Option, Part, Variant
from .registry import (
    DIFFICULTIES,
    GRADED_SEED_BASE,
    SEED_MAX,
    ExerciseType,
    InvalidDifficulty,
    UnknownExerciseType,
    catalogue,
    generate,
    get_type,
)
from .solution import Solution, Step, worked_solution

__all__ = [
    "DIFFICULTIES", "GRADED_SEED_BASE", "MISTAKES", "SCORING_RULE", "SEED_MAX",
    "AnswerFormatError", "Answers", "ExerciseType", "Grade",
    "InvalidDifficulty", "Mistake", "Network", "NetworkError", "Option", "Part", "PartResult",
    "Solution",
    "Step", "UnknownExerciseType", "Variant", "catalogue", "generate", "get_type", "grade",
    "parse_answers", "parse_network", "worked_solution",
]
