"""The inbox worker: takes stored messages in small batches and hands each to the handlers.

Claiming and handling are separate transactions. The claim marks up to :data:`BATCH` rows ``processing`` with
a lease (``locked_by``, ``locked_until``) and commits; the handling transaction locks them again, runs the
handler on each in arrival order and marks each ``done`` — so the handlers' effects and "done" commit together
or not at all. A batch whose instance died between the two keeps its expired leases and is claimed again by
whoever comes next. One transaction for a batch rather than two for every row is what makes a burst of
reports cheap (the per-row claim, lock and commit were most of the work); should any handler in the batch
fail, its transaction is rolled back whole and the batch's rows left are handled one at a time, each in its
own transaction, so that only the failing row is marked failed. A batch's transaction also commits early
(keeping the rest of its rows in hand) when the edge of this process is waiting to store a callback.

Messages are handled in the order they arrived. A batch is a run of the oldest claimable rows that ends
before a sender's second row (which waits for the next batch, after the first is settled), so within an
instance every unit's versions follow arrival order. Across instances a row is passed over while another
instance holds an earlier row of its sender (``ix_inbox_sender_unsettled`` finds them), so one sender's
messages are never in two hands at once.

On PostgreSQL the claim takes the oldest claimable row with ``FOR UPDATE SKIP LOCKED``, so instances never
take the same row, and the handling transaction holds the row lock: a lease that runs out while a slow
handler works cannot hand the row to a second instance. On SQLite every write transaction begins
``IMMEDIATE``, so claims are serialised by the database lock and the same statement is a plain conditional
update.

A handler failure rolls its transaction back; a new transaction marks the row ``failed`` with the reason
(shown to the office) and queues an apology to the sender. Nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, bindparam, exists, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from bot.context import AppContext
from bot.inbox_signal import InboxSignal
from bot.logs import trace_id
from storage.models import InboxMessage, InboxState
from storage.policy import Policy

log = logging.getLogger(__name__)

Handle = Callable[[AsyncSession, InboxMessage, Policy, datetime], Awaitable[None]]
Apologize = Callable[[AsyncSession, InboxMessage, Policy], Awaitable[None]]

LEASE = timedelta(seconds=60)
POLL_SECONDS = 2.0
ERROR_BACKOFF_SECONDS = 5.0
# A row claimed this many times without being settled kept killing (or outliving) the instances that took it.
MAX_ATTEMPTS = 5
MAX_ERROR_CHARS = 2000
# How long a batch waits for the edge to store the callbacks in hand before it is taken anyway.
GIVE_WAY_SECONDS = 0.25
# Rows claimed at once and handled in one transaction: a batch of plain reports costs about ten statements
# whatever its size (handlers.report_batch), so a larger batch is cheaper per report (measured: 32 rows a step
# took a third more CPU per report than 128). On SQLite the transaction holds the write lock the edge needs to
# store callbacks; during a burst of callbacks the worker takes one row at a time (drain), so a batch this long
# only ever delays the first callbacks of a burst.
BATCH = 128
# Rows handed to the batch handler at once; between steps the transaction may commit to let the edge write.
STEP = BATCH
# How long one transaction of a batch may run before it commits and lets the edge write.
BATCH_SECONDS = 0.05
# Rows claimed at once during a burst of callbacks (inbox_signal): a step short enough that the callbacks arriving
# meanwhile wait a few milliseconds at most for the SQLite write lock.
BURST_BATCH = 16


def _default_handle() -> Handle:
    from handlers.dispatch import handle

    return handle


def _default_apologize() -> Apologize:
    from handlers.dispatch import apologize

    return apologize


def claimable(now: datetime) -> ColumnElement[bool]:
    """Pending rows, and rows whose holder's lease has run out."""
    return or_(
        InboxMessage.state == InboxState.PENDING,
        (InboxMessage.state == InboxState.PROCESSING) & (InboxMessage.locked_until < now),
    )


def no_earlier_row_held(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """No earlier row of the same sender is in someone's hands (a live lease): its sender's order is kept."""
    earlier = aliased(InboxMessage)
    return ~exists().where(
        earlier.platform == InboxMessage.platform,
        earlier.sender_id == InboxMessage.sender_id,
        # Written out as ix_inbox_sender_unsettled's predicate is, so that SQLite may use that partial index.
        earlier.state.in_([literal_column("'pending'"), literal_column("'processing'")]),
        earlier.id < InboxMessage.id,
        earlier.state == InboxState.PROCESSING,
        earlier.locked_until >= now,
    )


def _claim_values(ctx: AppContext, now: datetime, lease: timedelta) -> dict[str, object]:
    return {
        "state": InboxState.PROCESSING,
        "locked_by": ctx.instance_id,
        "locked_until": now + lease,
        "attempts": InboxMessage.attempts + 1,
    }


async def claim_next(ctx: AppContext, *, now: datetime, lease: timedelta = LEASE) -> int | None:
    """Claim the oldest claimable row for this instance; its id, or ``None`` when there is none."""
    oldest = (
        select(InboxMessage.id)
        .where(claimable(now))
        .order_by(InboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite serialises writers instead
        .scalar_subquery()
    )
    statement = (
        update(InboxMessage)
        .where(InboxMessage.id == oldest, claimable(now))
        .values(_claim_values(ctx, now, lease))
        .returning(InboxMessage.id)
    )
    async with ctx.db.transaction() as session:
        return (await session.execute(statement)).scalar_one_or_none()


async def claim_batch(ctx: AppContext, *, now: datetime, lease: timedelta = LEASE, limit: int = BATCH) -> list[int]:
    """Claim a run of the oldest claimable rows for this instance, ending before any sender's second row;
    their ids, oldest first."""
    async with ctx.db.transaction() as session:
        found: list[tuple[int, str, str]] = []
        # Pending rows, and rows whose holder's lease ran out, each read in index order (ix_inbox_state_id) so
        # that the scan stops after ``limit`` rows however long the backlog: no sort of every pending row.
        for expired in (False, True):
            rows = await session.execute(_claimable_rows(expired, limit), {"now": now})
            found += [(row_id, platform, sender) for row_id, platform, sender in rows]
        row_ids: list[int] = []
        senders: set[tuple[str, str]] = set()
        for row_id, platform, sender_id in sorted(found)[:limit]:
            if (platform, sender_id) in senders:
                break
            senders.add((platform, sender_id))
            row_ids.append(row_id)
        if row_ids:
            claim = update(InboxMessage).where(InboxMessage.id.in_(row_ids)).values(_claim_values(ctx, now, lease))
            await session.execute(claim)
        return row_ids


@functools.lru_cache(maxsize=16)
def _claimable_rows(expired: bool, limit: int) -> Select[int, str, str]:
    """The oldest pending rows (or, ``expired``, rows whose lease ran out) whose sender has no earlier row in
    someone's hands; ``now`` is bound at execution. Built once per shape: building it took about 2 ms of every
    claim, within the transaction that holds SQLite's write lock."""
    now = bindparam("now", type_=InboxMessage.__table__.c.locked_until.type)
    query = (
        select(InboxMessage.id, InboxMessage.platform, InboxMessage.sender_id)
        .where(no_earlier_row_held(now))
        .order_by(InboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite serialises writers instead
    )
    if expired:
        return query.where(InboxMessage.state == InboxState.PROCESSING, InboxMessage.locked_until < now)
    return query.where(InboxMessage.state == InboxState.PENDING)


async def claim_row(ctx: AppContext, row_id: int, *, now: datetime, lease: timedelta = LEASE) -> bool:
    """Claim one given row (a conditional update); ``False`` if it is settled or another instance holds it."""
    statement = (
        update(InboxMessage)
        .where(InboxMessage.id == row_id, claimable(now))
        .values(_claim_values(ctx, now, lease))
        .returning(InboxMessage.id)
    )
    async with ctx.db.transaction() as session:
        return (await session.execute(statement)).scalar_one_or_none() is not None


def _describe(exc: BaseException) -> str:
    reason = "".join(traceback.format_exception_only(exc)).strip()
    return f"处理失败：{reason}"[:MAX_ERROR_CHARS]


async def handle_claimed(
    ctx: AppContext,
    row_id: int,
    *,
    handle: Handle | None = None,
    apologize: Apologize | None = None,
) -> bool:
    """Handle a row this instance has claimed; ``True`` once it is settled (done or failed) by this call."""
    handle = handle or _default_handle()
    token = trace_id.set(f"inbox-{row_id}")
    try:
        return await _handle_claimed(ctx, row_id, handle, apologize)
    finally:
        trace_id.reset(token)


async def _handle_claimed(ctx: AppContext, row_id: int, handle: Handle, apologize: Apologize | None) -> bool:
    policy = ctx.policy
    now = datetime.now(UTC)
    mine = (
        (InboxMessage.id == row_id)
        & (InboxMessage.state == InboxState.PROCESSING)
        & (InboxMessage.locked_by == ctx.instance_id)
    )
    try:
        async with ctx.db.transaction() as session:
            row = (await session.scalars(select(InboxMessage).where(mine).with_for_update())).one_or_none()
            if row is None:
                log.warning("inbox %d: no longer held by this instance; left to its holder", row_id)
                return False
            label = (row.channel, row.message_id)
            if row.attempts > MAX_ATTEMPTS:
                raise RepeatedInterruption(row.attempts)
            await handle(session, row, policy, now)
            row.state = InboxState.DONE
            row.handled_at = now
            row.locked_by = None
            row.locked_until = None
            row.error = None
    except Exception as exc:
        log.error("inbox %d: handling failed (%s); marking it failed", row_id, type(exc).__name__)
        log.debug("inbox %d: handler traceback", row_id, exc_info=True)
        await _mark_failed(ctx, row_id, _describe(exc), apologize=apologize, now=now)
        return True
    log.info("inbox %d (%s %s): handled", row_id, *label)
    return True


class RepeatedInterruption(RuntimeError):
    def __init__(self, attempts: int) -> None:
        super().__init__(f"已尝试 {attempts} 次仍未处理完成（处理过程中服务多次中断）")


async def _mark_failed(
    ctx: AppContext, row_id: int, reason: str, *, apologize: Apologize | None, now: datetime
) -> None:
    """Mark the row failed with ``reason`` and queue the apology, in one new transaction.

    Should the apology itself fail, the row is still marked failed (in a transaction of its own).
    """
    mark = (
        update(InboxMessage)
        .where(
            InboxMessage.id == row_id,
            InboxMessage.state == InboxState.PROCESSING,
            InboxMessage.locked_by == ctx.instance_id,
        )
        .values(state=InboxState.FAILED, error=reason, handled_at=now, locked_by=None, locked_until=None)
        .returning(InboxMessage.id)
    )
    try:
        async with ctx.db.transaction() as session:
            if (await session.execute(mark)).scalar_one_or_none() is None:
                return
            row = await session.get_one(InboxMessage, row_id)
            await (apologize or _default_apologize())(session, row, ctx.policy)
        return
    except Exception as exc:
        log.error("inbox %d: the apology could not be queued (%s)", row_id, type(exc).__name__)
    with contextlib.suppress(Exception):
        async with ctx.db.transaction() as session:
            await session.execute(mark)
        return
    log.error("inbox %d: could not even be marked failed; its lease will expire and it will be retried", row_id)


async def handle_batch(
    ctx: AppContext,
    row_ids: list[int],
    *,
    handle: Handle | None = None,
    apologize: Apologize | None = None,
    signal: InboxSignal | None = None,
    budget: float = BATCH_SECONDS,
) -> int:
    """Handle rows this instance has claimed, in as few transactions as the edge allows; how many were settled.

    With the default handler, the rows go through :func:`handlers.report_batch.handle_rows` :data:`STEP` at a
    time (the liaisons' plain reports filed together, every other row by the one-message handler in its place);
    a given ``handle`` (tests) sees every row, one by one. A transaction ends early (its rows so far committed,
    the rest still held for the next one) once it has run ``budget`` seconds or, with ``signal``, as soon as the
    edge is waiting to store a callback: on SQLite the edge cannot write while the worker's transaction holds
    the lock. A handler that fails (or a row interrupted too often) rolls its transaction back; the rows left
    are then handled one at a time by :func:`handle_claimed`, which marks the failing one failed and apologises.
    """
    together = _together(handle)
    handle = handle or _default_handle()
    settled = 0
    remaining = list(row_ids)
    while len(remaining) > 1:
        try:
            handled, remaining = await _handle_together(ctx, remaining, together, signal, budget)
        except Exception as exc:
            log.warning("inbox batch of %d: %s; handling its rows one at a time", len(remaining), type(exc).__name__)
            break
        settled += len(handled)
        for row_id, channel, message_id in handled:
            log.info("inbox %d (%s %s): handled", row_id, channel, message_id)
    for row_id in remaining:
        settled += await handle_claimed(ctx, row_id, handle=handle, apologize=apologize)
    if settled:
        ctx.outbox_queued.set()
    return settled


HandleRows = Callable[[AsyncSession, list[InboxMessage], Policy, datetime], Awaitable[None]]


def _together(handle: Handle | None) -> tuple[HandleRows, int]:
    """How a run of held rows is handled in one go, and how many rows such a run may hold."""
    if handle is None:
        from handlers.report_batch import handle_rows

        one = _traced(_default_handle())

        async def bulk(session: AsyncSession, rows: list[InboxMessage], policy: Policy, now: datetime) -> None:
            await handle_rows(session, rows, policy, now, one=one)

        return bulk, STEP
    each = _traced(handle)

    async def single(session: AsyncSession, rows: list[InboxMessage], policy: Policy, now: datetime) -> None:
        for row in rows:
            await each(session, row, policy, now)

    return single, 1


def _traced(handle: Handle) -> Handle:
    async def traced(session: AsyncSession, row: InboxMessage, policy: Policy, now: datetime) -> None:
        token = trace_id.set(f"inbox-{row.id}")
        try:
            await handle(session, row, policy, now)
        finally:
            trace_id.reset(token)

    return traced


async def _handle_together(
    ctx: AppContext,
    row_ids: list[int],
    together: tuple[HandleRows, int],
    signal: InboxSignal | None,
    budget: float,
) -> tuple[list[tuple[int, str, str]], list[int]]:
    """Handle held rows in order in one transaction, ``step`` at a time; what was handled, and the held rows left
    for the next."""
    handle_rows, step = together
    policy = ctx.policy
    now = datetime.now(UTC)
    started = time.monotonic()
    mine = (
        InboxMessage.id.in_(row_ids)
        & (InboxMessage.state == InboxState.PROCESSING)
        & (InboxMessage.locked_by == ctx.instance_id)
    )
    handled: list[tuple[int, str, str]] = []
    left: list[int] = []
    async with ctx.db.transaction() as session:
        held = select(InboxMessage).where(mine).order_by(InboxMessage.id).with_for_update()
        rows = (await session.scalars(held)).all()
        if len(rows) < len(row_ids):
            log.warning(
                "inbox: %d row(s) no longer held by this instance; left to their holder", len(row_ids) - len(rows)
            )
        for start in range(0, len(rows), step):
            if handled and (time.monotonic() - started >= budget or (signal is not None and signal.busy)):
                left = [later.id for later in rows[start:]]
                break
            run = list(rows[start : start + step])
            for row in run:
                if row.attempts > MAX_ATTEMPTS:
                    raise RepeatedInterruption(row.attempts)
            await handle_rows(session, run, policy, now)
            for row in run:
                row.state = InboxState.DONE
                row.handled_at = now
                row.locked_by = None
                row.locked_until = None
                row.error = None
                handled.append((row.id, row.channel, row.message_id))
    return handled, left


async def process_one(
    ctx: AppContext,
    row_id: int,
    *,
    handle: Handle | None = None,
    apologize: Apologize | None = None,
) -> bool:
    """Claim and handle one given row now (``duban say`` without a running service, and tests)."""
    if not await claim_row(ctx, row_id, now=datetime.now(UTC)):
        return False
    return await handle_claimed(ctx, row_id, handle=handle, apologize=apologize)


async def drain(
    ctx: AppContext,
    stopping: asyncio.Event | None = None,
    *,
    handle: Handle | None = None,
    apologize: Apologize | None = None,
    lease: timedelta = LEASE,
    signal: InboxSignal | None = None,
) -> int:
    """Handle claimable rows until none is left (or ``stopping`` is set); how many were settled.

    With ``signal``, each row waits (a bounded moment) for the edge to finish storing the callbacks in hand.
    """
    settled = 0
    spent = 0.0
    while stopping is None or not stopping.is_set():
        if signal is not None:
            await signal.give_way(within=GIVE_WAY_SECONDS, spent=spent)
        # During a burst of callbacks the worker takes short steps at a share of the loop (inbox_signal).
        limit = BURST_BATCH if signal is not None and signal.in_burst else BATCH
        started = time.monotonic()
        row_ids = await claim_batch(ctx, now=datetime.now(UTC), lease=lease, limit=limit)
        if not row_ids:
            break
        settled += await handle_batch(ctx, row_ids, handle=handle, apologize=apologize, signal=signal)
        spent = time.monotonic() - started
    return settled


async def _pause(stopping: asyncio.Event, wakeup: asyncio.Event, seconds: float) -> None:
    """Wait until a row is stored here, the service stops, or ``seconds`` pass (rows stored elsewhere)."""
    waits = [asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(wakeup.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


async def inbox_worker(
    ctx: AppContext,
    stopping: asyncio.Event,
    *,
    signal: InboxSignal | None = None,
    handle: Handle | None = None,
    apologize: Apologize | None = None,
    poll_seconds: float = POLL_SECONDS,
    lease: timedelta = LEASE,
    error_backoff: float = ERROR_BACKOFF_SECONDS,
) -> None:
    """Work the inbox until ``stopping`` is set; the row in hand is finished first.

    ``signal`` (from the edge of this process) starts work as soon as a row is stored and lets a burst of
    callbacks be stored first; rows stored by other instances are found by polling every ``poll_seconds``.
    """
    signal = signal or InboxSignal()
    log.info("inbox worker started as %s", ctx.instance_id)
    while not stopping.is_set():
        signal.stored.clear()
        try:
            await drain(ctx, stopping, handle=handle, apologize=apologize, lease=lease, signal=signal)
        except Exception as exc:  # the database is unreachable, say: keep the worker alive and try later
            log.error(
                "inbox worker: cannot reach the inbox (%s); retrying in %.0f s", type(exc).__name__, error_backoff
            )
            await _pause(stopping, asyncio.Event(), error_backoff)
            continue
        await _pause(stopping, signal.stored, poll_seconds)
    log.info("inbox worker stopped")
