"""A faithful LTI 1.3 platform for the tests, served over real HTTP on 127.0.0.1.

It plays an LMS as the 1EdTech specifications describe one, built on a JOSE library
(jwcrypto, PyJWT) rather than on the tool's code: its own RSA keys and JWKS, the OIDC
authorization endpoint that answers a tool's login with a signed id_token, the OAuth2
token endpoint (client-credentials with a JWT assertion it verifies against the tool's
published JWKS), AGS line items and scores, NRPS memberships, the deep-linking return
that verifies the tool's signed response, and Dynamic Registration.

State a test reads or sets lives on ``Lms`` (members, line items, the scores received,
``down`` to make the services answer 503). Each part of the platform is a mixin with a
blueprint: ``core`` (keys, login and launch), ``services`` (token, AGS, NRPS) and
``registration`` (Dynamic Registration, the deep-linking return).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from . import core, registration, services

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
TEACHING_ASSISTANT = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
)


@dataclass
class LmsUser:
    """A person on the platform; ``sub`` is their stable LTI user id."""

    sub: str
    name: str
    email: str | None
    roles: list[str]
    status: str = "Active"  # NRPS member status


@dataclass
class Context:
    id: str = "course-1"
    label: str = "DL-101"
    title: str = "Deep Learning 101"


class Lms(core.Core, services.Services, registration.Registration):
    """One platform: issuer ``url``, our tool registered as ``client_id`` under
    ``deployment_id`` (once a test registered it)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        """``host`` names the platform in its URLs; "localhost" makes it another site than a
        tool at 127.0.0.1, as a real LMS is to the tool it frames (the server listens on
        127.0.0.1 either way)."""
        self.app = Flask("lmsim")
        self.app.extensions["lms"] = self
        self.client_id = "backprop-quiz-client"
        self.deployment_id = "deployment-1"
        self.context = Context()
        self.members: list[LmsUser] = []
        self.down = False  # the services (token, AGS, NRPS) answer 503 while set
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request served
        self.tool: dict[str, Any] = {}  # the tool's URLs once registered
        self.lock = threading.Lock()
        for part in (core.Core, services.Services, registration.Registration):
            part.setup(self)

        @self.app.before_request
        def _count() -> None:
            from flask import request

            with self.lock:
                self.requests.append((request.method, request.path))

        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://{host}:{self._server.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def issuer(self) -> str:
        return self.url

    def start(self) -> Lms:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


__all__ = ["INSTRUCTOR", "LEARNER", "TEACHING_ASSISTANT", "Context", "Lms", "LmsUser"]
