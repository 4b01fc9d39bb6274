"""What the service logs."""

from __future__ import annotations

import logging

from api import configure_logging


def test_the_service_logs_its_own_events_but_not_spiffworkflows_task_chatter() -> None:
    """Even under a root logger at INFO (as ``duban serve`` and gunicorn set it), SpiffWorkflow's
    record of every task state change is not built; duban's own INFO lines are."""
    root, spiff = logging.getLogger(), logging.getLogger("spiff")
    saved = root.level, spiff.level
    try:
        root.setLevel(logging.INFO)
        spiff.setLevel(logging.NOTSET)
        configure_logging()
        assert not logging.getLogger("spiff.task").isEnabledFor(logging.INFO)
        assert logging.getLogger("spiff.task").isEnabledFor(logging.WARNING)
        assert logging.getLogger("duban.timers").isEnabledFor(logging.INFO)
    finally:
        root.setLevel(saved[0])
        spiff.setLevel(saved[1])


def test_the_scheduler_does_not_log_every_tick() -> None:
    """Leave APScheduler's per-tick "Running job" lines out of an INFO log (184 a minute otherwise)."""
    from workers.timer_worker import quiet_scheduler_logs

    root, scheduler = logging.getLogger(), logging.getLogger("apscheduler")
    saved = root.level, scheduler.level
    try:
        root.setLevel(logging.INFO)
        scheduler.setLevel(logging.NOTSET)
        assert logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)
        quiet_scheduler_logs()
        assert not logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)
        assert logging.getLogger("duban.worker").isEnabledFor(logging.INFO)
    finally:
        root.setLevel(saved[0])
        scheduler.setLevel(saved[1])
