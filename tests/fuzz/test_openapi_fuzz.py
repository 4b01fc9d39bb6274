"""A bounded fuzzing run of the real server against its own OpenAPI document (schemathesis).

On each database: the demo data with its cases, a real ``duban serve``, and the tokens of a
department user, the office and a supervisor. Every check of schemathesis runs (server errors,
status codes, content types, headers and response bodies against the document, schema-valid
requests accepted, schema-violating ones refused, authentication enforced, stateful links).
First the read-only operations, after which the data must be exactly as it was; then all of them.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import MetaData, Table, inspect, select, text

from engine.storage.database import Database
from tests.conftest import TEST_SECRET, postgres_reachable
from tests.integration.test_serve import _free_port, _healthy

BIN = Path(sys.executable).parent
CONFIG = Path(__file__).with_name("schemathesis.toml")
USERS = ("econ_it", "dispatcher", "supervisor")
# Seconds per user; FUZZ_SCALE=10 makes a longer run by hand.
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
READ_SECONDS, WRITE_SECONDS = round(4 * SCALE), round(8 * SCALE)
# Sessions are opened by signing in; everything else must stay as the read-only run found it.
UNCHANGED_BY_READING = frozenset({"auth_session"})


def _environment(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    return env | {"DUBAN_DATABASE_URL": database_url, "DUBAN_SECRET_KEY": TEST_SECRET,
                  "DUBAN_EMBEDDED_WORKER": "false"}


@pytest.fixture(params=["sqlite", "postgresql"])
def demo_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with the demo users and cases, as ``make run`` loads them."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
        cleanup = None
    else:
        if not postgres_reachable():
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL is not reachable in CI")
            pytest.skip("PostgreSQL is not reachable")
        base = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
        schema = f"duban_fuzz_{uuid.uuid4().hex[:12]}"
        admin = Database(base)
        with admin.write_engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
        cleanup = (admin, schema)
    subprocess.run([str(BIN / "duban"), "seed-demo", "--with-cases"], env=_environment(url), check=True,
                   capture_output=True, timeout=300, cwd=tmp_path)
    yield url
    if cleanup is not None:
        admin, schema = cleanup
        with admin.write_engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def server(demo_database: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``duban serve`` on the demo database; its base URL and its log."""
    port = _free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(BIN / "duban"), "serve", "--port", str(port)], env=_environment(demo_database),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not _healthy(port):
        assert proc.poll() is None, log_path.read_text()[-3000:]
        assert time.monotonic() < deadline, "duban serve did not answer"
        time.sleep(0.1)  # waiting for a real process to listen
    yield f"http://127.0.0.1:{port}", log_path
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def _token(base: str, username: str) -> str:
    request = urllib.request.Request(f"{base}/api/v1/auth/token", method="POST",
                                     data=json.dumps({"username": username, "password": "demo"}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["access_token"])


def _digest(database_url: str) -> dict[str, str]:
    """A hash of every table's rows, in key order."""
    db = Database(database_url)
    try:
        digests = {}
        with db.write_engine.connect() as connection:
            inspector = inspect(connection)
            for table_name in sorted(set(inspector.get_table_names()) - UNCHANGED_BY_READING):
                table = Table(table_name, MetaData(), autoload_with=connection)
                order = list(table.primary_key.columns) or list(table.columns)
                rows = connection.execute(select(table).order_by(*order)).all()
                digests[table_name] = hashlib.sha256(repr(rows).encode()).hexdigest()
        return digests
    finally:
        db.dispose()


def _fuzz(base: str, token: str, seconds: int, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "schemathesis"), "--config-file", str(CONFIG), "run", f"{base}/api/v1/openapi.json",
         "-H", f"Authorization: Bearer {token}", "--checks", "all", "--max-time", str(seconds),
         "--exclude-path", "/api/v1/auth/session",  # signing out would end the run's own session
         "--workers", "1", "--no-shrink", "--seed", "20261201", "--output-truncate", "true", *options],
        capture_output=True, text=True, timeout=seconds * 4 + 60)


def test_the_server_agrees_with_its_openapi_document_under_fuzzing(
    server: tuple[str, Path], demo_database: str
) -> None:
    """Answer every generated request without a server error and as the document says, for a
    department user, the office and a supervisor; reading changes nothing."""
    base, log_path = server
    tokens = {user: _token(base, user) for user in USERS}
    before = _digest(demo_database)
    for user, token in tokens.items():
        run = _fuzz(base, token, READ_SECONDS, "--include-method", "GET")
        assert run.returncode == 0, f"{user}, reading:\n{run.stdout[-6000:]}"
    assert _digest(demo_database) == before, "a read-only operation changed the data"
    for user, token in tokens.items():
        run = _fuzz(base, token, WRITE_SECONDS)
        assert run.returncode == 0, f"{user}:\n{run.stdout[-6000:]}"
    assert "Traceback" not in log_path.read_text()
