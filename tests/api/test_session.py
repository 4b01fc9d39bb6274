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


def _second_process(engine):  # type: ignore[no-untyped-def]
    """Another API process on the same database: an engine and app of its own, its own caches."""
    from api import create_app
    from engine.bootstrap import bootstrap
    from processes.catalogue import build_catalogue

    other = bootstrap(engine.settings, build_catalogue(), engine.clock)
    app = create_app(engine=other)
    app.testing = True
    return other, app.test_client()


def test_signing_out_ends_the_session_in_every_process_at_once(client, engine) -> None:  # type: ignore[no-untyped-def]
    """Refuse the signed-out cookie at once, here and in another process that had just accepted it."""
    other, other_client = _second_process(engine)
    try:
        response = _sign_in(client)
        csrf = response.get_json()["csrf_token"]
        cookie = response.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]
        other_client.set_cookie("duban_session", cookie)
        assert other_client.get(f"{API}/me").status_code == 200  # the other process knows the session
        assert client.delete(f"{API}/auth/session", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert other_client.get(f"{API}/me").status_code == 401
        client.set_cookie("duban_session", cookie)  # a browser that kept the cookie
        assert client.get(f"{API}/me").status_code == 401
    finally:
        other.db.dispose()


def test_signing_out_with_a_bearer_token_ends_that_token_only(client) -> None:  # type: ignore[no-untyped-def]
    """End the token a client signs out with; another session of the same user goes on."""
    first = client.post(f"{API}/auth/token", json={"username": "econ_it", "password": "demo"}).get_json()
    second = client.post(f"{API}/auth/token", json={"username": "econ_it", "password": "demo"}).get_json()
    headers = {"Authorization": f"Bearer {first['access_token']}"}
    assert client.delete(f"{API}/auth/session", headers=headers).status_code == 204
    assert client.get(f"{API}/me", headers=headers).status_code == 401
    assert client.get(f"{API}/me", headers={"Authorization": f"Bearer {second['access_token']}"}).status_code == 200


def test_a_bearer_session_has_no_csrf_token(client, auth) -> None:  # type: ignore[no-untyped-def]
    """Describe a bearer-token session with csrf_token null, as the OpenAPI document says."""
    body = client.get(f"{API}/auth/session", headers=auth("econ_it")).get_json()
    assert body["username"] == "econ_it" and body["csrf_token"] is None
