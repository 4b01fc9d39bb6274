"""A department's worklist page through the HTTP API, with a million task rows in the database.

Loads --rows task rows (default 1,000,000; 10 per case, so 100,000 supervision_case rows with a
dummy workflow_state) into a freshly seeded database: tasks spread over every department of
processes/org.json, states ready/claimed/completed/cancelled mixed, due times spread over +-60
days (office tasks have none). PostgreSQL is loaded with COPY, then VACUUM ANALYZE; SQLite with
one executemany transaction (PRAGMA synchronous=OFF), then ANALYZE; on both the secondary indexes
(and on PostgreSQL the foreign keys) are dropped for the load and recreated from their stored
definitions. Then the real server
(``duban serve``: gunicorn, 1 worker, 8 threads) runs on a loopback port, and econ_it (a handler)
asks GET /api/v1/tasks?scope=department&per_page=50 (open tasks, sorted by due time) --requests
times after a warm-up over one keep-alive connection. Reports p50/p95/p99 against the target
p95 < 10 ms, the page's total, the SQL the engine generates (captured from engine.worklist) with
its plan (EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite) and the time of each
statement alone. --profile adds a cProfile of the request in-process (Flask test client; for
diagnosis only, never the headline number).

Run:  .venv/bin/python bench/worklist.py [--rows 1000000] [--requests 500] [--pg-url URL] [--no-pg]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import shlex
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import _common
from _common import RECOUNT, Api, fmt_row, percentile

from sqlalchemy import event  # noqa: E402

from engine.bootstrap import bootstrap  # noqa: E402

from engine.org.accounts import actor_of, find_user  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.queries.worklist import TaskQuery, list_tasks  # noqa: E402
from processes.catalogue import build_catalogue  # noqa: E402
from processes.org import OFFICE_DEPARTMENT, org_data  # noqa: E402

USER = "econ_it"
PATH = "/api/v1/tasks?scope=department&per_page=50"
TARGET_P95_MS = 10.0
STATES = ("ready", "claimed", "completed", "cancelled")
STATE_WEIGHTS = (30, 20, 35, 15)
CHUNK = 20_000
CASE_COLUMNS = ("id", "number", "title", "description", "taskforce", "source", "mode", "status",
                "resolution", "lead_department", "co_departments", "due_at", "warning_level",
                "escalation_level", "urge_count", "return_count", "rework_count", "created_by",
                "created_at", "updated_at", "closed_at", "process_id", "process_version",
                "workflow_state", "next_wakeup_at", "version")
TASK_COLUMNS = ("id", "case_id", "name", "title", "case_title", "case_number", "taskforce", "mode",
                "department", "role", "assignee", "state", "created_at", "claimed_at", "completed_at",
                "completed_by", "due_at", "warning_level", "escalation_level")
DATETIME_COLUMNS = {"due_at", "created_at", "updated_at", "closed_at", "next_wakeup_at", "claimed_at",
                    "completed_at"}


@dataclass
class Outcome:
    """What one database run measured."""

    name: str
    load_s: float = 0.0
    expected_total: int = 0
    lat_ms: list[float] = field(default_factory=list)
    total: int = 0
    sql: list[str] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)
    profile: str = ""
    # (setting, latencies of the default server, latencies with the setting), interleaved in rounds
    compared: list[tuple[str, list[float], list[float]]] = field(default_factory=list)


ROUNDS = 5  # a comparison alternates the two servers this many times


# -- data ----------------------------------------------------------------------------------------------

def generate(rows: int, per_case: int, version: str, now: datetime, seed: int = 1) -> Iterator[tuple[str, list]]:
    """Yield ("case", rows) and ("task", rows) chunks of row tuples, each chunk of cases before its tasks."""
    rng = random.Random(seed)
    org = org_data()
    departments = [d["code"] for d in org["departments"]]
    taskforces = [t["code"] for t in org["taskforces"]]
    n_cases = -(-rows // per_case)
    year = now.year
    made = 0
    for first in range(0, n_cases, CHUNK // per_case):
        cases, tasks = [], []
        for case_id in range(first + 1, min(first + CHUNK // per_case, n_cases) + 1):
            number = f"DB{year}-{case_id:06d}"
            title = f"压测事项 {case_id}"
            created = now - timedelta(days=rng.uniform(30, 120))
            lead = departments[rng.randrange(len(departments) - 1)]
            cases.append((case_id, number, title, "bulk-loaded by bench/worklist.py",
                          rng.choice(taskforces), None, "standard", "open", None, lead, "[]",
                          now + timedelta(days=rng.uniform(-60, 60)), "green", 0, 0, 0, 0, "dispatcher",
                          created, created, None, "supervision_loop", version, b"{}", None, 1))
            for _ in range(min(per_case, rows - made)):
                made += 1
                dept = departments[rng.randrange(len(departments))]
                state = rng.choices(STATES, STATE_WEIGHTS)[0]
                t_created = created + timedelta(seconds=rng.randrange(0, 30 * 86400))
                if dept == OFFICE_DEPARTMENT:
                    name, ttl, role, due = rng.choice((("refer_case", "转办"), ("approve_extension", "延期审批"),
                                                       ("review_feedback", "反馈审核"))) + ("dispatcher", None)
                    who = "dispatcher"
                else:
                    name, ttl = ("handle_case", "处置") if rng.random() < 0.8 else ("assist_case", "协办")
                    role, who = "department", dept
                    due = now + timedelta(seconds=rng.randrange(-60 * 86400, 60 * 86400))
                warning = "green" if due is None or due > now + timedelta(days=2) else (
                    "red" if due < now else "yellow")
                claimed = t_created + timedelta(hours=1) if state in ("claimed", "completed") else None
                finished = t_created + timedelta(days=1) if state in ("completed", "cancelled") else None
                tasks.append((uuid.UUID(int=rng.getrandbits(128), version=4), case_id, name, ttl, title, number,
                              cases[-1][4], "standard", dept, role, who if claimed else None, state,
                              t_created, claimed, finished, who if state == "completed" else None, due,
                              warning, 0))
        yield "case", cases
        yield "task", tasks


def _sqlite_rows(columns: tuple[str, ...], chunk: list[tuple]) -> list[tuple]:
    """Convert a chunk for SQLite; only the datetime and UUID columns need it (values are UTC already)."""
    def dt(v: Any) -> Any:
        return None if v is None else v.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")

    def hexed(v: Any) -> Any:
        return v.hex if isinstance(v, uuid.UUID) else v

    convert = [(i, dt) for i, c in enumerate(columns) if c in DATETIME_COLUMNS] + [(0, hexed)]
    out = []
    for row in chunk:
        values = list(row)
        for i, fn in convert:
            values[i] = fn(values[i])
        out.append(tuple(values))
    return out


def check_sqlite_format() -> None:
    """Check the hand-made SQLite formats against SQLAlchemy's own bind processors."""
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    from engine.storage.models import Task

    dialect = sqlite_dialect.dialect()
    columns = ("id", "due_at", "claimed_at")
    sample = (uuid.uuid4(), datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc), None)
    (made,) = _sqlite_rows(columns, [sample])
    for column, value, mine in zip(columns, sample, made):
        proc = Task.__table__.c[column].type.dialect_impl(dialect).bind_processor(dialect)
        expected = proc(value) if proc else value
        if mine != expected:
            raise RuntimeError(f"SQLite format of {column}: {mine!r} != {expected!r}")


def load_sqlite(path: Path, rows: int, per_case: int, now: datetime) -> int:
    """Bulk-insert cases and tasks into a seeded SQLite file; return econ_it's open task count.

    The secondary indexes of both tables are dropped for the load and recreated from their own
    stored definitions afterwards, so the schema ends up exactly as migrated.
    """
    check_sqlite_format()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")
        version = conn.execute("SELECT version FROM deployment ORDER BY deployed_at DESC LIMIT 1").fetchone()[0]
        indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                               "AND tbl_name IN ('task', 'supervision_case')").fetchall()
        conn.execute("BEGIN")
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        expected = 0
        for kind, chunk in generate(rows, per_case, version, now):
            columns = CASE_COLUMNS if kind == "case" else TASK_COLUMNS
            table = "supervision_case" if kind == "case" else "task"
            if kind == "task":
                expected += sum(1 for t in chunk if t[8] == USER and t[11] in ("ready", "claimed"))
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                _sqlite_rows(columns, chunk))
        for _, sql in indexes:
            conn.execute(sql)
        for sql in RECOUNT:
            conn.execute(sql)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return expected


def load_postgres(url: str, rows: int, per_case: int, now: datetime) -> int:
    """COPY cases and tasks into a seeded PostgreSQL database; return econ_it's open task count.

    In one transaction the secondary indexes and foreign keys of both tables are dropped, the
    rows copied, and indexes and foreign keys recreated from their own definitions (the foreign
    keys are validated then, in one pass); VACUUM ANALYZE follows.
    """
    import psycopg

    with psycopg.connect(url) as conn:
        version = conn.execute("SELECT version FROM deployment ORDER BY deployed_at DESC LIMIT 1").fetchone()[0]
        indexes = conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid IN ('task'::regclass, 'supervision_case'::regclass) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)").fetchall()
        fkeys = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid IN ('task'::regclass, 'supervision_case'::regclass)").fetchall()
        for table, name, _ in fkeys:
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        expected = 0
        with conn.cursor() as cur:
            for kind, chunk in generate(rows, per_case, version, now):
                columns = CASE_COLUMNS if kind == "case" else TASK_COLUMNS
                table = "supervision_case" if kind == "case" else "task"
                if kind == "task":
                    expected += sum(1 for t in chunk if t[8] == USER and t[11] in ("ready", "claimed"))
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
            cur.execute("SELECT setval(pg_get_serial_sequence('supervision_case', 'id'), "
                        "(SELECT max(id) FROM supervision_case))")
        conn.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            conn.execute(definition)
        for table, name, definition in fkeys:
            conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for sql in RECOUNT:
            conn.execute(sql)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return expected


# -- measuring ------------------------------------------------------------------------------------------

def measure_http(port: int, requests: int, warmup: int) -> tuple[list[float], int]:
    """Time GET worklist requests over one keep-alive connection; return sorted ms and the total."""
    api = Api(port).login(USER)
    try:
        total = 0
        for _ in range(warmup):
            api.call("GET", PATH)
        lat = []
        for _ in range(requests):
            t0 = time.perf_counter()
            page = api.call("GET", PATH)
            lat.append((time.perf_counter() - t0) * 1000)
            total = page["total"]
            if len(page["items"]) != min(50, total):
                raise RuntimeError(f"page has {len(page['items'])} items of {total}")
        return sorted(lat), total
    finally:
        api.close()


def inspect_sql(db_url: str, outcome: Outcome, profile: bool, runs: int = 30) -> None:
    """Capture the engine's worklist SQL, explain it, time each statement, optionally profile."""
    engine = bootstrap(Settings(database_url=db_url, secret_key=_common.SECRET), build_catalogue())
    try:
        captured: list[tuple[str, Any]] = []

        def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            if "FROM task" in statement:
                captured.append((statement, parameters))

        event.listen(engine.db.read_engine, "before_cursor_execute", capture)
        user = find_user(engine, USER)
        assert user is not None
        actor = actor_of(user)
        list_tasks(engine, actor, TaskQuery(scope="department"))
        event.remove(engine.db.read_engine, "before_cursor_execute", capture)
        pg = not engine.db.is_sqlite
        with engine.db.read_engine.connect() as conn:
            for statement, params in captured:
                outcome.sql.append(_inline(statement, params))
                prefix = "EXPLAIN (ANALYZE, BUFFERS) " if pg else "EXPLAIN QUERY PLAN "
                plan = conn.exec_driver_sql(prefix + statement, params).fetchall()
                text = "\n".join(str(r[0]) if pg else f"{'  ' * (r[1] > 0)}{r[3]}" for r in plan)
                outcome.plans.append(text)
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    conn.exec_driver_sql(statement, params).fetchall()
                    times.append((time.perf_counter() - t0) * 1000)
                outcome.sql_ms.append(statistics.median(times))
        if profile:
            outcome.profile = profile_request(engine)
    finally:
        engine.db.dispose()


def _inline(statement: str, params: Any) -> str:
    """The statement with its parameters shown inline, for reading."""
    if isinstance(params, dict):
        for key, value in params.items():
            statement = statement.replace(f"%({key})s", repr(value))
    else:
        for value in params:
            statement = statement.replace("?", repr(value), 1)
    return " ".join(statement.split())


def profile_request(engine: Any, calls: int = 100) -> str:
    """cProfile the worklist request in-process (Flask test client), top functions by own+callees."""
    from api import create_app
    from api.auth import issue_token

    app = create_app(engine=engine)
    with app.app_context():
        token, _ = issue_token(USER)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(10):
        client.get(PATH, headers=headers)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(calls):
        assert client.get(PATH, headers=headers).status_code == 200
    prof.disable()
    per_call = (time.perf_counter() - t0) / calls * 1000
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(r"(engine|api|sqlalchemy/orm/loading|marshmallow/schema|"
                                               r"sqlalchemy/engine/base|flask/app)", 14)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip() and not ln.startswith(("   Ordered", "   List"))]
    return f"in-process request (Flask test client, profiler on): {per_call:.2f} ms/call\n" + "\n".join(lines[-16:])


def run_database(name: str, db_url: str, load: Any, args: argparse.Namespace, tmp: Path) -> Outcome:
    """Seed, bulk-load, serve and measure one database (and the same server with each --off
    setting, interleaved with the default in rounds)."""
    outcome = Outcome(name)
    _common.seed_demo(db_url)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    t0 = time.perf_counter()
    outcome.expected_total = load(db_url, args.rows, args.per_case, now)
    outcome.load_s = time.perf_counter() - t0
    with _common.duban_server(db_url, tmp) as port:
        outcome.lat_ms, outcome.total = measure_http(port, args.requests, args.warmup)
        for setting in args.off:
            name_value = dict([setting.split("=", 1)])
            with _common.duban_server(db_url, tmp, settings=name_value) as other:
                on, off = [], []
                for _ in range(ROUNDS):
                    on += measure_http(port, args.requests // ROUNDS, 10)[0]
                    off += measure_http(other, args.requests // ROUNDS, 10)[0]
                outcome.compared.append((setting, sorted(on), sorted(off)))
    inspect_sql(db_url, outcome, args.profile)
    return outcome


# -- main ------------------------------------------------------------------------------------------------

def machine_speed() -> float:
    """The p50 ms of SpiffWorkflow's bare step, as a yardstick of how fast the machine is right now."""
    from step_cost import spiff_step_bench

    result, _ = spiff_step_bench(200, 20)
    return percentile(result.lat_ms, 50)


def main(argv: list[str] | None = None) -> int:
    """Load, serve, measure and print the table for SQLite and PostgreSQL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="task rows to load (default 1000000)")
    parser.add_argument("--per-case", type=int, default=10, help="tasks per case (default 10)")
    parser.add_argument("--requests", type=int, default=500, help="timed requests (default 500)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests first (default 50)")
    parser.add_argument("--pg-url", default=_common.PG_DEFAULT_URL,
                        help="any database URL of the PostgreSQL server; duban_bench is created beside it")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    parser.add_argument("--profile", action="store_true", help="also cProfile the request in-process")
    parser.add_argument("--off", action="append", default=[], metavar="DUBAN_NAME=VALUE",
                        help="also measure a server with this setting, interleaved with the default (repeatable)")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.per_case < 1 or args.requests < 1 or args.warmup < 0:
        parser.error("--rows, --per-case and --requests must be >= 1, --warmup >= 0")

    print("command:", shlex.join([sys.executable] + sys.argv))
    tmp = Path(tempfile.mkdtemp(prefix="duban-bench-"))
    outcomes: list[Outcome] = []
    notes: list[str] = []
    speed = [machine_speed()]
    try:
        if not args.no_sqlite:
            path = tmp / "worklist.sqlite3"
            outcomes.append(run_database(
                "SQLite", f"sqlite:///{path}",
                lambda url, *a: load_sqlite(path, *a), args, tmp))
        if args.no_pg:
            notes.append("PostgreSQL: skipped (--no-pg)")
        elif not _common.postgres_reachable(args.pg_url):
            notes.append(f"PostgreSQL: not reachable at {args.pg_url}, skipped")
        else:
            with _common.bench_database(args.pg_url) as pg_url:
                outcomes.append(run_database("PostgreSQL", pg_url, load_postgres, args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    speed.append(machine_speed())

    n_cases = -(-args.rows // args.per_case)
    print(f"data: {args.rows:,} task rows in {n_cases:,} cases, {len(org_data()['departments'])} departments, "
          f"states ready/claimed/completed/cancelled {'/'.join(map(str, STATE_WEIGHTS))}%")
    print(f"request: GET {PATH} as {USER} (handler); {args.requests} timed after {args.warmup} warm-up, "
          "one keep-alive connection")
    print(f"machine speed (this VM's speed varies): SpiffWorkflow's bare step (bench/step_cost.py (a)) p50 "
          f"{speed[0]:.2f} ms before, {speed[1]:.2f} ms after the measurements")
    widths = (12, 8, 8, 8, 8, 8, 10, 12)
    print()
    print(fmt_row(("database", "load s", "p50 ms", "p95 ms", "p99 ms", "total", "expected", "p95 < 10 ms"),
                  widths))
    for o in outcomes:
        p95 = percentile(o.lat_ms, 95)
        print(fmt_row((o.name, round(o.load_s, 1), percentile(o.lat_ms, 50), p95, percentile(o.lat_ms, 99),
                       o.total, o.expected_total, "met" if p95 < TARGET_P95_MS else "MISSED"), widths))
    for o in outcomes:
        print(f"\n== {o.name}: the engine's SQL (engine/worklist.py list_tasks), each alone "
              f"(median of 30, in-process)")
        for sql, ms, plan in zip(o.sql, o.sql_ms, o.plans):
            print(f"-- {ms:.2f} ms: {sql}")
            print("   " + plan.replace("\n", "\n   "))
        sql_ms = sum(o.sql_ms)
        print(f"   budget: SQL {sql_ms:.1f} ms of the {percentile(o.lat_ms, 50):.1f} ms p50 request; "
              f"the rest ({percentile(o.lat_ms, 50) - sql_ms:.1f} ms) is auth, ORM, marshmallow, Flask, HTTP")
        page_plan = o.plans[-1] if o.plans else ""
        if "TEMP B-TREE FOR ORDER BY" in page_plan or "Sort Key" in page_plan:
            print(f"   the page query sorts all {o.total} open tasks of the department: no index returns "
                  "ORDER BY due_at, created_at for state IN ('ready', 'claimed')")
        if o.profile:
            print(f"\n== {o.name}: profile\n{o.profile}")
    for o in outcomes:
        for setting, on, off in o.compared:
            print(f"{o.name}: default p50 {percentile(on, 50):.2f} / p95 {percentile(on, 95):.2f} ms; with {setting} "
                  f"p50 {percentile(off, 50):.2f} / p95 {percentile(off, 95):.2f} ms; "
                  f"the default saves {(1 - percentile(on, 50) / percentile(off, 50)) * 100:.0f} % at p50")
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
