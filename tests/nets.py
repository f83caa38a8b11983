"""Random network files for the engine tests: every activation and loss, bounded sizes."""

from __future__ import annotations

from typing import Any

import numpy as np

ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")
LOSSES = ("half_sse", "mse", "cross_entropy", "binary_cross_entropy")


def _fractions(rng: np.random.Generator, rows: int, cols: int, scale: int) -> list[list[str]]:
    # Denominator 97 keeps z away from ReLU kinks without being a "nice" number.
    return [[f"{int(rng.integers(-scale, scale + 1))}/97" for _ in range(cols)]
            for _ in range(rows)]


def random_network(rng: np.random.Generator, *, max_depth: int = 4, max_width: int = 8,
                   max_batch: int = 4, activations: tuple[str, ...] = ACTIVATIONS,
                   loss: str | None = None) -> dict[str, Any]:
    """A network file (CONTRACT §2) with weights in [-1, 1] so nothing saturates."""
    depth = int(rng.integers(1, max_depth + 1))
    widths = [int(rng.integers(1, max_width + 1)) for _ in range(depth + 1)]
    m = int(rng.integers(1, max_batch + 1))
    loss = loss or str(rng.choice(LOSSES))
    layers: list[dict[str, Any]] = []
    for k in range(depth):
        act = str(rng.choice(activations))
        layer: dict[str, Any] = {"W": _fractions(rng, widths[k + 1], widths[k], 97),
                                 "b": _fractions(rng, widths[k + 1], 1, 50), "activation": act}
        if act == "leaky_relu":
            layer["alpha"] = "1/20"
        layers.append(layer)
    if loss == "cross_entropy":
        widths[-1] = max(widths[-1], 2)
        layers[-1]["W"] = _fractions(rng, widths[-1], widths[-2], 97)
        layers[-1]["b"] = _fractions(rng, widths[-1], 1, 50)
        layers[-1]["activation"] = "softmax"
        layers[-1].pop("alpha", None)
        y = np.zeros((widths[-1], m), dtype=int)
        y[rng.integers(0, widths[-1], size=m), np.arange(m)] = 1
        y_rows: list[list[Any]] = y.tolist()
    elif loss == "binary_cross_entropy":
        layers[-1]["activation"] = "sigmoid"
        layers[-1].pop("alpha", None)
        y_rows = rng.integers(0, 2, size=(widths[-1], m)).tolist()
    else:
        y_rows = _fractions(rng, widths[-1], m, 97)
    return {"x": _fractions(rng, widths[0], m, 150), "y": y_rows, "layers": layers,
            "loss": loss, "learning_rate": "1/10"}
