"""The reference engine against hand-worked values, finite differences and PyTorch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy

from exercises.engine import (
    EXACT,
    FLOAT,
    NUMERIC,
    OVERRIDES,
    QUANTITIES,
    ChainRule,
    Slip,
    derivation_json,
    derive,
)
from exercises.network import parse_network
from tests.nets import random_network

CLI = str(Path(sys.executable).parent / "backprop-quiz")  # the installed console script
torch = pytest.importorskip("torch", reason="PyTorch is the independent oracle (test extra)")
torch.set_default_dtype(torch.float64)

R = sympy.Rational

HAND_WORKED = {
    "x": [[1], [2]], "y": [[0], [1]],
    "layers": [{"W": [[1, 2], [3, 4]], "b": [[0], [0]], "activation": "identity"}],
    "loss": "half_sse", "learning_rate": "1/10",
}


def test_hand_worked_identity_layer():
    # z = W·x = [1+4, 3+8] = [5, 11]; dC/da = a − y = [5, 10]; dC/dW = δ·xᵀ;
    # W_new = W − 0.1·dC/dW; C = ½(25 + 100).
    d = derive(parse_network(HAND_WORKED), EXACT)
    L = d.layers[0]
    assert d.loss == R(125, 2)
    assert L.z == sympy.Matrix([[5], [11]])
    assert L.delta == sympy.Matrix([[5], [10]])
    assert L.dC_dW == sympy.Matrix([[5, 10], [10, 20]])
    assert L.dC_db == sympy.Matrix([[5], [10]])
    assert L.W_new == sympy.Matrix([[R(1, 2), 1], [2, 2]])


def test_hand_worked_sigmoid_at_zero_is_rational():
    # σ(0) = 1/2 and σ'(0) = 1/4 exactly; with y = 1: δ = (1/2 − 1)·1/4 = −1/8,
    # dC/dW = −1/8·[2, −4].
    net = parse_network({"x": [[2], [-4]], "y": [[1]], "loss": "half_sse",
                         "layers": [{"W": [[2, 1]], "b": [[0]], "activation": "sigmoid"}]})
    L = derive(net, EXACT).layers[0]
    assert L.a[0] == R(1, 2) and L.da_dz[0] == R(1, 4)
    assert L.dC_dW == sympy.Matrix([[R(-1, 4), R(1, 2)]])


def test_batch_carries_one_over_m():
    # Two identical examples: the mean gradient equals the single-example gradient.
    one = parse_network(HAND_WORKED)
    two = parse_network({**HAND_WORKED, "x": [[1, 1], [2, 2]], "y": [[0, 0], [1, 1]]})
    assert derive(two, EXACT).layers[0].dC_dW == derive(one, EXACT).layers[0].dC_dW
    summed = derive(two, EXACT, [Slip.BATCH_SUM]).layers[0].dC_dW
    assert summed == 2 * derive(one, EXACT).layers[0].dC_dW


def _torch_derivation(spec: dict) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
    net = parse_network(spec)
    x, y = (torch.tensor(FLOAT.matrix(M)) for M in (net.x, net.y))
    Ws = [torch.tensor(FLOAT.matrix(L.W), requires_grad=True) for L in net.layers]
    bs = [torch.tensor(FLOAT.matrix(L.b), requires_grad=True) for L in net.layers]
    a = x
    for L, W, b in zip(net.layers, Ws, bs, strict=True):
        z = W @ a + b
        a = {
            "identity": lambda z: z,
            "relu": torch.relu,
            "leaky_relu": lambda z, alpha=float(L.alpha): torch.nn.functional.leaky_relu(z, alpha),
            "sigmoid": torch.sigmoid,
            "tanh": torch.tanh,
            "softmax": lambda z: torch.softmax(z, dim=0),
        }[L.activation](z)
    m, n = a.shape[1], a.shape[0]
    C = {
        "half_sse": lambda: ((a - y) ** 2).sum() / (2 * m),
        "mse": lambda: ((a - y) ** 2).sum() / (n * m),
        "cross_entropy": lambda: -(y * torch.log(a)).sum() / m,
        "binary_cross_entropy": lambda: -(y * torch.log(a) + (1 - y) * torch.log(1 - a)).sum() / m,
    }[net.loss]()
    C.backward()
    return C.item(), [W.grad.numpy() for W in Ws], [b.grad.numpy() for b in bs]


def _close(ours, theirs, rel=1e-9):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    scale = max(np.max(np.abs(theirs)), 1e-300)
    return ours.shape == theirs.shape and np.max(np.abs(ours - theirs)) <= rel * scale + 1e-300


@pytest.mark.parametrize("seed", range(300))
def test_derive_matches_pytorch(seed):
    spec = random_network(np.random.default_rng(seed))
    out = derivation_json(parse_network(spec))
    C, dWs, dbs = _torch_derivation(spec)
    assert abs(out["loss"] - C) <= 1e-9 * abs(C)
    for layer, dW, db in zip(out["layers"], dWs, dbs, strict=True):
        assert _close(layer["dC_dW"], dW)
        assert _close(layer["dC_db"], db)


def test_cli_derive_matches_pytorch(tmp_path):
    """The command itself, as a user runs it, on one network of each loss."""
    for seed, loss in enumerate(("half_sse", "mse", "cross_entropy", "binary_cross_entropy")):
        spec = random_network(np.random.default_rng(1000 + seed), loss=loss)
        path = tmp_path / f"{loss}.json"
        path.write_text(json.dumps(spec))
        run = subprocess.run([CLI, "derive", str(path)],
                             capture_output=True, text=True, check=True)
        out = json.loads(run.stdout)
        C, dWs, _ = _torch_derivation(spec)
        assert abs(out["loss"] - C) <= 1e-9 * abs(C)
        assert all(_close(L["dC_dW"], dW) for L, dW in zip(out["layers"], dWs, strict=True))
        assert set(out["layers"][0]) == set(QUANTITIES)


def _cost(spec: dict, which: str, layer: int, i: int, j: int, h: float) -> float:
    net = parse_network(spec)
    d0 = derive(net, FLOAT)
    W = [np.array(L.W, dtype=float) for L in d0.layers]
    b = [np.array(L.b, dtype=float) for L in d0.layers]
    (W if which == "W" else b)[layer][i, j] += h
    from exercises.engine import derive_arrays

    layers = [(W[k], b[k], L.activation, L.alpha) for k, L in enumerate(net.layers)]
    return float(derive_arrays(FLOAT, FLOAT.matrix(net.x), FLOAT.matrix(net.y), layers,
                               net.loss, net.learning_rate).loss)


@pytest.mark.parametrize("seed", range(60))
def test_gradients_match_central_finite_differences(seed):
    spec = random_network(np.random.default_rng(5000 + seed), max_depth=3, max_width=4)
    d = derive(parse_network(spec), FLOAT)
    h = 1e-6
    for k, L in enumerate(d.layers):
        for which, grad in (("W", L.dC_dW), ("b", L.dC_db)):
            fd = np.zeros_like(grad)
            for i, j in np.ndindex(*grad.shape):
                up, down = _cost(spec, which, k, i, j, h), _cost(spec, which, k, i, j, -h)
                fd[i, j] = (up - down) / (2 * h)
            assert np.allclose(grad, fd, rtol=1e-5, atol=1e-8), (which, k)


def _float_equal(a, b, rel=1e-12):
    for La, Lb in zip(a.layers, b.layers, strict=True):
        for k in QUANTITIES:
            A, B = getattr(La, k), getattr(Lb, k)
            if A is None or B is None:
                assert A is None and B is None, k
                continue
            assert _close(FLOAT.matrix(A), FLOAT.matrix(B), rel), k
    assert abs(float(a.loss) - float(b.loss)) <= rel * abs(float(b.loss)) + 1e-300


@pytest.mark.parametrize("chunk", range(10))
def test_reference_and_float_engines_agree_on_1000_networks(chunk):
    """Rational nets through the exact engine, the rest through the 40-digit one, each
    against the vectorised float engine: 10 chunks of 100 networks."""
    rng = np.random.default_rng(20_000 + chunk)
    for _ in range(100):
        spec = random_network(rng, max_depth=3, max_width=5, max_batch=3)
        net = parse_network(spec)
        rational = all(L.activation in ("identity", "relu", "leaky_relu") for L in net.layers)
        for L in net.layers:
            assert L.activation in {"identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax"}
        if rational and net.loss in ("half_sse", "mse"):
            exact = derive(net, EXACT)
            assert all(v.is_Rational for L in exact.layers for v in L.dC_dW)
        else:
            exact = derive(net, NUMERIC)
        _float_equal(derive(net, FLOAT), exact)


@pytest.mark.parametrize("seed", range(40))
def test_symbolic_engine_agrees_on_small_transcendental_networks(seed):
    spec = random_network(np.random.default_rng(30_000 + seed), max_depth=2, max_width=2,
                          max_batch=2, activations=("sigmoid", "tanh"))
    net = parse_network(spec)
    _float_equal(derive(net, FLOAT), derive(net, EXACT), rel=1e-12)


def test_stacked_networks_derive_like_one_at_a_time():
    """The float engine's leading batch axis: 50 networks at once equal 50 separate runs."""
    rng = np.random.default_rng(7)
    nets = [parse_network({"x": [[1], [2]], "y": [[0], [1]], "loss": "half_sse",
                           "layers": [{"W": (rng.integers(-9, 10, (2, 2)) / 7).tolist(),
                                       "b": [[0], [0]], "activation": "sigmoid"}]})
            for _ in range(50)]
    from exercises.engine import derive_arrays

    Ws = np.stack([FLOAT.matrix(n.layers[0].W) for n in nets])
    bs = np.stack([FLOAT.matrix(n.layers[0].b) for n in nets])
    x = np.broadcast_to(FLOAT.matrix(nets[0].x), (50, 2, 1))
    y = np.broadcast_to(FLOAT.matrix(nets[0].y), (50, 2, 1))
    stacked = derive_arrays(FLOAT, x, y, [(Ws, bs, "sigmoid", None)], "half_sse", 0.1)
    for k, n in enumerate(nets):
        assert np.allclose(stacked.layers[0].dC_dW[k], derive(n, FLOAT).layers[0].dC_dW, rtol=1e-14)


def test_each_slip_overrides_only_steps_of_the_chain_rule():
    """A slip is a small class overriding ChainRule's own steps; SPREAD only modifies the
    dot-product slips and the index slips are read by the types that ask for an entry."""
    modifiers = {Slip.SPREAD, Slip.INDEX_SWAP, Slip.ZERO_BASED_INDEX}
    assert set(OVERRIDES) == set(Slip) - modifiers
    steps = {name for name in vars(ChainRule) if not name.startswith("_")}
    for slip, cls in OVERRIDES.items():
        own = {name for name in vars(cls) if not name.startswith("_")}
        assert own and own <= steps, slip
