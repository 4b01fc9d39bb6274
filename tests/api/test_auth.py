"""Authentication: bearer tokens, login, public endpoints, and the production secret check."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from api import create_app
from engine.org import sessions
from engine.settings import DEFAULT_SECRET_KEY, Settings
from tests.api.helpers import API, assert_error
from tests.conftest import TEST_SECRET


def bearer(token: str) -> dict[str, str]:
    """Authorization headers carrying token."""
    return {"Authorization": f"Bearer {token}"}


def signed(secret: str, engine, **claims) -> str:  # type: ignore[no-untyped-def]
    """A token for dispatcher's new session signed with secret, valid for an hour unless claims say
    otherwise."""
    now = engine.clock.now()
    session_id, _ = sessions.open_session(engine, "dispatcher", now)
    body = {"sub": "dispatcher", "iat": now, "exp": now + timedelta(hours=1), "jti": session_id} | claims
    return jwt.encode(body, secret, algorithm="HS256")


def login(client, username: str, password: str):  # type: ignore[no-untyped-def]
    """POST /auth/token."""
    return client.post(f"{API}/auth/token", json={"username": username, "password": password})


def test_request_without_token_is_unauthorized(client):
    """Answer a protected endpoint without a token with 401 unauthorized."""
    for path in ("/cases", "/tasks", "/me", "/departments"):
        response = client.get(f"{API}{path}")
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert_error(client.post(f"{API}/cases", json={"title": "x"}), 401, "unauthorized")


def test_garbage_token_is_unauthorized(client):
    """Answer a token that is not a JWT, or a non-bearer scheme, with 401."""
    assert_error(client.get(f"{API}/me", headers=bearer("not-a-token")), 401, "unauthorized")
    assert_error(client.get(f"{API}/me", headers={"Authorization": "Basic ZGlzcGF0Y2hlcjpkZW1v"}),
                 401, "unauthorized")
    assert_error(client.get(f"{API}/me", headers={"Authorization": "Bearer "}), 401, "unauthorized")


def test_token_signed_with_another_key_is_unauthorized(client, engine):
    """Answer a well-formed token signed with a foreign key with 401."""
    assert client.get(f"{API}/me", headers=bearer(signed(TEST_SECRET, engine))).status_code == 200
    forged = signed("another-secret-key-that-is-long-enough-for-hs256", engine)
    assert_error(client.get(f"{API}/me", headers=bearer(forged)), 401, "unauthorized")


def test_token_without_expiry_is_unauthorized(client, clock):
    """Answer a token that lacks exp with 401."""
    token = jwt.encode({"sub": "dispatcher", "iat": clock.now()}, TEST_SECRET, algorithm="HS256")
    assert_error(client.get(f"{API}/me", headers=bearer(token)), 401, "unauthorized")


@pytest.mark.parametrize("claims", [{"exp": "x"}, {"iat": "yesterday"}, {"exp": True}, {"sub": 5},
                                    {"jti": 12}, {"jti": None}, {"csrf": ["x"]}, {"sub": None}])
def test_a_signed_token_with_a_malformed_claim_is_unauthorized(client, engine, claims):
    """Answer 401, never 500, to a correctly signed token whose claims have the wrong types."""
    assert_error(client.get(f"{API}/me", headers=bearer(signed(TEST_SECRET, engine, **claims))), 401, "unauthorized")


def test_a_token_naming_no_session_is_unauthorized(client, engine):
    """Refuse a correctly signed token whose session was never opened."""
    token = signed(TEST_SECRET, engine, jti="0" * 32)
    assert_error(client.get(f"{API}/me", headers=bearer(token)), 401, "unauthorized")


def test_token_of_unknown_user_is_unauthorized(client, engine):
    """Answer a correctly signed token for a user that does not exist with 401."""
    token = signed(TEST_SECRET, engine, sub="ghost")
    assert_error(client.get(f"{API}/me", headers=bearer(token)), 401, "unauthorized")


def test_expired_token_is_unauthorized(client, auth, clock, engine):
    """Accept a token until its lifetime has passed on the engine's clock, then answer 401."""
    headers = auth("econ_it")
    ttl = engine.settings.token_ttl_seconds
    clock.advance(timedelta(seconds=ttl - 1))
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    clock.advance(timedelta(seconds=2))
    assert_error(client.get(f"{API}/me", headers=headers), 401, "unauthorized")
    assert_error(client.get(f"{API}/tasks", headers=headers), 401, "unauthorized")


def test_login_with_demo_password_issues_a_working_token(client, engine):
    """Sign in as a demo user and use the token on /me."""
    response = login(client, "econ_it", "demo")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == engine.settings.token_ttl_seconds
    me = client.get(f"{API}/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200, me.get_json()
    profile = me.get_json()
    assert profile["username"] == "econ_it"
    assert profile["department"] == "econ_it"
    assert profile["roles"] == ["handler"]
    assert profile["display_name"] == "市经信局经办人"


@pytest.mark.parametrize("username, department, roles", [
    ("dispatcher", "supervision_office", ["dispatcher"]),
    ("supervisor", "supervision_office", ["supervisor"]),
    ("hongshan_leader", "hongshan", ["dept_leader"]),
    ("automotive_leader", None, ["taskforce_leader"]),
])
def test_me_reports_department_and_roles(client, username, department, roles):
    """Report each demo user's department and roles on /me after a real login."""
    token = login(client, username, "demo").get_json()["access_token"]
    profile = client.get(f"{API}/me", headers=bearer(token)).get_json()
    assert (profile["username"], profile["department"], profile["roles"]) == (username, department, roles)


def test_wrong_password_is_unauthorized(client):
    """Refuse a wrong password, and an unknown user, with 401 and no token."""
    for username, password in (("econ_it", "wrong"), ("nobody", "demo"), ("econ_it", "Demo")):
        body = assert_error(login(client, username, password), 401, "unauthorized")
        assert "access_token" not in body


def test_login_without_password_is_a_validation_error(client):
    """Refuse a login body without a password with 422 naming password."""
    response = client.post(f"{API}/auth/token", json={"username": "econ_it"})
    assert_error(response, 422, "validation_error", "password")


def test_health_needs_no_token(client):
    """Answer the health check without a token."""
    response = client.get(f"{API}/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_openapi_document_is_served_and_lists_the_paths(client):
    """Serve the OpenAPI document without a token, listing the contract's paths."""
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path in ("/api/v1/cases", "/api/v1/cases/{case_id}", "/api/v1/cases/{case_id}/events",
                 "/api/v1/tasks", "/api/v1/tasks/{task_id}", "/api/v1/tasks/{task_id}/claim",
                 "/api/v1/tasks/{task_id}/unclaim", "/api/v1/tasks/{task_id}/assign",
                 "/api/v1/tasks/{task_id}/complete", "/api/v1/auth/token", "/api/v1/me",
                 "/api/v1/health", "/api/v1/departments", "/api/v1/taskforces"):
        assert path in paths, path
    assert "post" in paths["/api/v1/tasks/{task_id}/complete"]
    assert "post" in paths["/api/v1/cases"] and "get" in paths["/api/v1/cases"]


def test_production_app_refuses_the_default_secret_key():
    """Refuse to create a production app with the development secret key."""
    settings = Settings(production=True)
    assert settings.secret_key == DEFAULT_SECRET_KEY
    with pytest.raises(RuntimeError):
        create_app(settings)


def test_production_app_refuses_a_short_secret_key():
    """Refuse to create a production app with a secret key shorter than 32 characters."""
    with pytest.raises(RuntimeError):
        create_app(Settings(production=True, secret_key="short"))
