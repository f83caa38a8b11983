"""The variants the issue's reproducers were reported on, as they were drawn then.

Draws have changed since (a seed now gives another network), so a reproducer rebuilds its
variant from the network stored in ``data/reported_variants.json``, as the service rebuilds
a stored problem: the network is the truth, the seed only its label.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import exercises as ex
from exercises.network import parse_network
from exercises.registry import Setup, build_variant

DATA = Path(__file__).with_name("data") / "reported_variants.json"


@cache
def _stored() -> dict[str, Any]:
    return json.loads(DATA.read_text())


def reported(type_id: str, seed: int, difficulty: int) -> ex.Variant:
    """The variant (type, seed, difficulty) as it was drawn when the issue was reported."""
    data = _stored()[f"{type_id} {seed} {difficulty}"]
    setup = Setup(parse_network(data["network"]), dict(data["params"]))
    return build_variant(ex.get_type(type_id), setup, seed, difficulty)
