"""A network (CONTRACT §2) drawn as a small inline SVG: neurons in columns, weights on the edges.

Inputs on the left, one column per layer; the edge from input j to neuron i carries
W[i][j], written on the edge itself (turned along it, on a white halo that cuts the line)
a third of the way along, so the labels fanning out of one neuron stay apart and each
plainly belongs to its own line. With one example the input and target values are shown
beside their neurons.
Every string drawn is escaped; the SVG is a titled image, the prompt states the same
numbers in words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

ROW = 76  # vertical distance between two neurons of a column
COLUMN = 210  # horizontal distance between two columns
RADIUS = 17
MARGIN_X = 40  # at least, beside the outer columns; more when "x₁ = -3/10" needs it
CHAR = 7.6  # width of one character of the 13px labels, near enough to leave room for them
MARGIN_TOP = 44  # room for the column captions
MARGIN_BOTTOM = 18
LABEL_AT = 0.32  # where along an edge its weight is written, from the source
MAX_LABELLED_EDGES = 16  # more edges than this per layer and the weights stay in the prompt

ACTIVATIONS = {
    "identity": "identity",
    "relu": "ReLU",
    "leaky_relu": "leaky ReLU",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "softmax": "softmax",
}
SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass(frozen=True)
class Node:
    x: float
    y: float


def number(value: Any) -> str:
    """A network number as written in the file: exact strings as given, floats short."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _sub(i: int) -> str:
    return str(i).translate(SUBSCRIPTS)


def svg(network: dict[str, Any]) -> Markup:
    """The network as an ``<svg role="img">`` with a title that describes it."""
    layers = network["layers"]
    sizes = [len(network["x"])] + [len(layer["W"]) for layer in layers]
    one_example = len(network["x"][0]) == 1
    tallest = max(sizes)
    input_labels = [f"x{_sub(i + 1)}" + (f" = {number(v[0])}" if one_example else "")
              for i, v in enumerate(network["x"])]
    target_labels = [f"y{_sub(i + 1)} = {number(v[0])}" if one_example else ""
               for i, v in enumerate(network["y"])]
    left = max(MARGIN_X, RADIUS + 12 + CHAR * max(len(t) for t in input_labels))
    right = max(MARGIN_X, RADIUS + 12 + CHAR * max(len(t) for t in target_labels))
    width = round(left + right + COLUMN * (len(sizes) - 1))
    height = MARGIN_TOP + MARGIN_BOTTOM + ROW * (tallest - 1) + 2 * RADIUS
    columns = [
        [
            Node(left + COLUMN * c, MARGIN_TOP + RADIUS + ROW * (i + (tallest - n) / 2))
            for i in range(n)
        ]
        for c, n in enumerate(sizes)
    ]

    parts: list[Markup] = []
    for l, layer in enumerate(layers, start=1):
        sources, targets = columns[l - 1], columns[l]
        labelled = len(sources) * len(targets) <= MAX_LABELLED_EDGES
        for i, target in enumerate(targets):
            for j, source in enumerate(sources):
                parts.append(_edge(source, target, layer["W"][i][j] if labelled else None))
    for l, column in enumerate(columns):
        caption = "input" if l == 0 else f"layer {l} · {_activation(layers[l - 1])}"
        parts.append(_caption(column[0].x, caption))
        for i, node in enumerate(column):
            if l == 0:
                parts.append(_node(node, f"x{_sub(i + 1)}", "input"))
                if one_example:
                    parts.append(_side(node, input_labels[i], left=True))
                continue
            bias = layers[l - 1]["b"][i][0]
            parts.append(_node(node, f"a{_sub(i + 1)}" if l == len(layers) else "", "neuron"))
            parts.append(_bias(node, f"b = {number(bias)}"))
            if l == len(layers) and one_example:
                parts.append(_side(node, target_labels[i], left=False))
    title = _describe(network, sizes)
    return Markup(
        '<svg class="network" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-labelledby="network-title" xmlns="http://www.w3.org/2000/svg">'
        '<title id="network-title">{title}</title>{body}</svg>'
    ).format(w=width, h=height, title=title, body=Markup("").join(parts))


def _describe(network: dict[str, Any], sizes: list[int]) -> str:
    layers = ", ".join(
        f"layer {l}: {n} {_activation(layer)} neuron"
        + ("s" if n != 1 else "")
        for l, (n, layer) in enumerate(zip(sizes[1:], network["layers"], strict=True), start=1)
    )
    return f"Network diagram: {sizes[0]} inputs; {layers}. Each edge is labelled with its weight."


def _activation(layer: dict[str, Any]) -> str:
    return ACTIVATIONS.get(layer["activation"], str(layer["activation"]))


def _edge(source: Node, target: Node, weight: Any) -> Markup:
    line = Markup('<line class="edge" x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}"/>').format(
        source.x + RADIUS, source.y, target.x - RADIUS, target.y
    )
    if weight is None:
        return line
    dx, dy = target.x - source.x - 2 * RADIUS, target.y - source.y
    x, y = source.x + RADIUS + LABEL_AT * dx, source.y + LABEL_AT * dy
    angle = math.degrees(math.atan2(dy, dx))
    return line + Markup(
        '<text class="weight" x="{x:.1f}" y="{y:.1f}" dy="0.35em" '
        'transform="rotate({a:.1f} {x:.1f} {y:.1f})">{w}</text>'
    ).format(x=x, y=y, a=angle, w=number(weight))


def _node(node: Node, label: str, kind: str) -> Markup:
    return Markup(
        '<circle class="{kind}" cx="{x:.1f}" cy="{y:.1f}" r="{r}"/>'
        '<text class="node-label" x="{x:.1f}" y="{ty:.1f}">{label}</text>'
    ).format(kind=kind, x=node.x, y=node.y, ty=node.y + 5, r=RADIUS, label=escape(label))


def _side(node: Node, label: str, left: bool) -> Markup:
    x = node.x - RADIUS - 8 if left else node.x + RADIUS + 8
    anchor = "end" if left else "start"
    return Markup('<text class="side {} {}" x="{:.1f}" y="{:.1f}">{}</text>').format(
        anchor, "given" if left else "target", x, node.y + 4, label
    )


def _bias(node: Node, label: str) -> Markup:
    return Markup('<text class="bias" x="{:.1f}" y="{:.1f}">{}</text>').format(
        node.x, node.y + RADIUS + 13, label
    )


def _caption(x: float, label: str) -> Markup:
    return Markup('<text class="caption" x="{:.1f}" y="16">{}</text>').format(x, label)
