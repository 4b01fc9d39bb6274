"""Settings, declared once, read from the environment.

Every variable has the prefix ``DUBAN_``. The few names the README documents without the prefix
(``DATABASE_URL``, ``SECRET_KEY``, ``HOST``, ``PORT``, ``TEST_DATABASE_URL``) are read as well; the
prefixed form wins when both are set. Nothing else in the project reads ``os.environ``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET_KEY = "duban-development-secret-key-change-me"
PREFIX = "DUBAN_"
UNPREFIXED = {"database_url", "secret_key", "host", "port", "test_database_url"}


@dataclass(frozen=True)
class Settings:
    """Typed settings with their defaults."""

    database_url: str = f"sqlite:///{PROJECT_ROOT / 'instance' / 'duban.sqlite3'}"
    test_database_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    secret_key: str = DEFAULT_SECRET_KEY
    production: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    token_ttl_seconds: int = 8 * 3600
    # The largest request body the API reads (uploads declare their own limit).
    max_request_kb: int = 1024
    timezone: str = "Asia/Shanghai"
    closing_time: str = "18:00"
    base_url: str = "http://127.0.0.1:8000"
    sql_echo: bool = False
    # ``duban serve``: keep the HTTP worker process on one CPU (as uWSGI's cpu-affinity does). A
    # Python process runs one thread at a time; with its threads spread over CPUs, every request
    # hands the interpreter lock from the accepting thread to a handler thread on another CPU.
    serve_cpu_affinity: bool = True
    # Server and worker processes tune Python's garbage collector (engine/caches.py).
    gc_tuning: bool = True
    # PostgreSQL: signing for a task is one statement in autocommit, its event written by the same
    # statement (false: a transaction; engine/storage/repositories.py: Tasks.claim).
    one_statement_claims: bool = True
    # A command on a task's case locks the case and reads its open tasks in one statement (false:
    # two, engine/storage/repositories.py: Cases.lock_of_task_with_open).
    joined_case_reads: bool = True
    # PostgreSQL: a command's writes and its COMMIT travel in one round trip (engine/storage/senders.py).
    pipelined_writes: bool = True
    # ``duban serve`` on SQLite runs the timer worker and the dispatcher in its own process (false:
    # run ``duban worker`` beside it).
    embedded_worker: bool = True
    # Restored workflows kept per process between a case's commands (0 turns the cache off).
    instance_cache_size: int = 1000
    # Compiled BPMN expressions and scripts kept per process (0: compile every time).
    expression_cache_size: int = 4096
    # Workflow state written and read by duban's codec of SpiffWorkflow's format (false: by
    # SpiffWorkflow's own serializer; the same JSON either way).
    fast_codec: bool = True
    # A department worklist's total read from the kept counts (false: counted from the task rows).
    kept_worklist_counts: bool = True
    # Response lists dumped by api/schemas.py's FastDumpSchema (false: by marshmallow itself; the same JSON).
    fast_dump: bool = True
    # PostgreSQL: reads in autocommit, on a pool of their own (false: in a transaction like writes).
    read_autocommit: bool = True
    # Notification delivery: email over SMTP, webhooks signed with HMAC-SHA256.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "duban@localhost"
    smtp_starttls: bool = False
    webhook_url: str = ""
    webhook_secret: str = ""
    delivery_max_attempts: int = 6
    delivery_backoff_seconds: int = 30
    delivery_timeout_seconds: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Read every setting from the environment, then apply explicit overrides."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = environ.get(PREFIX + f.name.upper())
            if raw is None and f.name in UNPREFIXED:
                raw = environ.get(f.name.upper())
            if raw is not None:
                values[f.name] = _parse(PREFIX + f.name.upper(), raw, f.type)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def check_production(self) -> None:
        """Refuse to run in production with the development secret or demo conveniences."""
        if self.production and self.secret_key == DEFAULT_SECRET_KEY:
            raise StartRefused(
                "生产模式下必须设置 DUBAN_SECRET_KEY（或 SECRET_KEY）："
                "refusing to start in production with the default secret key"
            )
        if self.production and len(self.secret_key) < 32:
            raise StartRefused("DUBAN_SECRET_KEY must be at least 32 characters in production")


class StartRefused(RuntimeError):
    """The service must not start as configured (production safety); the message says why."""


class SettingError(ValueError):
    """A setting's value cannot be understood; the message names the setting."""


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def _parse(name: str, raw: str, annotation: object) -> object:
    """Convert an environment string to the field's declared type, or fail naming the setting."""
    kind = str(annotation)
    if kind == "bool":
        word = raw.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise SettingError(f"{name}={raw!r}: 不是布尔值 (expected one of 1/0, true/false, yes/no, on/off)")
    if kind == "int":
        try:
            return int(raw.strip())
        except ValueError:
            raise SettingError(f"{name}={raw!r}: 不是整数 (expected a whole number)") from None
    return raw
