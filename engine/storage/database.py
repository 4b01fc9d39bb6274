"""Database connections: SQLite, the embedded default, and PostgreSQL, the production database.

A ``Database`` knows how to connect and which sender writes a unit of work's changes; everything a
command does goes through a ``UnitOfWork`` (``engine/storage/unit_of_work.py``). On SQLite a writing
unit of work takes the write lock up front (``BEGIN IMMEDIATE``), so two writers queue instead of
failing halfway; readers never wait for writers. On PostgreSQL reads run in autocommit on a pool of
their own: no BEGIN and ROLLBACK round trips, and at READ COMMITTED every statement has its own
snapshot anyway.
"""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from engine.errors import Conflict
from engine.storage.senders import Sender, sender_for
from engine.storage.unit_of_work import UnitOfWork

log = logging.getLogger("duban.database")
SQLITE_BUSY_TIMEOUT_MS = 15_000
# PostgreSQL's deadlock, serialization failure and lock-not-available; SQLite's busy timeout ran out.
CONTENTION_SQLSTATES = frozenset({"40P01", "40001", "55P03"})
CONTENTION_MESSAGE = "数据正被他人同时修改，请刷新后重试"


def normalize_url(url: str) -> str:
    """Accept the plain forms ``postgresql://…`` and ``sqlite:///…`` and pick our drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Database:
    """The engines of one database URL, and the sender that writes its units of work."""

    def __init__(self, url: str, echo: bool = False, pipelined_writes: bool = True,
                 read_autocommit: bool = True) -> None:
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
            options = {"echo": echo, "pool_size": 8, "max_overflow": 8, "pool_recycle": 1800, "pool_use_lifo": True,
                       "json_serializer": _json}
            self.write_engine = create_engine(self.url, **options)
            self.read_engine = (create_engine(self.url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                                              **options) if read_autocommit else self.write_engine)
        self.sender: Sender = sender_for(self.dialect, pipelined=pipelined_writes)

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite database."""
        return self.dialect == "sqlite"

    def unit_of_work(self, write: bool = True, one_statement: bool = False) -> UnitOfWork:
        """Open a unit of work: one transaction (a reading one on the autocommit pool).

        ``one_statement``: a write that is one statement in itself (it may write several tables:
        PostgreSQL's data-modifying WITH) runs in autocommit on PostgreSQL, one round trip instead
        of BEGIN, the statement and COMMIT; the unit's ``autocommit`` says so. On SQLite it is a
        writing unit of work like any other."""
        if write and one_statement and not self.is_sqlite:
            return UnitOfWork(self.read_engine, None, on_error=translate_contention, autocommit=True)
        if write:
            return UnitOfWork(self.write_engine, self.sender, on_error=translate_contention)
        return UnitOfWork(self.read_engine, None, on_error=translate_contention)

    def forget_inherited_connections(self) -> None:
        """In a forked child: start a fresh pool, leaving the parent's connections to the parent."""
        self.read_engine.dispose(close=False)
        self.write_engine.dispose(close=False)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            self.write_engine.dispose()


def is_contention(exc: BaseException) -> bool:
    """Whether a database error means two transactions collided (answered 409, never 500)."""
    original = getattr(exc, "orig", None) or exc
    if getattr(original, "sqlstate", None) in CONTENTION_SQLSTATES:
        return True
    return type(original).__name__ == "OperationalError" and "database is locked" in str(original)


def translate_contention(exc: BaseException) -> BaseException | None:
    """The conflict a collision is answered with, or None for any other error. Logged, because
    commands take their locks in one order and a collision means one of them does not."""
    if not is_contention(exc):
        return None
    log.warning("transactions collided, answered as a conflict: %s", getattr(exc, "orig", None) or exc)
    return Conflict(CONTENTION_MESSAGE)


def _json(value: object) -> str:
    """JSON columns (audit data, lists of departments) as UTF-8 text."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _sqlite_engine(url: str, echo: bool, immediate: bool) -> Engine:
    engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False}, json_serializer=_json)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # pysqlite's own transaction handling is off: we BEGIN
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
