"""The web UI's session: an httpOnly cookie, and a CSRF token for every change."""

from __future__ import annotations

from tests.api.helpers import API


def _sign_in(client, username: str = "dispatcher"):  # type: ignore[no-untyped-def]
    response = client.post(f"{API}/auth/session", json={"username": username, "password": "demo"})
    assert response.status_code == 200, response.get_json()
    return response


def test_signing_in_sets_an_httponly_session_cookie(client) -> None:  # type: ignore[no-untyped-def]
    """Answer the user and a CSRF token; keep the access token in an httpOnly, SameSite cookie only."""
    response = _sign_in(client)
    body = response.get_json()
    assert body["username"] == "dispatcher" and body["csrf_token"]
    assert "access_token" not in body
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("duban_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_cookie_authenticates_reads(client) -> None:  # type: ignore[no-untyped-def]
    """Let a signed-in browser read without an Authorization header."""
    csrf = _sign_in(client).get_json()["csrf_token"]
    me = client.get(f"{API}/me")
    assert me.status_code == 200 and me.get_json()["username"] == "dispatcher"
    session = client.get(f"{API}/auth/session").get_json()
    assert session["csrf_token"] == csrf


def test_a_change_with_the_cookie_needs_the_csrf_token(client) -> None:  # type: ignore[no-untyped-def]
    """Refuse a cookie-authenticated change without the session's CSRF token, accept it with."""
    csrf = _sign_in(client).get_json()["csrf_token"]
    body = {"title": "跨站请求测试", "description": "d", "taskforce": "automotive"}
    refused = client.post(f"{API}/cases", json=body)
    assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"
    forged = client.post(f"{API}/cases", json=body, headers={"X-CSRF-Token": "guess"})
    assert forged.status_code == 403
    assert client.get(f"{API}/cases").get_json()["total"] == 0
    accepted = client.post(f"{API}/cases", json=body, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 201


def test_signing_out_clears_the_cookie(client) -> None:  # type: ignore[no-untyped-def]
    """Forget the session on sign-out; reads then need credentials again."""
    csrf = _sign_in(client).get_json()["csrf_token"]
    assert client.delete(f"{API}/auth/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get(f"{API}/me").status_code == 401


def test_a_wrong_password_sets_no_cookie(client) -> None:  # type: ignore[no-untyped-def]
    """Answer 401 and set nothing for a wrong password."""
    response = client.post(f"{API}/auth/session", json={"username": "dispatcher", "password": "x"})
    assert response.status_code == 401 and "Set-Cookie" not in response.headers
