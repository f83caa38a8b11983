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
    half, quarter = sympy.Rational(1, 2), sympy.Rational(1, 4)
    weights = net.layers[0].W
    assert weights == sympy.Matrix([[half, -1], [2, quarter]])
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
    with pytest.raises(NetworkError,
                       match=r"layers\[0\].activation: softmax is allowed on the last"):
        parse_network(spec)


def _layer(**fields) -> dict:
    return {"W": [[1, 0], [0, 1]], "b": [[0], [0]], "activation": "identity", **fields}


ACTIVATION_LIST = "identity, relu, leaky_relu, sigmoid, tanh, softmax"
NUMBER_HINT = "is not a number (use e.g. 3, -0.25, 1/4 or 2.5e-3)"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param([1], "network: expected a JSON object", id="not-an-object"),
        pytest.param(_with(["extra"], 1),
                     "extra: unknown field (expected layers, learning_rate, loss, x, y)",
                     id="unknown-field"),
        pytest.param({"extra": 1},
                     "extra: unknown field (expected layers, learning_rate, loss, x, y)",
                     id="unknown-field-before-missing"),
        pytest.param(_with(["x"], KeyError), "x: missing", id="x-missing"),
        pytest.param(_with(["y"], KeyError), "y: missing", id="y-missing"),
        pytest.param(_with(["loss"], KeyError), "loss: missing", id="loss-missing"),
        pytest.param(_with(["x"], "12"), "x: expected a non-empty list of rows", id="x-text"),
        pytest.param(_with(["x"], [1, 2]), "x[0]: expected a non-empty list of numbers",
                     id="x-row-not-a-list"),
        pytest.param(_with(["x"], [[1], []]), "x[1]: expected a non-empty list of numbers",
                     id="x-row-empty"),
        pytest.param(_with(["x"], [[0] * (64 * 256 + 1)]), "x[0]: row too long",
                     id="x-row-too-long"),
        pytest.param(_with(["x"], [[1]] * 65), "x: at most 64 inputs", id="x-too-many-inputs"),
        pytest.param(_with(["x"], [[1] * 257] * 2), "x: at most 256 examples",
                     id="x-too-many-examples"),
        pytest.param(_with(["layers"], []), "layers: expected a non-empty list of layers",
                     id="layers-empty"),
        pytest.param(_with(["layers"], "abc"), "layers: expected a non-empty list of layers",
                     id="layers-text"),
        pytest.param(_with(["layers"], [_layer()] * 17), "layers: at most 16 layers",
                     id="layers-too-deep"),
        pytest.param(_with(["layers"], [[1]]),
                     "layers[0]: expected an object with W, b and activation",
                     id="layer-not-an-object"),
        pytest.param(_with(["layers", 0, "beta"], 1), "layers[0].beta: unknown field",
                     id="layer-unknown-field"),
        pytest.param(_with(["layers", 0, "b"], KeyError), "layers[0].b: missing",
                     id="layer-b-missing"),
        pytest.param(_with(["layers"], [{"W": [[1, 1]] * 65, "b": [[0]] * 65,
                                         "activation": "identity"}]),
                     "layers[0].W: at most 64 neurons per layer", id="layer-too-wide"),
        pytest.param(_with(["layers", 0, "W"], [[1, 2, 3], [4, 5, 6]]),
                     "layers[0].W: shape 2×3 does not fit its input of 2 rows (needs 2×2)",
                     id="W-does-not-fit"),
        pytest.param(_with(["layers", 0, "b"], [[0]]), "layers[0].b: shape 1×1, expected 2×1",
                     id="b-shape"),
        pytest.param(_with(["layers", 0, "activation"], "swish"),
                     f"layers[0].activation: unknown activation 'swish' (expected one of "
                     f"{ACTIVATION_LIST})", id="activation-unknown"),
        pytest.param(_with(["layers", 0, "activation"], ["relu"]),
                     f"layers[0].activation: unknown activation ['relu'] (expected one of "
                     f"{ACTIVATION_LIST})", id="activation-not-text"),
        pytest.param(_with(["layers"], [_layer(activation="softmax"), _layer()]),
                     "layers[0].activation: softmax is allowed on the last layer only",
                     id="softmax-not-last"),
        pytest.param(_with(["layers", 0, "alpha"], "1/2"),
                     "layers[0].alpha: only a leaky_relu layer takes alpha", id="alpha-not-leaky"),
        pytest.param(_with(["layers"], [_layer(activation="leaky_relu", alpha="x")]),
                     f"layers[0].alpha: 'x' {NUMBER_HINT}", id="alpha-not-a-number"),
        pytest.param(_with(["y"], [[0, 1]]), "y: shape 1×2, expected 2×1 (outputs × examples)",
                     id="y-shape"),
        pytest.param({**GOOD, "y": [[0]], "loss": "hinge"},
                     "y: shape 1×1, expected 2×1 (outputs × examples)", id="y-before-loss"),
        pytest.param({**GOOD, "y": "bad", "layers": []},
                     "layers: expected a non-empty list of layers", id="layers-before-y"),
        pytest.param(_with(["loss"], "hinge"),
                     "loss: unknown loss 'hinge' (expected one of half_sse, mse, cross_entropy, "
                     "binary_cross_entropy)", id="loss-unknown"),
        pytest.param(_with(["loss"], "cross_entropy"),
                     "loss: cross_entropy needs a softmax output layer", id="ce-needs-softmax"),
        pytest.param({**GOOD, "layers": [_layer()], "loss": "binary_cross_entropy"},
                     "loss: binary_cross_entropy needs a sigmoid output layer",
                     id="bce-needs-sigmoid"),
        pytest.param({**GOOD, "y": [[0], [2]], "loss": "binary_cross_entropy"},
                     "y: binary_cross_entropy needs targets between 0 and 1", id="bce-targets"),
        pytest.param({**GOOD, "layers": [_layer(activation="softmax")], "y": [[-1], [1]],
                      "loss": "cross_entropy"},
                     "y: cross_entropy needs targets between 0 and 1", id="ce-targets"),
        pytest.param(_with(["learning_rate"], "fast"), f"learning_rate: 'fast' {NUMBER_HINT}",
                     id="learning-rate-not-a-number"),
        pytest.param(_with(["learning_rate"], 0), "learning_rate: must be positive",
                     id="learning-rate-zero"),
    ],
)
def test_every_message_reads_exactly(spec, message):
    with pytest.raises(NetworkError) as err:
        parse_network(spec)
    assert str(err.value) == message
    field, reason = message.split(": ", 1)
    assert (err.value.field, err.value.reason) == (field, reason)


def test_defaults_when_optional_fields_are_left_out():
    spec = _with(["learning_rate"], KeyError)
    spec["layers"] = [_layer(activation="leaky_relu")]
    net = parse_network(spec)
    assert net.learning_rate == sympy.Rational(1, 10)
    assert net.layers[0].alpha == sympy.Rational(1, 100)
    spec["layers"] = [_layer(activation="leaky_relu", alpha="1/5")]
    assert parse_network(spec).layers[0].alpha == sympy.Rational(1, 5)
