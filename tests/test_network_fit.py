"""Exercise types asked about a given network (``ExerciseType.fit``, ``for_network``): keys
against values worked by hand here, which types apply, the checks' findings as warnings,
and seeded variants unchanged by the shared checks."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np
import pytest

import exercises as ex
from exercises.registry import Degenerate, Findings

# One sigmoid layer, half the squared error (CONTRACT §2's example).
SIGMOID_NET: dict[str, Any] = {
    "x": [[1], [2]], "y": [[0], [1]],
    "layers": [{"W": [["1/2", -1], [2, 0.25]], "b": [[0], ["1/10"]], "activation": "sigmoid"}],
    "loss": "half_sse", "learning_rate": "1/10",
}
# The identity: σ'(z) = 1, so dropping it gives the key itself.
IDENTITY_NET: dict[str, Any] = {
    "x": [[1], [2]], "y": [[0], [1]],
    "layers": [{"W": [[1, -1], [2, 3]], "b": [[0], [1]], "activation": "identity"}],
    "loss": "half_sse", "learning_rate": "1/10",
}
SOFTMAX_NET: dict[str, Any] = {
    "x": [[1], [-1]], "y": [[0], [1]],
    "layers": [{"W": [[1, 2], [-1, 1]], "b": [[0], [0]], "activation": "softmax"}],
    "loss": "cross_entropy", "learning_rate": "1/10",
}
TWO_LAYER_NET: dict[str, Any] = {
    "x": [[1], [-2]], "y": [[1], [0]],
    "layers": [{"W": [[1, 2], [-1, 1]], "b": [[1], [0]], "activation": "leaky_relu"},
               {"W": [[1, -2], [3, 1]], "b": [[0], [1]], "activation": "identity"}],
    "loss": "half_sse", "learning_rate": "1/4",
}


def fitted(net: dict[str, Any]) -> dict[str, ex.Fitted]:
    return {f.type.id: f for f in ex.for_network(ex.parse_network(net))}


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def test_weight_gradient_of_a_sigmoid_layer_is_delta_times_x_transposed() -> None:
    # By hand: z = Wx + b = (1/2 − 2, 2 + 1/2 + 1/10) = (−3/2, 13/5), a = σ(z),
    # δ = (a − y) ⊙ a(1 − a), dC/dW = δ·xᵀ with x = (1, 2).
    z = [-1.5, 2.6]
    a = [sigmoid(v) for v in z]
    delta = [(a[0] - 0) * a[0] * (1 - a[0]), (a[1] - 1) * a[1] * (1 - a[1])]
    by_hand = [[delta[0] * 1, delta[0] * 2], [delta[1] * 1, delta[1] * 2]]

    f = fitted(SIGMOID_NET)["weight-gradient"]
    assert f.variant.params == {"layer": 1}
    assert np.allclose(np.asarray(f.variant.key["dC_dW"], dtype=float), by_hand, rtol=1e-12)
    # The worked solution ends at the asked part, and its predictions name the transpose.
    assert "dC_dW" in f.solution.steps[-1].parts
    transposed = [p for p in f.variant.predictions["dC_dW"] if p.tags == ("transposed-gradient",)]
    assert len(transposed) == 1
    assert np.allclose(transposed[0].value, np.transpose(by_hand))


def test_the_types_offered_fit_the_network() -> None:
    sig = fitted(SIGMOID_NET)
    assert "softmax-cross-entropy" not in sig
    assert {"forward-pass", "loss", "delta", "weight-gradient", "weight-update"} <= sig.keys()
    # Not asked: two layers, a batch, one neuron, symbols, concepts.
    assert not {"hidden-gradient", "backprop-story", "batch-gradient", "chain-rule",
                "symbolic-gradient", "concept-check"} & sig.keys()

    soft = fitted(SOFTMAX_NET)
    assert "softmax-cross-entropy" in soft and "delta" not in soft
    # By hand: z = (1 − 2, −1 − 1) = (−1, −2), a = softmax(z), δ = a − y.
    e = [math.exp(-1), math.exp(-2)]
    a = [v / sum(e) for v in e]
    assert np.allclose(np.asarray(soft["softmax-cross-entropy"].variant.key["delta"], float),
                       [[a[0]], [a[1] - 1]])

    two = fitted(TWO_LAYER_NET)
    assert {"hidden-gradient", "backprop-story", "weight-gradient"} <= two.keys()
    assert "delta" not in two  # a one-layer type: its layer would not be the output


def test_weight_update_names_the_entry_of_the_largest_gradient() -> None:
    # By hand (identity layer): z = (1 − 2, 2 + 6 + 1) = (−1, 9), δ = z − y = (−1, 8),
    # dC/dW = δ·xᵀ = [[−1, −2], [8, 16]]: the largest entry is row 2, column 2, and
    # W_new = W − (1/10)·dC/dW = [[11/10, −4/5], [6/5, 7/5]].
    f = fitted(IDENTITY_NET)["weight-update"]
    assert f.variant.params == {"layer": 1, "row": 2, "column": 2}
    assert f.variant.key == {"W_new": [["11/10", "-4/5"], ["6/5", "7/5"]], "w_entry": "7/5"}


def test_a_mistake_that_equals_the_key_is_a_warning_not_a_redraw() -> None:
    f = fitted(IDENTITY_NET)["weight-gradient"]
    assert ("“Dropped σ'(z)” gives the key itself for dC_dW: a student who makes it gets every "
            "answer right, so it cannot be seen.") in f.warnings
    # The same check on a seeded draw rejects the setup.
    t = ex.get_type("weight-gradient")
    setup = t.fit(ex.parse_network(IDENTITY_NET))
    assert setup is not None
    with pytest.raises(Degenerate):
        ex.registry.build_variant(t, setup, 0, 1)
    # Without it, the sigmoid net passes every check of weight-gradient.
    assert fitted(SIGMOID_NET)["weight-gradient"].warnings == []


def test_mistakes_that_must_be_told_apart_coinciding_are_a_warning() -> None:
    # mse over 2 outputs on a batch of 2: forgetting the 1/n over outputs is exactly
    # summing the batch instead of averaging it.
    net = {**IDENTITY_NET, "x": [[1, 2], [2, -1]], "y": [[0, 1], [1, 0]], "loss": "mse"}
    assert ("“Loss not averaged over the outputs” and “Batch summed, not averaged” give the "
            "same dC_dW: the two cannot be told apart there."
            in fitted(net)["weight-gradient"].warnings)


def test_findings_raise_on_a_seeded_draw_and_collect_otherwise() -> None:
    with pytest.raises(Degenerate, match="a sentence"):
        Findings(strict=True).reject("a sentence")
    kept = Findings(strict=False)
    kept.reject("one")
    kept.reject("one")
    kept.reject("two")
    assert kept.found == ["one", "two"]


def test_a_fitted_variant_grades_like_a_drawn_one() -> None:
    f = fitted(SIGMOID_NET)["weight-gradient"]
    key = ex.parse_answers(f.variant, f.variant.key)
    assert ex.grade(f.variant, key).score == 1.0
    wrong = ex.parse_answers(f.variant, {"dC_dW": np.transpose(
        np.asarray(f.variant.key["dC_dW"], dtype=float)).tolist()})
    assert "transposed-gradient" in ex.grade(f.variant, wrong).parts["dC_dW"].misconceptions


# sha256 of `generate(type, seed, difficulty).to_record()` (JSON, sorted keys), taken from the
# code before the checks were shared with given networks: the seeded draws did not move.
PINNED = {
    ("weight-gradient", 1, 0): "f75e95d401ca6aeb",
    ("hidden-gradient", 2, 3): "a35c82232e6375b4",
    ("softmax-cross-entropy", 3, 7): "acc1a1e5e49910d7",
    ("concept-check", 1, 5): "99b34f86c59b7fcb",
    ("weight-update", 1, 4): "0135d34bc597bd67",
    ("symbolic-gradient", 2, 1): "81201f77d9160284",
    ("backprop-story", 3, 2): "b316a80a8f8b740a",
    ("loss", 1, 0): "03c9aef0de9c42c5",
}


@pytest.mark.parametrize(("type_id", "difficulty", "seed"), list(PINNED))
def test_seeded_variants_are_unchanged(type_id: str, difficulty: int, seed: int) -> None:
    record = ex.generate(type_id, seed, difficulty).to_record()
    digest = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode())
    assert digest.hexdigest()[:16] == PINNED[(type_id, difficulty, seed)]
