"""The timed jobs' settings as plain objects: the shell builds them from ``[schedules]`` in the config.

``schedules`` never imports ``bot``; handlers reach these settings through ``Policy.schedules``
(:func:`schedule_settings`), with the defaults of the issue when nothing was configured.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from storage.policy import Policy

if TYPE_CHECKING:
    from schedules.calendar import WorkCalendar

WEEKLY_BRIEFING = "weekly-briefing"
MONTHLY_CIRCULAR = "monthly-circular"
DEADLINE_REMINDER = "deadline-reminder"
OVERDUE_NOTICE = "overdue-notice"
ITEM_REMINDER = "item-reminder"
JOB_NAMES = (WEEKLY_BRIEFING, MONTHLY_CIRCULAR, DEADLINE_REMINDER, OVERDUE_NOTICE, ITEM_REMINDER)

JOB_TITLES = {
    WEEKLY_BRIEFING: "每周工作通报",
    MONTHLY_CIRCULAR: "月度工作通报",
    DEADLINE_REMINDER: "催报提醒",
    OVERDUE_NOTICE: "逾期未报名单",
    ITEM_REMINDER: "督办事项提醒",
}

HolidayPolicy = Literal["shift", "skip", "keep"]
"""What a job does when its nominal day is not a working day: move to the next working day (weekly: the
first working day of that week), not run that time, or run on the day anyway."""

DeadlinePolicy = Literal["keep", "previous", "next"]
"""What happens to a deadline that falls on a non-working day: stays, or moves to the previous or next
working day."""


@dataclass(frozen=True)
class JobSettings:
    enabled: bool = True
    at: time = time(9, 0)
    groups: tuple[str, ...] = ()  # empty: the job's default targets
    holiday_policy: HolidayPolicy = "shift"


@dataclass(frozen=True)
class ReminderSettings(JobSettings):
    at: time = time(9, 30)
    days_before: tuple[int, ...] = (5, 2, 1)  # working days before the deadline
    deadline_day_at: tuple[time, ...] = (time(9, 30), time(15, 0))


@dataclass(frozen=True)
class ScheduleSettings:
    weekly_briefing: JobSettings = field(default_factory=JobSettings)
    monthly_circular: JobSettings = field(default_factory=JobSettings)
    deadline_reminder: ReminderSettings = field(default_factory=ReminderSettings)
    overdue_notice: JobSettings = field(default_factory=JobSettings)
    # Amber and red 督办 items remind their lead units' liaisons on working mornings.
    item_reminder: JobSettings = field(default_factory=lambda: JobSettings(at=time(9, 15)))
    deadline_policy: DeadlinePolicy = "keep"
    catchup_grace: timedelta = timedelta(hours=6)
    templates_dir: Path | None = None
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()

    def job(self, name: str) -> JobSettings:
        jobs: dict[str, JobSettings] = {
            WEEKLY_BRIEFING: self.weekly_briefing,
            MONTHLY_CIRCULAR: self.monthly_circular,
            DEADLINE_REMINDER: self.deadline_reminder,
            OVERDUE_NOTICE: self.overdue_notice,
            ITEM_REMINDER: self.item_reminder,
        }
        try:
            return jobs[name]
        except KeyError:
            raise KeyError(f"没有名为 {name} 的定时任务（可选：{'、'.join(JOB_NAMES)}）") from None

    def calendar(self) -> WorkCalendar:
        from schedules.calendar import WorkCalendar  # chinesecalendar and holidays load only when asked

        return WorkCalendar(extra_holidays=self.extra_holidays, extra_workdays=self.extra_workdays)


def deadline_shift(calendar: WorkCalendar, policy: DeadlinePolicy) -> Callable[[date], date] | None:
    """How a nominal due date moves under the deadline policy (``None``: it stays)."""
    if policy == "previous":
        return calendar.workday_on_or_before
    if policy == "next":
        return calendar.workday_on_or_after
    return None


def with_schedules(policy: Policy, settings: ScheduleSettings) -> Policy:
    """``policy`` carrying ``settings``, its deadline moved by the deadline policy on the working calendar."""
    shift = deadline_shift(settings.calendar(), settings.deadline_policy)
    deadline = dataclasses.replace(policy.deadline, shift=shift)
    return dataclasses.replace(policy, deadline=deadline, schedules=settings)


def schedule_settings(policy: Policy) -> ScheduleSettings:
    """The schedule settings ``policy`` carries, or the defaults."""
    return policy.schedules if isinstance(policy.schedules, ScheduleSettings) else ScheduleSettings()
