"""Taking due outbox rows for sending: one row per rate key at a time, in order, within the key's limits.

A *rate key* names one receiver of requests (a group's robot, one member of the WeCom app, one reply route).
Rows of a key go out in ``id`` order, one at a time. A pending row that has already been tried (a retry, or a
split message between parts) holds back every later row of its key, so back-off never reorders a robot's
messages; a row queued for a future time does not.

On PostgreSQL several instances claim concurrently: head rows are locked ``FOR UPDATE SKIP LOCKED`` and each
key is taken under a transaction-scoped advisory lock, so that counting the send log and inserting the new
log entry happen under mutual exclusion — two instances cannot both take a key's last free slot. On SQLite
the claim transaction holds the database's write lock from its first statement (``BEGIN IMMEDIATE``).

The claim COMMITS the row as ``sending`` (with its send-log entry) before any request is made; whatever
happens to the process afterwards, the row is never sent again on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from storage.models import OutboxMessage, OutboxState, SendLog
from storage.ratelimit import RatePolicy, next_slot

SPENT_ERRCODE = "spent"
SPENT_CAUSE = "该回复地址只能使用一次，且已经用过，未再发送。"


@dataclass(frozen=True)
class Claim:
    """A row taken for sending its next part (``parts_sent`` parts are already out)."""

    id: int
    channel: str
    target: str
    rate_key: str
    address: dict[str, Any]
    message: dict[str, Any]
    origin: str
    group_id: int | None
    inbox_id: int | None
    attempts: int  # including this one
    parts_sent: int
    created_at: datetime


@dataclass
class ClaimResult:
    claimed: list[Claim] = field(default_factory=list)
    paced: dict[str, datetime] = field(default_factory=dict)  # rate key → when its next slot frees
    spent: list[int] = field(default_factory=list)  # once-only rows refused: their single use is gone


PolicyOf = Callable[[OutboxMessage], RatePolicy]


def _blocked(now: datetime) -> ColumnElement[bool]:
    """True for a pending row that must wait for another row of its key."""
    other = aliased(OutboxMessage)
    return exists().where(
        other.rate_key == OutboxMessage.rate_key,
        other.id != OutboxMessage.id,
        or_(
            other.state == OutboxState.SENDING,
            and_(
                other.state == OutboxState.PENDING,
                other.id < OutboxMessage.id,
                or_(other.due_at <= now, other.attempts > 0),
            ),
        ),
    )


def _due_heads(now: datetime, channels: Collection[str] | None) -> Any:
    query = select(OutboxMessage).where(
        OutboxMessage.state == OutboxState.PENDING,
        OutboxMessage.due_at <= now,
        ~_blocked(now),
    )
    if channels is not None:
        query = query.where(OutboxMessage.channel.in_(sorted(channels)))
    return query


async def _lock_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """PostgreSQL: the keys whose advisory lock this transaction obtained (others are busy elsewhere)."""
    if not keys:
        return set()
    result = await session.execute(
        text(
            "SELECT k FROM unnest(CAST(:keys AS text[])) AS k "
            "WHERE pg_try_advisory_xact_lock(hashtextextended('duban.outbox:' || k, 0))"
        ),
        {"keys": list(keys)},
    )
    return {row[0] for row in result}


async def _keys_sending(session: AsyncSession, keys: Collection[str]) -> set[str]:
    if not keys:
        return set()
    result = await session.scalars(
        select(OutboxMessage.rate_key)
        .where(OutboxMessage.rate_key.in_(sorted(keys)), OutboxMessage.state == OutboxState.SENDING)
        .distinct()
    )
    return set(result)


async def recent_sends(
    session: AsyncSession, policies: dict[str, RatePolicy], now: datetime
) -> dict[str, list[datetime]]:
    """For each key with windows, its logged request times within the widest window, newest first."""
    limited = {key: policy for key, policy in policies.items() if policy.windows}
    if not limited:
        return {}
    depth = max(policy.depth for policy in limited.values())
    since = now - max(policy.horizon for policy in limited.values())
    rank = func.row_number().over(partition_by=SendLog.rate_key, order_by=SendLog.at.desc()).label("rank")
    inner = (
        select(SendLog.rate_key, SendLog.at, rank)
        .where(SendLog.rate_key.in_(sorted(limited)), SendLog.at > since)
        .subquery()
    )
    rows = await session.execute(
        select(inner.c.rate_key, inner.c.at).where(inner.c.rank <= depth).order_by(inner.c.rate_key, inner.c.rank)
    )
    recent: dict[str, list[datetime]] = {key: [] for key in limited}
    for key, at in rows:
        recent[key].append(at)
    return recent


async def _spent_keys(session: AsyncSession, keys: Collection[str]) -> set[str]:
    """Once-only keys that already carried a request which may have succeeded."""
    if not keys:
        return set()
    result = await session.scalars(
        select(SendLog.rate_key)
        .where(SendLog.rate_key.in_(sorted(keys)), SendLog.outcome.in_(("ok", "sending", "uncertain")))
        .distinct()
    )
    return set(result)


async def claim_due(
    session: AsyncSession,
    *,
    now: datetime,
    instance: str,
    limit: int,
    policy_of: PolicyOf,
    channels: Collection[str] | None = None,
) -> ClaimResult:
    """Claim up to ``limit`` due rows (at most one per rate key) in the caller's transaction.

    Keys whose limit is reached are *paced*: their due rows are pushed to the moment a slot frees.
    """
    result = ClaimResult()
    if limit <= 0:
        return result
    postgres = session.get_bind().dialect.name == "postgresql"
    query = _due_heads(now, channels).order_by(OutboxMessage.id).limit(limit)
    if postgres:
        query = query.with_for_update(skip_locked=True, of=OutboxMessage)
    rows = list((await session.scalars(query)).all())
    if not rows:
        return result
    if postgres:
        keys = list(dict.fromkeys(row.rate_key for row in rows))
        held = await _lock_keys(session, keys)
        # Under the key's lock, a claim committed by another instance since our first read is visible now.
        busy = await _keys_sending(session, held)
        rows = [row for row in rows if row.rate_key in held and row.rate_key not in busy]
    policies = {row.rate_key: policy_of(row) for row in rows}
    recent = await recent_sends(session, policies, now)
    spent = await _spent_keys(session, [key for key, policy in policies.items() if policy.once])
    for row in rows:
        policy = policies[row.rate_key]
        if row.rate_key in spent:
            row.state = OutboxState.FAILED
            row.errcode = SPENT_ERRCODE
            row.last_error = SPENT_CAUSE
            result.spent.append(row.id)
            continue
        slot = next_slot(recent.get(row.rate_key, []), policy, now)
        if slot is not None:
            result.paced[row.rate_key] = slot
            continue
        row.state = OutboxState.SENDING
        row.sending_by = instance
        row.sending_since = now
        row.attempts += 1
        session.add(SendLog(rate_key=row.rate_key, at=now, outbox_id=row.id, outcome="sending"))
        result.claimed.append(
            Claim(
                id=row.id,
                channel=row.channel,
                target=row.target,
                rate_key=row.rate_key,
                address=dict(row.address),
                message=dict(row.message),
                origin=row.origin,
                group_id=row.group_id,
                inbox_id=row.inbox_id,
                attempts=row.attempts,
                parts_sent=row.parts_sent,
                created_at=row.created_at,
            )
        )
    await session.flush()
    for key, slot in result.paced.items():
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.rate_key == key,
                OutboxMessage.state == OutboxState.PENDING,
                OutboxMessage.due_at < slot,
            )
            .values(due_at=slot)
            .execution_options(synchronize_session=False)
        )
    return result


async def next_due(session: AsyncSession, *, channels: Collection[str] | None = None) -> datetime | None:
    """When the earliest pending row falls due (``None`` if nothing is pending)."""
    query = select(func.min(OutboxMessage.due_at)).where(OutboxMessage.state == OutboxState.PENDING)
    if channels is not None:
        query = query.where(OutboxMessage.channel.in_(sorted(channels)))
    value: datetime | None = await session.scalar(query)
    return value
