"""The web UI's shell: one HTML page for every screen, strict headers, demo users only in demo mode."""

from __future__ import annotations

import json
import re

import pytest

from engine.settings import Settings

SHELL_PATHS = ["/", "/login", "/worklist", "/tasks/7d5c1f0e-1111-4222-8333-944455556666", "/cases/new",
               "/cases/42", "/inbox", "/overview"]
BOOT = re.compile(r'<script type="application/json" id="boot">(.*?)</script>', re.S)


def _boot(response) -> dict:  # type: ignore[no-untyped-def, type-arg]
    match = BOOT.search(response.get_data(as_text=True))
    assert match, "the shell carries its boot data"
    return json.loads(match.group(1))


@pytest.mark.parametrize("path", SHELL_PATHS)
def test_every_page_is_served_the_shell_with_a_strict_policy(client, path: str) -> None:  # type: ignore[no-untyped-def]
    """Answer each page's address with the HTML shell, a CSP without inline script or style, and nosniff."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = response.get_data(as_text=True)
    assert '<script type="module" src="/static/app.js">' in html
    assert "/static/vendor/diagram.js" in html and "/static/vendor/diagram.css" in html
    assert re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html) is None, "no inline script"


def test_the_root_no_longer_redirects_to_the_api_docs(client) -> None:  # type: ignore[no-untyped-def]
    """Serve the worklist at / (the API documentation stays at /api/v1/docs)."""
    response = client.get("/")
    assert response.status_code == 200 and "Location" not in response.headers


def test_unknown_case_addresses_are_not_pages(client) -> None:  # type: ignore[no-untyped-def]
    """Answer 404 for an address the app has no page for."""
    assert client.get("/cases/not-a-number").status_code == 404


def test_demo_mode_lists_the_demo_users_on_the_login_page(client) -> None:  # type: ignore[no-untyped-def]
    """Put usernames and display names of the demo users in the boot data, and no password."""
    boot = _boot(client.get("/login"))
    users = {user["username"]: user["display_name"] for user in boot["demo_users"]}
    assert {"dispatcher", "supervisor", "econ_it", "econ_it_leader", "hongshan"} <= set(users)
    assert any(name.endswith("_leader") and name != "econ_it_leader" and name != "hongshan_leader" for name in users)
    assert users["econ_it"] == "市经信局经办人"
    assert all(set(user) == {"username", "display_name"} for user in boot["demo_users"])
    assert {mode["name"] for mode in boot["modes"]} == {"standard", "direct", "effectiveness", "onsite", "reminder"}


def test_production_mode_lists_no_demo_users(engine) -> None:  # type: ignore[no-untyped-def]
    """Leave the demo users out of the page entirely in production mode."""
    from sqlalchemy import update

    from api import create_app
    from engine.storage.models import User

    with engine.db.unit_of_work() as uow:  # a production start refuses active demo accounts
        uow.execute(update(User).where(User.demo.is_(True)).values(active=False))
        uow.commit()
    settings = Settings.from_env(database_url=engine.settings.database_url, production=True,
                                 secret_key="a-production-secret-key-of-at-least-forty-characters")
    app = create_app(settings)
    try:
        response = app.test_client().get("/login")
        assert response.status_code == 200
        boot = _boot(response)
        assert "demo_users" not in boot
        assert "econ_it_leader" not in response.get_data(as_text=True)
    finally:
        app.extensions["duban_engine"].db.dispose()


def test_the_app_script_and_styles_are_served(client) -> None:  # type: ignore[no-untyped-def]
    """Serve the single-page app's module and stylesheet from the static folder."""
    script = client.get("/static/app.js")
    assert script.status_code == 200
    assert script.mimetype in ("text/javascript", "application/javascript")
    assert "import" in script.get_data(as_text=True)
    script.close()
    styles = client.get("/static/app.css")
    assert styles.status_code == 200 and styles.mimetype == "text/css"
    styles.close()


def test_the_shell_needs_no_sign_in_but_the_api_still_does(client) -> None:  # type: ignore[no-untyped-def]
    """Serve pages to anyone (the script asks the API who is signed in); the API keeps answering 401."""
    assert client.get("/worklist").status_code == 200
    assert client.get("/api/v1/auth/session").status_code == 401
