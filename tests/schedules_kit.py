"""Helpers for the schedules tests: an office policy with schedule settings, job contexts, posts and claims."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from handlers_kit import OFFICE_NAME, SHANGHAI, local
from sqlalchemy import func, select

from schedules.context import JobContext
from schedules.kinds.item_reminder import ItemReminderSettings
from schedules.kinds.meeting_reminder import MeetingReminderSettings
from schedules.kinds.round_reminder import RoundReminderSettings
from schedules.settings import ScheduleSettings, with_schedules
from storage.db import Database
from storage.models import Group, JobClaim, OutboxMessage, Submission, Unit
from storage.periods import DeadlineRule, Period
from storage.policy import Policy

BASE_POLICY = Policy(tz=SHANGHAI, office_name=OFFICE_NAME, deadline=DeadlineRule(tz=SHANGHAI))

__all__ = ["SHANGHAI", "local"]


def policy(**settings: Any) -> Policy:
    """The office's policy with ``ScheduleSettings(**settings)`` (defaults otherwise).

    The daily 督办 item, 征集 and meeting reminders are off unless given: these tests are about the reporting
    cycle's four jobs (tests/test_items_rhythm.py, tests/test_rounds_reminder.py and tests/test_meetings_*.py
    cover them).
    """
    settings.setdefault("item_reminder", ItemReminderSettings(enabled=False))
    settings.setdefault("round_reminder", RoundReminderSettings(enabled=False))
    settings.setdefault("meeting_reminder", MeetingReminderSettings(enabled=False))
    return with_schedules(BASE_POLICY, ScheduleSettings(**settings))


def jobs(db: Database, *, instance: str = "test", **settings: Any) -> JobContext:
    return JobContext.create(db, policy(**settings), instance)


def with_settings(ctx: JobContext, **changes: Any) -> JobContext:
    settings = ctx.settings.model_copy(update=changes)
    return JobContext.create(ctx.db, with_schedules(BASE_POLICY, settings), ctx.instance_id)


async def posts(db: Database, *, origin: str | None = None, since_id: int = 0) -> list[OutboxMessage]:
    """Group posts (outbox rows addressed to a group), oldest first."""
    query = select(OutboxMessage).where(OutboxMessage.group_id.is_not(None), OutboxMessage.id > since_id)
    if origin is not None:
        query = query.where(OutboxMessage.origin == origin)
    async with db.sessions() as session:
        return list(await session.scalars(query.order_by(OutboxMessage.id)))


async def last_outbox_id(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.coalesce(func.max(OutboxMessage.id), 0))) or 0)


async def claims(db: Database, job: str | None = None) -> list[JobClaim]:
    query = select(JobClaim).order_by(JobClaim.occurrence, JobClaim.job)
    if job is not None:
        query = query.where(JobClaim.job == job)
    async with db.sessions() as session:
        return list(await session.scalars(query))


async def group_named(db: Database, name: str) -> Group:
    async with db.sessions() as session:
        group = await session.scalar(select(Group).where(Group.name == name))
        assert group is not None
        return group


async def file_report(db: Database, unit: Unit, period: str, at: datetime, *, version: int = 1) -> None:
    """A report version received at ``at`` (on time by the default deadline rule)."""
    parsed = Period.parse(period)
    async with db.transaction() as session:
        session.add(
            Submission(
                unit_id=unit.id,
                period=period,
                version=version,
                text=f"{unit.name}{parsed.label}工作进展。",
                received_at=at,
                on_time=BASE_POLICY.deadline.is_on_time(parsed, at),
            )
        )


def bodies(rows: Sequence[OutboxMessage]) -> list[str]:
    return [str(row.message["body"]) for row in rows]


def at_local(row: OutboxMessage) -> datetime:
    return row.created_at.astimezone(SHANGHAI)


def when(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return local(year, month, day, hour, minute)
