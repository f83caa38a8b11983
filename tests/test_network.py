"""The network file (CONTRACT §2): what is accepted, and errors that name the field."""

from __future__ import annotations

import copy

import pytest
import sympy

from exercises.network import NetworkError, parse_network

GOOD = {
    "x": [[1], [2]],
    "y": [[0], [1]],
    "layers": [{"W": [["1/2", -1], [2, 0.25]], "b": [[0], ["1/10"]], "activation": "sigmoid"}],
    "loss": "half_sse",
    "learning_rate": "1/10",
}


def test_contract_example_reads_exactly():
    net = parse_network(GOOD)
    assert net.layers[0].W == sympy.Matrix([[sympy.Rational(1, 2), -1], [2, sympy.Rational(1, 4)]])
    assert net.layers[0].b[1] == sympy.Rational(1, 10)
    assert net.learning_rate == sympy.Rational(1, 10)
    assert net.m == 1 and net.widths == (2, 2)


def test_round_trip_through_json():
    net = parse_network(GOOD)
    assert parse_network(net.to_json()) == net


def _with(path: list, value) -> dict:
    spec = copy.deepcopy(GOOD)
    target = spec
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return spec


@pytest.mark.parametrize(
    ("spec", "field", "reason"),
    [
        (_with(["layers", 0, "activation"], "swish"), "layers[0].activation", "unknown activation"),
        (_with(["layers", 0, "W"], [[1, 2, 3], [4, 5, 6]]), "layers[0].W", "does not fit"),
        (_with(["layers", 0, "b"], [[0]]), "layers[0].b", "expected 2×1"),
        (_with(["layers", 0, "W"], [[1, 2], [3]]), "layers[0].W", "different lengths"),
        (_with(["layers", 0, "W"], [["1/0", 1], [1, 1]]), "layers[0].W[0][0]", "divides by zero"),
        (_with(["layers", 0, "W"], [["2**8", 1], [1, 1]]), "layers[0].W[0][0]", "not a number"),
        (_with(["y"], [[0, 1]]), "y", "expected 2×1"),
        (_with(["loss"], "hinge"), "loss", "unknown loss"),
        (_with(["loss"], "cross_entropy"), "loss", "softmax"),
        (_with(["learning_rate"], "-1"), "learning_rate", "positive"),
        (_with(["x"], []), "x", "non-empty"),
        (_with(["layers"], KeyError), "layers", "missing"),
        (_with(["extra"], 1), "extra", "unknown field"),
        (_with(["layers", 0, "alpha"], "1/2"), "layers[0].alpha", "leaky_relu"),
        (_with(["x"], [[True], [1]]), "x[0][0]", "true/false"),
    ],
)
def test_bad_input_names_the_field(spec, field, reason):
    with pytest.raises(NetworkError) as err:
        parse_network(spec)
    assert err.value.field == field
    assert reason in err.value.reason


def test_softmax_only_last():
    spec = copy.deepcopy(GOOD)
    spec["layers"] = [
        {"W": [[1, 0], [0, 1]], "b": [[0], [0]], "activation": "softmax"},
        {"W": [[1, 0], [0, 1]], "b": [[0], [0]], "activation": "identity"},
    ]
    with pytest.raises(NetworkError, match=r"layers\[0\].activation: softmax is allowed on the last"):
        parse_network(spec)
