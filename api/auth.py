"""Authentication: password check, JWT bearer tokens, and the current actor of a request."""

from __future__ import annotations

import hmac
import secrets

import jwt
from flask import current_app, g, jsonify, request
from flask.views import MethodView
from flask_smorest import abort
from api.parsing import DubanBlueprint
from werkzeug.security import check_password_hash, generate_password_hash

from api.schemas import MeSchema, SessionSchema, TokenRequestSchema, TokenSchema
from engine.org import sessions
from engine.org.access import Actor
from engine.engine import Engine
from engine.org.accounts import actor_of, find_user

ALGORITHM = "HS256"
SESSION_COOKIE = "duban_session"
CSRF_HEADER = "X-CSRF-Token"
# The OpenAPI document and its viewer need no token; views opt out with ``public = True``.
PUBLIC_ENDPOINTS = {"api-docs.openapi_json", "api-docs.openapi_swagger_ui", "docs_static.swagger_asset"}

blp = DubanBlueprint("auth", __name__, url_prefix="/api/v1", description="登录与当前用户")

# Checked against when a username is unknown, so both paths cost one hash.
_DUMMY_HASH = generate_password_hash("not-a-password")


def hash_password(password: str) -> str:
    """Hash a password for storage."""
    return generate_password_hash(password)


def engine() -> Engine:
    """The engine of the running app."""
    return current_app.extensions["duban_engine"]


def issue_token(username: str, csrf: str | None = None) -> tuple[str, int]:
    """Open a session for a user and sign its access token (bound to a CSRF token for a web
    session); the token and its lifetime in seconds."""
    eng = engine()
    now = eng.clock.now()
    session_id, expires_at = sessions.open_session(eng, username, now)
    claims = {"sub": username, "iat": now, "exp": expires_at, "jti": session_id}
    if csrf:
        claims["csrf"] = csrf
    return jwt.encode(claims, eng.settings.secret_key, algorithm=ALGORITHM), eng.settings.token_ttl_seconds


def _check_password(username: str, password: str) -> str:
    """The username if the password is right, else 401 (the same cost either way). A demo account
    never signs in in production mode."""
    eng = engine()
    user = find_user(eng, username)
    if not check_password_hash(user.password_hash if user else _DUMMY_HASH, password) or user is None:
        abort(401, message="用户名或密码错误")
    if user.demo and eng.settings.production:
        abort(401, message="生产模式下演示账号不能登录")
    return user.username


def authenticate_request() -> None:
    """Resolve the request's credentials to an actor, or answer 401.

    API clients send ``Authorization: Bearer <token>``. The web UI holds the same token in an
    httpOnly session cookie instead; a request that changes something with the cookie must also
    carry the session's CSRF token in ``X-CSRF-Token``.
    """
    if not request.path.startswith("/api/") or request.endpoint in PUBLIC_ENDPOINTS:
        return
    view_class = getattr(current_app.view_functions.get(request.endpoint or ""), "view_class", None)
    if getattr(view_class, "public", False) or request.method in getattr(view_class, "public_methods", ()):
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    from_cookie = False
    if not header:
        token, from_cookie = request.cookies.get(SESSION_COOKIE, ""), True
        scheme = "bearer" if token else ""
    if scheme.lower() != "bearer" or not token:
        abort(401, message="缺少访问令牌（Authorization: Bearer <token>）")
    claims = _verify(token.strip())
    if from_cookie and request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not claims.get("csrf") or not hmac.compare_digest(sent, claims["csrf"]):
            abort(403, message="请求缺少有效的 CSRF 令牌，请刷新页面后重试")
    actor = sessions.signed_in(engine(), claims["jti"], claims["sub"], engine().clock.now())
    if actor is None:
        abort(401, message="登录已失效（已退出、已过期或账号已停用），请重新登录")
    g.actor = actor
    g.claims = claims


def _verify(token: str) -> dict:  # type: ignore[type-arg]
    """Check a token's signature and expiry (on the engine's clock); its claims, or 401."""
    eng = engine()
    try:
        claims = jwt.decode(
            token, eng.settings.secret_key, algorithms=[ALGORITHM],
            options={"require": ["sub", "exp", "iat", "jti"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidTokenError:
        abort(401, message="访问令牌无效")
    if not _well_formed(claims):
        abort(401, message="访问令牌无效")
    if claims["exp"] <= eng.clock.now().timestamp():
        abort(401, message="访问令牌已过期，请重新登录")
    return claims


def _well_formed(claims: dict) -> bool:  # type: ignore[type-arg]
    """Whether every claim duban reads has its type (a signed token may still carry nonsense)."""

    def number(value: object) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    return (isinstance(claims.get("sub"), str) and isinstance(claims.get("jti"), str)
            and number(claims.get("exp")) and number(claims.get("iat"))
            and isinstance(claims.get("csrf", ""), str))


def current_actor() -> Actor:
    """The actor of the current request."""
    return g.actor


@blp.route("/auth/token")
class TokenView(MethodView):
    """Sign in."""

    public = True

    @blp.doc(security=[])
    @blp.arguments(TokenRequestSchema())
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, description="用户名或密码错误")
    def post(self, body: dict) -> dict:  # type: ignore[type-arg]
        """Exchange a username and password for an access token."""
        token, ttl = issue_token(_check_password(body["username"], body["password"]))
        return {"access_token": token, "token_type": "bearer", "expires_in": ttl}


@blp.route("/auth/session")
class SessionView(MethodView):
    """The web UI's session: an httpOnly cookie, with a CSRF token for changes."""

    public_methods = ("POST",)

    @blp.doc(security=[])
    @blp.arguments(TokenRequestSchema())
    @blp.response(200, SessionSchema)
    @blp.alt_response(401, description="用户名或密码错误")
    def post(self, body: dict):  # type: ignore[no-untyped-def, type-arg]
        """Sign in to the web UI: sets the session cookie, answers the user and the CSRF token."""
        username = _check_password(body["username"], body["password"])
        csrf = secrets.token_urlsafe(32)
        token, ttl = issue_token(username, csrf=csrf)
        user = find_user(engine(), username)
        actor = actor_of(user) if user is not None else None
        response = jsonify(SessionSchema().dump(_me(actor) | {"csrf_token": csrf, "expires_in": ttl}))
        response.set_cookie(SESSION_COOKIE, token, max_age=ttl, httponly=True, samesite="Lax",
                            secure=engine().settings.production, path="/")
        return response

    @blp.response(200, SessionSchema)
    def get(self):  # type: ignore[no-untyped-def]
        """The signed-in user and the session's CSRF token (for a page that was reloaded)."""
        return _me(current_actor()) | {"csrf_token": g.claims.get("csrf"), "expires_in": None}

    @blp.response(204)
    def delete(self):  # type: ignore[no-untyped-def]
        """Sign out: end this session in every process at once (cookie or bearer token alike)."""
        sessions.revoke_session(engine(), g.claims["jti"], engine().clock.now())
        response = current_app.response_class(status=204)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


@blp.route("/me")
class MeView(MethodView):
    """The signed-in user."""

    @blp.response(200, MeSchema)
    def get(self) -> dict:  # type: ignore[type-arg]
        """Show who is signed in, with department and roles."""
        return _me(current_actor())


def _me(actor: Actor | None) -> dict:  # type: ignore[type-arg]
    if actor is None:
        abort(401, message="用户不存在或已停用")
    return {
        "username": actor.username,
        "display_name": actor.display_name,
        "department": actor.department,
        "taskforce": actor.taskforce,
        "roles": sorted(actor.roles),
    }
