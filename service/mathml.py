"""LaTeX to MathML on the server, so the maths is native in the page with nothing fetched.

``text`` renders prose with inline ``$...$`` LaTeX and ```code``` spans: every character
outside the maths is HTML-escaped, and the maths goes through latex2mathml and then an
allowlist of MathML elements and attributes, re-serialised so its text is escaped too
(latex2mathml copies ``\\text{...}`` through raw and keeps ``\\href``). Anything that
fails to convert is shown as escaped source, never dropped.
"""

from __future__ import annotations

import html
import re
from xml.etree.ElementTree import Element, tostring

from latex2mathml.converter import convert_to_element
from markupsafe import Markup, escape

# MathML Core's elements (and the few latex2mathml writes beyond it); anything else goes.
ELEMENTS = frozenset(
    {
        "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "mfrac", "msqrt", "mroot",
        "mstyle", "merror", "mpadded", "mphantom", "msub", "msup", "msubsup", "munder", "mover",
        "munderover", "mmultiscripts", "mprescripts", "none", "mtable", "mtr", "mtd", "menclose",
        "semantics", "annotation"
    }
)
ATTRIBUTES = frozenset(
    {
        "xmlns", "display", "displaystyle", "scriptlevel", "mathvariant", "mathsize", "mathcolor",
        "mathbackground", "fence", "stretchy", "separator", "symmetric", "largeop", "movablelimits",
        "accent", "accentunder", "form", "lspace", "rspace", "minsize", "maxsize", "width",
        "height", "depth", "voffset", "linethickness", "notation", "columnalign", "columnlines",
        "columnspacing", "columnspan", "rowalign", "rowlines", "rowspacing", "rowspan", "frame",
        "framespacing", "equalrows", "equalcolumns", "align", "class"
    }
)
# A matrix's brackets, drawn by the stylesheet around the table instead: stretching an <mo>
# needs a font with a MATH table, which many systems lack.
BRACKETS = {("[", "]"): "bmatrix", ("(", ")"): "pmatrix"}
# $...$ holds maths (no nesting, no escaped dollars in our prompts); `...` holds code.
_SPANS = re.compile(r"\$([^$]+)\$|`([^`]+)`")


class UnsafeMathML(ValueError):
    """latex2mathml produced an element outside the allowlist."""


def formula(latex: str, display: bool = False) -> Markup:
    """One LaTeX formula as a ``<math>`` element; on failure its source, escaped, in ``<code>``."""
    try:
        root = convert_to_element(latex, display="block" if display else "inline")
        _clean(root)
    except Exception:  # noqa: BLE001 -- latex2mathml raises many kinds; show the source instead
        return Markup('<code class="tex">{}</code>').format(latex)
    return Markup(tostring(root, encoding="unicode", short_empty_elements=False))


def text(source: str) -> Markup:
    """Prose with inline ``$...$`` maths and ```code``` spans as safe HTML."""
    out: list[str] = []
    at = 0
    for match in _SPANS.finditer(source):
        out.append(escape(source[at : match.start()]))
        math, code = match.groups()
        out.append(formula(math) if math is not None else Markup("<code>{}</code>").format(code))
        at = match.end()
    out.append(escape(source[at:]))
    return Markup("").join(out)


def _clean(element: Element) -> None:
    """Keep allowed elements and attributes; turn latex2mathml's entity strings into text.

    latex2mathml stores symbols as entity strings ("&#x0003D;") and unescapes its whole
    output at the end, which would also unescape raw text; here the entities become
    characters instead, and ``tostring`` escapes every text node once.
    """
    tag = element.tag.rpartition("}")[2]
    if tag not in ELEMENTS:
        raise UnsafeMathML(tag)
    for name in list(element.attrib):
        if name not in ATTRIBUTES:
            del element.attrib[name]
    if element.text:
        element.text = html.unescape(element.text)
    if element.tail:
        element.tail = html.unescape(element.tail)
    for child in element:
        _clean(child)
    _draw_brackets(element)


def _draw_brackets(element: Element) -> None:
    """Replace ``<mo>[</mo><mtable/><mo>]</mo>`` by ``<mtable class="bmatrix">``."""
    children = list(element)
    for k in range(len(children) - 2):
        left, table, right = children[k : k + 3]
        kind = BRACKETS.get((_operator(left), _operator(right)))
        if kind and table.tag.rpartition("}")[2] == "mtable":
            table.set("class", kind)
            table.tail = right.tail
            element.remove(left)
            element.remove(right)


def _operator(element: Element) -> str:
    """The text of an ``<mo>`` element; "" for any other element."""
    return (element.text or "") if element.tag.rpartition("}")[2] == "mo" else ""
