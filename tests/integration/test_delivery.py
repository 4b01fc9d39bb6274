"""Notifications leave the building: real SMTP and HTTP servers on loopback receive them."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
from aiosmtpd.controller import Controller

from engine.commands import cases, tasks
from engine.bootstrap import Engine, bootstrap
from engine.notifications.channels import DELIVERY_HEADER, SIGNATURE_HEADER, default_channels
from engine.calendar.clock import FrozenClock
from engine.notifications.delivery import dead_deliveries, dispatch_due, retry
from engine.settings import Settings
from processes.catalogue import build_catalogue
from tests.support import ActorOf

SECRET = "webhook-test-secret"


@dataclass
class Mailbox:
    """Messages an SMTP server on loopback received."""

    messages: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        """Keep each message (aiosmtpd's handler hook)."""
        self.messages.append(envelope.original_content)
        return "250 OK"


@dataclass
class Receiver:
    """An HTTP endpoint on loopback that records webhook posts, failing the first ``fail`` of them."""

    fail: int = 0
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on a free loopback port."""
    box = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on a free loopback port."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.posts.append((dict(self.headers), body))
            failing = len(state.posts) <= state.fail
            self.send_response(500 if failing else 204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _engine_with(engine: Engine, clock: FrozenClock, **settings: object) -> Engine:
    """An engine on the same database with delivery settings."""
    configured = Settings.from_env(database_url=engine.settings.database_url,
                                   secret_key=engine.settings.secret_key, **settings)
    return bootstrap(configured, build_catalogue(), clock)


def _urge(engine: Engine, actor: ActorOf) -> int:
    """A case referred to econ_it, urged once (notifies econ_it and econ_it_leader)."""
    dispatcher = actor("dispatcher")
    case = cases.create_case(engine, dispatcher, cases.CaseDraft("电网接入慢", "d", "optoelectronics"))
    (refer,) = case.open_tasks
    tasks.claim_task(engine, dispatcher, refer.id)
    tasks.complete_task(engine, dispatcher, refer.id,
                        {"decision": "refer", "lead_department": "econ_it", "deadline_working_days": 5})
    cases.act_on_case(engine, dispatcher, case.case.id, "urge", "请本周内办结")
    return case.case.id


def test_email_reaches_a_real_smtp_server(
    engine: Engine, actor: ActorOf, clock: FrozenClock, mailbox: tuple[Mailbox, int]
) -> None:
    """Send each recipient an email in Chinese saying what, which case and the link."""
    box, port = mailbox
    eng = _engine_with(engine, clock, smtp_host="127.0.0.1", smtp_port=port, smtp_from="duban@city.gov")
    _urge(eng, actor)
    outcomes = dispatch_due(eng, default_channels(eng.settings))
    assert sorted((o.target, o.state) for o in outcomes) == [
        ("econ_it@duban.local", "sent"), ("econ_it_leader@duban.local", "sent")]
    assert len(box.messages) == 2
    message = message_from_bytes(box.messages[0])
    subject = str(make_header(decode_header(message["Subject"])))
    assert subject.startswith("催办：DB2026-")
    text = message.get_payload(decode=True).decode("utf-8")
    assert "请本周内办结" in text and "/cases/" in text
    assert dispatch_due(eng, default_channels(eng.settings)) == []  # nothing sent twice
    eng.db.dispose()


def test_webhooks_are_signed_with_hmac(
    engine: Engine, actor: ActorOf, clock: FrozenClock, receiver: Receiver
) -> None:
    """POST the event as JSON with an HMAC-SHA256 signature the receiver can check."""
    eng = _engine_with(engine, clock, webhook_url=receiver.url, webhook_secret=SECRET)
    case_id = _urge(eng, actor)
    (outcome,) = dispatch_due(eng, default_channels(eng.settings))
    assert outcome.state == "sent"
    ((headers, body),) = receiver.posts
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers[SIGNATURE_HEADER], expected)
    event = json.loads(body)
    assert (event["event"], event["case_id"]) == ("urged", case_id)
    assert sorted(event["recipients"]) == ["econ_it", "econ_it_leader"]
    assert headers[DELIVERY_HEADER] == event["key"] + ":webhook:" + receiver.url
    eng.db.dispose()


def test_a_failing_receiver_is_retried_with_backoff_until_it_succeeds(
    engine: Engine, actor: ActorOf, clock: FrozenClock, receiver: Receiver
) -> None:
    """Retry after 30 s, then 60 s, and succeed on the third attempt."""
    receiver.fail = 2
    eng = _engine_with(engine, clock, webhook_url=receiver.url, webhook_secret=SECRET,
                       delivery_backoff_seconds=30)
    _urge(eng, actor)
    channels = default_channels(eng.settings)
    (first,) = dispatch_due(eng, channels)
    assert (first.state, first.attempts) == ("pending", 1) and "500" in (first.error or "")
    assert dispatch_due(eng, channels) == []  # not due yet
    clock.advance(timedelta(seconds=30))
    (second,) = dispatch_due(eng, channels)
    assert (second.state, second.attempts) == ("pending", 2)
    clock.advance(timedelta(seconds=59))
    assert dispatch_due(eng, channels) == []
    clock.advance(timedelta(seconds=1))
    (third,) = dispatch_due(eng, channels)
    assert (third.state, third.attempts) == ("sent", 3)
    assert len(receiver.posts) == 3
    eng.db.dispose()


def test_a_delivery_dies_after_its_last_attempt_and_an_operator_can_retry_it(
    engine: Engine, actor: ActorOf, clock: FrozenClock, receiver: Receiver
) -> None:
    """Mark a delivery dead after the configured attempts; a retry sends it once the receiver is back."""
    receiver.fail = 2
    eng = _engine_with(engine, clock, webhook_url=receiver.url, webhook_secret=SECRET,
                       delivery_max_attempts=2, delivery_backoff_seconds=10)
    _urge(eng, actor)
    channels = default_channels(eng.settings)
    dispatch_due(eng, channels)
    clock.advance(timedelta(seconds=10))
    (last,) = dispatch_due(eng, channels)
    assert last.state == "dead"
    (dead,) = dead_deliveries(eng)
    assert dead.attempts == 2 and "500" in (dead.last_error or "")
    clock.advance(timedelta(hours=1))
    assert dispatch_due(eng, channels) == []  # dead stays dead
    retry(eng, dead.id)
    (again,) = dispatch_due(eng, channels)
    assert (again.state, again.attempts) == ("sent", 1)
    assert dead_deliveries(eng) == []
    eng.db.dispose()


def test_a_lease_left_by_a_worker_run_at_another_time_runs_out_in_real_time(
    engine: Engine, actor: ActorOf, clock: FrozenClock, receiver: Receiver
) -> None:
    """A ``worker --once --now T`` killed mid-send leaves its lease; a rerun with the same --now takes
    the delivery over once two real minutes have passed, not only when some clock reaches T + 2 min."""
    from datetime import datetime, timezone

    from engine.notifications.delivery import _lease

    eng = _engine_with(engine, clock, webhook_url=receiver.url, webhook_secret=SECRET)
    _urge(eng, actor)
    told = clock.now() + timedelta(days=30)  # the --now the operator gave
    real = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    assert len(_lease(eng, told, real, 10)) == 1  # leased, then the worker was killed
    channels = default_channels(eng.settings)
    assert dispatch_due(eng, channels, told, wall_clock=FrozenClock(real + timedelta(minutes=1))) == []
    (taken_over,) = dispatch_due(eng, channels, told, wall_clock=FrozenClock(real + timedelta(minutes=3)))
    assert taken_over.state == "sent" and len(receiver.posts) == 1
    eng.db.dispose()
