"""symbolic-gradient and concept-check (exercises/types/concepts.py).

Oracles: expressions and option values worked by hand, PyTorch autograd for the value of
every symbolic key on its own network, and mistake answers typed here as text, the way a
student would write them.
"""

from __future__ import annotations

import functools
from collections import Counter
from fractions import Fraction
from typing import Any

import pytest
import sympy  # type: ignore[import-untyped, unused-ignore]  # sympy ships no type hints
import torch

import exercises as E
from exercises.expressions import expression_to_text, parse_expression
from exercises.network import parse_network
from exercises.registry import Setup
from exercises.types.concept_bank import BANK, COMMON_TAGS, TEMPLATES
from exercises.types.concepts import gradient_entry, layout
from exercises.types.draw import known
from tests.types import kit

SEEDS = range(200)
DIFFICULTIES = (1, 2, 3)


@functools.cache
def variant(type_id: str, seed: int, difficulty: int) -> E.Variant:
    return E.generate(type_id, seed, difficulty)


def grade(v: E.Variant, answer: Any) -> E.PartResult:
    (part,) = v.parts
    return E.grade(v, E.parse_answers(v, {part.name: answer})).parts[part.name]


# --- symbolic-gradient ----------------------------------------------------------------------

SYM = "symbolic-gradient"


def setup_of(network: dict[str, Any], i: int, j: int) -> Setup:
    return Setup(parse_network(network), {"layer": 1, "i": i, "j": j})


def key_of(setup: Setup) -> sympy.Expr:
    return E.get_type(SYM).key(setup)["expr"]


def same(expr: sympy.Expr, text: str, symbols: tuple[str, ...]) -> bool:
    """Exactly the same rational function (SymPy cancels the difference to 0)."""
    return sympy.cancel(expr - parse_expression(text, symbols)) == 0


def written(v: E.Variant, i: int, j: int, *, sign: int = 1, sigma: bool = True,
            inputs: str = "x") -> str:
    """∂C/∂w_ij as a student who knows the chain rule types it, with optional mistakes."""
    net = kit.network(v)
    acts = [L["activation"] for L in net["layers"]]
    if len(acts) == 1:
        err = f"(a{i} - y{i})" if sign > 0 else f"(y{i} - a{i})"
        if net["loss"] == "binary_cross_entropy":  # σ' cancels the loss's 1/(a(1 − a))
            return f"{err}*{inputs}{j}" if sigma else f"{err}/(a{i}*(1 - a{i}))*{inputs}{j}"
        if acts[0] == "identity" or not sigma:
            return f"{err}*{inputs}{j}"
        return f"{err}*a{i}*(1 - a{i})*{inputs}{j}"
    err = "(a - y)" if sign > 0 else "(y - a)"
    if not sigma:
        return f"{err}*v{i}*{inputs}{j}"
    hidden = f"h{i}*(1 - h{i})" if acts[0] == "sigmoid" else f"(1 - h{i}^2)"
    return f"{err}*a*(1 - a)*v{i}*{hidden}*{inputs}{j}"


def test_identity_layer_worked_by_hand() -> None:
    # z = Wx + b = [1·2 + 2·1 + 0, 3·2 − 1·1 + 1] = [4, 6] = a; y = [1, 2].
    net = {"x": [[2], [1]], "y": [[1], [2]], "loss": "half_sse", "learning_rate": "1/10",
           "layers": [{"W": [[1, 2], [3, -1]], "b": [[0], [1]], "activation": "identity"}]}
    s = setup_of(net, 2, 1)
    key = key_of(s)
    names = layout(s.net).names
    assert names == ("a1", "a2", "y1", "y2", "x1", "x2")
    assert same(key, "(a2 - y2)*x1", names)
    values = {sympy.Symbol(n, real=True): v for n, v in
              {"a2": 6, "y2": 2, "x1": 2}.items()}
    assert key.subs(values) == 8  # (6 − 2)·2
    assert known(s.exact.layers[0].dC_dW)[1, 0] == 8


def test_sigmoid_layer_and_cross_entropy_keys() -> None:
    layer = {"W": [["1/2", -1], [1, "1/4"]], "b": [[0], [0]], "activation": "sigmoid"}
    base = {"x": [[1], [2]], "y": [[0], [1]], "layers": [layer], "learning_rate": "1/10"}
    sse = setup_of({**base, "loss": "half_sse"}, 1, 2)
    names = layout(sse.net).names
    assert same(key_of(sse), "(a1 - y1)*a1*(1 - a1)*x2", names)
    # With binary cross-entropy the sigmoid's a(1 − a) cancels the loss's 1/(a(1 − a)).
    bce = setup_of({**base, "loss": "binary_cross_entropy"}, 1, 2)
    assert same(key_of(bce), "(a1 - y1)*x2", names)


@pytest.mark.parametrize(("hidden", "factor"), [("sigmoid", "h1*(1 - h1)"),
                                                 ("tanh", "(1 - h1^2)")])
def test_two_layer_key_goes_through_w2_and_both_derivatives(hidden: str, factor: str) -> None:
    net = {"x": [["1/2"], [-1]], "y": [[1]], "loss": "half_sse", "learning_rate": "1/10",
           "layers": [{"W": [["1/4", "1/2"], [-1, "3/4"]], "b": [[0], [0]], "activation": hidden},
                      {"W": [[1, -2]], "b": [[0]], "activation": "sigmoid"}]}
    s = setup_of(net, 1, 2)
    names = layout(s.net).names
    assert names == ("a", "y", "v1", "v2", "h1", "h2", "x1", "x2")
    assert same(key_of(s), f"(a - y)*a*(1 - a)*v1*{factor}*x2", names)


def torch_gradient(network: dict[str, Any], i: int, j: int) -> tuple[float, dict[str, float]]:
    """∂C/∂W1[i, j] by autograd, and every symbol's value in the forward pass."""
    def t(rows: list[list[Any]]) -> torch.Tensor:
        return torch.tensor([[float(Fraction(v)) for v in row] for row in rows],
                            dtype=torch.float64)

    x, y = t(network["x"]), t(network["y"])
    Ws = [t(L["W"]).requires_grad_() for L in network["layers"]]
    act = {"identity": lambda z: z, "sigmoid": torch.sigmoid, "tanh": torch.tanh}
    outs, a = [], x
    for W, L in zip(Ws, network["layers"], strict=True):
        a = act[L["activation"]](W @ a + t(L["b"]))
        outs.append(a)
    if network["loss"] == "half_sse":
        C = 0.5 * ((a - y) ** 2).sum()
    else:
        C = -(y * torch.log(a) + (1 - y) * torch.log(1 - a)).sum()
    C.backward()
    a, outs = a.detach(), [o.detach() for o in outs]
    values = {f"x{k + 1}": float(x[k, 0]) for k in range(x.shape[0])}
    if len(Ws) == 1:
        values |= {f"a{k + 1}": float(a[k, 0]) for k in range(a.shape[0])}
        values |= {f"y{k + 1}": float(y[k, 0]) for k in range(y.shape[0])}
    else:
        values |= {"a": float(a[0, 0]), "y": float(y[0, 0])}
        values |= {f"h{k + 1}": float(outs[0][k, 0]) for k in range(outs[0].shape[0])}
        values |= {f"v{k + 1}": float(Ws[1].detach()[0, k]) for k in range(Ws[1].shape[1])}
    grad = Ws[0].grad
    assert grad is not None
    return float(grad[i - 1, j - 1]), values


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_symbolic_sweep(difficulty: int) -> None:
    for seed in SEEDS:
        v = variant(SYM, seed, difficulty)
        (part,) = v.parts
        i, j = v.params["i"], v.params["j"]
        key = v.key_values["expr"]

        # The key, evaluated on the drawn network, is PyTorch's gradient of that weight.
        grad, values = torch_gradient(kit.network(v), i, j)
        at = {sympy.Symbol(n, real=True): val for n, val in values.items()}
        assert float(key.subs(at)) == pytest.approx(grad, rel=1e-9, abs=1e-12)

        # The key, and the same expression typed another way, score 1.
        assert grade(v, v.key["expr"]).score == 1.0
        assert grade(v, written(v, i, j)).score == 1.0
        assert grade(v, f"({written(v, i, j)})*2/2").correct

        # Every offered mistake is named by its tags (with any that coincide with it: x·δᵀ
        # is δ_j·x_i, exactly reading w_ji, so transposed-gradient and index-swap go together).
        tags = {p.tags for p in v.predictions["expr"]}
        assert {("index-swap",), ("transposed-gradient",)} <= tags, seed
        for p in v.predictions["expr"]:
            r = grade(v, expression_to_text(p.value))
            assert p.tags in r.explanations and not r.correct, (seed, p.tags)

        # Mistakes typed here, independently of the type's own chain rule.
        typed = {
            "sign-flip": written(v, i, j, sign=-1),
            "index-swap": written(v, j, i),
            "wrong-layer-input": written(v, i, j, inputs="a" if len(kit.network(v)["layers"]) == 1
                                         else "h"),
            "factor-of-two": f"2*{written(v, i, j)}",
        }
        if difficulty >= 2:
            typed["missing-activation-derivative"] = written(v, i, j, sigma=False)
        for tag, answer in typed.items():
            assert tag in grade(v, answer).misconceptions, (seed, tag, answer)
        assert grade(v, f"{written(v, i, j)}/2").misconceptions == ("factor-of-two",)
        assert ("sign-flip", "index-swap") in grade(v, written(v, j, i, sign=-1)).explanations

        # Unreadable answers are format errors, not grades.
        for bad in ("1/", "a1 +", "__import__('os')", "zz9"):
            with pytest.raises(E.AnswerFormatError):
                E.parse_answers(v, {part.name: bad})

        # Same seed, same variant; and the stored record grades as the variant does.
        assert E.generate(SYM, seed, difficulty).to_record() == v.to_record()
        stored = E.Variant.from_record(v.to_record())
        assert grade(stored, v.key["expr"]).score == 1.0


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_symbolic_story_checks_the_expression_with_numbers(difficulty: int) -> None:
    for seed in range(20):
        v = variant(SYM, seed, difficulty)
        steps = E.worked_solution(v).steps
        assert steps and all(s.parts == ("expr",) for s in steps)
        assert any("check" in s.title for s in steps)
        s = E.get_type(SYM).setup_from(v)
        i, j = v.params["i"], v.params["j"]
        key = known(gradient_entry(layout(s.net), i, j, frozenset()))
        net, d = s.net, s.exact
        values = {x: net.x[k, 0] for k, x in enumerate(layout(net).x)}
        values |= {a: known(d.layers[-1].a)[k, 0] for k, a in enumerate(layout(net).a)}
        values |= {y: net.y[k, 0] for k, y in enumerate(layout(net).y)}
        values |= {h: known(d.layers[0].a)[k, 0] for k, h in enumerate(layout(net).h)}
        if len(net.layers) == 2:
            values |= {w: net.layers[1].W[0, k] for k, w in enumerate(layout(net).v)}
        want = float(known(d.layers[0].dC_dW)[i - 1, j - 1])
        assert float(key.subs(values)) == pytest.approx(want)


def test_symbolic_prompt_names_the_symbols_and_hides_the_key() -> None:
    v = variant(SYM, 0, 2)
    for name in v.parts[0].symbols:
        assert f"`{name}`" in v.prompt
    assert "key" not in v.to_json()
    assert v.to_json()["parts"][0]["symbols"] == list(v.parts[0].symbols)


# --- concept-check --------------------------------------------------------------------------

CC = "concept-check"


def test_concept_can_show_what_every_question_of_the_difficulty_offers() -> None:
    t = E.get_type(CC)
    assert COMMON_TAGS[2] == ("missing-activation-derivative", "wrong-activation-derivative")
    for d in DIFFICULTIES:
        assert set(COMMON_TAGS[d]) <= set(t.can_show(d))


def labels(template: str, **values: Any) -> list[tuple[str, str | None]]:
    q = TEMPLATES[template].question(values)
    return [(c.label, c.tag) for c in q.choices]


def test_gradient_shape_worked_by_hand() -> None:
    assert labels("gradient-shape", n=3, k=2) == [
        ("$3 \\times 2$", None),
        ("$2 \\times 3$", "transposed-gradient"),
        ("$1 \\times 1$", "dot-instead-of-outer"),
    ]


def test_numeric_options_worked_by_hand() -> None:
    # w − ηg = 0.5 + 0.55; w + ηg = 0.5 − 0.55; w − g = 0.5 + 1.1.
    assert labels("update-number", w="1/2", g="-11/10", eta="1/2") == [
        ("$1.05$", None), ("$-0.05$", "gradient-ascent"), ("$1.6$", "missing-learning-rate")]
    # a − y = −0.2; 2(a − y) = −0.4; (a − y)/2 = −0.1.
    assert labels("loss-derivative", a="4/5", y=1) == [
        ("$-0.2$", None), ("$1$", "raw-error-as-loss"), ("$0.2$", "sign-flip"),
        ("$-0.4$", "factor-of-two"), ("$-0.1$", "factor-of-two")]
    # (a − y)·a(1 − a)·x = 0.75·0.1875·(−0.5) = −0.0703125.
    got = labels("chain-number", x="-1/2", a="3/4", y=0)
    assert got[0] == ("$-0.07031$", None)
    assert ("$-0.375$", "missing-activation-derivative") in got  # (a − y)·x


def test_sigmoid_derivative_options_worked_by_hand() -> None:
    # z = 0: σ'(0) = 1/4; z(1 − z) = 0; σ(0) = 1/2; σ'(a) = σ(1/2)(1 − σ(1/2)).
    s = torch.sigmoid(torch.tensor(0.5, dtype=torch.float64)).item()
    assert labels("sigmoid-derivative", a="1/2") == [
        ("$0.25$", None), ("$0$", "wrong-activation-derivative"),
        ("$0.5$", "wrong-activation-derivative"),
        (f"${s * (1 - s):.4g}$", "wrong-activation-derivative"),
        ("$1$", "missing-activation-derivative")]


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_concept_sweep(difficulty: int) -> None:
    answers: Counter[str] = Counter()
    templates: Counter[str] = Counter()
    for seed in SEEDS:
        v = variant(CC, seed, difficulty)
        (part,) = v.parts
        ids = [o.id for o in part.options]
        assert ids == list("ABCDEF"[:len(ids)]) and len(ids) >= 3
        assert len({o.label for o in part.options}) == len(ids)
        assert v.network is None
        answers[v.key["choice"]] += 1
        templates[v.params["template"]] += 1

        assert grade(v, v.key["choice"]).score == 1.0
        assert grade(v, v.key["choice"].lower()).score == 1.0
        # Every wrong option is a predicted mistake, named when chosen.
        predicted = {p.value: p.tags for p in v.predictions["choice"]}
        assert sorted(predicted) == sorted(set(ids) - {v.key["choice"]})
        for option, tags in predicted.items():
            r = grade(v, option)
            assert r.score == 0.0 and r.misconceptions == tags and len(tags) == 1
        for tag in COMMON_TAGS[difficulty]:
            assert (tag,) in predicted.values()

        for bad in ("Z", "", 3.5, ["A"]):
            with pytest.raises(E.AnswerFormatError):
                E.parse_answers(v, {part.name: bad})

        assert E.generate(CC, seed, difficulty).to_record() == v.to_record()
        stored = E.Variant.from_record(v.to_record())
        assert grade(stored, v.key["choice"]).score == 1.0

        steps = E.worked_solution(v).steps
        assert steps[0].title.endswith(f"option {v.key['choice']}")
        assert len(steps) == len(ids) and all(s.parts == ("choice",) for s in steps)
    # The options are shuffled, and every template of the difficulty comes up.
    assert len(answers) >= 3
    assert set(templates) == {tm.id for tm in BANK if tm.difficulty == difficulty}
