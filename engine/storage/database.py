"""Database connections and the unit of work.

SQLite (WAL, busy timeout) is the embedded default; PostgreSQL is the production database. A unit
of work is one transaction: it rolls back unless the use case commits it. On SQLite a writing unit
of work takes the write lock up front (``BEGIN IMMEDIATE``), so two writers queue instead of
failing halfway; readers never wait for writers.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Iterator, TypeVar

import orjson
from sqlalchemy import (Connection, Engine, Executable, Integer, String, bindparam, create_engine, event, func,
                        literal_column, select, UpdateBase)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import Conflict

log = logging.getLogger("duban.database")
SQLITE_BUSY_TIMEOUT_MS = 15_000
T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Accept the plain forms ``postgresql://…`` and ``sqlite:///…`` and pick our drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Database:
    """Engines and session factories for one database URL."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.is_sqlite:
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.read_engine = _sqlite_engine(self.url, echo, immediate=False)
            self.write_engine = _sqlite_engine(self.url, echo, immediate=True)
        else:
            # No pre-ping: it costs a round trip per transaction. Connections are recycled
            # instead, and a dropped one fails one request, which the client may retry.
            options = {"echo": echo, "pool_size": 8, "max_overflow": 8, "pool_recycle": 1800,
                       "json_serializer": _json}
            self.write_engine = create_engine(self.url, **options)
            # Reads (and single-statement commands) run without BEGIN and ROLLBACK, two round trips
            # less: at READ COMMITTED every statement has its own snapshot anyway. Their own pool, so
            # no connection switches in and out of autocommit on every use.
            # Nothing to roll back when one goes back to the pool, either.
            self.read_engine = create_engine(self.url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                                             **options)
        self._readers = sessionmaker(self.read_engine, expire_on_commit=False)
        self._writers = sessionmaker(self.write_engine, expire_on_commit=False)
        event.listen(self._writers, "do_orm_execute", _send_before_query)

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite database."""
        return self.dialect == "sqlite"

    @property
    def locks_rows(self) -> bool:
        """Whether ``SELECT … FOR UPDATE`` means something here."""
        return not self.is_sqlite

    @property
    def changes_tables_in_one_statement(self) -> bool:
        """Whether one statement may write several tables (data-modifying WITH: PostgreSQL)."""
        return not self.is_sqlite

    @contextlib.contextmanager
    def single_statement(self) -> Iterator[Connection]:
        """A connection on which every statement is its own transaction (PostgreSQL): a command
        that is one statement takes one round trip instead of BEGIN, the statement and COMMIT."""
        if self.is_sqlite:
            raise RuntimeError("SQLite commands run in a unit of work")
        try:
            with self.read_engine.connect() as connection:
                yield connection
        except Exception as exc:
            if is_contention(exc):
                raise contention_conflict(exc) from exc
            raise

    def unit_of_work(self, write: bool = True) -> "UnitOfWork":
        """Open a unit of work; a writing one on SQLite holds the write lock from the start."""
        return UnitOfWork(self._writers if write else self._readers, self)

    def forget_inherited_connections(self) -> None:
        """In a forked child: start a fresh pool, leaving the parent's connections to the parent."""
        self.read_engine.dispose(close=False)
        if self.write_engine is not self.read_engine:
            self.write_engine.dispose(close=False)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            self.write_engine.dispose()


# PostgreSQL's deadlock, serialization failure and lock-not-available; SQLite's busy timeout ran out.
CONTENTION_SQLSTATES = frozenset({"40P01", "40001", "55P03"})
CONTENTION_MESSAGE = "数据正被他人同时修改，请刷新后重试"


def is_contention(exc: BaseException) -> bool:
    """Whether a database error means two transactions collided (answered 409, never 500)."""
    original = getattr(exc, "orig", None) or exc
    if getattr(original, "sqlstate", None) in CONTENTION_SQLSTATES:
        return True
    return type(original).__name__ == "OperationalError" and "database is locked" in str(original)


def contention_conflict(exc: BaseException) -> Conflict:
    """The conflict a collision is answered with; logged, because commands take their locks in one
    order and a collision means one of them does not."""
    log.warning("transactions collided, answered as a conflict: %s", getattr(exc, "orig", None) or exc)
    return Conflict(CONTENTION_MESSAGE)


def _json(value: object) -> str:
    """JSON columns (audit data, lists of departments) as UTF-8 text; several times faster than
    the standard library."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _sqlite_engine(url: str, echo: bool, immediate: bool) -> Engine:
    engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False}, json_serializer=_json)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(connection):  # type: ignore[no-untyped-def]
        connection.connection.dbapi_connection.execute(begin)

    return engine


class UnitOfWork:
    """One transaction. ``with db.unit_of_work() as uow:`` … ``uow.commit()``; rolls back otherwise."""

    def __init__(self, factory: sessionmaker[Session], database: Database) -> None:
        self._factory = factory
        self.database = database
        self.session: Session

    def __enter__(self) -> "UnitOfWork":
        self.session = self._factory()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed and detaches loaded objects without
        # expiring them, so results stay readable after the transaction.
        self.session.close()
        if exc is not None and is_contention(exc):
            raise contention_conflict(exc) from exc

    def commit(self) -> None:
        """Write what the unit of work deferred to its end (``deferred``) and every queued write
        (``write``), then commit. On PostgreSQL the writes and the COMMIT go in one round trip,
        the row-count checks made by the database before it commits."""
        for pending, write_kind in self.session.info.pop(_DEFERRED, {}).values():
            write_kind(self.session, pending)
        if self.database.is_sqlite:
            send_writes(self.session)
        else:
            self.session.flush()  # anything added through the ORM goes before the COMMIT
            queue = self.session.info.pop(_QUEUE, None)
            if queue:
                _send_pipelined(self.session.connection(), queue, commit=True)
        self.session.commit()  # after a pipelined COMMIT: nothing left for the driver to do

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """A savepoint: if the block fails, the database and the deferred and queued writes go back
        to where they were when it began, and the error propagates. The block's queued writes are
        sent before it ends, inside the savepoint."""
        send_writes(self.session)
        deferred = self.session.info.setdefault(_DEFERRED, {})
        saved = {key: (copy.copy(pending), write_kind) for key, (pending, write_kind) in deferred.items()}
        try:
            with self.session.begin_nested():
                yield
                send_writes(self.session)
        except BaseException:
            self.session.info[_DEFERRED] = saved
            self.session.info.pop(_QUEUE, None)
            raise


_DEFERRED = "deferred_writes"
_QUEUE = "queued_writes"


def deferred(session: Session, key: str, new: Callable[[], T], write_kind: Callable[[Session, T], None]) -> T:
    """The pending writes of one kind that the session's unit of work makes just before it commits,
    with ``write_kind``, in one go (made with ``new`` on first use). A unit of work that does not
    commit writes none; a savepoint that rolls back forgets those noted inside it."""
    writes = session.info.setdefault(_DEFERRED, {})
    if key not in writes:
        writes[key] = (new(), write_kind)
    return writes[key][0]


# -- queued writes ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Write:
    statement: Executable
    params: dict[str, Any] | list[dict[str, Any]]
    expect_rows: int | None
    conflict: str


def write(session: Session, statement: Executable, params: dict[str, Any] | list[dict[str, Any]], *,
          expect_rows: int | None = None, conflict: str = "数据已被他人更新，请刷新后重试") -> None:
    """Queue an INSERT, UPDATE or DELETE whose result the command does not read.

    Queued writes are sent in the order queued: before the session's next query, at the end of the
    savepoint they were queued in, or at commit; on PostgreSQL all that are due together go in one
    round trip (psycopg's pipeline mode) instead of one each. A list of parameter sets writes
    several rows with the one statement. A write that must change exactly ``expect_rows`` rows (a
    state or version check: one INSERT, UPDATE or DELETE construct, one parameter set) fails the
    unit of work with a conflict otherwise.
    """
    if expect_rows is not None and (isinstance(params, list) or not isinstance(statement, UpdateBase)):
        raise ValueError("a checked write is one INSERT, UPDATE or DELETE construct with one parameter set")
    session.info.setdefault(_QUEUE, []).append(_Write(statement, params, expect_rows, conflict))


def send_writes(session: Session) -> None:
    """Send the session's queued writes now, in order, and check their row counts."""
    queue = session.info.pop(_QUEUE, None)
    if not queue:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        counts = _send_pipelined(connection, queue)
    else:
        counts = [session.execute(w.statement, w.params).rowcount for w in queue]
    for queued, rows in zip(queue, counts):
        if queued.expect_rows is not None and rows != queued.expect_rows:
            raise Conflict(queued.conflict)


def _send_before_query(state: Any) -> None:
    """Queued writes go out before any query of their session, so it reads what was written."""
    send_writes(state.session)


def _send_pipelined(connection: Connection, queue: list[_Write], commit: bool = False) -> list[int]:
    """Send writes to PostgreSQL in one round trip (the pipeline's closing sync); their row counts.

    With ``commit`` the COMMIT goes in the same round trip, so the row-count checks cannot wait
    for the counts: each checked write is sent as ``WITH w AS (… RETURNING 1) SELECT
    duban_expect_rows(count(*), n, conflict) FROM w``, which fails the transaction (SQLSTATE
    DU409) before the COMMIT, which is then not run."""
    raw = connection.connection.driver_connection
    cursors: list[list[Any]] = []
    try:
        with raw.pipeline():
            for queued in queue:
                params = queued.params
                statement = queued.statement
                if commit and queued.expect_rows is not None:
                    statement = _checked(statement)
                    check = {_EXPECTED: queued.expect_rows, _CONFLICT: queued.conflict}
                    params = params | check  # type: ignore[operator]
                many = params if isinstance(params, list) else [params]
                form = _driver_form(statement, connection.dialect, tuple(sorted(many[0])))
                # One execute per parameter set: in a pipeline, psycopg's executemany costs more.
                cursors.append([raw.cursor() for _ in many])
                for cursor, one in zip(cursors[-1], many):
                    cursor.execute(form.sql, form.convert(one))
            if commit:
                raw.cursor().execute(b"COMMIT", prepare=False)
    except Exception as exc:
        if getattr(exc, "sqlstate", None) == CONFLICT_SQLSTATE:
            raise Conflict(exc.diag.message_primary or "数据已被他人更新，请刷新后重试") from None  # type: ignore[attr-defined]
        raise
    return [sum(cursor.rowcount for cursor in sent) for sent in cursors]


CONFLICT_SQLSTATE = "DU409"  # raised by duban_expect_rows (migration 0007)
_EXPECTED = "duban_expected_rows"
_CONFLICT = "duban_conflict"
_CHECKED: dict[int, tuple[Executable, Executable]] = {}


def _checked(statement: Executable) -> Executable:
    """A write as one statement that fails unless it changes the expected number of rows."""
    checked = _CHECKED.get(id(statement))
    if checked is None or checked[0] is not statement:
        written = statement.returning(literal_column("1")).cte("written")  # type: ignore[attr-defined]
        check = select(func.duban_expect_rows(func.count(), bindparam(_EXPECTED, type_=Integer()),
                                              bindparam(_CONFLICT, type_=String()))).select_from(written)
        checked = _CHECKED[id(statement)] = (statement, check)
    return checked[1]


@dataclass(frozen=True)
class _DriverForm:
    """A statement as psycopg takes it: its SQL, once compiled by SQLAlchemy; a function from the
    caller's parameters to the driver's; and, for a query, its columns' result processors (None
    if no column has one)."""

    statement: Executable
    sql: str
    convert: Callable[[dict[str, Any]], dict[str, Any]]
    processors: list[Callable[[Any], Any] | None] | None


_DRIVER_FORMS: dict[tuple[int, str, tuple[str, ...]], _DriverForm] = {}


def _driver_form(statement: Executable, dialect: Any, keys: tuple[str, ...] = ()) -> _DriverForm:
    """A statement's driver form, compiled for these parameter names (as SQLAlchemy compiles an
    INSERT for the columns given) and kept."""
    key = (id(statement), dialect.name, keys)
    form = _DRIVER_FORMS.get(key)
    if form is None or form.statement is not statement:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("a statement sent to the driver cannot take an expanding IN parameter; "
                             "IN a list of literal()s")
        columns = getattr(statement, "selected_columns", None)
        processors = None if columns is None else [
            dialect.type_descriptor(column.type).result_processor(dialect, None) for column in columns]
        form = _DRIVER_FORMS[key] = _DriverForm(statement, compiled.string, _converter(compiled, dialect),
                                                processors if processors and any(processors) else None)
    return form


def _converter(compiled: Any, dialect: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """From the caller's parameters to the driver's: defaults filled in, each value through its
    type's bind processor, as SQLAlchemy itself would send them."""
    processors = {name: process for name, bind in compiled.binds.items()
                  if (process := dialect.type_descriptor(bind.type).bind_processor(dialect)) is not None}

    def convert(params: dict[str, Any]) -> dict[str, Any]:
        values = compiled.construct_params(params)
        for name, process in processors.items():
            values[name] = process(values[name])
        return values

    return convert


# -- hot queries -----------------------------------------------------------------------------------

def fetch(connection: Connection, statement: Executable, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every row of a query as a tuple, each value typed as SQLAlchemy types it.

    For the few queries every command runs (the claim, the locking read of a case). On PostgreSQL
    the query goes to psycopg directly, compiled once by SQLAlchemy, with the same bind and result
    processors; SQLAlchemy's per-execution work (context, cursor result, row objects) costs as much
    as the round trip. Elsewhere it runs through SQLAlchemy. Not seen by SQLAlchemy's engine events.
    """
    if connection.dialect.name != "postgresql":
        return [tuple(row) for row in connection.execute(statement, params)]
    form = _driver_form(statement, connection.dialect)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(form.sql, form.convert(params))
    rows = cursor.fetchall()
    processors = form.processors
    if processors:
        return [tuple(value if process is None else process(value) for process, value in zip(processors, row))
                for row in rows]
    return rows


def fetch_in(session: Session, statement: Executable, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """``fetch`` in a session's transaction, after the writes it has queued."""
    send_writes(session)
    return fetch(session.connection(), statement, params)
