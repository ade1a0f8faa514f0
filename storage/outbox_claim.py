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

import functools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, insert, or_, select, text, update
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
    file: OutboxFile | None = None  # the file the row carries (a document), with its upload so far
    # Once-only keys: later rows of the key, taken with this one and delivered in the same request.
    merged: tuple[tuple[int, dict[str, Any]], ...] = ()

    @property
    def ids(self) -> tuple[int, ...]:
        return (self.id, *(outbox_id for outbox_id, _ in self.merged))


@dataclass(frozen=True)
class OutboxFile:
    """A file an outbox row carries: its content in the blob store, the name shown, and the platform's id for it
    once uploaded (with when, since the platform honours an id for a limited time)."""

    sha256: str
    name: str
    media_id: str | None = None
    uploaded_at: datetime | None = None


@dataclass
class ClaimResult:
    claimed: list[Claim] = field(default_factory=list)
    paced: dict[str, datetime] = field(default_factory=dict)  # rate key → when its next slot frees
    deferred: list[Claim] = field(default_factory=list)  # due heads held back for their key's next slot
    spent: list[int] = field(default_factory=list)  # once-only rows refused: their single use is gone


PolicyOf = Callable[[Claim], RatePolicy]


def _unblocked(now: ColumnElement[datetime]) -> ColumnElement[bool]:
    """True for a pending row that need not wait for another row of its key: no row of the key is being sent, and
    the row is the key's first that is due or already tried.

    Both are asked of the key's rows in ``ix_outbox_rate_key_state_id`` (rate key, state, id) order, as "the first
    such id", so that the index's order is what makes each probe cheap and the planner cannot serve it from the
    state index without a sort. Asked as "no such row exists", PostgreSQL's generic plan (settled on once a
    prepared statement has run a few times, while the outbox was small and never analysed) probed through the
    state index and read every pending row for each candidate: after a burst of 13,000 answers, 20 seconds a claim
    (tests/test_outbox_claim_plans.py).
    """
    sending = aliased(OutboxMessage)
    active = aliased(OutboxMessage)
    first_sending = (
        select(sending.id)
        .where(sending.rate_key == OutboxMessage.rate_key, sending.state == OutboxState.SENDING)
        .order_by(sending.id)
        .limit(1)
        .scalar_subquery()
    )
    first_active = (
        select(active.id)
        .where(
            active.rate_key == OutboxMessage.rate_key,
            active.state == OutboxState.PENDING,
            or_(active.due_at <= now, active.attempts > 0),
        )
        .order_by(active.id)
        .limit(1)
        .scalar_subquery()
    )
    return and_(first_sending.is_(None), OutboxMessage.id == first_active)


_CLAIM_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.channel,
    OutboxMessage.target,
    OutboxMessage.rate_key,
    OutboxMessage.address,
    OutboxMessage.message,
    OutboxMessage.origin,
    OutboxMessage.group_id,
    OutboxMessage.inbox_id,
    OutboxMessage.attempts,
    OutboxMessage.parts_sent,
    OutboxMessage.created_at,
    OutboxMessage.file_sha256,
    OutboxMessage.file_name,
    OutboxMessage.media_id,
    OutboxMessage.media_uploaded_at,
)


@functools.lru_cache(maxsize=64)
def _due_heads(channels: tuple[str, ...] | None, limit: int, postgres: bool) -> Select[Any]:
    """The oldest due heads (``now`` bound at execution), built once per shape: building it anew took about 2 ms
    of the dispatcher's every claim, within the transaction that holds SQLite's write lock."""
    now = bindparam("now", type_=OutboxMessage.__table__.c.due_at.type)
    query = select(*_CLAIM_COLUMNS).where(
        OutboxMessage.state == OutboxState.PENDING,
        OutboxMessage.due_at <= now,
        _unblocked(now),
    )
    if channels is not None:
        query = query.where(OutboxMessage.channel.in_(channels))
    query = query.order_by(OutboxMessage.id).limit(limit)
    if postgres:
        query = query.with_for_update(skip_locked=True, of=OutboxMessage.__table__)
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


async def _queued_behind(
    session: AsyncSession, heads: Sequence[Claim], now: datetime
) -> dict[str, tuple[tuple[int, dict[str, Any]], ...]]:
    """For each head on a once-only key, the pending rows queued behind it (more replies to the same message), by
    rate key, in one query for all of them.

    A WeCom 智能机器人 ``response_url`` carries one request: every reply queued for it by then goes in that one
    request, rather than all but the first being refused.
    """
    if not heads:
        return {}
    first = {head.rate_key: head.id for head in heads}
    rows = await session.execute(
        select(OutboxMessage.rate_key, OutboxMessage.id, OutboxMessage.message)
        .where(
            OutboxMessage.rate_key.in_(sorted(first)),
            OutboxMessage.state == OutboxState.PENDING,
            OutboxMessage.due_at <= now,
        )
        .order_by(OutboxMessage.id)
    )
    behind: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for rate_key, outbox_id, message in rows:
        if outbox_id > first[rate_key]:
            behind.setdefault(rate_key, []).append((outbox_id, dict(message)))
    return {rate_key: tuple(queued) for rate_key, queued in behind.items()}


def _file_of(row: Any) -> OutboxFile | None:
    if row.file_sha256 is None:
        return None
    return OutboxFile(row.file_sha256, row.file_name or "", row.media_id, row.media_uploaded_at)


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
    query = _due_heads(None if channels is None else tuple(sorted(channels)), limit, postgres)
    heads = [
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
            attempts=row.attempts + 1,
            parts_sent=row.parts_sent,
            created_at=row.created_at,
            file=_file_of(row),
        )
        for row in await session.execute(query, {"now": now})
    ]
    if not heads:
        return result
    if postgres:
        held = await _lock_keys(session, list(dict.fromkeys(head.rate_key for head in heads)))
        # Under the key's lock, a claim committed by another instance since our first read is visible now.
        busy = await _keys_sending(session, held)
        heads = [head for head in heads if head.rate_key in held and head.rate_key not in busy]
    policies = {head.rate_key: policy_of(head) for head in heads}
    recent = await recent_sends(session, policies, now)
    spent = await _spent_keys(session, [key for key, policy in policies.items() if policy.once])
    for head in heads:
        if head.rate_key in spent:
            result.spent.append(head.id)
            continue
        slot = next_slot(recent.get(head.rate_key, []), policies[head.rate_key], now)
        if slot is not None:
            result.paced[head.rate_key] = slot
            result.deferred.append(head)
            continue
        result.claimed.append(head)
    if result.spent:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(result.spent))
            .values(state=OutboxState.FAILED, errcode=SPENT_ERRCODE, last_error=SPENT_CAUSE)
            .execution_options(synchronize_session=False)
        )
    if result.claimed:
        behind = await _queued_behind(
            session, [claim for claim in result.claimed if policies[claim.rate_key].once], now
        )
        result.claimed = [
            replace(claim, merged=behind[claim.rate_key]) if claim.rate_key in behind else claim
            for claim in result.claimed
        ]
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([outbox_id for claim in result.claimed for outbox_id in claim.ids]))
            .values(
                state=OutboxState.SENDING,
                sending_by=instance,
                sending_since=now,
                attempts=OutboxMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            insert(SendLog),
            [
                {"rate_key": claim.rate_key, "at": now, "outbox_id": claim.id, "outcome": "sending"}
                for claim in result.claimed
            ],
        )
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
