"""Production mode refuses what is unsafe at start: demo accounts, settings it cannot read."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from api import create_app
from engine.bootstrap import bootstrap
from engine.storage.models import User
from engine.org.accounts import set_active
from engine.settings import Settings, StartRefused
from processes.catalogue import build_catalogue
from tests.api.helpers import API, assert_error
from tests.conftest import TEST_SECRET


def _production(engine):  # type: ignore[no-untyped-def]
    settings = Settings.from_env(database_url=engine.settings.database_url, secret_key=TEST_SECRET,
                                 production=True)
    return bootstrap(settings, build_catalogue(), engine.clock)


def _disable_every_demo_account_but(engine, *kept: str) -> None:  # type: ignore[no-untyped-def]
    with engine.db.unit_of_work() as uow:
        uow.execute(update(User).where(User.demo.is_(True), User.username.not_in(kept)).values(active=False))
        uow.commit()


def test_a_production_start_refuses_while_demo_accounts_are_active_and_names_them(engine) -> None:
    """Refuse to build the production app while seed-demo's accounts are active, naming them."""
    production = _production(engine)
    try:
        with pytest.raises(StartRefused, match="dispatcher"):
            create_app(engine=production)
        _disable_every_demo_account_but(engine, "econ_it")
        with pytest.raises(StartRefused, match="econ_it") as refused:
            create_app(engine=production)
        assert "dispatcher" not in str(refused.value)
        set_active(engine, "econ_it", False)
        assert create_app(engine=production) is not None
    finally:
        production.db.dispose()


def test_a_demo_account_enabled_after_a_production_start_cannot_sign_in(engine) -> None:
    """Refuse the demo password in production even for a demo account switched on after the start."""
    production = _production(engine)
    try:
        _disable_every_demo_account_but(engine)
        app = create_app(engine=production)
        set_active(engine, "dispatcher", True)
        client = app.test_client()
        response = client.post(f"{API}/auth/token", json={"username": "dispatcher", "password": "demo"})
        assert_error(response, 401, "unauthorized")
    finally:
        production.db.dispose()


def test_a_development_app_accepts_demo_accounts(client) -> None:  # type: ignore[no-untyped-def]
    """Let the demo accounts sign in outside production mode."""
    response = client.post(f"{API}/auth/token", json={"username": "dispatcher", "password": "demo"})
    assert response.status_code == 200
