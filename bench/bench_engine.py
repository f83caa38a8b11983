"""Engine and grading benchmark. Prints figures; asserts only that the engines agree.

1. A full key with every mistake prediction (single mistakes and pairs) for a 2×2
   sigmoid net, against torch.autograd computing the gradient alone, and against naive
   SymPy differentiation. Ours is measured two ways: one net at a time, and a stack of
   nets through the vectorised float engine (time per net); torch likewise.
2. In-process grading throughput on one core: parse + grade, for a mix of right,
   mistaken and unrecognised answers over many variants.

Run: .venv/bin/python bench/bench_engine.py [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from collections.abc import Callable

import numpy as np
import sympy

import exercises as ex
from exercises.engine import FLOAT, Slip, derive_arrays
from exercises.mistakes import MISTAKES
from exercises.problem import value_to_json
from exercises.registry import Setup, build_variant, get_type

WEIGHT_GRADIENT_TAGS = get_type("weight-gradient").can_show(2)


def best_of(fn: Callable[[], object], repeat: int, number: int) -> float:
    """Seconds per call: the best of ``repeat`` runs of ``number`` calls."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t) / number)
    return best


def slip_sets() -> list[frozenset[Slip]]:
    """The key (no slip), every single mistake and every pair the weight-gradient type predicts."""
    singles = [(tag, v) for tag in WEIGHT_GRADIENT_TAGS for v in MISTAKES[tag].variants]
    pairs = [a | b for (t1, a), (t2, b) in itertools.combinations(singles, 2) if t1 != t2]
    return [frozenset()] + [v for _, v in singles] + pairs


def stacked_nets(n: int, rng: np.random.Generator):
    W = rng.integers(-15, 16, size=(n, 2, 2)) / 10
    b = rng.integers(-15, 16, size=(n, 2, 1)) / 10
    x = rng.integers(-15, 16, size=(n, 2, 1)) / 10
    y = rng.integers(-15, 16, size=(n, 2, 1)) / 10
    return W, b, x, y


def ours_stacked(W, b, x, y, sets) -> list[np.ndarray]:
    """Key and every prediction of dC/dW for the whole stack, one engine call per slip set."""
    memo: dict = {}  # the forward pass and loss, shared by the slip sets that leave them alone
    return [derive_arrays(FLOAT, x, y, [(W, b, "sigmoid", None)], "half_sse", 0.1, s, memo)
            .layers[0].dC_dW for s in sets]


def torch_gradient(torch, W, b, x, y):
    W = W.clone().requires_grad_(True)
    a = torch.sigmoid(W @ x + b)
    C = 0.5 * ((a - y) ** 2).sum() / x.shape[-1]
    C.backward()
    return W.grad


def sympy_naive(Wv, bv, xv, yv):
    """Differentiate C(W) symbolically, then substitute: what a CAS-only grader would do."""
    w = sympy.Matrix(2, 2, sympy.symbols("w11 w12 w21 w22"))
    z = w * sympy.Matrix(xv) + sympy.Matrix(bv)
    a = z.applyfunc(lambda v: 1 / (1 + sympy.exp(-v)))
    C = sum((a - sympy.Matrix(yv)).applyfunc(lambda v: v**2)) / 2
    subs = dict(zip(w, Wv.ravel().tolist(), strict=True))
    return [float(sympy.diff(C, wij).evalf(subs=subs)) for wij in w]


def bench_keys(quick: bool) -> dict[str, float]:
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    sets = slip_sets()
    n_stack = 4096
    W, b, x, y = stacked_nets(n_stack, rng)

    # One net at a time, through the same generic code the service uses (float checks,
    # single and pair predictions, 40-digit key), on a drawn 2×2 sigmoid variant.
    t = get_type("weight-gradient")
    seed = next(s for s in range(100)
                if ex.generate(t.id, s, 2).network["layers"][0]["activation"] == "sigmoid")
    setup = t.setup_from(ex.generate(t.id, seed, 2))
    per_variant = best_of(lambda: build_variant(t, Setup(setup.network, setup.params), seed, 2), 3,
                          5 if quick else 20)
    one_float = best_of(lambda: ours_stacked(W[:1], b[:1], x[:1], y[:1], sets), 3,
                        20 if quick else 100)
    stack = best_of(lambda: ours_stacked(W, b, x, y, sets), 3, 2 if quick else 5) / n_stack

    tW, tb, tx, ty = (torch.tensor(a) for a in (W, b, x, y))
    torch_one = best_of(lambda: torch_gradient(torch, tW[0], tb[0], tx[0], ty[0]), 3,
                        200 if quick else 2000)
    torch_stack = best_of(lambda: torch_gradient(torch, tW, tb, tx, ty), 3,
                          5 if quick else 20) / n_stack
    naive = best_of(lambda: sympy_naive(W[0], b[0], x[0], y[0]), 1, 2 if quick else 5)

    # Agreement, so the race is between equal answers.
    assert np.allclose(ours_stacked(W[:64], b[:64], x[:64], y[:64], sets[:1])[0],
                       torch_gradient(torch, tW[:64], tb[:64], tx[:64], ty[:64]).numpy(),
                       rtol=1e-12)
    return {
        "slip_sets": len(sets),
        "torch_autograd_gradient_only_one_net_us": torch_one * 1e6,
        "torch_autograd_gradient_only_stacked_per_net_us": torch_stack * 1e6,
        "sympy_naive_gradient_only_one_net_us": naive * 1e6,
        "ours_full_variant_one_net_us": per_variant * 1e6,
        "ours_key_and_all_predictions_float_one_net_us": one_float * 1e6,
        "ours_key_and_all_predictions_stacked_per_net_us": stack * 1e6,
        "speedup_stacked_vs_torch_one_net": torch_one / stack,
        "speedup_stacked_vs_torch_stacked": torch_stack / stack,
        "speedup_one_net_vs_torch_one_net": torch_one / one_float,
        "speedup_one_net_vs_sympy_naive": naive / one_float,
    }


def bench_grading(quick: bool) -> dict[str, float]:
    """parse_answers + grade on one core, by kind of answer and for an even mix.

    Every numeric type, 12 variants each over the three difficulties (the symbolic type's
    expressions are graded by random-point evaluation, ~1000× slower, and are left out).
    The worker keeps each variant parsed, so its per-variant caches are warm here too.
    """
    rng = np.random.default_rng(1)
    types = [t.id for t in ex.catalogue() if t.id != "symbolic-gradient"]
    variants = [ex.generate(tid, s, 1 + s % 3) for tid in types for s in range(12)]
    kinds: dict[str, list] = {"right": [], "recognised_mistake": [], "unrecognised": []}
    for v in variants:
        key = dict(v.key)
        kinds["right"].append((v, key))
        for part in v.parts:
            for p in v.predictions.get(part.name, ())[:2]:
                kinds["recognised_mistake"].append(
                    (v, {**key, part.name: value_to_json(part.kind, p.value)}))
            if part.kind == "matrix":  # noise on every entry: no mistake explains it
                k = np.asarray(v.key_values[part.name])
                noisy = (k + rng.normal(0, 1, k.shape)).tolist()
                kinds["unrecognised"].append((v, {**key, part.name: noisy}))
    rounds = 1 if quick else 5
    out: dict[str, float] = {"types": len(types), "variants": len(variants)}

    def per_second(cases: list) -> float:
        for v, a in cases:  # warm the per-variant caches, as a long-running worker has them
            ex.grade(v, ex.parse_answers(v, a))
        t = time.perf_counter()
        for _ in range(rounds):
            for v, a in cases:
                ex.grade(v, ex.parse_answers(v, a))
        return rounds * len(cases) / (time.perf_counter() - t)

    for kind, cases in kinds.items():
        out[f"{kind}_per_second_one_core"] = per_second(cases)
    # An even mix: one right answer, one recognised mistake, one unrecognised answer.
    n = min(len(c) for c in kinds.values())
    mix = [c for triple in zip(*(rng.permutation(len(c))[:n] for c in kinds.values()), strict=True)
           for c in (kinds["right"][triple[0]], kinds["recognised_mistake"][triple[1]],
                     kinds["unrecognised"][triple[2]])]
    out["even_mix_per_second_one_core"] = per_second(mix)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    out = {"keys": bench_keys(args.quick), "grading": bench_grading(args.quick)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
