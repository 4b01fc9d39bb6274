"""The paths users take, from creating a case to closing it, with many cases open at once.

Each mode's typical case is driven through the real server (``duban serve``) over loopback, one
keep-alive connection per user: the office creates and refers, the lead department signs for and
handles (with a co-department, an extension, a rework), the office reviews; a direct case, a
reminder, an effectiveness follow-up (its follow-up timer fired by ``duban worker --once --now``),
an on-site inspection with its rectification and reinspection. ``--cases`` cases are created first
and then moved on round robin, one operation per case per round, so that about that many are open
at once. Every request is timed; the table gives p50 and p99 per operation.

Beside each operation that moves a workflow, bare SpiffWorkflow does the same step in the same run
(the same processes.bpmn and forms, the same cases round robin): restore the spec-less state with
SpiffWorkflow's own serializer, complete the task, run the engine, prune, serialize. ``vs bare``
is the bare step's p50 over duban's p50 (1.0: duban costs no more than SpiffWorkflow alone).

Run:  .venv/bin/python bench/lifecycle.py [--cases 100] [--no-pg] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import gc
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import _common
from _common import Api, fmt_row, percentile

from SpiffWorkflow.util.task import TaskState  # noqa: E402

from engine.calendar.clock import FrozenClock, install_clock  # noqa: E402
from engine.calendar.working_days import WorkingCalendar  # noqa: E402
from engine.catalogue import FormContext  # noqa: E402
from engine.workflow.pruning import prune_finished_loops  # noqa: E402
from engine.workflow.runtime import WorkflowRuntime  # noqa: E402
from engine.workflow.serialization import WorkflowSerializer  # noqa: E402
from engine.workflow.specs import SpecCache  # noqa: E402
from processes.catalogue import build_catalogue, calendar_overrides  # noqa: E402
from processes.org import org_data  # noqa: E402

USERS = ("dispatcher", "supervisor", "econ_it", "hongshan")
CASE = {"title": "生命周期测试", "description": "从登记到办结", "taskforce": "optoelectronics"}
REFER = {"decision": "refer", "lead_department": "econ_it", "deadline_working_days": 5, "instructions": "请办理"}
DONE = {"outcome": "done", "result": "已办结"}
FOLLOW_UP_AFTER_DAYS = 7  # past a one-working-day follow-up whatever the weekday


@dataclass(frozen=True)
class Op:
    """One thing a user does: its label, who does it, and what (create a case, or sign for and
    complete the open task of this name with this form)."""

    label: str
    user: str
    task: str | None = None  # None: create the case
    form: dict[str, Any] | None = None
    create: dict[str, Any] | None = None


def _sign_and_do(label: str, user: str, task: str, form: dict[str, Any]) -> list[Op]:
    return [Op("claim", user, task), Op(label, user, task, form)]


def path(kind: str) -> list[Op]:
    """The operations of one case of a kind, in order."""
    if kind == "standard":  # referred, handled, sent back for rework, handled again, accepted
        return ([Op("create", "dispatcher", create=CASE)] + _sign_and_do("refer", "dispatcher", "refer_case", REFER)
                + _sign_and_do("handle done", "econ_it", "handle_case", DONE)
                + _sign_and_do("review, rework", "dispatcher", "review_feedback",
                               {"accepted": False, "comment": "补充材料"})
                + _sign_and_do("handle done", "econ_it", "handle_case", DONE)
                + _sign_and_do("review, accept", "dispatcher", "review_feedback", {"accepted": True}))
    if kind == "assisted":  # with a co-department, and an extension approved
        return ([Op("create", "dispatcher", create=CASE)]
                + _sign_and_do("refer", "dispatcher", "refer_case", REFER | {"co_departments": ["hongshan"]})
                + _sign_and_do("assist", "hongshan", "assist_case", {"result": "已配合"})
                + _sign_and_do("handle extend", "econ_it", "handle_case",
                               {"outcome": "extend", "reason": "需协调", "extension_working_days": 3})
                + _sign_and_do("approve extension", "dispatcher", "approve_extension", {"approved": True})
                + _sign_and_do("handle done", "econ_it", "handle_case", DONE)
                + _sign_and_do("review, accept", "dispatcher", "review_feedback", {"accepted": True}))
    if kind == "direct":
        return ([Op("create", "supervisor", create=CASE | {"mode": "direct", "lead_department": "econ_it"})]
                + _sign_and_do("handle done", "econ_it", "handle_case", DONE)
                + _sign_and_do("review, accept", "supervisor", "review_feedback", {"accepted": True}))
    if kind == "reminder":  # done closes it, no review
        return ([Op("create", "dispatcher", create=CASE | {"mode": "reminder", "lead_department": "econ_it"})]
                + _sign_and_do("handle done", "econ_it", "handle_case", DONE))
    if kind == "effectiveness":  # handled, accepted, followed up after its timer, found effective
        return ([Op("create", "dispatcher", create=CASE | {"mode": "effectiveness", "followup_working_days": 1})]
                + _sign_and_do("refer", "dispatcher", "refer_case", REFER)
                + _sign_and_do("handle done", "econ_it", "handle_case", DONE)
                + _sign_and_do("review, accept", "dispatcher", "review_feedback", {"accepted": True})
                + [Op("(follow-up timer)", "", "timers")]
                + _sign_and_do("evaluate", "supervisor", "evaluate_effect",
                               {"effective": True, "satisfaction": 5, "comment": "见效"}))
    if kind == "onsite":  # problems found, rectified, reinspected
        return ([Op("create", "supervisor", create=CASE | {"mode": "onsite"})]
                + _sign_and_do("inspect", "supervisor", "conduct_inspection",
                               {"findings": "发现问题", "problems_found": True,
                                "rectification_department": "econ_it", "deadline_working_days": 5})
                + _sign_and_do("handle done", "econ_it", "handle_case", DONE)
                + _sign_and_do("reinspect", "supervisor", "reinspect", {"passed": True}))
    raise ValueError(kind)


MIX = ["standard"] * 4 + ["assisted", "direct", "reminder", "effectiveness", "onsite", "standard"]


@dataclass
class Timings:
    """Latencies in ms by operation label."""

    by_op: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, label: str, seconds: float) -> None:
        self.by_op[label].append(seconds * 1000)


# -- duban over HTTP ------------------------------------------------------------------------------

def run_duban(db_url: str, cases: int, warmup: int, log_dir: Path, settings: dict[str, str]) -> Timings:
    """Drive the cases through the real server (after ``warmup`` cases untimed); the latency of
    every request."""
    with _common.duban_server(db_url, log_dir, settings=settings) as port:
        apis = {user: Api(port).login(user) for user in USERS}
        _drive(apis, db_url, warmup)
        timings = _drive(apis, db_url, cases)
        for api in apis.values():
            api.close()
    return timings


def _drive(apis: dict[str, Api], db_url: str, cases: int) -> Timings:
    """Drive cases through their paths round robin."""
    timings = Timings()
    kinds = [MIX[i % len(MIX)] for i in range(cases)]
    paths = [path(kind) for kind in kinds]
    state: list[dict[str, Any] | None] = [None] * cases
    step = [0] * cases
    while any(step[i] < len(paths[i]) for i in range(cases)):
        due_timers = False
        for i in range(cases):
            if step[i] >= len(paths[i]):
                continue
            op = paths[i][step[i]]
            if op.task == "timers":
                due_timers = True
                continue
            state[i] = _http(apis, op, state[i], timings)
            step[i] += 1
        if due_timers:  # the follow-ups fall due: fire them as an operator would, then go on
            _fire_timers(db_url, days=FOLLOW_UP_AFTER_DAYS)
            for i in range(cases):
                if step[i] < len(paths[i]) and paths[i][step[i]].task == "timers":
                    state[i] = apis["supervisor"].call("GET", f"/api/v1/cases/{state[i]['id']}")
                    step[i] += 1
    return timings


def _http(apis: dict[str, Api], op: Op, case: dict[str, Any] | None, timings: Timings) -> dict[str, Any]:
    api = apis[op.user]
    if op.create is not None:
        t0 = time.perf_counter()
        created = api.call("POST", "/api/v1/cases", op.create, expect=201)
        timings.add(op.label, time.perf_counter() - t0)
        return created
    assert case is not None
    (task,) = [t for t in case["open_tasks"] if t["name"] == op.task]
    if op.label == "claim":
        t0 = time.perf_counter()
        api.call("POST", f"/api/v1/tasks/{task['id']}/claim")
        timings.add("claim", time.perf_counter() - t0)
        return case
    t0 = time.perf_counter()
    after = api.call("POST", f"/api/v1/tasks/{task['id']}/complete", {"data": op.form})
    timings.add(op.label, time.perf_counter() - t0)
    return after


def _fire_timers(db_url: str, days: int) -> None:
    """``duban worker --once --now`` a few days ahead: the follow-up timers fire."""
    now = (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()
    done = subprocess.run(_common.duban_command() + ["worker", "--once", "--now", now], env=_common._env(db_url),
                          cwd=_common.PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"duban worker --once failed:\n{done.stdout}\n{done.stderr}")


# -- bare SpiffWorkflow ---------------------------------------------------------------------------

class Bare:
    """SpiffWorkflow alone on the same processes: states kept as JSON between steps."""

    def __init__(self, clock: FrozenClock) -> None:
        catalogue = build_catalogue()
        self.catalogue = catalogue
        specs = SpecCache(lambda version: catalogue.bpmn_xml)
        self.version = specs.add(catalogue.bpmn_xml).version
        self.runtime = WorkflowRuntime(specs, WorkingCalendar(overrides=calendar_overrides()), clock)
        self.serializer = WorkflowSerializer(specs.get(self.version))
        self.departments = {d["code"]: d["name"] for d in org_data()["departments"] if d["kind"] != "office"}

    def create(self, fields: dict[str, Any]) -> bytes:
        mode = self.catalogue.modes[fields.get("mode", "standard")]
        given = {"source": None, "mode": mode.name, "lead_department": None, "co_departments": [],
                 "deadline_working_days": None, "created_by": "bench"} | fields
        data = dict(mode.defaults) | {k: v for k, v in given.items() if v is not None or k not in mode.defaults}
        workflow, _ = self.runtime.start(self.version, mode.process_id, data)
        prune_finished_loops(workflow)
        return self.serializer.spiff_json(workflow)

    def complete(self, state: bytes, task_name: str, form: dict[str, Any]) -> bytes:
        workflow = self.serializer.spiff_restore(state)
        workflow.script_engine = self.runtime.script_engine
        (task,) = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                   if t.task_spec.bpmn_id == task_name]
        props = task.task_spec.extensions.get("properties", {})
        self.runtime.complete(workflow, task.id, form, props.get("result_variable"))
        prune_finished_loops(workflow)
        return self.serializer.spiff_json(workflow)

    def cleaned(self, task_name: str, form: dict[str, Any]) -> dict[str, Any]:
        return self.catalogue.forms[task_name].load(form, FormContext(self.departments))


def run_bare(cases: int) -> Timings:
    """The same paths with bare SpiffWorkflow; the time of every step that moves a workflow."""
    clock = FrozenClock(datetime.now(timezone.utc))
    install_clock(clock)
    bare = Bare(clock)
    timings = Timings()
    paths = [path(MIX[i % len(MIX)]) for i in range(cases)]
    states: list[bytes | None] = [None] * cases
    step = [0] * cases
    gc.collect()
    while any(step[i] < len(paths[i]) for i in range(cases)):
        timers = False
        for i in range(cases):
            if step[i] >= len(paths[i]):
                continue
            op = paths[i][step[i]]
            if op.task == "timers":
                timers = True
                continue
            if op.create is not None:
                t0 = time.perf_counter()
                states[i] = bare.create(op.create)
                timings.add(op.label, time.perf_counter() - t0)
            elif op.label != "claim":
                form = bare.cleaned(op.task or "", op.form or {})
                t0 = time.perf_counter()
                states[i] = bare.complete(states[i] or b"", op.task or "", form)
                timings.add(op.label, time.perf_counter() - t0)
            step[i] += 1
        if timers:
            clock.advance(timedelta(days=FOLLOW_UP_AFTER_DAYS))
            for i in range(cases):
                if step[i] < len(paths[i]) and paths[i][step[i]].task == "timers":
                    workflow = bare.serializer.spiff_restore(states[i] or b"")
                    workflow.script_engine = bare.runtime.script_engine
                    bare.runtime.advance(workflow)
                    states[i] = bare.serializer.spiff_json(workflow)
                    step[i] += 1
    return timings


# -- main ----------------------------------------------------------------------------------------

def report(label: str, duban: Timings, bare: Timings) -> None:
    order = list(dict.fromkeys(op.label for kind in dict.fromkeys(MIX) for op in path(kind) if op.user))
    widths = (20, 6, 9, 9, 10, 9)
    print(f"\n{label}")
    print(fmt_row(("operation", "n", "p50 ms", "p99 ms", "bare p50", "vs bare"), widths))
    for name in order:
        ms = sorted(duban.by_op[name])
        base = sorted(bare.by_op.get(name, []))
        bare_p50 = percentile(base, 50) if base else None
        ratio = f"{bare_p50 / percentile(ms, 50):.2f}" if bare_p50 else "—"
        print(fmt_row((name, len(ms), percentile(ms, 50), percentile(ms, 99),
                       f"{bare_p50:.2f}" if bare_p50 else "—", ratio), widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100, help="cases open at once (default 100)")
    parser.add_argument("--warmup", type=int, default=20, help="cases driven untimed first (default 20)")
    parser.add_argument("--pg-url", default=_common.PG_DEFAULT_URL)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--setting", action="append", default=[], metavar="DUBAN_NAME=VALUE",
                        help="a setting for the server (repeatable), e.g. DUBAN_INSTANCE_CACHE_SIZE=0")
    args = parser.parse_args(argv)
    settings = dict(item.split("=", 1) for item in args.setting)
    print("command:", shlex.join([sys.executable] + sys.argv))
    tmp = Path(tempfile.mkdtemp(prefix="duban-lifecycle-"))
    try:
        bare_before = run_bare(args.cases)
        on_sqlite = None
        if not args.no_sqlite:
            sqlite_url = f"sqlite:///{tmp / 'lifecycle.sqlite3'}"
            _common.seed_demo(sqlite_url)
            on_sqlite = run_duban(sqlite_url, args.cases, args.warmup, tmp, settings)
        bare_between = run_bare(args.cases)
        on_pg = None
        if not args.no_pg and _common.postgres_reachable(args.pg_url):
            with _common.bench_database(args.pg_url) as pg_url:
                _common.seed_demo(pg_url)
                on_pg = run_duban(pg_url, args.cases, args.warmup, tmp, settings)
        bare_after = run_bare(args.cases)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    mix = ", ".join(f"{MIX.count(k)}/{len(MIX)} {k}" for k in dict.fromkeys(MIX))
    print(f"{args.cases} cases open at once ({mix})")
    if on_sqlite is not None:
        report("SQLite", on_sqlite, _merged(bare_before, bare_between))
    if on_pg is not None:
        report("PostgreSQL", on_pg, _merged(bare_between, bare_after))
    return 0


def _merged(*runs: Timings) -> Timings:
    merged = Timings()
    for run in runs:
        for name, values in run.by_op.items():
            merged.by_op[name].extend(values)
    return merged


if __name__ == "__main__":
    sys.exit(main())
