"""How much work waits in the inbox and the outbox, and for how long: for ``/healthz`` and ``/metrics``.

Both are cheap on a large database: the ages read the oldest waiting rows through the ``(state, …)``
indexes, and the inbox count is one grouped count (the outbox's is ``storage.outbox_ops.state_counts``).
Recent send failures are read from the send log through its ``at`` index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import FileState, InboxMessage, InboxState, OutboxMessage, OutboxState, SendLog, StoredFile

# The send log's words for a request that did not succeed (``storage.outbox_ops.Settlement.log_outcome``).
FAILED_OUTCOMES = ("retry", "failed", "uncertain")
# The errcode a failed request is counted under when it has none of its own.
NO_ANSWER_UNCERTAIN = "timeout"  # written, but no answer in time: uncertain
NO_ANSWER_RETRIED = "network"  # no connection, or it broke before the request was written: retried
NO_ERRCODE = "unknown"  # an answer that carried no errcode duban could read


def failure_errcode(errcode: str | None, outcome: str) -> str:
    """How a failed request is counted (``/metrics``, ``/healthz``): its errcode, else by its ``outcome``.

    ``outcome`` is the send log's word (``retry``, ``failed``, ``uncertain``) or the dispatcher's ``Kind``.
    """
    if errcode:
        return errcode
    if outcome == "uncertain":
        return NO_ANSWER_UNCERTAIN
    if outcome == "retry":
        return NO_ANSWER_RETRIED
    return NO_ERRCODE


@dataclass(frozen=True)
class QueueAges:
    """The oldest waiting work at ``now``: ages in seconds (0 when nothing waits) and how many rows wait."""

    now: datetime
    inbox_pending: int
    inbox_oldest_pending_at: datetime | None
    outbox_due: int
    outbox_oldest_due_at: datetime | None

    @property
    def inbox_age_seconds(self) -> float:
        """How long the oldest pending inbox row has waited for the inbox worker."""
        return _age(self.now, self.inbox_oldest_pending_at)

    @property
    def outbox_lag_seconds(self) -> float:
        """The dispatcher's lag: how long the oldest pending outbox row has been due and not taken.

        Rows waiting on a back-off or on their rate-limit slot are not due yet and do not count.
        """
        return _age(self.now, self.outbox_oldest_due_at)


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


async def queue_ages(session: AsyncSession, *, now: datetime) -> QueueAges:
    inbox_pending, inbox_oldest = (
        await session.execute(
            select(func.count(), func.min(InboxMessage.received_at)).where(InboxMessage.state == InboxState.PENDING)
        )
    ).one()
    outbox_due, outbox_oldest = (
        await session.execute(
            select(func.count(), func.min(OutboxMessage.due_at)).where(
                OutboxMessage.state == OutboxState.PENDING, OutboxMessage.due_at <= now
            )
        )
    ).one()
    return QueueAges(
        now=now,
        inbox_pending=int(inbox_pending),
        inbox_oldest_pending_at=inbox_oldest,
        outbox_due=int(outbox_due),
        outbox_oldest_due_at=outbox_oldest,
    )


async def inbox_state_counts(session: AsyncSession) -> dict[InboxState, int]:
    rows = await session.execute(select(InboxMessage.state, func.count()).group_by(InboxMessage.state))
    counts = dict.fromkeys(InboxState, 0)
    for state, count in rows:
        counts[InboxState(state)] = int(count)
    return counts


async def file_state_counts(session: AsyncSession) -> dict[FileState, int]:
    """Files people sent, by state (``pending`` is the fetch queue's depth)."""
    rows = await session.execute(select(StoredFile.state, func.count()).group_by(StoredFile.state))
    counts = dict.fromkeys(FileState, 0)
    for state, count in rows:
        counts[FileState(state)] = int(count)
    return counts


@dataclass(frozen=True)
class SendFailure:
    """Requests since some moment that did not succeed, alike in outcome and errcode."""

    outcome: str  # retry, failed or uncertain
    errcode: str | None
    count: int

    @property
    def label(self) -> str:
        return failure_errcode(self.errcode, self.outcome)


async def recent_send_failures(session: AsyncSession, *, since: datetime) -> list[SendFailure]:
    """Every request made since ``since`` (by any instance) whose outcome was not ``ok``, grouped."""
    rows = await session.execute(
        select(SendLog.outcome, SendLog.errcode, func.count())
        .where(SendLog.at >= since, SendLog.outcome.in_(FAILED_OUTCOMES))
        .group_by(SendLog.outcome, SendLog.errcode)
        .order_by(SendLog.outcome, SendLog.errcode)
    )
    return [SendFailure(outcome, errcode, int(count)) for outcome, errcode, count in rows]
