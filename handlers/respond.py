"""Answering a message and recording an event in the audit log, outside a command's context."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, InboxMessage, Person
from storage.outbound import OutboundMessage, enqueue_reply


def reply(session: AsyncSession, row: InboxMessage, body: str) -> None:
    """Queue ``body`` as the answer to ``row``, by the route its adapter recorded."""
    enqueue_reply(session, row, OutboundMessage(body=body))


def audit(
    session: AsyncSession,
    row: InboxMessage,
    person: Person | None,
    *,
    action: str,
    detail: str,
    outcome: str,
    now: datetime,
) -> None:
    """Record an event about ``row``; an unknown sender is named by platform and id."""
    session.add(AuditEntry(**audit_values(row, person, action=action, detail=detail, outcome=outcome, now=now)))


def audit_values(
    row: InboxMessage, person: Person | None, *, action: str, detail: str, outcome: str, now: datetime
) -> dict[str, Any]:
    """The audit record of an event about ``row``, as a row's values (a batch inserts many at once)."""
    actor = person.name if person is not None else f"{row.sender_name or '未登记'}（{row.platform}:{row.sender_id}）"
    return {
        "person_id": person.id if person is not None else None,
        "actor": actor[:128],
        "action": action,
        "detail": detail,
        "outcome": outcome,
        "inbox_id": row.id,
        "at": now,
        "via": "chat",
    }
