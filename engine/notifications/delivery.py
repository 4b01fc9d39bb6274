"""Delivering queued notifications: leased, retried with exponential backoff, dead after the last try.

A dispatcher leases due deliveries in a short transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several dispatchers share the queue), sends each outside any transaction, then
records the outcome. A dispatcher that dies mid-send leaves a lease that runs out, and the
delivery is tried again: delivery is at least once, and every message carries its delivery key
(``X-Duban-Delivery`` / ``Message-ID``) so receivers can drop a repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

from sqlalchemy import select, update

from engine.engine import Engine
from engine.notifications.channels import Channel
from engine.calendar.clock import Clock, SystemClock
from engine.errors import Conflict, NotFound
from engine.storage.models import Delivery
from engine.storage.records import DeliveryRecord, from_row

LEASE = timedelta(minutes=2)
BATCH = 50


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery attempt."""

    delivery_id: int
    channel: str
    target: str
    state: str
    attempts: int
    error: str | None = None


def dispatch_due(engine: Engine, channels: Mapping[str, Channel], now: datetime | None = None,
                 limit: int = BATCH, wall_clock: Clock | None = None) -> list[Outcome]:
    """Send every delivery due by now (up to limit); return what happened to each.

    A lease belongs to real time (``wall_clock``), whatever time the engine is told it is: a worker
    run with ``--now`` that dies mid-send leaves a lease that runs out two real minutes later, not
    two minutes after the time it was told, so a rerun with the same ``--now`` takes it over."""
    now = now or engine.clock.now()
    wall_clock = wall_clock or SystemClock()
    outcomes = []
    for delivery in _lease(engine, now, wall_clock.now(), limit):
        try:
            channels[delivery.channel].send(delivery)
        except Exception as exc:  # any failure of the channel counts as a failed attempt
            outcomes.append(_failed(engine, delivery, f"{type(exc).__name__}: {exc}", now))
        else:
            outcomes.append(_sent(engine, delivery, now))
    return outcomes


_DELIVERIES = Delivery.__table__
_SELECT = select(*_DELIVERIES.c)


def _lease(engine: Engine, now: datetime, real_now: datetime, limit: int) -> list[DeliveryRecord]:
    with engine.db.unit_of_work() as uow:
        query = (
            _SELECT
            .where(_DELIVERIES.c.state == "pending", _DELIVERIES.c.next_attempt_at <= now,
                   (_DELIVERIES.c.leased_until.is_(None)) | (_DELIVERIES.c.leased_until < real_now))
            .order_by(_DELIVERIES.c.next_attempt_at, _DELIVERIES.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        leased = [from_row(DeliveryRecord, row) for row in uow.execute(query)]
        for delivery in leased:
            delivery.leased_until = real_now + LEASE
            delivery.attempts += 1
            uow.write(update(_DELIVERIES).where(_DELIVERIES.c.id == delivery.id)
                      .values(leased_until=delivery.leased_until, attempts=delivery.attempts), {})
        uow.commit()
    return leased


def _sent(engine: Engine, delivery: DeliveryRecord, now: datetime) -> Outcome:
    with engine.db.unit_of_work() as uow:
        uow.write(update(_DELIVERIES).where(_DELIVERIES.c.id == delivery.id).values(
            state="sent", sent_at=now, leased_until=None, last_error=None), {})
        uow.commit()
    return Outcome(delivery.id, delivery.channel, delivery.target, "sent", delivery.attempts)


def _failed(engine: Engine, delivery: DeliveryRecord, error: str, now: datetime) -> Outcome:
    settings = engine.settings
    dead = delivery.attempts >= settings.delivery_max_attempts
    backoff = timedelta(seconds=settings.delivery_backoff_seconds * 2 ** (delivery.attempts - 1))
    with engine.db.unit_of_work() as uow:
        uow.write(update(_DELIVERIES).where(_DELIVERIES.c.id == delivery.id).values(
            state="dead" if dead else "pending", leased_until=None, last_error=error[:2000],
            next_attempt_at=now if dead else now + backoff), {})
        uow.commit()
    return Outcome(delivery.id, delivery.channel, delivery.target, "dead" if dead else "pending",
                   delivery.attempts, error)


def dead_deliveries(engine: Engine) -> list[DeliveryRecord]:
    """Deliveries that used up their attempts, oldest first."""
    with engine.db.unit_of_work(write=False) as uow:
        return [from_row(DeliveryRecord, row) for row in
                uow.execute(_SELECT.where(_DELIVERIES.c.state == "dead").order_by(_DELIVERIES.c.id))]


def retry(engine: Engine, delivery_id: int) -> DeliveryRecord:
    """Give a dead delivery a fresh set of attempts, due now."""
    with engine.db.unit_of_work() as uow:
        row = uow.execute(_SELECT.where(_DELIVERIES.c.id == delivery_id).with_for_update()).one_or_none()
        if row is None:
            raise NotFound(f"没有编号为 {delivery_id} 的投递")
        delivery = from_row(DeliveryRecord, row)
        if delivery.state != "dead":
            raise Conflict(f"投递 {delivery_id} 的状态是 {delivery.state}，只有失败的投递可以重试")
        delivery.state, delivery.attempts, delivery.last_error = "pending", 0, None
        delivery.next_attempt_at, delivery.leased_until = engine.clock.now(), None
        uow.write(update(_DELIVERIES).where(_DELIVERIES.c.id == delivery_id).values(
            state="pending", attempts=0, last_error=None, next_attempt_at=delivery.next_attempt_at,
            leased_until=None), {})
        uow.commit()
    return delivery
