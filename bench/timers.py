"""Timers at scale: 1,000 cases falling due at once among 100,000 armed ones, a lone timer, and a tick's cost.

Data: one real direct-mode case is created through the engine (supervisor, lead department econ_it),
which opens handle_case with its escalation ladder of BPMN timers. It is then cloned --cases - 1
times: its workflow_state is decompressed, every task UUID in the SpiffWorkflow JSON replaced by a
fresh uuid4, the timer_unclaimed timer (internal ``event_value``) moved 30 days ahead, and the
state recompressed; the case row, its open task row (id = the Spiff task UUID) and its parties are
copied (PostgreSQL: COPY; SQLite: executemany), each clone with next_wakeup_at = its earliest
armed timer (days ahead). Then VACUUM ANALYZE / ANALYZE.

Measured, in one run, per database (PostgreSQL: a database ``duban_bench_timers`` created and
dropped here; SQLite: a temporary file):

(1) Batch: --due clones are armed to fall due at one moment T_due (real now + a few seconds): their
    timer_unclaimed ``event_value`` and next_wakeup_at are both set to T_due, after the worker
    processes (``duban worker``, env DUBAN_DATABASE_URL, real clock) have started. The benchmark polls
    the event table every 50 ms and stamps each new ``timer_fired`` event with the real time it became
    visible (committed). Lateness = that time - T_due. Wall = T_due until the last one is visible;
    throughput = fired / wall. The audit event's own ``at`` is also shown: it is the worker's clock
    at the *start* of the tick (fire_due_timers reads now once), not the time each case was fired.
    Also: CPU per fired case of the worker processes and of their PostgreSQL backends (/proc), cases
    fired twice (must be 0), the split between workers (their logs), and the load average.
    PostgreSQL: 1 worker and 2 workers; SQLite: 1 worker. The SQLite embedded worker (``duban serve``
    runs workers.timer_worker.run_in_background in its HTTP worker process) runs the same _tick /
    fire_due_timers code as a ``duban worker`` process on the same file, so the latter stands in for it.
    Workers take due cases in batches (engine.timers.BATCH, one transaction, a savepoint per case).
(2) Single timer: --single clones each fall due alone, spread 0.8-1.1 s apart, armed in advance; 1
    worker; lateness per timer as above (poll every 10 ms).
(3) Tick cost: fire_due_timers and the worker's next_wakeup query, in-process, with nothing due, at
    1,000 armed cases and at --cases armed cases; EXPLAIN of the due-case query (ix_case_next_wakeup).
If one worker misses the 5 s batch target (or with --profile), due cases are fired in-process: once
plainly (ms per case), once with timers wrapped around the functions a batch calls (in this process
only) and the SQL statements counted, once under cProfile.

Run:  .venv/bin/python bench/timers.py [--cases 100000] [--due 1000] [--single 20] [--pg-url URL]
                                       [--no-pg] [--no-sqlite] [--profile] [--keep-logs]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import re
import shlex
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence

import _common
from _common import RECOUNT, fmt_row, percentile

from sqlalchemy import event as sa_event  # noqa: E402

from engine.bootstrap import bootstrap  # noqa: E402
from engine.deployments import deploy  # noqa: E402

from engine.commands.cases import CaseDraft, create_case  # noqa: E402
from engine.org.accounts import Account, actor_of, find_user, load_org, save_accounts  # noqa: E402
from engine.workflow.serialization import compress_state, decompress_state  # noqa: E402
from engine.storage.schema import upgrade_schema  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.commands.timers import fire_due_timers  # noqa: E402
from processes.catalogue import build_catalogue  # noqa: E402
from processes.org import demo_users, org_data  # noqa: E402
from workers.timer_worker import next_wakeup  # noqa: E402

PG_DB = "duban_bench_timers"
TARGET_BATCH_S = 5.0
TARGET_SINGLE_P99_S = 1.0
GIVE_UP_S = 120.0
LEAD_S = 4.0  # T_due = real now + LEAD_S when arming
SMALL = 1_000  # the first tick-cost point
CHUNK = 2_000
UUID_RE = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
UTC = timezone.utc


# -- the template case --------------------------------------------------------------------------------

@dataclass
class Template:
    """One real direct case, split for cloning."""

    case_id: int
    parts: list[str]  # its JSON split at UUIDs (odd items), timer_unclaimed moved to FAR
    task_ids: set[str]
    far_needle: str
    not_due_wakeup: datetime
    year: int


def seed_and_template(db_url: str) -> Template:
    """Migrate, deploy, load org and users (as tests/conftest.py), create one direct case, split its state."""
    from api.auth import hash_password

    engine = bootstrap(Settings(database_url=db_url, secret_key=_common.SECRET), build_catalogue())
    try:
        upgrade_schema(engine.db)
        deploy(engine)
        load_org(engine, org_data())
        save_accounts(engine, [Account(u.username, u.display_name, u.roles, u.department, u.taskforce,
                                       email=f"{u.username}@duban.local") for u in demo_users()],
                      hash_password("demo"))
        user = find_user(engine, "supervisor")
        assert user is not None
        view = create_case(engine, actor_of(user), CaseDraft(
            title="定时器压测事项", description="bench/timers.py", taskforce="optoelectronics",
            mode="direct", lead_department="econ_it"))
        case = view.case
        doc = json.loads(decompress_state(case.workflow_state))
        text = json.dumps(doc)  # the standard library's spacing, which the needles below are written in
        task_ids = set(doc["tasks"]) | {k for sp in doc["subprocesses"].values() for k in sp["tasks"]}
        unclaimed = [t for sp in doc["subprocesses"].values() for t in sp["tasks"].values()
                     if t["task_spec"] == "timer_unclaimed"]
        if len(unclaimed) != 1 or "event_value" not in unclaimed[0]["internal_data"]:
            raise RuntimeError("the direct case has no single armed timer_unclaimed")
        needle = json.dumps({"event_value": unclaimed[0]["internal_data"]["event_value"]})[1:-1]
        if text.count(needle) != 1:
            raise RuntimeError(f"{needle} occurs {text.count(needle)} times in the state")
        far = datetime.now(UTC) + timedelta(days=30)
        far_needle = json.dumps({"event_value": far.isoformat()})[1:-1]
        text = text.replace(needle, far_needle)
        parts = UUID_RE.split(text)
        if set(parts[1::2]) - task_ids:
            raise RuntimeError("the state holds UUIDs that are not task ids")
        wf = engine.runtime.restore(case.process_version, compress_state(text.encode("utf-8")))
        wakeup = engine.runtime.next_wakeup(wf)
        if wakeup is None or wakeup < datetime.now(UTC) + timedelta(days=1):
            raise RuntimeError(f"unexpected earliest timer of a not-due clone: {wakeup}")
        return Template(case.id, parts, task_ids, far_needle, wakeup, engine.calendar.local_date(case.created_at).year)
    finally:
        engine.db.dispose()


def clone_state(tpl: Template) -> tuple[bytes, dict[str, str]]:
    """A clone's compressed state with fresh task UUIDs, and the old -> new id map."""
    mapping = {old: str(uuid.uuid4()) for old in tpl.task_ids}
    text = "".join([mapping[p] if i & 1 else p for i, p in enumerate(tpl.parts)])
    return compress_state(text.encode("utf-8")), mapping


# -- the two stores -----------------------------------------------------------------------------------

def _sqlite_dt(value: datetime) -> str:
    """A UTC datetime as engine.models.UTCDateTime stores it on SQLite."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


class Store:
    """Raw access to one benchmark database: bulk load, arm, observe."""

    name = ""
    url = ""
    far_needle = ""  # timer_unclaimed's event_value in every not-due clone (set from the template)

    def template_rows(self, case_id: int) -> dict[str, tuple[list[str], list[tuple]]]:
        """The template's rows per table (case, open tasks, parties), as the driver returns them."""
        out = {}
        for table, where in (("supervision_case", "id"), ("task", "case_id"), ("case_party", "case_id")):
            extra = " AND state IN ('ready', 'claimed')" if table == "task" else ""
            cur = self.execute(f"SELECT * FROM {table} WHERE {where} = {self.mark}{extra}", (case_id,))
            out[table] = ([d[0] for d in cur.description], cur.fetchall())
        return out

    def load(self, tpl: Template, first: int, last: int) -> float:
        """Insert clones first..last (case ids); return seconds taken."""
        t0 = time.perf_counter()
        rows = self.template_rows(tpl.case_id)
        for lo in range(first, last + 1, CHUNK):
            batch: dict[str, list[tuple]] = {"supervision_case": [], "task": [], "case_party": []}
            for case_id in range(lo, min(lo + CHUNK - 1, last) + 1):
                state, mapping = clone_state(tpl)
                number = f"DB{tpl.year}-{case_id:06d}"
                cols, (row,) = rows["supervision_case"]
                values = dict(zip(cols, row)) | {"id": case_id, "number": number, "workflow_state": state,
                                                 "next_wakeup_at": self.dt(tpl.not_due_wakeup), "version": 1}
                batch["supervision_case"].append(tuple(values[c] for c in cols))
                cols, task_rows = rows["task"]
                for task in task_rows:
                    values = dict(zip(cols, task)) | {"case_id": case_id, "case_number": number}
                    values["id"] = self.task_id(mapping[str(self.parse_task_id(values["id"]))])
                    batch["task"].append(tuple(values[c] for c in cols))
                cols, party_rows = rows["case_party"]
                for party in party_rows:
                    batch["case_party"].append(tuple((dict(zip(cols, party)) | {"case_id": case_id})[c] for c in cols))
            for table in ("supervision_case", "task", "case_party"):
                self.insert(table, rows[table][0], batch[table])
        self.finish_load()
        return time.perf_counter() - t0

    def arm(self, due_at: dict[int, datetime]) -> None:
        """Make these cases fall due: timer_unclaimed's event_value and next_wakeup_at := their time."""
        states = self.states(list(due_at))
        updates = []
        for case_id, when in due_at.items():
            text = decompress_state(states[case_id]).decode("utf-8")
            if text.count(self.far_needle) != 1:
                raise RuntimeError(f"case {case_id} is not a not-due clone")
            text = text.replace(self.far_needle, json.dumps({"event_value": when.isoformat()})[1:-1])
            updates.append((compress_state(text.encode("utf-8")), self.dt(when), case_id))
        self.update_states(updates)

    # backend specifics
    mark = "?"

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement."""
        raise NotImplementedError

    def dt(self, value: datetime) -> Any:
        """A datetime as this driver writes it."""
        raise NotImplementedError

    def task_id(self, text: str) -> Any:
        """A task UUID as this driver writes it."""
        raise NotImplementedError

    def parse_task_id(self, value: Any) -> uuid.UUID:
        """A stored task id as a UUID."""
        raise NotImplementedError

    def insert(self, table: str, cols: list[str], rows: list[tuple]) -> None:
        """Bulk-insert rows."""
        raise NotImplementedError

    def finish_load(self) -> None:
        """Commit and refresh the planner's statistics."""
        raise NotImplementedError

    def states(self, ids: list[int]) -> dict[int, bytes]:
        """The compressed workflow states of these cases."""
        raise NotImplementedError

    def update_states(self, updates: list[tuple[bytes, Any, int]]) -> None:
        """Write (state, next_wakeup_at, id) and commit."""
        raise NotImplementedError

    def fired_since(self, after_id: int) -> list[tuple[int, int, datetime]]:
        """timer_fired events after an event id: (id, case_id, at)."""
        raise NotImplementedError

    def backend_pids(self) -> list[int]:
        """The server processes serving the other connections to this database (none for SQLite)."""
        return []

    def close(self) -> None:
        """Close the connection."""
        raise NotImplementedError


class PgStore(Store):
    """PostgreSQL through psycopg: COPY for the load."""

    name = "PostgreSQL"
    mark = "%s"

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self.conn = psycopg.connect(url)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement."""
        return self.conn.execute(sql, params)

    def dt(self, value: datetime) -> Any:
        """A datetime as this driver writes it."""
        return value

    def task_id(self, text: str) -> Any:
        """A task UUID as this driver writes it."""
        return uuid.UUID(text)

    def parse_task_id(self, value: Any) -> uuid.UUID:
        """A stored task id as a UUID."""
        return value

    def insert(self, table: str, cols: list[str], rows: list[tuple]) -> None:
        """COPY rows (JSON values wrapped)."""
        from psycopg.types.json import Json

        with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([Json(v) if isinstance(v, (list, dict)) else v for v in row])

    def finish_load(self) -> None:
        """Commit, move the id sequence, VACUUM ANALYZE."""
        self.conn.execute("SELECT setval(pg_get_serial_sequence('supervision_case', 'id'), "
                          "(SELECT max(id) FROM supervision_case))")
        for sql in RECOUNT:
            self.conn.execute(sql)
        self.conn.commit()
        self.conn.autocommit = True
        try:
            self.conn.execute("VACUUM ANALYZE supervision_case, task, case_party")
        finally:
            self.conn.autocommit = False

    def states(self, ids: list[int]) -> dict[int, bytes]:
        """The compressed workflow states of these cases."""
        rows = self.conn.execute("SELECT id, workflow_state FROM supervision_case WHERE id = ANY(%s)", (ids,))
        out = {case_id: bytes(state) for case_id, state in rows}
        self.conn.commit()
        return out

    def update_states(self, updates: list[tuple[bytes, Any, int]]) -> None:
        """Write (state, next_wakeup_at, id) and commit."""
        with self.conn.cursor() as cur:
            cur.executemany("UPDATE supervision_case SET workflow_state = %s, next_wakeup_at = %s WHERE id = %s",
                            updates)
        self.conn.commit()

    def fired_since(self, after_id: int) -> list[tuple[int, int, datetime]]:
        """timer_fired events after an event id: (id, case_id, at)."""
        rows = self.conn.execute("SELECT id, case_id, at FROM event WHERE id > %s AND action = 'timer_fired' "
                                 "ORDER BY id", (after_id,)).fetchall()
        self.conn.commit()
        return rows

    def backend_pids(self) -> list[int]:
        """The server processes serving the other connections to this database."""
        rows = self.conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND pid <> pg_backend_pid()").fetchall()
        self.conn.commit()
        return [pid for (pid,) in rows]

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


class SqliteStore(Store):
    """SQLite through sqlite3: executemany for the load."""

    name = "SQLite"
    mark = "?"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA busy_timeout=30000")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement."""
        return self.conn.execute(sql, params)

    def dt(self, value: datetime) -> Any:
        """A datetime as this driver writes it."""
        return _sqlite_dt(value)

    def task_id(self, text: str) -> Any:
        """A task UUID as this driver writes it."""
        return uuid.UUID(text).hex

    def parse_task_id(self, value: Any) -> uuid.UUID:
        """A stored task id as a UUID."""
        return uuid.UUID(value)

    def insert(self, table: str, cols: list[str], rows: list[tuple]) -> None:
        """executemany in one transaction per chunk."""
        self.conn.execute("BEGIN")
        self.conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                              rows)
        self.conn.execute("COMMIT")

    def finish_load(self) -> None:
        """Recount the worklists, ANALYZE and checkpoint."""
        self.conn.execute("BEGIN")
        for sql in RECOUNT:
            self.conn.execute(sql)
        self.conn.execute("COMMIT")
        self.conn.execute("ANALYZE")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def states(self, ids: list[int]) -> dict[int, bytes]:
        """The compressed workflow states of these cases."""
        out = {}
        for lo in range(0, len(ids), 500):
            chunk = ids[lo:lo + 500]
            out.update(self.conn.execute(f"SELECT id, workflow_state FROM supervision_case WHERE id IN "
                                         f"({', '.join('?' * len(chunk))})", chunk).fetchall())
        return out

    def update_states(self, updates: list[tuple[bytes, Any, int]]) -> None:
        """Write (state, next_wakeup_at, id) and commit."""
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany("UPDATE supervision_case SET workflow_state = ?, next_wakeup_at = ? WHERE id = ?",
                              updates)
        self.conn.execute("COMMIT")

    def fired_since(self, after_id: int) -> list[tuple[int, int, datetime]]:
        """timer_fired events after an event id: (id, case_id, at)."""
        rows = self.conn.execute("SELECT id, case_id, at FROM event WHERE id > ? AND action = 'timer_fired' "
                                 "ORDER BY id", (after_id,)).fetchall()
        return [(i, c, datetime.fromisoformat(at).replace(tzinfo=UTC)) for i, c, at in rows]

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


# -- measuring ------------------------------------------------------------------------------------------

@dataclass
class Run:
    """One firing measurement."""

    label: str
    workers: int
    due: int
    fired: int = 0
    late_s: list[float] = field(default_factory=list)  # observed (commit visible) - due, sorted
    at_late_s: list[float] = field(default_factory=list)  # audit at - due, sorted
    wall_s: float = float("nan")
    duplicates: int = 0
    split: str = ""
    margin_s: float = float("nan")
    gave_up: bool = False
    worker_cpu_s: float = 0.0  # CPU the worker processes used from arming until all had fired
    db_cpu_s: float = float("nan")  # CPU the workers' PostgreSQL backends used meanwhile
    load: float = 0.0  # 1-minute load average when arming


def last_event_id(store: Store) -> int:
    """The highest event id so far."""
    row = store.execute("SELECT coalesce(max(id), 0) FROM event").fetchone()
    if isinstance(store, PgStore):
        store.conn.commit()
    return int(row[0])


def observe(store: Store, due_at: dict[int, datetime], since: int,
            poll_s: float) -> tuple[dict[int, float], dict[int, datetime], int, bool]:
    """Poll until each case has a timer_fired event (bounded): real times seen, ``at``s, extra firings, gave up."""
    # Every poll rereads all events after `since`: with several workers, event ids commit out of
    # order, so a moving "id > last seen" watermark would miss some.
    seen: dict[int, float] = {}
    ats: dict[int, datetime] = {}
    deadline = max(due_at.values()).timestamp() + GIVE_UP_S
    gave_up = False
    while len(seen) < len(due_at):
        rows = store.fired_since(since)
        stamp = time.time()
        for _, case_id, at in rows:
            if case_id in due_at and case_id not in seen:
                seen[case_id] = stamp
                ats[case_id] = at
        if len(seen) == len(due_at):
            break
        if stamp > deadline:
            gave_up = True
            break
        time.sleep(poll_s)
    time.sleep(0.5)  # a second firing of any case would show up by now
    counts = Counter(case_id for _, case_id, _ in store.fired_since(since) if case_id in due_at)
    return seen, ats, sum(n - 1 for n in counts.values()), gave_up


def fired_split(logs: list[Path]) -> str:
    """How many cases each worker fired, from its log."""
    return "/".join(str(p.read_text(errors="replace").count("fired timers of case")) for p in logs)


def measure(store: Store, ids: list[int], workers: int, label: str, tmp: Path, single: bool) -> Run:
    """Start workers, arm ids (all at one T_due, or spread), poll until fired; stop the workers."""
    run = Run(label, workers, len(ids))
    with _common.duban_workers(store.url, tmp, workers) as started:
        time.sleep(0.5)  # let the first tick finish
        since = last_event_id(store)
        pids = [proc.pid for proc, _ in started]
        backends = store.backend_pids()
        cpu_before = {pid: _common.cpu_seconds(pid) for pid in pids + backends}
        run.load = os.getloadavg()[0]
        start = datetime.now(UTC) + timedelta(seconds=LEAD_S)
        if single:
            due_at, t = {}, start
            for case_id in ids:
                due_at[case_id] = t
                t += timedelta(seconds=random.uniform(0.8, 1.1))
        else:
            due_at = {case_id: start for case_id in ids}
        store.arm(due_at)
        run.margin_s = (start - datetime.now(UTC)).total_seconds()
        seen, ats, run.duplicates, run.gave_up = observe(store, due_at, since, 0.01 if single else 0.05)
        used = {pid: _common.cpu_seconds(pid) - cpu_before.get(pid, 0.0) for pid in pids + store.backend_pids()}
        run.worker_cpu_s = sum(used[pid] for pid in pids)
        if isinstance(store, PgStore):
            run.db_cpu_s = sum(v for pid, v in used.items() if pid not in pids)
        run.split = fired_split([log for _, log in started])
    run.fired = len(seen)
    run.late_s = sorted(seen[c] - due_at[c].timestamp() for c in seen)
    run.at_late_s = sorted((ats[c] - due_at[c]).total_seconds() for c in ats)
    if seen and not single:
        run.wall_s = max(seen.values()) - start.timestamp()
    return run


@dataclass
class TickCost:
    """fire_due_timers and next_wakeup with nothing due."""

    armed: int
    fire_ms: list[float]
    wake_ms: list[float]
    sql: str = ""
    plan: str = ""
    wake_plan: str = ""


def tick_cost(db_url: str, armed: int, runs: int = 1000) -> TickCost:
    """Time the two queries of an idle tick in-process and EXPLAIN the due-case query."""
    engine = bootstrap(Settings(database_url=db_url, secret_key=_common.SECRET), build_catalogue())
    try:
        captured: list[tuple[str, Any]] = []

        def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            if "next_wakeup_at" in statement and "supervision_case" in statement:
                captured.append((statement, parameters))

        for _ in range(20):
            if fire_due_timers(engine):
                raise RuntimeError("something was due during the tick-cost measurement")
            next_wakeup(engine)
        fire_ms, wake_ms = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            fire_due_timers(engine)
            t1 = time.perf_counter()
            next_wakeup(engine)
            t2 = time.perf_counter()
            fire_ms.append((t1 - t0) * 1000)
            wake_ms.append((t2 - t1) * 1000)
        sa_event.listen(engine.db.read_engine, "before_cursor_execute", capture)
        fire_due_timers(engine)
        next_wakeup(engine)
        sa_event.remove(engine.db.read_engine, "before_cursor_execute", capture)
        result = TickCost(armed, sorted(fire_ms), sorted(wake_ms))
        plans = []
        with engine.db.read_engine.connect() as conn:
            for statement, params in captured[:2]:
                prefix = "EXPLAIN QUERY PLAN " if engine.db.is_sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
                rows = conn.exec_driver_sql(prefix + statement, params).fetchall()
                plans.append("\n".join(str(r[3]) if engine.db.is_sqlite else str(r[0]) for r in rows))
        result.sql = " ".join(captured[0][0].split()) if captured else ""
        result.plan, result.wake_plan = (plans + ["", ""])[:2]
        return result
    finally:
        engine.db.dispose()


SECTIONS = (  # (label, owner attribute path, depth): what firing a batch spends its time on, per case
    ("_fire_batch (a batch of cases, one transaction)", "timers._fire_batch", 0),
    ("_fire (one case)", "timers._fire", 1),
    ("runtime.restore: zstd + JSON + restore (fast codec)", "runtime.restore", 1),
    ("runtime.advance: Spiff do_engine_steps/refresh_timers", "runtime.advance", 1),
    ("sync.sync_rows", "pipeline.sync_rows", 1),
    ("runtime.ready_tasks", "runtime.ready_tasks", 2),
    ("outbox.notify: recipients, notification + delivery rows", "outbox.notify", 2),
    ("runtime.save: prune + serialize (fast codec) + zstd", "runtime.save", 1),
    ("Cases.save: the case row's versioned UPDATE, queued", "repositories.Cases.save", 1),
    ("UnitOfWork.commit", "unit_of_work.UnitOfWork.commit", 1),
)


def _timed_sections(engine: Any, spent: Counter[str]) -> list[tuple[Any, str, Any]]:
    """Wrap the functions of SECTIONS with timers (in this process only); return what to put back."""
    import engine.commands.pipeline as pipeline_mod
    import engine.commands.timers as timers_mod
    import engine.notifications.outbox as outbox_mod
    import engine.storage.repositories as repositories_mod
    import engine.storage.unit_of_work as unit_of_work_mod

    owners = {"timers": timers_mod, "pipeline": pipeline_mod, "outbox": outbox_mod, "runtime": engine.runtime,
              "repositories.Cases": repositories_mod.Cases, "unit_of_work.UnitOfWork": unit_of_work_mod.UnitOfWork}
    undo = []
    for label, path, _ in SECTIONS:
        owner_name, _, attr = path.rpartition(".")
        owner = owners[owner_name]
        original = getattr(owner, attr)

        def wrapper(*a: Any, __fn: Any = original, __label: str = label, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return __fn(*a, **k)
            finally:
                spent[__label] += time.perf_counter() - t0

        undo.append((owner, attr, original))
        setattr(owner, attr, wrapper)
    return undo


def profile_firing(store: Store, ids: list[int]) -> str:
    """Fire due cases in-process three times: plainly, with section timers, under cProfile; return the report."""
    third = len(ids) // 3
    engine = bootstrap(Settings(database_url=store.url, secret_key=_common.SECRET), build_catalogue())
    spent: Counter[str] = Counter()
    try:
        fire_due_timers(engine)  # warm the caches
        store.arm({case_id: datetime.now(UTC) - timedelta(seconds=1) for case_id in ids[:third]})
        t0 = time.perf_counter()
        plain = fire_due_timers(engine)
        plain_ms = (time.perf_counter() - t0) / max(1, len(plain)) * 1000
        store.arm({case_id: datetime.now(UTC) - timedelta(seconds=1) for case_id in ids[third:2 * third]})
        undo = _timed_sections(engine, spent)
        statements: Counter[str] = Counter()

        def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            words = statement.split()
            table = next((w for i, w in enumerate(words) if i and words[i - 1].upper() in ("FROM", "INTO", "UPDATE")),
                         "")
            statements[f"{words[0].upper()} {table}".strip()] += 1

        engines = {engine.db.read_engine, engine.db.write_engine}
        for sa_engine in engines:
            sa_event.listen(sa_engine, "before_cursor_execute", count)
        try:
            sectioned = fire_due_timers(engine)
        finally:
            for owner, attr, original in undo:
                setattr(owner, attr, original)
            for sa_engine in engines:
                sa_event.remove(sa_engine, "before_cursor_execute", count)
        store.arm({case_id: datetime.now(UTC) - timedelta(seconds=1) for case_id in ids[2 * third:]})
        prof = cProfile.Profile()
        prof.enable()
        profiled = fire_due_timers(engine)
        prof.disable()
    finally:
        engine.db.dispose()
    lines = [f"in-process on {store.name}, one process: {len(plain)} due cases fired at {plain_ms:.1f} ms/case "
             f"-> {plain_ms:.1f} s per 1,000 cases",
             f"where the time goes (wall ms per case, {len(sectioned)} cases, timers around each function):"]
    n = max(1, len(sectioned))
    lines += [f"  {spent[label] / n * 1000:7.2f}  {'  ' * depth}{label}" for label, _, depth in SECTIONS]
    floor = sum(spent[label] for label, path, _ in SECTIONS
                if path in ("runtime.restore", "runtime.advance", "runtime.save")) / n * 1000
    lines.append(f"SpiffWorkflow's own part (restore + advance + save): {floor:.2f} ms/case -> {floor:.1f} s per "
                 f"1,000 cases in one process, before any SQL")
    lines.append(f"SQL statements per fired case: {sum(statements.values()) / n:.1f} + 1 COMMIT: " + ", ".join(
        f"{kind} {c / n:.1f}" for kind, c in statements.most_common()))
    stats = pstats.Stats(prof)
    groups: Counter[str] = Counter()
    for (filename, _, func), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        group = next((g for g in ("SpiffWorkflow", "sqlalchemy", "psycopg", "/engine/", "/processes/")
                      if g in filename), "builtins" if filename == "~" else "stdlib (json, uuid, ...)")
        groups[group] += tottime
    total = sum(groups.values()) or 1.0
    lines.append(f"own time by package under cProfile ({len(profiled)} cases): " + ", ".join(
        f"{g.strip('/')} {v / total:.0%}" for g, v in groups.most_common()))
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(12)
    body = [ln for ln in out.getvalue().splitlines() if ln.strip() and not ln.startswith(("   Ordered", "   List"))]
    lines.append("top functions by own time:")
    lines += ["  " + ln.replace(str(_common.PROJECT_ROOT) + "/", "").replace(
        str(Path(sys.prefix)) + "/lib/python3.11/site-packages/", "") for ln in body[-13:]]
    return "\n".join(lines)


# -- one database ---------------------------------------------------------------------------------------

@dataclass
class Outcome:
    """Everything measured on one database."""

    name: str
    load_s: float = 0.0
    runs: list[Run] = field(default_factory=list)
    single: Run | None = None
    ticks: list[TickCost] = field(default_factory=list)
    profile: str = ""


def run_database(store: Store, args: argparse.Namespace, tmp: Path, worker_counts: Sequence[int]) -> Outcome:
    """Seed, clone, measure tick cost at 1,000 and --cases, then the batch and single-timer firings."""
    outcome = Outcome(store.name)
    tpl = seed_and_template(store.url)
    store.far_needle = tpl.far_needle
    small = min(SMALL, args.cases)
    print(f"[{store.name}] loading {args.cases:,} cases ...", flush=True)
    outcome.load_s += store.load(tpl, tpl.case_id + 1, tpl.case_id + small - 1)
    if small < args.cases:
        outcome.ticks.append(tick_cost(store.url, small))
        outcome.load_s += store.load(tpl, tpl.case_id + small, tpl.case_id + args.cases - 1)
    outcome.ticks.append(tick_cost(store.url, args.cases))
    pool = list(range(tpl.case_id + 1, tpl.case_id + args.cases))
    random.Random(7).shuffle(pool)
    for workers in worker_counts:
        ids, pool = pool[:args.due], pool[args.due:]
        print(f"[{store.name}] {args.due} due at once, {workers} worker(s) ...", flush=True)
        outcome.runs.append(measure(store, ids, workers, store.name, tmp, single=False))
    ids, pool = pool[:args.single], pool[args.single:]
    print(f"[{store.name}] {args.single} single timers, 1 worker ...", flush=True)
    outcome.single = measure(store, ids, 1, store.name, tmp, single=True)
    one = outcome.runs[0]
    if args.profile or one.gave_up or one.wall_s > TARGET_BATCH_S:
        print(f"[{store.name}] profiling the firing in-process ...", flush=True)
        outcome.profile = profile_firing(store, pool[:3 * args.profile_cases])
    return outcome


def _ms(values: list[float], pct: float) -> float:
    return percentile(values, pct) * 1000


def report(outcomes: list[Outcome], args: argparse.Namespace) -> None:
    """Print the tables."""
    print(f"\n(1) {args.due:,} cases due at one moment among {args.cases:,} open cases with armed timers "
          f"(duban worker processes, real clock; lateness = commit seen by a 50 ms poll - due)")
    widths = (10, 7, 5, 6, 7, 6, 6, 6, 8, 8, 6, 3, 7, 5, 6)
    print(fmt_row(("database", "workers", "fired", "wall s", "cases/s", "p50 ms", "p99 ms", "at p99",
                   "wrk cpu", "pg cpu", "margin", "dup", "split", "load", "<= 5 s"), widths))
    for o in outcomes:
        for r in o.runs:
            target = "-" if r.workers != 1 else ("met" if r.wall_s <= TARGET_BATCH_S and not r.gave_up else "MISSED")
            fired = max(1, r.fired)
            print(fmt_row((o.name, r.workers, r.fired, round(r.wall_s, 1), round(r.fired / r.wall_s, 1),
                           round(_ms(r.late_s, 50)), round(_ms(r.late_s, 99)), round(_ms(r.at_late_s, 99)),
                           round(r.worker_cpu_s / fired * 1000, 1),
                           "-" if r.db_cpu_s != r.db_cpu_s else round(r.db_cpu_s / fired * 1000, 1),
                           round(r.margin_s, 1), r.duplicates, r.split, round(r.load, 1), target), widths))
            if r.gave_up:
                print(f"   gave up {GIVE_UP_S:.0f} s after the due time with {r.fired} of {r.due} fired")
    print(f"   wall: due time until the last commit was seen; wrk cpu / pg cpu: CPU ms per fired case of the worker "
          f"processes / of their PostgreSQL backends (/proc); margin: s between arming and the due time; dup: "
          f"cases fired more than once; split: cases per worker (from their logs); load: 1-min load average "
          f"({os.cpu_count()} CPUs)")
    print("   at p99: p99 of the audit event's `at` - due; `at` is the worker's clock read once at the start of "
          "the tick, so it is the same for every case of the batch and says nothing about when each was fired")
    print(f"\n(2) single timer: {args.single} cases each due alone, 0.8-1.1 s apart, 1 worker "
          "(lateness = commit seen by a 10 ms poll - due)")
    widths = (11, 5, 8, 8, 8, 8, 10)
    print(fmt_row(("database", "n", "p50 ms", "p99 ms", "max ms", "at p99", "p99 < 1 s"), widths))
    for o in outcomes:
        r = o.single
        if r is None:
            continue
        ok = not r.gave_up and r.late_s and percentile(r.late_s, 99) < TARGET_SINGLE_P99_S
        print(fmt_row((o.name, r.fired, round(_ms(r.late_s, 50)), round(_ms(r.late_s, 99)),
                       round(max(r.late_s) * 1000) if r.late_s else "-", round(_ms(r.at_late_s, 99)),
                       "met" if ok else "MISSED"), widths))
    print("\n(3) idle tick cost in-process (nothing due): fire_due_timers and the worker's next_wakeup query, "
          "1,000 calls each")
    widths = (11, 9, 9, 9, 9, 9, 9, 9)
    print(fmt_row(("database", "armed", "fire min", "fire med", "fire p99", "wake min", "wake med", "wake p99"),
                  widths) + "   (ms)")
    for o in outcomes:
        for t in o.ticks:
            print(fmt_row((o.name, f"{t.armed:,}", t.fire_ms[0], statistics.median(t.fire_ms),
                           percentile(t.fire_ms, 99), t.wake_ms[0], statistics.median(t.wake_ms),
                           percentile(t.wake_ms, 99)), widths))
        if len(o.ticks) == 2:
            small, large = o.ticks
            ratio = statistics.median(large.fire_ms) / statistics.median(small.fire_ms)
            ratio_min = large.fire_ms[0] / small.fire_ms[0]
            print(f"   {o.name}: fire_due_timers at {large.armed:,} / at {small.armed:,} armed: median {ratio:.2f}x, "
                  f"min {ratio_min:.2f}x -> {'flat' if min(ratio, ratio_min) < 1.5 else 'GROWS'}")
    for o in outcomes:
        for t in o.ticks:
            used = "ix_case_next_wakeup" in t.plan
            print(f"\n== {o.name}, {t.armed:,} armed: due-case query (engine/timers.py fire_due_timers); "
                  f"ix_case_next_wakeup used: {'yes' if used else 'NO'}")
            print(f"-- {t.sql}")
            print("   " + t.plan.replace("\n", "\n   "))
            print("-- next_wakeup (workers/timer_worker.py):")
            print("   " + t.wake_plan.replace("\n", "\n   "))
    for o in outcomes:
        if o.profile:
            print(f"\n== {o.name}: profile of firing due cases\n{o.profile}")


def main(argv: list[str] | None = None) -> int:
    """Run every measurement on PostgreSQL and SQLite and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="open cases with armed timers (default 100000)")
    parser.add_argument("--due", type=int, default=1_000, help="cases falling due at once (default 1000)")
    parser.add_argument("--single", type=int, default=20, help="lone timers to measure (default 20)")
    parser.add_argument("--profile", action="store_true", help="profile the firing even if the target is met")
    parser.add_argument("--profile-cases", type=int, default=100, help="cases per third of the profile (default 100)")
    parser.add_argument("--pg-url", default=_common.PG_DEFAULT_URL,
                        help=f"any database URL of the PostgreSQL server; {PG_DB} is created beside it")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temporary directory with the worker logs")
    args = parser.parse_args(argv)
    if args.due < 1 or args.single < 1 or args.cases < 3 * args.due + args.single + 3 * args.profile_cases + 1:
        parser.error("--cases must be at least 3 * --due + --single + 3 * --profile-cases + 1")

    print("command:", shlex.join([sys.executable] + sys.argv), flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="duban-bench-timers-"))
    outcomes: list[Outcome] = []
    notes: list[str] = []
    started = time.perf_counter()
    try:
        if args.no_pg:
            notes.append("PostgreSQL: skipped (--no-pg)")
        elif not _common.postgres_reachable(args.pg_url):
            notes.append(f"PostgreSQL: not reachable at {args.pg_url}, skipped")
        else:
            with _common.bench_database(args.pg_url, PG_DB) as pg_url:
                with contextlib.closing(PgStore(pg_url)) as store:
                    outcomes.append(run_database(store, args, tmp, (1, 2)))
        if not args.no_sqlite:
            with contextlib.closing(SqliteStore(tmp / "timers.sqlite3")) as store:
                outcomes.append(run_database(store, args, tmp, (1,)))
    finally:
        if args.keep_logs:
            print(f"worker logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for o in outcomes:
        print(f"{o.name}: {args.cases:,} cases cloned and loaded in {o.load_s:.0f} s")
    report(outcomes, args)
    for note in notes:
        print(note)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
