"""How a unit of work's queued writes reach the database: one sender per database, chosen once.

The plain sender executes the writes in order through SQLAlchemy, several consecutive rows of one
statement as one execution, and checks the row counts it was asked to check.

The pipelined sender (PostgreSQL; ``DUBAN_PIPELINED_WRITES``, on by default) sends the same writes
and the COMMIT in one round trip, in psycopg's pipeline mode, instead of one round trip each. The
row-count checks cannot wait for the counts then: a checked write is sent as ``WITH written AS (…
RETURNING 1) SELECT duban_expect_rows(count(*), n, message) FROM written``, a function of the
database (migration 0007) that fails the transaction before the COMMIT runs. The statements are
compiled by SQLAlchemy and their parameters converted by the same bind processors SQLAlchemy uses;
``tests/integration/test_unit_of_work.py`` runs every write test through both senders, and
``docs/performance.md`` has what it saves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

from cachetools import LRUCache
from sqlalchemy import Connection, Executable, Integer, String, bindparam, func, literal_column, select

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


class PipelinedSender:
    """Writes and COMMIT in one round trip to PostgreSQL (see the module docstring)."""

    CONFLICT_SQLSTATE = "DU409"  # raised by duban_expect_rows (migration 0007)

    def __init__(self, forms: int = 512) -> None:
        self._forms: LRUCache[tuple[Any, tuple[str, ...]], _DriverForm] = LRUCache(maxsize=forms)
        self._checked: LRUCache[Any, Executable] = LRUCache(maxsize=forms)

    def send(self, connection: Connection, writes: list[Write]) -> None:
        """Send the writes in one round trip, checking their row counts."""
        counts = self._pipeline(connection, writes, commit=False)
        for write, rows in zip(writes, counts):
            if write.expect_rows is not None and rows != write.expect_rows:
                raise Conflict(write.conflict)

    def commit(self, connection: Connection, writes: list[Write]) -> None:
        """Send the writes and the COMMIT in one round trip; the database checks the row counts."""
        if not writes:
            connection.commit()
            return
        self._pipeline(connection, writes, commit=True)
        connection.commit()  # the transaction is over already: nothing is sent

    def _pipeline(self, connection: Connection, writes: list[Write], commit: bool) -> list[int]:
        raw = connection.connection.driver_connection
        cursors: list[list[Any]] = []
        try:
            with raw.pipeline():
                for write in writes:
                    statement, params = write.statement, write.params
                    if commit and write.expect_rows is not None:
                        statement = self._checked_form(statement)
                        check = {_EXPECTED: write.expect_rows, _MESSAGE: write.conflict}
                        params = params | check  # type: ignore[operator]
                    many = params if isinstance(params, list) else [params]
                    form = self._form(statement, connection.dialect, tuple(sorted(many[0])))
                    # One execute per row: in a pipeline psycopg's executemany costs more.
                    cursors.append([raw.cursor() for _ in many])
                    for cursor, one in zip(cursors[-1], many):
                        cursor.execute(form.sql, form.convert(one))
                if commit:
                    raw.cursor().execute(b"COMMIT", prepare=False)
        except Exception as exc:
            if getattr(exc, "sqlstate", None) == self.CONFLICT_SQLSTATE:
                message = exc.diag.message_primary  # type: ignore[attr-defined]
                raise Conflict(message or "数据已被他人更新，请刷新后重试") from None
            raise
        return [sum(cursor.rowcount for cursor in sent) for sent in cursors]

    def _checked_form(self, statement: Executable) -> Executable:
        """A write as one statement that fails unless it changes the expected number of rows."""
        checked = self._checked.get(statement)
        if checked is None:
            written = statement.returning(literal_column("1")).cte("written")  # type: ignore[attr-defined]
            checked = self._checked[statement] = select(func.duban_expect_rows(
                func.count(), bindparam(_EXPECTED, type_=Integer()), bindparam(_MESSAGE, type_=String()),
            )).select_from(written)
        return checked

    def _form(self, statement: Executable, dialect: Any, keys: tuple[str, ...]) -> _DriverForm:
        """A statement as psycopg takes it, compiled for these parameter names (as SQLAlchemy
        compiles an INSERT for the columns given), and kept."""
        form = self._forms.get((statement, keys))
        if form is None:
            compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
            if "POSTCOMPILE" in compiled.string:
                raise ValueError("a pipelined write cannot take an expanding IN parameter")
            form = self._forms[(statement, keys)] = _DriverForm(compiled.string, _converter(compiled, dialect))
        return form


_EXPECTED = "duban_expected_rows"
_MESSAGE = "duban_conflict"


@dataclass(frozen=True)
class _DriverForm:
    """A statement as psycopg takes it: its SQL, and a function from the caller's parameters to the
    driver's."""

    sql: str
    convert: Callable[[dict[str, Any]], dict[str, Any]]


def _converter(compiled: Any, dialect: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """From the caller's parameters to the driver's: defaults filled in, each value through its
    type's bind processor, as SQLAlchemy itself would send them."""
    processors = {compiled.bind_names[bind]: process for bind in compiled.binds.values()
                  if (process := dialect.type_descriptor(bind.type).bind_processor(dialect)) is not None}

    def convert(params: dict[str, Any]) -> dict[str, Any]:
        converted = compiled.construct_params(params)
        for name, process in processors.items():
            converted[name] = process(converted[name])
        return converted

    return convert


def sender_for(dialect: str, pipelined: bool = True) -> Sender:
    """The sender of a database: pipelined on PostgreSQL unless switched off, plain elsewhere."""
    return PipelinedSender() if dialect == "postgresql" and pipelined else PlainSender()


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
