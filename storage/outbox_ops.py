"""Operating the outbox: recording send outcomes, rows orphaned by a dead sender, resending, listing.

States (``OutboxState``): ``pending`` → ``sending`` (committed before the request) → ``sent`` | ``pending``
(next part, or a retry after back-off) | ``failed`` (permanent; the office was told) | ``uncertain`` (the
request may or may not have arrived; only a person resends it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, OutboxState, SendLog, utcnow

STATE_LABELS = {
    OutboxState.PENDING: "待发送",
    OutboxState.SENDING: "发送中",
    OutboxState.SENT: "已送达",
    OutboxState.FAILED: "发送失败",
    OutboxState.UNCERTAIN: "待核实",
    OutboxState.CANCELLED: "已取消",
}

RESENDABLE = (OutboxState.FAILED, OutboxState.UNCERTAIN, OutboxState.SENT)


@dataclass(frozen=True)
class Settlement:
    """What became of one claimed row's request."""

    outbox_id: int
    state: OutboxState  # SENT, PENDING (next part or retry), FAILED or UNCERTAIN
    log_outcome: str  # the send log's word for it: ok, retry, failed, uncertain
    part_sent: bool = False
    due_at: datetime | None = None
    errcode: str | None = None
    error: str | None = None
    rate_key: str | None = None  # for a retry: later rows of the key wait as long (they cannot overtake)


async def record_outcomes(
    session: AsyncSession, settlements: Sequence[Settlement], *, instance: str, now: datetime
) -> set[int]:
    """Apply ``settlements`` to rows this instance still holds; returns the ids that were applied.

    A row is only updated while it is ``sending`` under ``instance``: if a sweep has meanwhile declared it
    uncertain (this instance looked dead), that verdict stands. Settlements with the same values are written
    by one statement, so that a broadcast's hundreds of outcomes cost a handful of statements.
    """
    alike: dict[tuple[object, ...], list[Settlement]] = defaultdict(list)
    for item in settlements:
        alike[(item.state, item.part_sent, item.due_at, item.errcode, item.error)].append(item)
    applied: set[int] = set()
    for (state, part_sent, due_at, errcode, error), items in alike.items():
        values: dict[str, Any] = {"state": state, "errcode": errcode, "last_error": error}
        if part_sent:
            values["parts_sent"] = OutboxMessage.parts_sent + 1
        if state is OutboxState.SENT:
            values["sent_at"] = now
        if due_at is not None:
            values["due_at"] = due_at
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_([item.outbox_id for item in items]),
                OutboxMessage.state == OutboxState.SENDING,
                OutboxMessage.sending_by == instance,
            )
            .values(**values)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        applied.update(result.scalars())
    for item in settlements:
        if item.outbox_id in applied and item.state is OutboxState.PENDING and item.due_at and item.rate_key:
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.rate_key == item.rate_key,
                    OutboxMessage.state == OutboxState.PENDING,
                    OutboxMessage.id > item.outbox_id,
                    OutboxMessage.due_at < item.due_at,
                )
                .values(due_at=item.due_at)
                .execution_options(synchronize_session=False)
            )
    logged: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for item in settlements:
        if item.outbox_id in applied:
            logged[(item.log_outcome, item.errcode)].append(item.outbox_id)
    for (outcome, errcode), ids in logged.items():
        await session.execute(
            update(SendLog)
            .where(SendLog.outbox_id.in_(ids), SendLog.outcome == "sending")
            .values(outcome=outcome, errcode=errcode)
            .execution_options(synchronize_session=False)
        )
    return applied


async def first_attempts(session: AsyncSession, outbox_ids: Collection[int]) -> dict[int, datetime]:
    """When each row's first request was made (from the send log)."""
    if not outbox_ids:
        return {}
    rows = await session.execute(
        select(SendLog.outbox_id, func.min(SendLog.at))
        .where(SendLog.outbox_id.in_(sorted(outbox_ids)))
        .group_by(SendLog.outbox_id)
    )
    return {outbox_id: at for outbox_id, at in rows if outbox_id is not None}


async def sending_owners(session: AsyncSession) -> set[str]:
    """The instances that hold rows in ``sending`` right now."""
    owners = await session.scalars(
        select(OutboxMessage.sending_by).where(OutboxMessage.state == OutboxState.SENDING).distinct()
    )
    return {owner for owner in owners if owner}


async def mark_orphans_uncertain(
    session: AsyncSession, *, now: datetime, lease: timedelta, dead_owners: Collection[str] = ()
) -> list[OutboxMessage]:
    """Rows whose sender died mid-request (known dead, or silent past the lease) become ``uncertain``."""
    orphaned = or_(
        OutboxMessage.sending_since.is_(None),
        OutboxMessage.sending_since < now - lease,
        OutboxMessage.sending_by.in_(sorted(dead_owners)),
    )
    query = select(OutboxMessage).where(OutboxMessage.state == OutboxState.SENDING, orphaned).order_by(OutboxMessage.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list((await session.scalars(query)).all())
    for row in rows:
        row.state = OutboxState.UNCERTAIN
        row.errcode = None
        row.last_error = "发送请求发出后未能获知结果（发送进程中断），无法确认是否送达；系统不会自动重发。"
    if rows:
        await session.execute(
            update(SendLog)
            .where(SendLog.outbox_id.in_([row.id for row in rows]), SendLog.outcome == "sending")
            .values(outcome="uncertain")
            .execution_options(synchronize_session=False)
        )
    await session.flush()
    return rows


async def prune_send_log(session: AsyncSession, *, before: datetime) -> int:
    """Forget requests older than ``before`` (the limiter only looks back a minute or so)."""
    result = await session.execute(delete(SendLog).where(SendLog.at < before))
    return cast(CursorResult[Any], result).rowcount


async def _check_route_reusable(session: AsyncSession, row: OutboxMessage) -> None:
    """Reply routes that cannot carry another message are refused with the reason (nothing is queued)."""
    if row.channel == "wecom_response_url":
        used = await session.scalar(
            select(SendLog.id).where(
                SendLog.rate_key == row.rate_key, SendLog.outcome.in_(("ok", "sending", "uncertain"))
            )
        )
        if used is not None:
            raise ValueError(
                f"消息 #{row.id} 是经企业微信智能机器人回复地址发送的，该地址只能使用一次且已用过，无法重发；"
                "如需告知对方，请另行发送。"
            )
    expires_at_ms = row.address.get("expires_at_ms") if row.channel == "dingtalk_session" else None
    if isinstance(expires_at_ms, int) and utcnow().timestamp() * 1000 >= expires_at_ms:
        raise ValueError(f"消息 #{row.id} 是钉钉会话回复，回复地址已过期，无法重发；如需告知对方，请另行发送。")


def _resent_origin(actor: str) -> str:
    return f"resend:{actor}"[:64]


async def resend(session: AsyncSession, outbox_id: int, *, actor: str) -> OutboxMessage:
    """Queue a new pending copy of a failed, uncertain or sent row (``resent_from`` = the original's id).

    A split message that failed or stalled part-way resumes at its first part not known to be delivered;
    a sent message is repeated in full. Raises ``LookupError`` if there is no such row and ``ValueError``
    (with a Chinese explanation) if the row is still queued or was cancelled, or went by a reply route that
    cannot be used again (a spent WeCom ``response_url``, an expired DingTalk ``sessionWebhook``).
    """
    row = await session.get(OutboxMessage, outbox_id)
    if row is None:
        raise LookupError(outbox_id)
    if row.state not in RESENDABLE:
        label = STATE_LABELS[row.state]
        if row.state is OutboxState.CANCELLED:
            raise ValueError(f"消息 #{outbox_id} 已取消，不能重发。")
        raise ValueError(f"消息 #{outbox_id} 仍在发送队列中（{label}），无需重发。")
    await _check_route_reusable(session, row)
    copy = OutboxMessage(
        channel=row.channel,
        target=row.target,
        rate_key=row.rate_key,
        group_id=row.group_id,
        address=dict(row.address),
        message=dict(row.message),
        origin=_resent_origin(actor),
        inbox_id=row.inbox_id,
        resent_from=row.id,
        file_sha256=row.file_sha256,
        file_name=row.file_name,
        media_id=row.media_id,
        media_uploaded_at=row.media_uploaded_at,
        parts_sent=0 if row.state is OutboxState.SENT else row.parts_sent,
        attempts=0,
        state=OutboxState.PENDING,
        due_at=utcnow(),
        created_at=utcnow(),
    )
    session.add(copy)
    await session.flush()
    return copy


async def list_rows(
    session: AsyncSession, *, states: Collection[OutboxState] | None = None, limit: int = 20
) -> list[OutboxMessage]:
    """The most recent rows (newest first), optionally only those in ``states``."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if states:
        query = query.where(OutboxMessage.state.in_(sorted(states)))
    return list((await session.scalars(query)).all())


async def state_counts(session: AsyncSession) -> dict[OutboxState, int]:
    rows = await session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state))
    counts = dict.fromkeys(OutboxState, 0)
    for state, count in rows:
        counts[OutboxState(state)] = count
    return counts
