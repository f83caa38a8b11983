"""Wording shared by prompts: the network described in text and LaTeX."""

from __future__ import annotations

from .. import latex as tex
from ..network import Network

LOSS_NAMES = {
    "half_sse": r"half the squared error $C = \tfrac12\lVert a - y\rVert^2$",
    "mse": r"the mean squared error $C = \tfrac1n\lVert a - y\rVert^2$",
    "cross_entropy": r"the cross-entropy $C = -\sum_i y_i \ln a_i$",
    "binary_cross_entropy": (r"the binary cross-entropy "
                             r"$C = -\sum_i [y_i\ln a_i + (1-y_i)\ln(1-a_i)]$"),
}
ACTIVATION_NAMES = {
    "identity": "no activation (identity)",
    "relu": "ReLU",
    "leaky_relu": r"leaky ReLU ($\alpha = {alpha}$)",
    "sigmoid": r"the sigmoid $\sigma(z) = 1/(1+e^{-z})$",
    "tanh": r"$\tanh$",
    "softmax": "softmax",
}
TOLERANCE = ("Give numbers as integers, decimals or fractions; answers within 0.5% "
             "(or 0.0001) of the exact value are accepted.")


def activation_name(net: Network, k: int) -> str:
    L = net.layers[k]
    return ACTIVATION_NAMES[L.activation].replace("{alpha}", tex.number(L.alpha))


def data(net: Network) -> str:
    """x, y, the loss and the batch size, in one sentence."""
    batch = ("one example" if net.m == 1
             else f"a batch of {net.m} examples (one per column; the cost is their mean)")
    return (f"The input is $x = {tex.matrix(net.x)}$ and the target $y = {tex.matrix(net.y)}$, "
            f"{batch}. The loss is {LOSS_NAMES[net.loss]}.")


def layers(net: Network) -> str:
    """Each layer's W, b and activation."""
    if len(net.layers) == 1:
        L = net.layers[0]
        return (f"A layer computes $z = Wx + b$ and $a = \\sigma(z)$ with "
                f"$W = {tex.matrix(L.W)}$, $b = {tex.matrix(L.b)}$ and {activation_name(net, 0)}.")
    out = [(f"A {len(net.layers)}-layer network computes $z_l = W_l a_{{l-1}} + b_l$, "
            "$a_l = \\sigma_l(z_l)$, with $a_0 = x$:")]
    for k, L in enumerate(net.layers):
        out.append(f"layer {k + 1}: $W_{{{k + 1}}} = {tex.matrix(L.W)}$, "
                   f"$b_{{{k + 1}}} = {tex.matrix(L.b)}$, {activation_name(net, k)}"
                   + (";" if k < len(net.layers) - 1 else "."))
    return " ".join(out)
