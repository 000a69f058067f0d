"""The database extension, its naming convention and column types."""

from __future__ import annotations

import os
import select
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import Pool
from sqlalchemy.types import TypeDecorator

#: Constraint names are stable on every database, so Alembic batch mode on
#: SQLite can find and alter them (an unnamed constraint cannot be dropped).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:
    #: What models subclass.  At run time Flask-SQLAlchemy's ``db.Model`` (built from ``Base`` when ``db``
    #: is made, so a type checker cannot see it); for mypy, the declarative base it is built from.
    Model = Base
else:
    Model = db.Model


class UTCDateTime(TypeDecorator):
    """An instant: aware in Python, stored in UTC on every database.

    SQLite keeps no zone, so values are converted to UTC on the way in and
    marked UTC on the way out; PostgreSQL stores ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for an instant; pass an aware one")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _clock_offset() -> timedelta:
    """HANCHOT_CLOCK_OFFSET_SECONDS shifts this process's clock, for load tests that
    must cross a deadline at 24:00 (bench/). Refused in production."""
    raw = os.environ.get("HANCHOT_CLOCK_OFFSET_SECONDS", "")
    if not raw:
        return timedelta(0)
    if os.environ.get("APP_ENV") == "production":
        raise RuntimeError("HANCHOT_CLOCK_OFFSET_SECONDS must not be set in production")
    return timedelta(seconds=float(raw))


_OFFSET = _clock_offset()


def utcnow() -> datetime:
    """The current instant (aware, UTC): every "now" of the app comes from here."""
    if _OFFSET:
        return datetime.now(UTC) + _OFFSET
    return datetime.now(UTC)


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys_on(dbapi_connection, connection_record):
    """SQLite: foreign keys on in normal use (migrations turn them off), WAL."""
    module = type(dbapi_connection).__module__
    if module.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # The web process and the scheduler share the file: readers must not
        # block the writer, and a writer waits for another instead of failing.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


@contextmanager
def planned_for_its_values() -> Iterator[None]:
    """Statements run inside are planned by PostgreSQL for their own values, every time.

    psycopg prepares a statement on the server from its fifth execution, and PostgreSQL may then keep one
    generic plan for every value.  Most statements gain (no planning: the agency page's four, 0.6 against
    2.1 ms of PostgreSQL per request with every statement planned anew).  The dashboard's page statement
    loses: one shape serves campaigns of 20 and of 50,000 units and pieces (``dashboard._cell_pieces``) of
    5 or 30,000 rows, and a generic plan walked 30,000 units for the reversed urgency order's first page
    (51 ms; 4.5 ms planned for its values).  So that statement is never prepared (SQLite: nothing to do)."""
    raw: Any = db.session.connection().connection.dbapi_connection
    if not hasattr(raw, "prepare_threshold"):
        yield
        return
    kept = raw.prepare_threshold
    raw.prepare_threshold = None
    try:
        yield
    finally:
        raw.prepare_threshold = kept


@event.listens_for(Pool, "checkout")
def _closed_by_the_server(dbapi_connection, connection_record, connection_proxy):
    """A pooled PostgreSQL connection that the server closed (a restart, an administrator) is
    replaced before use, without a round trip: an idle connection's socket has nothing to read
    unless the server sent its goodbye (``FATAL: terminating connection``) or hung up.  This is
    what ``pool_pre_ping`` (a ``SELECT 1`` per checkout) is for, at a fraction of its cost; a
    server that vanished without a word is still noticed at the first statement (one 503, and
    SQLAlchemy drops the pool's older connections)."""
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:  # SQLite: no server, no socket
        return
    if getattr(dbapi_connection, "closed", False) or getattr(dbapi_connection, "broken", False):
        raise DisconnectionError("connection already closed or broken")
    try:
        # poll, not select: select() refuses descriptors from 1024 on, which a busy worker reaches.
        poller = select.poll()
        poller.register(fileno(), select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR)
        events = poller.poll(0)
    except Exception as exc:  # psycopg raises its OperationalError for a socket already gone
        raise DisconnectionError(f"connection unusable: {exc}") from exc
    if events:
        raise DisconnectionError("the database server closed this connection")


def affected(result: Result[Any]) -> int:
    """How many rows an UPDATE, INSERT or DELETE touched.  (``Session.execute`` is typed as returning a
    ``Result``; for these statements it is a ``CursorResult``, which has the count.)"""
    return cast("CursorResult[Any]", result).rowcount or 0
