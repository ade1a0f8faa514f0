"""Meetings (会议) and the rounds collecting their 回执: opening one, and finding them by time or series."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import rounds
from storage.models import Meeting, Round

KIND = rounds.MEETING
FIELDS = ["参会人员"]


@dataclass(frozen=True)
class MeetingRound:
    """A meeting and the round collecting its 回执 (``会议#N`` is the round's number)."""

    round: Round
    meeting: Meeting


async def open_meeting(
    session: AsyncSession,
    *,
    title: str,
    details: Iterable[str],
    starts_at: datetime,
    place: str,
    attendees: str,
    deadline: datetime,
    code: str,
    now: datetime,
    created_by: int | None = None,
    series: str | None = None,
    nominal: date | None = None,
) -> MeetingRound:
    """The round (its 回执 due at ``deadline``) and its meeting, flushed so that the round has its number."""
    round_ = Round(
        kind=KIND,
        title=title,
        instructions="\n".join(details),
        fields=FIELDS,
        deadline=deadline,
        code=code,
        created_by=created_by,
        created_at=now,
    )
    session.add(round_)
    await session.flush()
    meeting = Meeting(
        round_id=round_.id,
        starts_at=starts_at,
        place=place[:200],
        attendees=attendees[:200],
        series=series,
        nominal=nominal,
    )
    session.add(meeting)
    await session.flush()
    return MeetingRound(round_, meeting)


async def meetings_between(session: AsyncSession, start: datetime, end: datetime) -> list[MeetingRound]:
    """Meetings starting in ``[start, end)``, earliest first."""
    rows = await session.execute(
        select(Round, Meeting)
        .join(Meeting, Meeting.round_id == Round.id)
        .where(Meeting.starts_at >= start, Meeting.starts_at < end)
        .order_by(Meeting.starts_at, Round.id)
    )
    return [MeetingRound(round_, meeting) for round_, meeting in rows]


async def meeting_of(session: AsyncSession, round_id: int) -> Meeting | None:
    return await session.get(Meeting, round_id)


async def posted_nominals(session: AsyncSession, series: str) -> set[date]:
    """The days of ``series`` (declared meetings) already posted."""
    found = await session.scalars(select(Meeting.nominal).where(Meeting.series == series))
    return {day for day in found if day is not None}


async def close_held(session: AsyncSession, before: datetime, now: datetime) -> list[int]:
    """Close the 回执 rounds of meetings that started before ``before``: a held meeting is chased no more, and a
    回执 sent afterwards is kept and marked late. The numbers of the rounds closed now."""
    held = list(
        await session.scalars(
            select(Round.id)
            .join(Meeting, Meeting.round_id == Round.id)
            .where(Round.state == rounds.OPEN, Meeting.starts_at < before)
        )
    )
    if held:
        await session.execute(
            update(Round)
            .where(Round.id.in_(held))
            .values(state=rounds.CLOSED, closed_at=now)
            .execution_options(synchronize_session=False)
        )
    return held
