"""The ``duban`` command: database setup, demo data, the server and the calendar."""

from __future__ import annotations

import logging
import os
import sys
from datetime import date

import click

from engine.bootstrap import bootstrap
from engine.deployments import deploy
from engine.engine import Engine
from engine.org.accounts import Account, load_org, refuse_production_start, save_accounts
from engine.storage.schema import upgrade_schema
from engine.settings import Settings, SettingError, StartRefused
from processes.catalogue import build_catalogue, calendar_overrides
from processes.org import demo_users, org_data

log = logging.getLogger("duban")


def _engine() -> Engine:
    return bootstrap(Settings.from_env(), build_catalogue())


def init_database(engine: Engine) -> str:
    """Migrate the schema, deploy processes.bpmn and load the org data; return the version."""
    upgrade_schema(engine.db)
    version = deploy(engine, deployed_by="duban init-db")
    load_org(engine, org_data())
    return version


def seed_demo_users(engine: Engine) -> int:
    """Create the demo users (password ``demo``); refused in production mode."""
    from api.auth import hash_password

    if engine.settings.production:
        raise click.ClickException("生产模式下不能创建演示用户 (demo users are never created in production)")
    password_hash = hash_password("demo")
    accounts = [Account(u.username, u.display_name, u.roles, u.department, u.taskforce,
                        email=f"{u.username}@duban.local", demo=True) for u in demo_users()]
    return save_accounts(engine, accounts, password_hash)


class _Duban(click.Group):
    """The command group: a setting it cannot read, or a start production mode refuses, ends the
    command with its message instead of a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (SettingError, StartRefused) as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Duban)
def main() -> None:
    """duban 督查督办 — supervision closed loop."""
    from api import configure_logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_logging()


@main.command("init-db")
def init_db_command() -> None:
    """Create or upgrade the database, deploy the processes and load the org data."""
    engine = _engine()
    version = init_database(engine)
    click.echo(f"数据库已就绪：{engine.db.url.split('@')[-1]}，流程版本 {version}")


@main.command("seed-demo")
@click.option("--with-cases", is_flag=True, help="also load about 30 demo cases with their histories")
def seed_demo_command(with_cases: bool) -> None:
    """Initialise the database and create the demo users (password: demo), and the demo cases if asked."""
    engine = _engine()
    init_database(engine)
    created = seed_demo_users(engine)
    click.echo(f"演示用户已就绪（新建 {created} 个，密码均为 demo）")
    if not with_cases:
        return
    from processes.demo import describe_load, load_demo_cases

    loaded = load_demo_cases(engine.settings, db=engine.db)
    if loaded.already_loaded:
        click.echo("演示事项已加载（库中已有督办事项），未做改动")
        return
    for line in describe_load(loaded):
        click.echo(line)


@main.command("serve")
@click.option("--host", default=None, help="listen address (default 127.0.0.1, or HOST)")
@click.option("--port", default=None, type=int, help="listen port (default 8000, or PORT)")
@click.option("--threads", default=8, show_default=True, type=int)
def serve_command(host: str | None, port: int | None, threads: int) -> None:
    """Serve the API and web UI until stopped (Ctrl-C)."""
    from gunicorn.app.base import BaseApplication

    from api import create_app, serving

    settings = Settings.from_env()
    settings.check_production()
    engine = bootstrap(settings, build_catalogue())
    init_database(engine)
    app = create_app(engine=engine)
    engine.db.dispose()  # the HTTP worker process opens its own connections after the fork
    bind = f"{host or settings.host}:{port or settings.port}"

    def worker_ready(worker) -> None:  # type: ignore[no-untyped-def]
        if settings.gc_tuning:
            serving.worker_ready(worker)
        if engine.db.is_sqlite and settings.embedded_worker:
            # Embedded: the timer worker runs as a thread of the (single) HTTP worker process,
            # started after the fork: a thread started in the master could hand the child
            # SQLite's or the pool's locks held mid-call, and hang it.
            from workers.timer_worker import run_in_background

            run_in_background(engine)

    def after_fork(server, worker) -> None:  # type: ignore[no-untyped-def]
        engine.db.forget_inherited_connections()
        if settings.serve_cpu_affinity:
            serving.pin_to_one_cpu(worker.age)

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in serving.gunicorn_settings(settings.max_request_kb * 1024).items():
                self.cfg.set(name, value)
            self.cfg.set("post_worker_init", worker_ready)
            self.cfg.set("bind", bind)
            self.cfg.set("workers", 1)
            self.cfg.set("threads", threads)
            self.cfg.set("graceful_timeout", 5)
            if os.path.isdir("/dev/shm"):
                # The worker's heartbeat touches a file every loop; on a disk-backed /tmp that blocks.
                self.cfg.set("worker_tmp_dir", "/dev/shm")
            self.cfg.set("post_fork", after_fork)

        def load(self):  # type: ignore[no-untyped-def]
            return app

    click.echo(f"duban 已启动：http://{bind}  （Ctrl-C 停止）")
    _Server().run()


@main.command("worker")
@click.option("--once", is_flag=True, help="fire what is due, print it, and exit")
@click.option("--now", "now_text", default=None, help="with --once: the time to fire up to (ISO-8601)")
def worker_command(once: bool, now_text: str | None) -> None:
    """Run the timer worker until stopped, or once (``--once [--now T]``)."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from engine.notifications.channels import default_channels
    from engine.calendar.clock import FrozenClock, install_clock
    from engine.notifications.delivery import dispatch_due
    from engine.commands.timers import fire_due_timers
    from workers.timer_worker import run_forever

    if now_text and not once:
        raise click.UsageError("--now goes with --once")
    clock = None
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError as exc:
            raise click.BadParameter(f"not an ISO-8601 time: {now_text}", param_hint="--now") from exc
        if now.tzinfo is None:
            now = now.replace(tzinfo=ZoneInfo(Settings.from_env().timezone))
        clock = FrozenClock(now.astimezone(timezone.utc))
        install_clock(clock)  # SpiffWorkflow's timers read the same time
    engine = bootstrap(Settings.from_env(), build_catalogue(), clock)
    refuse_production_start(engine)
    if not once:
        click.echo("定时任务进程已启动（Ctrl-C 停止）")
        run_forever(engine)
        return
    now = engine.clock.now()
    fired = fire_due_timers(engine, now)
    for item in fired:
        following = item.next_wakeup_at.isoformat() if item.next_wakeup_at else "无"
        click.echo(f"已处理到期事项 {item.number}（下次到期：{following}）")
    click.echo(f"共处理 {len(fired)} 个到期事项，截至 {now.isoformat()}")
    outcomes = dispatch_due(engine, default_channels(engine.settings), now, limit=10_000)
    for outcome in outcomes:
        click.echo(f"投递 {outcome.delivery_id}（{outcome.channel} → {outcome.target}）：{outcome.state}"
                   + (f"，{outcome.error}" if outcome.error else ""))
    click.echo(f"共投递 {len(outcomes)} 条通知")


@main.command("notifications")
@click.option("--failed", is_flag=True, help="list deliveries that used up their attempts")
@click.option("--retry", "retry_id", type=int, default=None, help="try a failed delivery again")
def notifications_command(failed: bool, retry_id: int | None) -> None:
    """Show failed notification deliveries, or send one again."""
    from engine.notifications.delivery import dead_deliveries, retry
    from engine.errors import DomainError

    engine = _engine()
    if retry_id is not None:
        try:
            delivery = retry(engine, retry_id)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"投递 {delivery.id} 将重新发送（{delivery.channel} → {delivery.target}）")
        return
    if not failed:
        raise click.UsageError("give --failed or --retry ID")
    dead = dead_deliveries(engine)
    for delivery in dead:
        click.echo(f"{delivery.id}\t{delivery.channel}\t{delivery.target}\t尝试{delivery.attempts}次\t"
                   f"{delivery.subject}\t{delivery.last_error or ''}")
    click.echo(f"共 {len(dead)} 条失败的投递")


@main.command("department-webhook")
@click.argument("code")
@click.argument("url", required=False)
def department_webhook_command(code: str, url: str | None) -> None:
    """Set the webhook URL that receives a department's notifications (omit URL to clear it)."""
    from engine.errors import DomainError
    from engine.org.accounts import set_department_webhook

    try:
        set_department_webhook(_engine(), code, url)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{code} 的通知网址：{url or '（已清除）'}")


@main.group("user")
def user_group() -> None:
    """User accounts (用户账号)."""


@user_group.command("list")
def user_list_command() -> None:
    """List every account: username, name, department, roles, state."""
    from engine.org.accounts import list_accounts

    for user in list_accounts(_engine()):
        state = "启用" if user.active else "停用"
        click.echo(f"{user.username}\t{user.display_name}\t{user.department_code or '-'}\t"
                   f"{','.join(user.roles)}\t{state}" + ("\t演示账号" if user.demo else ""))


@user_group.command("disable")
@click.argument("usernames", nargs=-1, required=True)
def user_disable_command(usernames: tuple[str, ...]) -> None:
    """Disable accounts: their sessions end at once and they can no longer sign in."""
    _set_active(usernames, False)


@user_group.command("enable")
@click.argument("usernames", nargs=-1, required=True)
def user_enable_command(usernames: tuple[str, ...]) -> None:
    """Enable disabled accounts again."""
    _set_active(usernames, True)


def _set_active(usernames: tuple[str, ...], active: bool) -> None:
    from engine.errors import DomainError
    from engine.org.accounts import set_active

    engine = _engine()
    for username in usernames:
        try:
            set_active(engine, username, active)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"{username} 已{'启用' if active else '停用'}")


@main.group("calendar")
def calendar_group() -> None:
    """Working-day calendar (工作日)."""


@calendar_group.command("add-working-days")
@click.argument("start", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.argument("count", type=click.IntRange(min=0))
def add_working_days_command(start, count: int) -> None:  # type: ignore[no-untyped-def]
    """Print the date COUNT working days after START (YYYY-MM-DD)."""
    settings = Settings.from_env()
    from datetime import time

    from engine.calendar.working_days import WorkingCalendar

    hour, minute = (int(p) for p in settings.closing_time.split(":"))
    calendar = WorkingCalendar(settings.timezone, time(hour, minute), calendar_overrides())
    result: date = calendar.add_working_days(start.date(), count)
    click.echo(result.isoformat())


if __name__ == "__main__":
    sys.exit(main())
