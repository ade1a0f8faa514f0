"""督办事项提醒: on working mornings, amber and red 督办 items remind their lead units' liaisons."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING

from schedules.job import Job, JobSettings, every_day
from schedules.occurrences import Occurrence, Planner

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from schedules.compose import Composition
    from schedules.context import ScheduleEnv
    from schedules.settings import ScheduleSettings


class ItemReminderSettings(JobSettings):
    """``[schedules.item-reminder]``: amber and red 督办 items remind their lead units on working mornings."""

    at: time = time(9, 15)


def plan(planner: Planner, start: date, end: date) -> list[Occurrence]:
    return planner.every_workday(JOB.name, planner.settings.job(JOB), start, end)


async def compose(session: AsyncSession, env: ScheduleEnv, at: datetime, *, late: bool, now: datetime) -> Composition:
    """Amber and red 督办 items, to each group where their lead units' liaisons sit (those liaisons @-mentioned)."""
    from schedules.compose import Composition, Delivery
    from schedules.content import target_groups
    from schedules.item_content import item_reminders, reminder_message

    names = env.settings.job(JOB).groups
    groups = await target_groups(session, names, office=False) if names else None
    reminders = await item_reminders(session, env, now, groups=groups)
    if not reminders:
        return Composition(note="没有需要提醒的黄灯、红灯事项（或牵头单位联络员所在群未配置）")
    deliveries = [Delivery(r.group, reminder_message(env, r, at, late=late, now=now)) for r in reminders]
    count = len({s.item.id for r in reminders for s in r.standings})
    return Composition(deliveries=deliveries, note=f"提醒黄灯、红灯事项{count}项")


def describe(settings: ScheduleSettings) -> str:
    config = settings.job(JOB)
    return f"{every_day(config)}{config.at:%H:%M}，黄灯、红灯事项提醒牵头单位联络员"


JOB = Job(
    name="item-reminder",
    title="督办事项提醒",
    order=50,
    settings=ItemReminderSettings,
    plan=plan,
    compose=compose,
    describe=describe,
)
