"""Engines, sessions and the schema's version, for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 15_000

T = TypeVar("T")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()

    return on_connect


def _no_checkpoints(dbapi_connection: Any, _record: Any) -> None:
    """A connection that leaves checkpoints to the others: the inbound edge's, on the event loop. Copying the WAL
    back into the database (and syncing both) is the committing connection's work; the inbox worker's and the
    dispatcher's connections commit after every step and checkpoint there, in their threads. Measured: 5–10 %
    more callbacks stored per second."""
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


def _busy(exc: OperationalError) -> bool:
    """SQLite's "database is locked": another connection holds the write lock."""
    return getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY


def _begin_immediate(connection: Any) -> None:
    # SQLite: take the write lock when the transaction starts, not at its first write, so two
    # writers queue on busy_timeout instead of one failing with "database is locked" mid-transaction.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_events(sync_engine: Engine, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
    event.listen(sync_engine, "connect", _sqlite_pragmas(busy_timeout_ms))

    @event.listens_for(sync_engine, "connect")
    def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    event.listen(sync_engine, "begin", _begin_immediate)


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine with the settings each backend needs.

    ``hide_parameters``: a database error's text names the statement but not its bound values, which hold
    what people wrote (reports, names) and would otherwise reach the log with the exception.
    """
    if is_sqlite(url):
        ensure_sqlite_directory(url)
        engine = create_async_engine(
            url, echo=echo, hide_parameters=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        _sqlite_events(engine.sync_engine)
        return engine
    return create_async_engine(url, echo=echo, hide_parameters=True, pool_pre_ping=True, pool_size=10, max_overflow=10)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class Turns:
    """A lock whose urgent waiters are served before the others (each group in arrival order)."""

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._others: deque[asyncio.Future[None]] = deque()

    async def acquire(self, *, urgent: bool = False) -> None:
        if not self._held and not self._urgent and not self._others:
            self._held = True
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._others
        queue.append(granted)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.release()  # the turn came just as the waiter gave up: pass it on
            elif granted in queue:
                queue.remove(granted)
            raise

    def release(self) -> None:
        """Hand the turn to the next waiter (urgent ones first), or free it."""
        for queue in (self._urgent, self._others):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._held = False


class Database:
    """The engine and its session factory, opened once per process."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo)
        self._factory = session_factory(self.engine)
        # SQLite admits one writer at a time, and every transaction here begins IMMEDIATE (reads too). Sessions
        # of this process therefore take turns on an asyncio lock: waiting there costs exactly the work ahead,
        # where SQLite's busy handler would sleep between retries (up to 100 ms each).
        self._turns = Turns() if is_sqlite(url) else None
        self._turn_holder: asyncio.Task[Any] | None = None
        self._sync_engines: dict[bool, Engine] = {}  # plain SQLite engines: waiting for the lock, or not

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def sessions(self) -> AsyncIterator[AsyncSession]:
        """A session: ``async with db.sessions() as session`` (on SQLite, in its turn)."""
        async with self._my_turn(), self._factory() as session:
            yield session

    @asynccontextmanager
    async def transaction(self, *, urgent: bool = False) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on any error.

        ``urgent`` (the inbound edge, which a platform waits on) goes ahead of other waiting sessions on SQLite.
        """
        async with self._my_turn(urgent=urgent), self._factory() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _my_turn(self, *, urgent: bool = False) -> AsyncIterator[None]:
        if self._turns is None or self._turn_holder is asyncio.current_task():
            # PostgreSQL, or a session opened inside another one by the same task (left to SQLite, as before).
            yield
            return
        try:
            async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
                await self._turns.acquire(urgent=urgent)
        except TimeoutError:
            raise OperationalError("waiting for the SQLite write lock", None, TimeoutError()) from None
        self._turn_holder = asyncio.current_task()
        try:
            yield
        finally:
            self._turn_holder = None
            self._turns.release()

    @asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[Any]:
        """The driver's own connection from the pool (asyncpg's on PostgreSQL), outside any transaction: for a
        statement that goes to the driver as it is."""
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            yield raw.driver_connection

    async def write_at_once(self, work: Callable[[Connection], T], *, urgent: bool = False) -> T:
        """Run ``work`` — short and CPU-bound, such as the inbound edge's group insert — in one transaction on a
        plain connection, committed on success.

        On SQLite ``work`` runs right here on the event loop when the write lock is free, as it is unless another
        process holds it: a worker thread would cost a hop each way and a contest for the GIL with the loop
        (measured: about 8 % of the edge's throughput). When another process holds the lock, the attempt fails
        at once (``BEGIN IMMEDIATE`` with no busy wait, nothing done) and ``work`` runs in a worker thread that
        waits for the lock without stopping the loop. On PostgreSQL it runs on the async engine's connection.
        """
        if self._turns is None:
            async with self.engine.begin() as connection:
                return await connection.run_sync(work)
        async with self._my_turn(urgent=urgent):
            try:
                return self._write_sync(work, wait=False)
            except OperationalError as exc:
                if not _busy(exc):
                    raise
            return await asyncio.to_thread(self._write_sync, work, wait=True)

    def _write_sync(self, work: Callable[[Connection], T], *, wait: bool) -> T:
        engine = self._sync_engines.get(wait)
        if engine is None:
            timeout = SQLITE_BUSY_TIMEOUT_MS if wait else 0
            engine = create_sync_engine(
                make_url(self.url).set(drivername="sqlite"),
                hide_parameters=True,
                connect_args={"timeout": timeout / 1000, "check_same_thread": False},
            )
            _sqlite_events(engine, busy_timeout_ms=timeout)
            if not wait:
                event.listen(engine, "connect", _no_checkpoints)
            self._sync_engines[wait] = engine
        with engine.begin() as connection:
            return work(connection)

    async def close(self) -> None:
        await self.engine.dispose()
        for engine in self._sync_engines.values():
            engine.dispose()
