"""Who is asking: passwords, session logins (Flask-Login) and hashed bearer tokens.

Pages log a user in with ``log_in`` and read ``flask_login.current_user``; API routes
call ``api_user()``, which takes a bearer token when the request has one (no CSRF: the
token is not sent by the browser on its own) and otherwise the session user, whose
unsafe requests must carry the CSRF token. Either way the API sees a ``Principal``: the
caller's id, email, name and role, detached from any database session.

A token's principal is remembered for TOKEN_CACHE_SECONDS per process, so an API client
posting many submissions costs one lookup, not one per request; a token deleted from
the database (or its user) stops working within that time.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import flask_login
from cachetools import TTLCache
from flask import Flask, Request, current_app, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import bindparam, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from . import identifiers
from .caches import Locked
from .db import db
from .errors import API_PREFIX, APIError
from .inputs import MAX_ID
from .models import ApiToken, Role, User

TOKEN_PREFIX = "bpq_"
EMAIL = identifiers.EMAIL
MIN_PASSWORD_LENGTH = 8
# The hash of an account made for someone else (a roster import): no password matches it
# (it is no hash werkzeug makes) until its owner sets one with a set-password link.
UNUSABLE_PASSWORD = "!invited"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
TOKEN_CACHE_SECONDS = 10.0
TOKEN_CACHE_SIZE = 10_000

login_manager = flask_login.LoginManager()
login_manager.login_view = "student.login"  # the pages' login form
login_manager.session_protection = "basic"
csrf = CSRFProtect()


@functools.cache
def _dummy_hash() -> str:
    # Compared against when the email is unknown, so a wrong email takes as long
    # as a wrong password.
    return generate_password_hash(secrets.token_hex(8))


class UserError(ValueError):
    """A user cannot be created as asked (bad email, weak password, taken email)."""


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    """The session's user, if the session was made in the user's current epoch."""
    user_id, _, epoch = session_id.partition(".")
    if not (user_id.isdigit() and epoch.isdigit() and int(user_id) <= MAX_ID):
        return None  # a session from before epochs, or not ours
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.session_epoch == int(epoch) else None


def create_user(email: str, password: str, role: Role, name: str = "") -> User:
    """Add a user with a hashed password to the current session; raise UserError.

    The email and name are normalised and must hold no invisible character (``identifiers``).
    """
    try:
        email = identifiers.clean("email", email, max_length=254).lower()
        name = identifiers.clean("name", name, max_length=120, required=False)
    except identifiers.IdentifierError as exc:
        raise UserError(str(exc)) from None
    if not EMAIL.fullmatch(email):
        raise UserError(f"not an email address: {email!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise UserError(f"a user with email {email} exists")
    user = User(email=email, name=name, password_hash=generate_password_hash(password), role=role)
    db.session.add(user)
    return user


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normal_email(email)))


def normal_email(email: str) -> str:
    """An email as accounts store it (NFKC, lower case); ``create_user`` refuses the rest."""
    return unicodedata.normalize("NFKC", email).strip().lower()


def authenticate(email: str, password: str) -> User | None:
    """The user with this email and password, or None."""
    user = find_user(email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def log_in(email: str, password: str, remember: bool = False) -> User | None:
    """Check the credentials and start a session for the user; None when they are wrong."""
    user = authenticate(email, password)
    if user is not None:
        flask_login.login_user(user, remember=remember)
    return user


def log_out() -> None:
    """End the session, on the server too: every cookie of the user's sessions stops working.

    A session is a signed cookie the server keeps nothing of; moving the user's epoch on
    is what makes a copy of it (or any other device's session) useless. Commits.
    """
    user = flask_login.current_user
    if user.is_authenticated:
        end_sessions(user)
        db.session.commit()
    flask_login.logout_user()


def end_sessions(user: User) -> None:
    """Make every session of ``user`` made so far invalid (not committed)."""
    db.session.execute(
        update(User).where(User.id == user.id).values(session_epoch=User.session_epoch + 1)
    )
    db.session.refresh(user)


def set_password(user: User, password: str) -> None:
    """Give ``user`` a new password and end every session made with the old one; UserError."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = generate_password_hash(password)
    db.session.flush()
    end_sessions(user)


def issue_token(user: User) -> str:
    """A new API token for ``user``; only its hash is stored, so show it once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, token_hash=hash_token(token)))
    return token


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast unsalted hash is enough to store them.
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who an API request speaks for; what routes and policies read of a user."""

    id: int
    email: str
    name: str
    role: Role

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user.id, user.email, user.name, user.role)


def token_cache(timer: Callable[[], float] = time.monotonic) -> Locked[str, Principal]:
    """Token hash -> Principal, each for TOKEN_CACHE_SECONDS."""
    return Locked(TTLCache(TOKEN_CACHE_SIZE, TOKEN_CACHE_SECONDS, timer=timer))


_PRINCIPAL = (
    select(User.id, User.email, User.name, User.role)
    .join(ApiToken)
    .where(ApiToken.token_hash == bindparam("digest"))
)


def token_principal(token: str) -> Principal | None:
    """Whom this bearer token belongs to, or None."""
    digest = hash_token(token)
    cache: Locked[str, Principal] = current_app.extensions["token_cache"]
    principal = cache.get(digest)
    if principal is None:
        # A connection of its own, given back at once: on SQLite a session kept open
        # for the rest of the request would hold the write lock the request needs.
        with db.engine.connect() as connection:
            row = connection.execute(_PRINCIPAL, {"digest": digest}).one_or_none()
        if row is None:
            return None
        principal = Principal(*row)
        cache.put(digest, principal)
    return principal


def bearer_token(req: Request) -> str | None:
    """The request's bearer token, if it brings one."""
    scheme, _, token = req.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except for API requests that bring a bearer token.

    A token speaks for its caller on its own, so such a request gets Flask's null session:
    no cookie is read, verified or written back (about a tenth of an API POST's time).
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(API_PREFIX) and bearer_token(request) is not None:
            return None  # Flask puts a NullSession in its place
        return super().open_session(app, request)


def api_user() -> Principal | None:
    """The caller of an API route: by bearer token, else by session (CSRF-checked)."""
    if "Authorization" in request.headers:
        token = bearer_token(request)
        principal = token_principal(token) if token else None
        if principal is None:
            raise APIError(401, "unauthorized", "invalid or unknown bearer token")
        return principal
    user = flask_login.current_user
    if not user.is_authenticated:
        return None
    if request.method in UNSAFE_METHODS:
        csrf.protect()
    principal = Principal.of(user)
    db.release()  # loading the user is done with; the route may write on its own connection
    return principal


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
    login_manager.init_app(app)
    csrf.init_app(app)
    app.extensions["token_cache"] = token_cache()
