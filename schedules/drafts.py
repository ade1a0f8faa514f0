"""Items the office drafts for a coming briefing (``周报 添加 …`` / ``通报 添加 …``).

A draft names the briefing it was written for (``period_key``: the ISO week ``2026-W45`` or the month
``2026-12``); a briefing takes every unused draft of its kind with that key or an earlier one, so an item
added after one briefing went out waits for the next instead of being lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Draft, Person

DraftKind = Literal["weekly", "monthly"]
MAX_DRAFT_CHARS = 500


async def add_draft(
    session: AsyncSession,
    kind: DraftKind,
    period_key: str,
    text: str,
    *,
    person: Person | None,
    now: datetime,
    inbox_id: int | None = None,
) -> Draft:
    draft = Draft(
        kind=kind,
        period_key=period_key,
        text=text,
        person_id=person.id if person else None,
        author=person.name if person else "",
        inbox_id=inbox_id,
        created_at=now,
    )
    session.add(draft)
    await session.flush()
    return draft


async def pending_drafts(session: AsyncSession, kind: DraftKind, period_key: str) -> list[Draft]:
    """Unused, not withdrawn drafts of ``kind`` for the briefing ``period_key`` (or an earlier one), oldest first."""
    rows = await session.scalars(
        select(Draft)
        .where(
            Draft.kind == kind,
            Draft.period_key <= period_key,
            Draft.used_by_occurrence.is_(None),
            Draft.withdrawn_at.is_(None),
        )
        .order_by(Draft.id)
    )
    return list(rows)


async def mark_used(session: AsyncSession, drafts: list[Draft], occurrence_key: str) -> None:
    if drafts:
        await session.execute(
            update(Draft)
            .where(Draft.id.in_([draft.id for draft in drafts]), Draft.used_by_occurrence.is_(None))
            .values(used_by_occurrence=occurrence_key)
            .execution_options(synchronize_session=False)
        )


async def withdraw_draft(session: AsyncSession, kind: DraftKind, draft_id: int, *, now: datetime) -> Draft | None:
    """Withdraw a draft that no briefing has used yet; ``None`` when there is no such draft."""
    draft = await session.get(Draft, draft_id)
    if draft is None or draft.kind != kind or draft.used_by_occurrence is not None or draft.withdrawn_at is not None:
        return None
    draft.withdrawn_at = now
    return draft
