"""Helpers shared by the benchmark scripts: databases, the real server, a keep-alive HTTP client.

Everything here talks to loopback only. Every resource it creates (a PostgreSQL database, a server
process) is cleaned up by the context manager that created it, also when the benchmark fails.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

PG_DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
BENCH_DB = "duban_bench"
SECRET = "bench-secret-key-that-is-long-enough-for-hs256"
SERVER_START_TIMEOUT_S = 60


def duban_command() -> list[str]:
    """The ``duban`` console script of the interpreter running the benchmark."""
    script = Path(sys.executable).parent / "duban"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(pct / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_url(admin_url: str, dbname: str) -> str:
    """The URL of another database on the same PostgreSQL server."""
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{dbname}"


def postgres_reachable(url: str) -> bool:
    """Whether a PostgreSQL answers at url."""
    import psycopg

    try:
        with psycopg.connect(_server_url(url, "postgres"), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextlib.contextmanager
def bench_database(pg_url: str, dbname: str = BENCH_DB) -> Iterator[str]:
    """Create a fresh PostgreSQL database for the benchmark and drop it afterwards."""
    import psycopg
    from psycopg import sql

    admin = _server_url(pg_url, "postgres")

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))

    drop()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    try:
        yield _server_url(pg_url, dbname)
    finally:
        drop()


def _env(db_url: str, port: int | None = None, settings: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a duban subprocess on db_url, with any settings given (DUBAN_…)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    for name in ("DATABASE_URL", "SECRET_KEY", "HOST", "PORT"):
        env.pop(name, None)
    env.update(DUBAN_DATABASE_URL=db_url, DUBAN_SECRET_KEY=SECRET, DUBAN_HOST="127.0.0.1")
    if port is not None:
        env["DUBAN_PORT"] = str(port)
    return env | (settings or {})


def seed_demo(db_url: str) -> None:
    """Migrate, deploy, load the org and create the demo users with ``duban seed-demo``."""
    done = subprocess.run(duban_command() + ["seed-demo"], env=_env(db_url), cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"duban seed-demo failed:\n{done.stdout}\n{done.stderr}")


@contextlib.contextmanager
def duban_server(db_url: str, log_dir: Path, threads: int = 8,
                 settings: dict[str, str] | None = None) -> Iterator[int]:
    """Run ``duban serve`` (gunicorn) on a free loopback port; yield the port, stop it afterwards."""
    port = free_port()
    log_path = log_dir / f"serve-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            duban_command() + ["serve", "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads)],
            env=_env(db_url, port, settings), cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"duban serve exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            if _healthy(port):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"duban serve did not answer in {SERVER_START_TIMEOUT_S}s:\n"
                                   f"{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield port
    finally:
        _stop(proc)


def _healthy(port: int) -> bool:
    """Whether the server answers its health check."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/api/v1/health")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server we started: SIGTERM to its master, then SIGKILL to its own process group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the group start_new_session gave our server
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


class Api:
    """A JSON client over one persistent (keep-alive) HTTP/1.1 connection."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.token = token

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        """Send one request and return the decoded JSON answer; raise on an unexpected status."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed a connection that sat idle past its keep-alive time; the request
            # never reached it. Connect again and send it once more.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
        raw = response.read()
        if response.status != expect:
            raise RuntimeError(f"{method} {path} -> {response.status}: {raw[:500]!r}")
        if response.getheader("Connection", "").lower() == "close":
            raise RuntimeError("the server closed the keep-alive connection")
        return json.loads(raw) if raw else None

    def login(self, username: str, password: str = "demo") -> "Api":
        """Sign in with POST /auth/token and keep the bearer token."""
        self.token = self.call("POST", "/api/v1/auth/token", {"username": username, "password": password})[
            "access_token"]
        return self

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def fmt_row(cells: Sequence[Any], widths: Sequence[int]) -> str:
    """One row of a fixed-width table; the first column left-aligned, the others right-aligned."""
    out = []
    for i, (cell, width) in enumerate(zip(cells, widths)):
        text = f"{cell:.2f}" if isinstance(cell, float) else str(cell)
        out.append(text.ljust(width) if i == 0 else text.rjust(width))
    return "  ".join(out)


WORKER_START_TIMEOUT_S = 60


@contextlib.contextmanager
def duban_workers(db_url: str, log_dir: Path, count: int = 1) -> Iterator[list[tuple[subprocess.Popen[bytes], Path]]]:
    """Run ``count`` ``duban worker`` processes on db_url until each has started its scheduler; yield
    (process, log path) pairs, stop them afterwards."""
    started: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for _ in range(count):
            log_path = log_dir / f"worker-{time.monotonic_ns()}.log"
            with open(log_path, "wb") as log:
                started.append((subprocess.Popen(duban_command() + ["worker"], env=_env(db_url), cwd=PROJECT_ROOT,
                                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True),
                                log_path))
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        for proc, log_path in started:
            while "worker started" not in log_path.read_text(errors="replace"):
                if proc.poll() is not None:
                    raise RuntimeError(f"duban worker exited with {proc.returncode}:\n"
                                       f"{log_path.read_text(errors='replace')[-3000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"duban worker did not start in {WORKER_START_TIMEOUT_S}s")
                time.sleep(0.1)
        yield started
    finally:
        for proc, _ in started:
            _stop(proc)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc); 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Rebuild every worklist count from the task rows (plain SQL, for loaders that write task rows directly).
RECOUNT = (
    "DELETE FROM worklist_count",
    "INSERT INTO worklist_count (department, role, open_tasks) SELECT department, role, count(*) FROM task "
    "WHERE state IN ('ready', 'claimed') GROUP BY department, role",
)
