"""The harness itself: the tool and the platform reach each other over HTTP."""

from __future__ import annotations

import requests
from lmsim import Lms
from ltikit import Tool


def test_the_tool_publishes_its_keys_over_http(tool: Tool, lms: Lms) -> None:
    document = requests.get(f"{tool.url}/lti/jwks", timeout=10).json()
    assert [k["kty"] for k in document["keys"]] == ["RSA"]
    assert "d" not in document["keys"][0]  # the public half only
    assert lms.url.startswith("http://127.0.0.1:")
