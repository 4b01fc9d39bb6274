"""``duban serve``: the real server (gunicorn) answers, and keeps its HTTP worker on one CPU."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import TEST_SECRET

DUBAN = str(Path(sys.executable).parent / "duban")
START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/api/v1/health")
        return conn.getresponse().status == 200
    except OSError:
        return False


@pytest.fixture
def serve(tmp_path: Path, sqlite_template: Path) -> Iterator:  # type: ignore[type-arg]
    """Start ``duban serve`` on a copy of the test database; yields a function of the environment
    that returns the HTTP worker's pid, its port and the server's output file."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> tuple[int, int, Path]:
        database = tmp_path / f"serve-{len(started)}.sqlite3"
        shutil.copy(sqlite_template, database)
        port = _free_port()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
        environ |= {"DUBAN_DATABASE_URL": f"sqlite:///{database}", "DUBAN_SECRET_KEY": TEST_SECRET} | env
        output = tmp_path / f"serve-{len(started)}.log"
        with open(output, "wb") as log:
            proc = subprocess.Popen([DUBAN, "serve", "--port", str(port)], env=environ, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        started.append(proc)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(port):
            assert proc.poll() is None, "duban serve exited"
            assert time.monotonic() < deadline, "duban serve did not answer"
            time.sleep(0.1)  # waiting for a real process to listen, not for a timer
        (worker,) = _children(proc.pid)
        return worker, port, output

    yield start
    for proc in started:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_http_worker_runs_on_one_cpu_unless_told_otherwise(serve) -> None:  # type: ignore[no-untyped-def]
    """The worker's threads share one CPU (the first of those allowed); with
    DUBAN_SERVE_CPU_AFFINITY=0 it may run on any."""
    allowed = sorted(os.sched_getaffinity(0))
    pinned, _, _ = serve()
    assert sorted(os.sched_getaffinity(pinned)) == (allowed[:1] if len(allowed) > 1 else allowed)
    free, _, _ = serve(DUBAN_SERVE_CPU_AFFINITY="0")
    assert sorted(os.sched_getaffinity(free)) == allowed


def test_each_request_is_one_access_log_line(serve) -> None:  # type: ignore[no-untyped-def]
    """Client, time, request line, status, bytes sent and the time taken."""
    _, port, output = serve()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/api/v1/health?probe=1")
    response = conn.getresponse()
    size = len(response.read())
    pattern = re.compile(r'^127\.0\.0\.1 \[[^]]+\] "GET /api/v1/health\?probe=1 HTTP/1\.1" 200 (\d+) [\d.]+ms$')
    deadline = time.monotonic() + 10
    while not (lines := [m for line in output.read_text().splitlines() if (m := pattern.match(line))]):
        assert time.monotonic() < deadline, output.read_text()[-2000:]
        time.sleep(0.05)  # the server writes its log line just after answering
    assert [int(m.group(1)) for m in lines] == [size]


def test_workers_are_spread_over_the_cpus_round_robin() -> None:
    """The n-th worker takes the n-th allowed CPU, wrapping around (checked in a child process,
    whose affinity is its own)."""
    allowed = sorted(os.sched_getaffinity(0))
    code = ("import os, sys; from api.serving import pin_to_one_cpu; "
            "cpu = pin_to_one_cpu(int(sys.argv[1])); print(cpu, sorted(os.sched_getaffinity(0)))")
    for number in (1, 2, len(allowed) + 1):
        out = subprocess.run([sys.executable, "-c", code, str(number)], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parents[2]).stdout.split()
        if len(allowed) < 2:
            assert out[0] == "None"
            continue
        expected = allowed[(number - 1) % len(allowed)]
        assert out == [str(expected), f"[{expected}]"]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _raw_request(port: int, head: bytes, body_size: int = 0) -> tuple[bytes, bool]:
    """Send a request head and up to body_size bytes of body as long as the server reads them;
    the answer and whether the server closed the connection before the body was all sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        sent, chunk, cut_short = 0, b"x" * 65536, False
        sock.settimeout(0.5)
        while sent < body_size:
            try:
                sent += sock.send(chunk[:body_size - sent])
            except (BrokenPipeError, ConnectionResetError):
                cut_short = True
                break
            except socket.timeout:  # the server stopped reading: it has answered
                cut_short = True
                break
        sock.settimeout(10)
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except (ConnectionResetError, socket.timeout):
            pass
        return answer, cut_short


def test_a_huge_body_is_refused_at_once_in_json_without_reading_it(serve) -> None:  # type: ignore[no-untyped-def]
    """Answer 200 MB announced to the token endpoint with 413 payload_too_large, close the
    connection instead of reading the rest, and keep the worker's memory where it was."""
    worker, port, _ = serve()
    before = _rss_kb(worker)
    size = 200 * 1024 * 1024
    head = (f"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n").encode()
    started = time.monotonic()
    answer, cut_short = _raw_request(port, head, size)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"code":"payload_too_large"' in answer
    assert cut_short and time.monotonic() - started < 10
    assert _rss_kb(worker) - before < 20 * 1024  # not the body: it was never read


def test_request_lines_and_headers_over_the_limits_are_refused_in_json(serve) -> None:  # type: ignore[no-untyped-def]
    """Answer an overlong request line with 414 and too many headers with 431, both in JSON."""
    _, port, _ = serve()
    answer, _ = _raw_request(port, b"GET /api/v1/health?" + b"a" * 8000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 414") and b'"code":"uri_too_long"' in answer, answer[:300]
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    answer, _ = _raw_request(port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431") and b'"code":"headers_too_large"' in answer, answer[:300]
    assert b"application/json" in answer
