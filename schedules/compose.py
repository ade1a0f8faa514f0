"""What every job's composer shares: the composition it returns, and the pieces several jobs' messages use.

A composer (in its job's module under :mod:`schedules.kinds`) reads everything at the moment it runs (a unit that
reported a minute ago is counted) and returns the messages for each target group; :mod:`schedules.jobs` claims the
occurrence first and writes them, ``jobs run --dry-run`` and ``周报 预览`` only show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from sqlalchemy.ext.asyncio import AsyncSession

from schedules.context import ScheduleEnv
from storage import rounds
from storage.models import Draft, Group
from storage.outbound import OutboundMessage, addresses, quote_keeping_links


@dataclass(frozen=True)
class Delivery:
    group: Group
    message: OutboundMessage


@dataclass
class Composition:
    """What a job would post: one message per group, the drafts it takes, and a note for the record."""

    deliveries: list[Delivery] = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)
    note: str = ""
    dropped: bool = False  # a late reminder whose deadline has passed: nothing is posted


@dataclass(frozen=True)
class OpenRound:
    """A collection or meeting still open, for its line in the weekly briefing and in ``duban jobs list``."""

    number: int
    title: str
    due: date
    asked: int
    answered: int
    missing: int
    kind: str  # "adhoc", "quarterly", "half-year", "meeting"…
    deadline: datetime


async def open_round_lines(session: AsyncSession, env: ScheduleEnv) -> list[OpenRound]:
    found = []
    for round_ in await rounds.open_rounds(session):
        standing = await rounds.round_standing(session, round_)
        due = round_.deadline.astimezone(env.policy.tz).date()
        answered, missing = len(standing.answered), len(standing.missing)
        asked = len(standing.units)
        found.append(OpenRound(round_.id, round_.title, due, asked, answered, missing, round_.kind, round_.deadline))
    return found


def local_midnight(day: date, env: ScheduleEnv) -> datetime:
    return datetime.combine(day, time(0), tzinfo=env.policy.tz).astimezone(UTC)


def draft_texts(drafts: list[Draft]) -> list[str]:
    """The office's drafted items, inert but for their http/https links, which stay working links."""
    return [quote_keeping_links(draft.text).replace("\n", " ") for draft in drafts]


def draft_links(drafts: list[Draft]) -> list[str]:
    return [link for draft in drafts for link in addresses(draft.text)]


def to_groups(groups: list[Group], message: OutboundMessage, note: str) -> Composition:
    if not groups:
        return Composition(note="没有可发送的群（请检查 [[groups]] 和 [schedules] 中的 groups 配置）")
    return Composition(deliveries=[Delivery(group, message) for group in groups], note=note)
