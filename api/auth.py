"""Authentication: password check, JWT bearer tokens, and the current actor of a request."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import jwt
from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from werkzeug.security import check_password_hash, generate_password_hash

from api.schemas import MeSchema, TokenRequestSchema, TokenSchema
from engine.access import Actor
from engine.bootstrap import Engine
from engine.org import actor_of, find_user

ALGORITHM = "HS256"
# The OpenAPI document and its viewer need no token; views opt out with ``public = True``.
PUBLIC_ENDPOINTS = {"api-docs.openapi_json", "api-docs.openapi_swagger_ui", "docs_static.swagger_asset"}

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="登录与当前用户")

# Checked against when a username is unknown, so both paths cost one hash.
_DUMMY_HASH = generate_password_hash("not-a-password")


def hash_password(password: str) -> str:
    """Hash a password for storage."""
    return generate_password_hash(password)


def engine() -> Engine:
    """The engine of the running app."""
    return current_app.extensions["duban_engine"]


def issue_token(username: str) -> tuple[str, int]:
    """A signed access token for a user and its lifetime in seconds."""
    eng = engine()
    ttl = eng.settings.token_ttl_seconds
    now = eng.clock.now()
    claims = {"sub": username, "iat": now, "exp": now + timedelta(seconds=ttl), "jti": uuid.uuid4().hex}
    return jwt.encode(claims, eng.settings.secret_key, algorithm=ALGORITHM), ttl


def authenticate_request() -> None:
    """Resolve the bearer token of an API request to an actor, or answer 401."""
    if not request.path.startswith("/api/") or request.endpoint in PUBLIC_ENDPOINTS:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(getattr(view, "view_class", None), "public", False):
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        abort(401, message="缺少访问令牌（Authorization: Bearer <token>）")
    eng = engine()
    try:
        claims = jwt.decode(
            token.strip(), eng.settings.secret_key, algorithms=[ALGORITHM],
            options={"require": ["sub", "exp", "iat"], "verify_exp": False, "verify_iat": False},
            leeway=0,
        )
        # Expiry is judged against the engine's clock, not the host's.
        if claims["exp"] <= eng.clock.now().timestamp():
            raise jwt.ExpiredSignatureError("token expired")
    except jwt.ExpiredSignatureError:
        abort(401, message="访问令牌已过期，请重新登录")
    except jwt.InvalidTokenError:
        abort(401, message="访问令牌无效")
    actor = _actors().get(eng, claims["sub"])
    if actor is None:
        abort(401, message="用户不存在或已停用")
    g.actor = actor


class ActorCache:
    """Signed-in users' actors, kept briefly so a request does not load its user every time.

    A deactivated user or a changed role takes effect within ``ttl`` seconds.
    """

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Actor | None]] = {}
        self._lock = threading.Lock()

    def get(self, eng: Engine, username: str) -> Actor | None:
        """The actor of an active user, or None."""
        now = time.monotonic()
        entry = self._entries.get(username)
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        user = find_user(eng, username)
        actor = actor_of(user) if user is not None else None
        with self._lock:
            self._entries[username] = (now, actor)
        return actor


def _actors() -> ActorCache:
    return current_app.extensions.setdefault("duban_actor_cache", ActorCache())


def current_actor() -> Actor:
    """The actor of the current request."""
    return g.actor


@blp.route("/auth/token")
class TokenView(MethodView):
    """Sign in."""

    public = True

    @blp.arguments(TokenRequestSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, description="用户名或密码错误")
    def post(self, body: dict) -> dict:  # type: ignore[type-arg]
        """Exchange a username and password for an access token."""
        user = find_user(engine(), body["username"])
        if not check_password_hash(user.password_hash if user else _DUMMY_HASH, body["password"]) or user is None:
            abort(401, message="用户名或密码错误")
        token, ttl = issue_token(user.username)
        return {"access_token": token, "token_type": "bearer", "expires_in": ttl}


@blp.route("/me")
class MeView(MethodView):
    """The signed-in user."""

    @blp.response(200, MeSchema)
    def get(self) -> dict:  # type: ignore[type-arg]
        """Show who is signed in, with department and roles."""
        actor = current_actor()
        return {
            "username": actor.username,
            "display_name": actor.display_name,
            "department": actor.department,
            "taskforce": actor.taskforce,
            "roles": sorted(actor.roles),
        }
