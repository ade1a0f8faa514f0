"""Every timed job, in the order ``duban jobs list`` shows them: add a new kind of job here."""

from __future__ import annotations

from schedules import meeting_notice, meeting_reminder, periodic_rounds, round_reminder
from schedules.compose import (
    compose_item_reminder,
    compose_monthly,
    compose_overdue,
    compose_reminder,
    compose_weekly,
)
from schedules.job import Job
from schedules.occurrences import Planner
from schedules.settings import (
    DEADLINE_REMINDER,
    HALF_YEAR_ROUND,
    ITEM_REMINDER,
    MEETING_NOTICE,
    MEETING_REMINDER,
    MONTHLY_CIRCULAR,
    OVERDUE_NOTICE,
    QUARTERLY_ROUND,
    ROUND_REMINDER,
    WEEKLY_BRIEFING,
)

JOBS: tuple[Job, ...] = (
    Job(
        name=WEEKLY_BRIEFING,
        title="每周工作通报",
        settings_of=lambda settings: settings.weekly_briefing,
        plan=Planner.weekly,
        compose=compose_weekly,
    ),
    Job(
        name=MONTHLY_CIRCULAR,
        title="月度工作通报",
        settings_of=lambda settings: settings.monthly_circular,
        plan=Planner.monthly,
        compose=compose_monthly,
    ),
    Job(
        name=DEADLINE_REMINDER,
        title="催报提醒",
        settings_of=lambda settings: settings.deadline_reminder,
        plan=Planner.reminders,
        compose=compose_reminder,
    ),
    Job(
        name=OVERDUE_NOTICE,
        title="逾期未报名单",
        settings_of=lambda settings: settings.overdue_notice,
        plan=Planner.overdue,
        compose=compose_overdue,
    ),
    Job(
        name=ITEM_REMINDER,
        title="督办事项提醒",
        settings_of=lambda settings: settings.item_reminder,
        plan=Planner.item_reminders,
        compose=compose_item_reminder,
    ),
    Job(
        name=ROUND_REMINDER,
        title="征集催报",
        settings_of=lambda settings: settings.round_reminder,
        plan=round_reminder.plan,
        compose=round_reminder.compose,
    ),
    Job(
        name=QUARTERLY_ROUND,
        title="季度报送征集",
        settings_of=lambda settings: settings.quarterly_round,
        plan=periodic_rounds.plan_quarterly,
        compose=periodic_rounds.compose_quarterly,
    ),
    Job(
        name=HALF_YEAR_ROUND,
        title="半年评估报送征集",
        settings_of=lambda settings: settings.half_year_round,
        plan=periodic_rounds.plan_half_year,
        compose=periodic_rounds.compose_half_year,
    ),
    Job(
        name=MEETING_NOTICE,
        title="例会通知",
        settings_of=lambda settings: settings.meeting_notice,
        plan=meeting_notice.plan,
        compose=meeting_notice.compose,
    ),
    Job(
        name=MEETING_REMINDER,
        title="会议提醒",
        settings_of=lambda settings: settings.meeting_reminder,
        plan=meeting_reminder.plan,
        compose=meeting_reminder.compose,
    ),
)

JOB_NAMES = tuple(job.name for job in JOBS)
JOB_TITLES = {job.name: job.title for job in JOBS}
_BY_NAME = {job.name: job for job in JOBS}


def job_named(name: str) -> Job:
    """The job called ``name``; a ``KeyError`` naming the choices otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"没有名为 {name} 的定时任务（可选：{'、'.join(JOB_NAMES)}）") from None
