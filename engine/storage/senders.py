"""How a unit of work's queued writes reach the database: one sender per database, chosen once.

The plain sender executes the writes in order through SQLAlchemy, several consecutive rows of one
statement as one execution, and checks the row counts it was asked to check.
"""

from __future__ import annotations

from typing import Iterator, Protocol

from sqlalchemy import Connection

from engine.errors import Conflict
from engine.storage.unit_of_work import Write


class Sender(Protocol):
    """Sends queued writes, and commits."""

    def send(self, connection: Connection, writes: list[Write]) -> None:
        """Send the writes now, in order, checking their row counts."""

    def commit(self, connection: Connection, writes: list[Write]) -> None:
        """Send the writes, then commit the transaction."""


class PlainSender:
    """Writes through SQLAlchemy, one execution per statement (or per run of rows of one statement)."""

    def send(self, connection: Connection, writes: list[Write]) -> None:
        """Send the writes now, in order, checking their row counts."""
        for statement, params, check in _batches(writes):
            result = connection.execute(statement, params)
            if check is not None and result.rowcount != check.expect_rows:
                raise Conflict(check.conflict)

    def commit(self, connection: Connection, writes: list[Write]) -> None:
        """Send the writes, then commit the transaction."""
        self.send(connection, writes)
        connection.commit()


def sender_for(dialect: str) -> Sender:
    """The sender of a database."""
    return PlainSender()


def _batches(writes: list[Write]) -> Iterator[tuple[object, object, Write | None]]:
    """The writes as executions: consecutive unchecked rows of one statement go together."""
    rows: list[dict[str, object]] = []
    current = None
    for write in writes:
        if write.expect_rows is None and write.statement is current:
            rows.extend(write.params if isinstance(write.params, list) else [write.params])
            continue
        if current is not None:
            yield current, rows, None
            current, rows = None, []
        if write.expect_rows is not None:
            yield write.statement, write.params, write
        else:
            current = write.statement
            rows = list(write.params) if isinstance(write.params, list) else [write.params]
    if current is not None:
        yield current, rows, None
