"""What one workflow step costs: bare SpiffWorkflow versus duban's HTTP API, on processes.bpmn.

(a) SpiffWorkflow's own stateless step at its fastest: the spec is parsed once, the state is
    stored without the spec (SpiffWorkflow's serializer with a converter that names the spec
    instead of embedding it: WorkflowSerializer.spiff_json / spiff_restore; the JSON is kept as
    it is, not compressed) and every step is: deserialize + attach the script engine + set the form data on the ready
    task + task.run() + do_engine_steps() + prune_finished_loops() + find the next ready task +
    serialize (duban itself writes the same JSON with its faster codec). The steps alternate
    handle_case (outcome extend, 1 working day) and approve_extension (approved false), which leads
    back to handle_case, so the state keeps one shape.
(b) The same two steps through duban's HTTP API on the real server (``duban serve``: gunicorn,
    1 worker, 8 threads) on a loopback port, over one keep-alive connection per user: econ_it
    claims + completes handle_case, the dispatcher claims + completes approve_extension. One step
    is one claim + complete pair of requests. Run on SQLite and, if reachable, on PostgreSQL (a
    database ``duban_bench`` created and dropped here).

(a) runs before, between and after the (b) runs, and each (b) is compared with the mean of the (a)
runs on either side of it: the machine's speed may drift during the run.

Run:  .venv/bin/python bench/step_cost.py [--steps 1000] [--warmup 50] [--pg-url URL] [--no-pg]
"""

from __future__ import annotations

import argparse
import gc
import shlex
import sqlite3
import sys
import tempfile
import shutil
import time
from datetime import time as dtime
from pathlib import Path
from typing import Any, Callable

import _common
from _common import Api, fmt_row, percentile

from SpiffWorkflow.util.task import TaskState  # noqa: E402

from engine.calendar.working_days import WorkingCalendar  # noqa: E402
from engine.calendar.clock import SystemClock  # noqa: E402
from engine.workflow.pruning import prune_finished_loops  # noqa: E402
from engine.workflow.runtime import WorkflowRuntime  # noqa: E402
from engine.workflow.serialization import WorkflowSerializer, compress_state  # noqa: E402
from engine.workflow.specs import SpecCache  # noqa: E402
from processes.catalogue import build_catalogue  # noqa: E402
from processes.org import org_data  # noqa: E402

LEAD = "econ_it"
REFER_FORM = {"decision": "refer", "lead_department": LEAD, "co_departments": [],
              "deadline_working_days": 5, "instructions": "bench", "reason": None}
# What the forms' load() hands to the engine: every field of the form present.
HANDLE_FORM = {"outcome": "extend", "result": None, "reason": "bench: need more time",
               "extension_working_days": 1}
APPROVE_FORM = {"approved": False, "comment": None}
# What a client posts.
HANDLE_POST = {"outcome": "extend", "reason": "bench: need more time", "extension_working_days": 1}
APPROVE_POST = {"approved": False}


class Result:
    """Latencies of one benchmark run."""

    def __init__(self, label: str, latencies_s: list[float], total_s: float) -> None:
        self.label = label
        self.lat_ms = sorted(x * 1000 for x in latencies_s)
        self.total_s = total_s

    @property
    def rate(self) -> float:
        """Steps per second over the whole timed loop."""
        return len(self.lat_ms) / self.total_s


# -- (a) bare SpiffWorkflow ----------------------------------------------------------------------

def spiff_step_bench(steps: int, warmup: int) -> tuple[Result, dict[str, int]]:
    """Time the stateless step of bare SpiffWorkflow; return the result and the state sizes."""
    catalogue = build_catalogue()
    specs = SpecCache(lambda version: catalogue.bpmn_xml)
    version = specs.add(catalogue.bpmn_xml).version  # parsed once, with SpiffBpmnParser
    runtime = WorkflowRuntime(specs, WorkingCalendar("Asia/Shanghai", dtime(18, 0)), SystemClock())
    serializer = WorkflowSerializer(specs.get(version))
    script_engine = runtime.script_engine

    data = dict(catalogue.modes["standard"].defaults) | {
        "title": "bench", "description": "bench", "taskforce": "optoelectronics", "source": None,
        "mode": "standard", "lead_department": None, "co_departments": [],
        "deadline_working_days": None, "created_by": "dispatcher"}
    workflow, _ = runtime.start(version, "supervision_loop", data)
    refer = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    runtime.complete(workflow, refer.id, REFER_FORM, None)
    prune_finished_loops(workflow)

    def dumps(wf: Any) -> bytes:
        return serializer.spiff_json(wf)

    state = dumps(workflow)
    task_id = workflow.get_tasks(state=TaskState.READY, manual=True)[0].id

    def step(state: bytes, task_id: Any, form: dict[str, Any]) -> tuple[bytes, Any, str]:
        """One stateless step: restore, complete, run on, prune, find the next task, save."""
        wf = serializer.spiff_restore(state)
        wf.script_engine = script_engine
        task = wf.get_task_from_id(task_id)
        task.data.update(form)
        task.run()
        wf.do_engine_steps()
        prune_finished_loops(wf)
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        return dumps(wf), ready[0].id, ready[0].task_spec.bpmn_id

    forms = {"handle_case": HANDLE_FORM, "approve_extension": APPROVE_FORM}
    name = "handle_case"
    first_size = 0
    latencies: list[float] = []
    gc.collect()
    for i in range(warmup + steps):
        if i == warmup:
            first_size = len(state)
            started = time.perf_counter()
        t0 = time.perf_counter()
        state, task_id, next_name = step(state, task_id, forms[name])
        if i >= warmup:
            latencies.append(time.perf_counter() - t0)
        expected = "approve_extension" if name == "handle_case" else "handle_case"
        if next_name != expected:
            raise RuntimeError(f"after {name} expected {expected}, got {next_name}")
        name = next_name
    total = time.perf_counter() - started
    sizes = {"stored": len(compress_state(state)), "json": len(state), "json_first": first_size,
             "tasks": len(serializer.from_json(state).tasks)}
    return Result("(a) SpiffWorkflow stateless step", latencies, total), sizes


# -- (b) duban over HTTP -----------------------------------------------------------------------------

def http_step_bench(label: str, db_url: str, steps: int, warmup: int, log_dir: Path,
                    state_size: Callable[[int], int]) -> tuple[Result, dict[str, float]]:
    """Time claim + complete pairs through the real server on db_url (already seeded)."""
    with _common.duban_server(db_url, log_dir) as port:
        dispatcher = Api(port).login("dispatcher")
        handler = Api(port).login(LEAD)
        try:
            taskforce = org_data()["taskforces"][0]["code"]
            case = dispatcher.call("POST", "/api/v1/cases",
                                   {"title": "bench", "description": "bench", "taskforce": taskforce},
                                   expect=201)
            (refer,) = case["open_tasks"]
            dispatcher.call("POST", f"/api/v1/tasks/{refer['id']}/claim")
            body = {k: v for k, v in REFER_FORM.items() if v is not None}
            case = dispatcher.call("POST", f"/api/v1/tasks/{refer['id']}/complete", {"data": body})
            users = {"handle_case": (handler, HANDLE_POST), "approve_extension": (dispatcher, APPROVE_POST)}
            latencies: list[float] = []
            claims: list[float] = []
            for i in range(warmup + steps):
                (task,) = case["open_tasks"]
                api, form = users[task["name"]]
                if i == warmup:
                    started = time.perf_counter()
                t0 = time.perf_counter()
                api.call("POST", f"/api/v1/tasks/{task['id']}/claim")
                t1 = time.perf_counter()
                case = api.call("POST", f"/api/v1/tasks/{task['id']}/complete", {"data": form})
                t2 = time.perf_counter()
                if i >= warmup:
                    latencies.append(t2 - t0)
                    claims.append(t1 - t0)
            total = time.perf_counter() - started
            claims.sort()
            extra = {"claim_p50": percentile(claims, 50) * 1000, "state": state_size(case["id"])}
        finally:
            dispatcher.close()
            handler.close()
    return Result(label, latencies, total), extra


def sqlite_state_size(path: Path) -> Callable[[int], int]:
    """A reader of a case's stored workflow_state size in a SQLite file."""
    def size(case_id: int) -> int:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT length(workflow_state) FROM supervision_case WHERE id = ?",
                                (case_id,)).fetchone()[0]
    return size


def pg_state_size(url: str) -> Callable[[int], int]:
    """A reader of a case's stored workflow_state size in a PostgreSQL database."""
    import psycopg

    def size(case_id: int) -> int:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT octet_length(workflow_state) FROM supervision_case WHERE id = %s",
                                (case_id,)).fetchone()[0]
    return size


# -- main ----------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """Run (a) and (b) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="timed steps per benchmark (default 1000)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed steps first (default 50)")
    parser.add_argument("--pg-url", default=_common.PG_DEFAULT_URL,
                        help="any database URL of the PostgreSQL server; duban_bench is created beside it")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        parser.error("--steps must be >= 1 and --warmup >= 0")

    print("command:", shlex.join([sys.executable] + sys.argv))
    tmp = Path(tempfile.mkdtemp(prefix="duban-bench-"))
    results: list[Result] = []
    extras: dict[str, dict[str, float]] = {}
    # (a) runs before, between and after the (b) runs: this VM's speed drifts within minutes, so each
    # (b) is compared with the mean rate of the (a) runs on either side of it.

    def baseline(label: str) -> Result:
        result, measured = spiff_step_bench(args.steps, args.warmup)
        sizes.update(measured)
        result.label = f"(a) SpiffWorkflow stateless step, {label}"
        results.append(result)
        return result

    sizes: dict[str, int] = {}
    try:
        baseline("before")

        sqlite_path = tmp / "bench.sqlite3"
        sqlite_url = f"sqlite:///{sqlite_path}"
        _common.seed_demo(sqlite_url)
        res, extras["sqlite"] = http_step_bench("(b) HTTP claim+complete, SQLite", sqlite_url, args.steps,
                                                args.warmup, tmp, sqlite_state_size(sqlite_path))
        results.append(res)
        baseline("after SQLite" if args.no_pg else "between")

        pg_note = ""
        if args.no_pg:
            pg_note = "PostgreSQL: skipped (--no-pg)"
        elif not _common.postgres_reachable(args.pg_url):
            pg_note = f"PostgreSQL: not reachable at {args.pg_url}, skipped"
        else:
            with _common.bench_database(args.pg_url) as pg_url:
                _common.seed_demo(pg_url)
                res, extras["pg"] = http_step_bench("(b) HTTP claim+complete, PostgreSQL", pg_url, args.steps,
                                                    args.warmup, tmp, pg_state_size(pg_url))
                results.append(res)
            baseline("after")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"steps: {args.steps} timed after {args.warmup} warm-up; a step = one completed user task "
          f"(handle_case extend / approve_extension refused, alternating)")
    print(f"workflow state (spec-less, pruned with prune_finished_loops before serialize): "
          f"{sizes['json']} B JSON ({sizes['stored']} B as duban stores it, zstd), {sizes['tasks']} tasks "
          f"[{sizes['json_first']} B of JSON at the start of the timed loop]")
    for key, name in (("sqlite", "SQLite"), ("pg", "PostgreSQL")):
        if key in extras:
            print(f"  stored by duban on {name} after the run: {int(extras[key]['state'])} B")
    widths = (44, 9, 8, 8, 12)
    print()
    print(fmt_row(("", "steps/s", "p50 ms", "p99 ms", "vs (a) rate"), widths))
    for i, r in enumerate(results):
        ratio = "1"
        if r.label.startswith("(b)"):  # against the mean of the (a) runs just before and after it
            base = (results[i - 1].rate + results[i + 1].rate) / 2
            ratio = f"{r.rate / base:.3f}"
        print(fmt_row((r.label, round(r.rate, 1), percentile(r.lat_ms, 50), percentile(r.lat_ms, 99), ratio),
                      widths))
    for key, name in (("sqlite", "SQLite"), ("pg", "PostgreSQL")):
        if key in extras:
            print(f"  {name}: the claim request alone p50 {extras[key]['claim_p50']:.2f} ms")
    if pg_note:
        print(pg_note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
