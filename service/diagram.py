"""A network (CONTRACT §2) drawn as a small inline SVG: neurons in columns, weights on the edges.

Inputs on the left, one column per layer; the edge from input j to neuron i carries
W[i][j], written on the edge itself (turned along it, on a white halo that cuts the line).
Where along its edge each label goes is searched for (``_place``): no label box may touch
another label, a crossing of two edges, a neuron or a bias, and among the places left it
takes the one farthest from the crossings on its edge. Should no such
placement exist the columns move apart and it is tried again; failing that the edges are
numbered and the weights listed under the drawing. With one example the input and target
values are shown beside their neurons.
Every string drawn is escaped; the SVG is a titled image whose title lists every weight
and bias, as the prompt does.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

ROW = 76  # vertical distance between two neurons of a column
COLUMN = 210  # horizontal distance between two columns
RADIUS = 17
MARGIN_X = 40  # at least, beside the outer columns; more when "x₁ = -3/10" needs it
CHAR = 7.6  # width of one character of the 13px labels, near enough to leave room for them
CAPTION_CHAR = 9.0  # the same for the 12px upper-case, letter-spaced column captions
MARGIN_TOP = 44  # room for the column captions
MARGIN_BOTTOM = 18
MAX_LABELLED_EDGES = 16  # more edges than this per layer and the weights are listed below
# A label's box: CHAR per character plus the halo's 2 px on each side, by LABEL_HEIGHT.
LABEL_HEIGHT = 17.0
LABEL_PAD = 4.0
GAP = 1.5  # the least room between a label and anything else
CANDIDATES = [i / 40 for i in range(6, 35)]  # where along an edge a label may go: 0.15-0.85
SPREADS = (1.0, 1.3, 1.7)  # column distances tried, as multiples of COLUMN
LEGEND_ROW = 18
MAX_SEARCH = 4_000  # steps of the placement search before it gives up on a spacing

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


Point = tuple[float, float]
Polygon = list[Point]
Bounds = tuple[float, float, float, float]  # left, top, right, bottom


@dataclass(frozen=True)
class Shape:
    """A convex polygon and its bounding box, computed once."""

    points: Polygon
    bounds: Bounds

    @classmethod
    def of(cls, points: Polygon) -> Shape:
        xs, ys = [x for x, _ in points], [y for _, y in points]
        return cls(points, (min(xs), min(ys), max(xs), max(ys)))


@dataclass(frozen=True)
class Edge:
    """One drawn edge: of layer ``layer`` (1-based), from source j to target i, its ends and
    its label."""

    layer: int
    i: int
    j: int
    start: Point
    end: Point
    text: str


@dataclass(frozen=True)
class Label:
    """A weight written on its edge: the centre, the angle (degrees), the box it covers."""

    x: float
    y: float
    angle: float
    box: Shape


def svg(network: dict[str, Any]) -> Markup:
    """The network as an ``<svg role="img">`` whose title describes it, every weight included."""
    # Placing the labels takes milliseconds; a problem's network never changes.
    return _svg(json.dumps(network, sort_keys=True))


@functools.lru_cache(maxsize=1024)
def _svg(network_json: str) -> Markup:
    network = json.loads(network_json)
    layers = network["layers"]
    sizes = [len(network["x"])] + [len(layer["W"]) for layer in layers]
    for spread in SPREADS:
        drawing = _drawing(network, sizes, COLUMN * spread, numbered=False)
        if drawing is not None:
            return drawing
    # No room on the edges at any spacing: short numbers there, the weights listed below.
    drawing = _drawing(network, sizes, COLUMN * SPREADS[-1], numbered=True)
    assert drawing is not None  # unlabelled edges are the last resort, and always fit
    return drawing


def _drawing(
    network: dict[str, Any], sizes: list[int], column: float, numbered: bool
) -> Markup | None:
    """The SVG at this column distance, or None if some weight label finds no free place."""
    layers = network["layers"]
    one_example = len(network["x"][0]) == 1
    tallest = max(sizes)
    input_labels = [f"x{_sub(i + 1)}" + (f" = {number(v[0])}" if one_example else "")
              for i, v in enumerate(network["x"])]
    target_labels = [f"y{_sub(i + 1)} = {number(v[0])}" if one_example else ""
               for i, v in enumerate(network["y"])]
    captions = ["input"] + [f"layer {k} · {_activation(layer)}"
                            for k, layer in enumerate(layers, start=1)]
    left = max(MARGIN_X, RADIUS + 12 + CHAR * max(len(t) for t in input_labels),
               CAPTION_CHAR * len(captions[0]) / 2 + 4)
    right = max(MARGIN_X, RADIUS + 12 + CHAR * max(len(t) for t in target_labels),
                CAPTION_CHAR * len(captions[-1]) / 2 + 4)
    width = round(left + right + column * (len(sizes) - 1))
    height = MARGIN_TOP + MARGIN_BOTTOM + ROW * (tallest - 1) + 2 * RADIUS
    columns = [
        [
            Node(left + column * c, MARGIN_TOP + RADIUS + ROW * (i + (tallest - n) / 2))
            for i in range(n)
        ]
        for c, n in enumerate(sizes)
    ]

    edges: list[Edge] = []
    legend: list[str] = []
    for k, layer in enumerate(layers, start=1):
        sources, targets = columns[k - 1], columns[k]
        shown = len(sources) * len(targets) <= MAX_LABELLED_EDGES
        for i, target in enumerate(targets):
            for j, source in enumerate(sources):
                weight = number(layer["W"][i][j])
                text = weight
                if numbered or not shown:
                    text = str(len(edges) + 1) if numbered and shown else ""
                    legend.append(
                        (f"{text}: " if text else "")
                        + f"w{_sub(i + 1)}{_sub(j + 1)} of layer {k} = {weight}"
                    )
                edges.append(Edge(k, i, j, (source.x + RADIUS, source.y),
                                  (target.x - RADIUS, target.y), text))

    biases = [
        (node, f"b = {number(layers[c - 1]['b'][i][0])}")
        for c, column_nodes in enumerate(columns) if c > 0
        for i, node in enumerate(column_nodes)
    ]
    obstacles = [_square(node, RADIUS + GAP) for column_nodes in columns for node in column_nodes]
    obstacles += [_bias_box(node, text) for node, text in biases]
    labels = _place(edges, obstacles)
    if labels is None:
        return None

    parts: list[Markup] = []
    for edge in edges:
        parts.append(_edge(edge, labels.get(edge)))
    for c, column_nodes in enumerate(columns):
        parts.append(_caption(column_nodes[0].x, captions[c]))
        for i, node in enumerate(column_nodes):
            if c == 0:
                parts.append(_node(node, f"x{_sub(i + 1)}", "input"))
                if one_example:
                    parts.append(_side(node, input_labels[i], left=True))
                continue
            parts.append(_node(node, f"a{_sub(i + 1)}" if c == len(layers) else "", "neuron"))
            if c == len(layers) and one_example:
                parts.append(_side(node, target_labels[i], left=False))
    for node, text in biases:
        parts.append(_bias(node, text))
    for k, line in enumerate(legend):
        parts.append(Markup('<text class="legend" x="12" y="{:.1f}">{}</text>').format(
            height + LEGEND_ROW * k + 4, line))
    height += LEGEND_ROW * len(legend)
    title = _describe(network, sizes)
    return Markup(
        '<svg class="network" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-labelledby="network-title" xmlns="http://www.w3.org/2000/svg">'
        '<title id="network-title">{title}</title>{body}</svg>'
    ).format(w=width, h=height, title=title, body=Markup("").join(parts))


def _describe(network: dict[str, Any], sizes: list[int]) -> str:
    """The text alternative: the shape, then every weight and bias, layer by layer."""
    layers = ", ".join(
        f"layer {k}: {n} {_activation(layer)} neuron"
        + ("s" if n != 1 else "")
        for k, (n, layer) in enumerate(zip(sizes[1:], network["layers"], strict=True), start=1)
    )
    text = f"Network diagram: {sizes[0]} inputs; {layers}."
    for k, layer in enumerate(network["layers"], start=1):
        source = "input" if k == 1 else f"neuron of layer {k - 1}"
        weights = ", ".join(
            f"w{_sub(i + 1)}{_sub(j + 1)} = {number(w)}"
            for i, row in enumerate(layer["W"]) for j, w in enumerate(row)
        )
        biases = ", ".join(f"b{_sub(i + 1)} = {number(b[0])}" for i, b in enumerate(layer["b"]))
        text += (f" Layer {k} weights, w_ij from {source} j to neuron i: {weights};"
                 f" biases: {biases}.")
    if len(network["x"][0]) == 1:
        inputs = ", ".join(f"x{_sub(i + 1)} = {number(v[0])}" for i, v in enumerate(network["x"]))
        targets = ", ".join(f"y{_sub(i + 1)} = {number(v[0])}" for i, v in enumerate(network["y"]))
        text += f" Input {inputs}; target {targets}."
    return text


# --- where each weight label goes --------------------------------------------------------


def _place(edges: list[Edge], obstacles: list[Shape]) -> dict[Edge, Label] | None:
    """A label for every edge with text, none touching another label, a crossing of two
    edges, a neuron or a bias; or None if there is no such placement (a bounded search).

    A label may pass over another edge away from a crossing: its halo cuts that line, and
    being turned along its own edge it still plainly belongs there.
    """
    wanted = [e for e in edges if e.text]
    crossings = [c for k, a in enumerate(edges) for b in edges[k + 1:]
                 if (c := _crossing(a, b)) is not None]
    blocked = obstacles + [_square(Node(*c), 2 + GAP) for c in crossings]
    domains: dict[Edge, list[Label]] = {}
    for edge in wanted:
        free = [
            label for label in (_label_at(edge, t) for t in CANDIDATES)
            if not any(_overlap(label.box, box) for box in blocked)
        ]
        if not free:
            return None
        mine = [c for e in edges if e is not edge and (c := _crossing(edge, e)) is not None]
        points = [*mine, edge.start, edge.end]
        # Farthest from the crossings on its edge (and from the ends) first.
        free.sort(key=lambda lb: -min(math.dist((lb.x, lb.y), c) for c in points))
        domains[edge] = free
    chosen: dict[Edge, Label] = {}
    steps = 0

    def search(domains: dict[Edge, list[Label]]) -> bool:
        # Backtracking with forward checking: the edge with fewest places left goes first,
        # and each choice strikes the places it covers from the others' lists.
        nonlocal steps
        if not domains:
            return True
        edge = min(domains, key=lambda e: len(domains[e]))
        for label in domains[edge]:
            steps += 1
            if steps > MAX_SEARCH:
                return False
            rest: dict[Edge, list[Label]] = {}
            for other, places in domains.items():
                if other is not edge:
                    rest[other] = [lb for lb in places if not _overlap(lb.box, label.box)]
                    if not rest[other]:
                        break
            else:
                chosen[edge] = label
                if search(rest):
                    return True
                del chosen[edge]
        return False

    return chosen if search(domains) else None


def _label_at(edge: Edge, t: float) -> Label:
    (x0, y0), (x1, y1) = edge.start, edge.end
    dx, dy = x1 - x0, y1 - y0
    length = math.hypot(dx, dy)
    ux, uy = dx / length, dy / length
    x, y = x0 + t * dx, y0 + t * dy
    a = (CHAR * len(edge.text) + LABEL_PAD) / 2 + GAP
    b = LABEL_HEIGHT / 2 + GAP
    box = [(x + sa * a * ux - sb * b * uy, y + sa * a * uy + sb * b * ux)
           for sa, sb in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    return Label(x, y, math.degrees(math.atan2(dy, dx)), Shape.of(box))


def _crossing(a: Edge, b: Edge) -> Point | None:
    """Where two edges cross, if they do."""
    (x1, y1), (x2, y2) = a.start, a.end
    (x3, y3), (x4, y4) = b.start, b.end
    den = (x1 - x2) * (y3 - y4) - (y1 - y2) * (x3 - x4)
    if den == 0:
        return None
    t = ((x1 - x3) * (y3 - y4) - (y1 - y3) * (x3 - x4)) / den
    u = ((x1 - x3) * (y1 - y2) - (y1 - y3) * (x1 - x2)) / den
    if 0 < t < 1 and 0 < u < 1:
        return (x1 + t * (x2 - x1), y1 + t * (y2 - y1))
    return None


def _overlap(p: Shape, q: Shape) -> bool:
    """Whether two convex polygons intersect: the separating axis theorem, after a cheap
    test of their bounding boxes (most pairs are far apart)."""
    pb, qb = p.bounds, q.bounds
    if pb[2] < qb[0] or qb[2] < pb[0] or pb[3] < qb[1] or qb[3] < pb[1]:
        return False
    for poly in (p.points, q.points):
        for k in range(len(poly)):
            (x0, y0), (x1, y1) = poly[k], poly[(k + 1) % len(poly)]
            nx, ny = y0 - y1, x1 - x0
            ps = [nx * x + ny * y for x, y in p.points]
            qs = [nx * x + ny * y for x, y in q.points]
            if max(ps) < min(qs) or max(qs) < min(ps):
                return False
    return True


def _square(node: Node, half: float) -> Shape:
    return Shape.of([(node.x - half, node.y - half), (node.x + half, node.y - half),
                     (node.x + half, node.y + half), (node.x - half, node.y + half)])


def _bias_box(node: Node, text: str) -> Shape:
    half, top = CHAR * len(text) / 2 + GAP, node.y + RADIUS + 1
    return Shape.of([(node.x - half, top), (node.x + half, top),
                     (node.x + half, top + 16), (node.x - half, top + 16)])


def _activation(layer: dict[str, Any]) -> str:
    return ACTIVATIONS.get(layer["activation"], str(layer["activation"]))


def _edge(edge: Edge, label: Label | None) -> Markup:
    (x0, y0), (x1, y1) = edge.start, edge.end
    line = Markup('<line class="edge" x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}"/>').format(
        x0, y0, x1, y1
    )
    if label is None:
        return line
    return line + Markup(
        '<text class="weight" x="{x:.1f}" y="{y:.1f}" dy="0.35em" '
        'transform="rotate({a:.1f} {x:.1f} {y:.1f})">{w}</text>'
    ).format(x=label.x, y=label.y, a=label.angle, w=edge.text)


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
