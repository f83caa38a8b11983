"""backprop-quiz's pure domain: networks, the reference engine, exercise types, mistakes, grading.

No Flask, no database, no Celery: it takes a seed or a network and returns data.
"""

from .answers import AnswerFormatError
from .grading import SCORING_RULE, Answers, Grade, PartResult, grade, parse_answers
from .mistakes import MISTAKES, Mistake
from .network import Network, NetworkError, NotJSON, parse_network, read_network
from .policy import (
    DEFAULT_POLICY,
    Accepted,
    GradingPolicy,
    PolicyError,
    grader_version,
    mistake_library_version,
)
from .policy import describe as describe_policy
from .policy import merge as merge_policy
from .problem import Option, Part, Variant
from .registry import (
    DIFFICULTIES,
    GRADED_SEED_BASE,
    SEED_MAX,
    ExerciseType,
    Fitted,
    InvalidDifficulty,
    UnknownExerciseType,
    catalogue,
    fit_variant,
    for_network,
    generate,
    get_type,
    network_difficulty,
)
from .solution import Solution, Step, worked_solution

__all__ = [
    "DEFAULT_POLICY", "DIFFICULTIES", "GRADED_SEED_BASE", "MISTAKES", "SCORING_RULE", "SEED_MAX",
    "Accepted", "AnswerFormatError", "Answers", "ExerciseType", "Fitted", "Grade",
    "GradingPolicy", "InvalidDifficulty", "Mistake", "Network", "NetworkError", "NotJSON",
    "Option", "Part", "PartResult", "PolicyError", "Solution",
    "Step", "UnknownExerciseType", "Variant", "catalogue", "describe_policy", "fit_variant",
    "for_network", "generate", "get_type", "grade", "grader_version", "merge_policy",
    "mistake_library_version", "network_difficulty", "parse_answers", "parse_network",
    "read_network", "worked_solution",
]
