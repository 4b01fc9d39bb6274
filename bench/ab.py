"""A/B in one run: the step cost of a base commit and of this tree, side by side, interleaved.

With ``--off DUBAN_NAME=VALUE`` both sides are this tree, one with that setting: a speed trick on
and off in the same run (docs/performance.md records them).

The base commit is exported (``git archive``) into a temporary directory and run with the same
interpreter and packages (its own tree first on ``PYTHONPATH``). Each side gets its own database,
seeded by its own ``duban seed-demo`` (its own migrations), and its own ``duban serve``. Both
servers stay up; rounds alternate which side goes first, and in each round each side runs the
step-cost pair (claim + complete, handle_case extend / approve_extension refused, alternating, as
``bench/step_cost.py``) for ``--steps`` steps over one keep-alive connection per user. The ratio is
this tree's pair rate over the base's, from the sum of all rounds; per-round ratios show the spread.

Run:  .venv/bin/python bench/ab.py [--base 2e07aee] [--steps 400] [--rounds 6] [--no-pg]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import _common
from _common import PROJECT_ROOT, Api, fmt_row, percentile

HANDLE_POST = {"outcome": "extend", "reason": "bench: need more time", "extension_working_days": 1}
APPROVE_POST = {"approved": False}
REFER_POST = {"decision": "refer", "lead_department": "econ_it", "deadline_working_days": 5, "instructions": "bench"}


@dataclass
class Side:
    """One tree under test: where it lives and how its ``duban`` command is started."""

    label: str
    tree: Path
    entry: str  # the module whose main() is the duban command
    settings: dict[str, str] = field(default_factory=dict)
    rates: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # the HTTP worker's CPU per step, per round
    latencies_ms: list[float] = field(default_factory=list)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-c", f"import sys; from {self.entry} import main; sys.argv[0] = 'duban'; main()",
                *args]

    def env(self, db_url: str) -> dict[str, str]:
        env = _common._env(db_url, settings=self.settings)
        env["PYTHONPATH"] = str(self.tree)
        return env


def export(commit: str, into: Path) -> Path:
    """The tree of a commit, exported into a directory."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=PROJECT_ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def entry_of(tree: Path) -> str:
    """Where a tree keeps its command (it moved from api/cli.py to cli/main.py)."""
    return "cli.main" if (tree / "cli" / "main.py").exists() else "api.cli"


def seed(side: Side, db_url: str) -> None:
    done = subprocess.run(side.command("seed-demo"), env=side.env(db_url), cwd=side.tree, capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{side.label}: seed-demo failed:\n{done.stdout}\n{done.stderr}")


@contextlib.contextmanager
def server(side: Side, db_url: str, log_dir: Path) -> Iterator[tuple[int, int]]:
    """``duban serve`` of one side; yield its port and its HTTP worker's pid."""
    port = _common.free_port()
    log_path = log_dir / f"{side.label}-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(side.command("serve", "--host", "127.0.0.1", "--port", str(port)),
                                env=side.env(db_url), cwd=side.tree, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + _common.SERVER_START_TIMEOUT_S
        while not _common._healthy(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{side.label}: duban serve did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield port, _worker_of(proc.pid)
    finally:
        _common._stop(proc)


def _worker_of(master: int) -> int:
    """The HTTP worker process gunicorn forked (the master's one child)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == master:
                    return int(entry.name)
            except OSError:
                continue
    raise RuntimeError("no HTTP worker found")


class Loop:
    """A case on one server kept going round handle_case (extend) → approve_extension (refused)."""

    def __init__(self, port: int) -> None:
        self.dispatcher = Api(port).login("dispatcher")
        self.handler = Api(port).login("econ_it")
        case = self.dispatcher.call("POST", "/api/v1/cases", {"title": "bench", "description": "bench",
                                                              "taskforce": "optoelectronics"}, expect=201)
        (refer,) = case["open_tasks"]
        self.dispatcher.call("POST", f"/api/v1/tasks/{refer['id']}/claim")
        self.case = self.dispatcher.call("POST", f"/api/v1/tasks/{refer['id']}/complete", {"data": REFER_POST})

    def run(self, steps: int) -> tuple[float, list[float]]:
        """Run steps claim + complete pairs; the rate and each pair's latency in ms."""
        users = {"handle_case": (self.handler, HANDLE_POST), "approve_extension": (self.dispatcher, APPROVE_POST)}
        latencies = []
        started = time.perf_counter()
        for _ in range(steps):
            (task,) = self.case["open_tasks"]
            api, form = users[task["name"]]
            t0 = time.perf_counter()
            api.call("POST", f"/api/v1/tasks/{task['id']}/claim")
            self.case = api.call("POST", f"/api/v1/tasks/{task['id']}/complete", {"data": form})
            latencies.append((time.perf_counter() - t0) * 1000)
        return steps / (time.perf_counter() - started), latencies

    def close(self) -> None:
        self.dispatcher.close()
        self.handler.close()


def compare(database: str, sides: list[Side], urls: list[str], args: argparse.Namespace, log_dir: Path) -> None:
    """Interleave the sides' loops on one kind of database and print the table."""
    for side, url in zip(sides, urls):
        seed(side, url)
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(server(side, url, log_dir)) for side, url in zip(sides, urls)]
        loops = [Loop(port) for port, _ in servers]
        for loop in loops:
            loop.run(args.warmup)
        for round_number in range(args.rounds):
            order = [0, 1] if round_number % 2 == 0 else [1, 0]
            for index in order:
                before = _common.cpu_seconds(servers[index][1])
                rate, latencies = loops[index].run(args.steps)
                sides[index].cpu_ms.append((_common.cpu_seconds(servers[index][1]) - before) / args.steps * 1000)
                sides[index].rates.append(rate)
                sides[index].latencies_ms.extend(latencies)
        for loop in loops:
            loop.close()
    base, new = sides
    print(f"\n{database}: {args.rounds} rounds of {args.steps} steps per side, {args.warmup} warm-up steps first")
    widths = (34, 10, 8, 8, 14)
    print(fmt_row(("", "steps/s", "p50 ms", "p99 ms", "server CPU ms"), widths))
    for side in sides:
        ordered = sorted(side.latencies_ms)
        mean = len(side.rates) / sum(1 / r for r in side.rates)  # the rate over all rounds' steps
        print(fmt_row((side.label, round(mean, 1), percentile(ordered, 50), percentile(ordered, 99),
                       sum(side.cpu_ms) / len(side.cpu_ms)), widths))
    per_round = [n / b for n, b in zip(new.rates, base.rates)]
    overall = (len(new.rates) / sum(1 / r for r in new.rates)) / (len(base.rates) / sum(1 / r for r in base.rates))
    print(f"ratio {new.label} / {base.label}: {overall:.3f} (rounds: {', '.join(f'{r:.3f}' for r in per_round)})")
    cpu = (sum(new.cpu_ms) / len(new.cpu_ms)) / (sum(base.cpu_ms) / len(base.cpu_ms))
    print(f"server CPU per step {new.label} / {base.label}: {cpu:.3f} "
          f"(rounds: {', '.join(f'{n / b:.3f}' for n, b in zip(new.cpu_ms, base.cpu_ms))})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="2e07aee", help="the commit to compare against (default: 2e07aee)")
    parser.add_argument("--off", action="append", default=[], metavar="DUBAN_NAME=VALUE",
                        help="compare this tree with itself under these settings instead of with --base")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--pg-url", default=_common.PG_DEFAULT_URL)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args(argv)
    print("command:", shlex.join([sys.executable] + sys.argv))
    tmp = Path(tempfile.mkdtemp(prefix="duban-ab-"))
    try:
        base_tree = PROJECT_ROOT if args.off else export(args.base, tmp / "base")
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=PROJECT_ROOT, capture_output=True,
                               text=True).stdout.strip()

        here = f"this tree {head}{'+' if dirty else ''}"

        def sides() -> list[Side]:
            if args.off:
                off = dict(item.split("=", 1) for item in args.off)
                return [Side(" ".join(args.off), PROJECT_ROOT, entry_of(PROJECT_ROOT), off),
                        Side(here, PROJECT_ROOT, entry_of(PROJECT_ROOT))]
            return [Side(f"base {args.base}", base_tree, entry_of(base_tree)),
                    Side(here, PROJECT_ROOT, entry_of(PROJECT_ROOT))]

        if not args.no_sqlite:
            compare("SQLite", sides(), [f"sqlite:///{tmp / 'base.sqlite3'}", f"sqlite:///{tmp / 'new.sqlite3'}"],
                    args, tmp)
        if not args.no_pg and _common.postgres_reachable(args.pg_url):
            with _common.bench_database(args.pg_url, "duban_ab_base") as base_url, \
                    _common.bench_database(args.pg_url, "duban_ab_new") as new_url:
                compare("PostgreSQL", sides(), [base_url, new_url], args, tmp)
        elif not args.no_pg:
            print(f"PostgreSQL: not reachable at {args.pg_url}, skipped")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
