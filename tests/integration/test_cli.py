"""The ``duban`` command as an operator runs it: a real process, any working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from engine.commands import cases
from engine.queries.cases import get_case
from engine.bootstrap import Engine
from engine.calendar.clock import FrozenClock
from tests.support import ActorOf

DUBAN = str(Path(sys.executable).parent / "duban")


def _duban(*args: str, database_url: str | None = None, cwd: Path,
           **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")} | settings
    if database_url:
        env["DUBAN_DATABASE_URL"] = database_url
    return subprocess.run([DUBAN, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_calendar_adds_working_days_across_national_day(tmp_path: Path) -> None:
    """Print 2026-10-10 for 2026-09-30 + 3 working days, from any directory."""
    result = _duban("calendar", "add-working-days", "2026-09-30", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2026-10-10"


def test_calendar_refuses_a_bad_date(tmp_path: Path) -> None:
    """Exit non-zero with a usage error for a date that is not YYYY-MM-DD."""
    result = _duban("calendar", "add-working-days", "30/09/2026", "3", cwd=tmp_path)
    assert result.returncode == 2
    assert "30/09/2026" in result.stderr


def test_worker_once_fires_what_is_due_and_twice_does_nothing(
    engine: Engine, actor: ActorOf, clock: FrozenClock, database_url: str, tmp_path: Path
) -> None:
    """Upgrade an overdue reminder case with ``worker --once --now``; the same run again does nothing."""
    created = cases.create_case(engine, actor("dispatcher"), cases.CaseDraft(
        "提醒快办测试", "d", "automotive", mode="reminder", lead_department="hongshan"))
    after_due = (created.case.due_at + timedelta(minutes=5)).isoformat()
    first = _duban("worker", "--once", "--now", after_due, database_url=database_url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert created.case.number in first.stdout and "共处理 1 个" in first.stdout
    again = _duban("worker", "--once", "--now", after_due, database_url=database_url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "共处理 0 个" in again.stdout
    case = get_case(engine, actor("dispatcher"), created.case.id)
    assert case.case.mode == "direct"
    assert case.case.version == created.case.version + 1


def test_operators_see_failed_deliveries_and_retry_them(
    engine: Engine, actor: ActorOf, clock: FrozenClock, database_url: str, tmp_path: Path
) -> None:
    """List a dead webhook delivery with ``notifications --failed`` and requeue it with ``--retry``."""
    from engine.bootstrap import bootstrap
    from engine.notifications.channels import default_channels
    from engine.notifications.delivery import dead_deliveries, dispatch_due
    from engine.settings import Settings
    from processes.catalogue import build_catalogue

    settings = Settings.from_env(database_url=database_url, webhook_url="http://127.0.0.1:9/closed",
                                 webhook_secret="s", delivery_max_attempts=1, delivery_timeout_seconds=2)
    eng = bootstrap(settings, build_catalogue(), clock)
    case = cases.create_case(eng, actor("dispatcher"), cases.CaseDraft(
        "提醒快办", "d", "automotive", mode="reminder", lead_department="hongshan"))
    (outcome,) = dispatch_due(eng, default_channels(eng.settings))
    assert outcome.state == "dead"
    listed = _duban("notifications", "--failed", database_url=database_url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert f"{outcome.delivery_id}\twebhook\thttp://127.0.0.1:9/closed" in listed.stdout
    assert case.case.number in listed.stdout
    retried = _duban("notifications", "--retry", str(outcome.delivery_id), database_url=database_url, cwd=tmp_path)
    assert retried.returncode == 0, retried.stderr
    assert dead_deliveries(eng) == []
    unknown = _duban("notifications", "--retry", "999999", database_url=database_url, cwd=tmp_path)
    assert unknown.returncode == 1 and "999999" in unknown.stderr
    eng.db.dispose()


def test_operators_set_a_departments_webhook(engine: Engine, database_url: str, tmp_path: Path) -> None:
    """Store a department's webhook URL; refuse an unknown department and a non-HTTP URL."""
    from sqlalchemy import select

    from engine.storage.models import Department

    ok = _duban("department-webhook", "econ_it", "https://hooks.example.gov/econ", database_url=database_url,
                cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    with engine.db.unit_of_work(write=False) as uow:
        url = uow.scalar(select(Department.webhook_url).where(Department.code == "econ_it"))
    assert url == "https://hooks.example.gov/econ"
    unknown = _duban("department-webhook", "nowhere", "https://x", database_url=database_url, cwd=tmp_path)
    assert unknown.returncode == 1 and "nowhere" in unknown.stderr
    bad = _duban("department-webhook", "econ_it", "ftp://x", database_url=database_url, cwd=tmp_path)
    assert bad.returncode == 1


def test_a_boolean_setting_the_command_does_not_understand_stops_it_naming_the_setting(
    database_url: str, tmp_path: Path
) -> None:
    """Stop ``DUBAN_PRODUCTION=y duban worker --once`` with the setting's name, not development mode."""
    result = _duban("worker", "--once", database_url=database_url, cwd=tmp_path, DUBAN_PRODUCTION="y")
    assert result.returncode != 0
    assert "DUBAN_PRODUCTION" in result.stderr and "Traceback" not in result.stderr


def test_a_production_worker_refuses_to_start_beside_demo_accounts_until_they_are_disabled(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """Refuse the production worker while a demo account is active; an operator disables them."""
    production = {"DUBAN_PRODUCTION": "true", "DUBAN_SECRET_KEY": "k" * 40}
    refused = _duban("worker", "--once", database_url=database_url, cwd=tmp_path, **production)
    assert refused.returncode != 0 and "dispatcher" in refused.stderr
    listed = _duban("user", "list", database_url=database_url, cwd=tmp_path)
    demo = [line.split("\t")[0] for line in listed.stdout.splitlines() if line.endswith("演示账号")]
    assert "dispatcher" in demo and "econ_it_leader" in demo
    assert _duban("user", "disable", *demo, database_url=database_url, cwd=tmp_path).returncode == 0
    started = _duban("worker", "--once", database_url=database_url, cwd=tmp_path, **production)
    assert started.returncode == 0, started.stderr
