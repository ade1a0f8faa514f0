"""The timed jobs' settings, defined once: the pydantic models ``[schedules]`` of the TOML is read into.

``bot.config.Settings.schedules`` is a :class:`ScheduleSettings`; the same object rides on
``Policy.schedules`` to the handlers and the jobs, which read it typed (``settings.weekly_briefing.at``).
Each job's declaration (:mod:`schedules.registry`) names the field its settings live in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from storage.policy import Policy

if TYPE_CHECKING:
    from schedules.calendar import WorkCalendar

WEEKLY_BRIEFING = "weekly-briefing"
MONTHLY_CIRCULAR = "monthly-circular"
DEADLINE_REMINDER = "deadline-reminder"
OVERDUE_NOTICE = "overdue-notice"
ITEM_REMINDER = "item-reminder"
ROUND_REMINDER = "round-reminder"
QUARTERLY_ROUND = "quarterly-round"
HALF_YEAR_ROUND = "half-year-round"
MEETING_NOTICE = "meeting-notice"
MEETING_REMINDER = "meeting-reminder"

HolidayPolicy = Literal["shift", "skip", "keep"]
"""What a job does when its nominal day is not a working day: move to the next working day (weekly: the
first working day of that week), not run that time, or run on the day anyway."""

DeadlinePolicy = Literal["keep", "previous", "next"]
"""What happens to a deadline that falls on a non-working day: stays, or moves to the previous or next
working day."""


class JobSettings(BaseModel):
    """One timed job (``[schedules.weekly-briefing]`` …). Unknown keys are refused, so a typo is caught at start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    at: time = time(9, 0)
    groups: tuple[str, ...] = ()  # empty: the job's default targets
    holiday_policy: HolidayPolicy = "shift"


class ReminderSettings(JobSettings):
    """``[schedules.deadline-reminder]``: working days before the deadline, and the times on the day itself."""

    at: time = time(9, 30)
    days_before: tuple[int, ...] = (5, 2, 1)
    deadline_day_at: tuple[time, ...] = (time(9, 30), time(15, 0))

    @field_validator("days_before")
    @classmethod
    def _days_before(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= day <= 20 for day in value) or len(set(value)) != len(value):
            raise ValueError("应为 1 到 20 之间、互不重复的工作日数")
        return value


class ItemReminderSettings(JobSettings):
    """``[schedules.item-reminder]``: amber and red 督办 items remind their lead units on working mornings."""

    at: time = time(9, 15)


class RoundReminderSettings(JobSettings):
    """``[schedules.round-reminder]``: open collections due within ``workdays_before`` working days (or overdue)
    remind the units that have not answered, on working mornings."""

    at: time = time(10, 0)
    workdays_before: int = Field(default=2, ge=0, le=20)


class PeriodicRoundSettings(JobSettings):
    """``[schedules.quarterly-round]`` / ``[schedules.half-year-round]``: off unless switched on; opened on the first
    working day after the period, due on its ``due_workdays``-th working day after the period's end."""

    enabled: bool = False
    due_workdays: int = Field(default=10, ge=1, le=60)
    title: str = ""  # "{period}" stands for 2026年第四季度工作情况; empty: that title
    instructions: str = ""
    fields: tuple[str, ...] = ()


class MeetingReminderSettings(JobSettings):
    """``[schedules.meeting-reminder]``: the morning of each meeting, every unit asked is reminded of the time and
    place (every day by default: a meeting posted by chat may fall on any day)."""

    at: time = time(8, 30)
    holiday_policy: HolidayPolicy = "keep"


MeetingMove = Literal["next", "previous", "skip", "keep"]
"""Where a declared meeting whose day is not a working day goes: the next or the previous working day, nowhere
(not held that time), or nowhere else (held on the day)."""


class MeetingSeries(BaseModel):
    """``[[schedules.meetings]]``: a recurring meeting (一周一会商、一月一调度、双月一汇报), posted as a 会议 notice
    ``notice_workdays`` working days ahead.

    Weekly: ``weekday`` (1 = 周一) every ``every_weeks`` weeks; monthly: ``day`` of the month (the month's last day
    when it is shorter) every ``every_months`` months. ``start`` is the first day the series may fall on and fixes
    which weeks or months count (without it: weeks from 2026-01-05, months from January). ``groups``: where it is
    posted (empty: every member group); when one group is named, the units asked are that group's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=60)
    weekday: int | None = Field(default=None, ge=1, le=7)
    every_weeks: int = Field(default=1, ge=1, le=12)
    day: int | None = Field(default=None, ge=1, le=31)
    every_months: int = Field(default=1, ge=1, le=12)
    start: date | None = None
    at: time = time(15, 0)
    place: str = Field(default="", max_length=200)
    attendees: str = Field(default="", max_length=200)
    notice_workdays: int = Field(default=3, ge=1, le=20)
    groups: tuple[str, ...] = ()
    holiday_policy: MeetingMove = "next"

    @model_validator(mode="after")
    def _weekly_or_monthly(self) -> MeetingSeries:
        if (self.weekday is None) == (self.day is None):
            raise ValueError("weekday（每周几）与 day（每月几日）应且只应设置其一")
        return self


class ScheduleSettings(BaseModel):
    """``[schedules]``: every timed job, the deadline policy, the catch-up grace and the office's working-day lists."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    weekly_briefing: JobSettings = Field(default_factory=JobSettings, alias="weekly-briefing")
    monthly_circular: JobSettings = Field(default_factory=JobSettings, alias="monthly-circular")
    deadline_reminder: ReminderSettings = Field(default_factory=ReminderSettings, alias="deadline-reminder")
    overdue_notice: JobSettings = Field(default_factory=JobSettings, alias="overdue-notice")
    # Amber and red 督办 items remind their lead units' liaisons on working mornings.
    item_reminder: ItemReminderSettings = Field(default_factory=ItemReminderSettings, alias="item-reminder")
    round_reminder: RoundReminderSettings = Field(default_factory=RoundReminderSettings, alias="round-reminder")
    quarterly_round: PeriodicRoundSettings = Field(default_factory=PeriodicRoundSettings, alias="quarterly-round")
    half_year_round: PeriodicRoundSettings = Field(default_factory=PeriodicRoundSettings, alias="half-year-round")
    meeting_notice: JobSettings = Field(default_factory=JobSettings, alias="meeting-notice")
    meeting_reminder: MeetingReminderSettings = Field(default_factory=MeetingReminderSettings, alias="meeting-reminder")
    meetings: tuple[MeetingSeries, ...] = ()
    deadline_policy: DeadlinePolicy = "keep"
    catchup_grace_hours: float = Field(default=6, ge=0, le=168)
    templates_dir: Path | None = None
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _one_key_per_job(cls, data: Any) -> Any:
        """The file writes ``weekly-briefing``, the environment ``WEEKLY_BRIEFING``: one job, the environment wins."""
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, field in cls.model_fields.items():
            alias = field.alias
            if alias and isinstance(merged.get(alias), dict) and isinstance(merged.get(name), dict):
                merged[name] = {**merged.pop(alias), **merged[name]}
        return merged

    @field_validator("templates_dir", mode="before")
    @classmethod
    def _templates_dir_exists(cls, value: Any) -> Any:
        if value in ("", None):
            return None
        if not Path(value).is_dir():
            raise ValueError("目录不存在")
        return value

    @field_validator("meetings")
    @classmethod
    def _meeting_titles_unique(cls, value: tuple[MeetingSeries, ...]) -> tuple[MeetingSeries, ...]:
        titles = [series.title for series in value]
        repeated = sorted({title for title in titles if titles.count(title) > 1})
        if repeated:
            raise ValueError(f"会议名称重复：{'、'.join(repeated)}（名称标识一个例会，应互不相同）")
        return value

    @model_validator(mode="after")
    def _days_listed_once(self) -> ScheduleSettings:
        both = sorted(self.extra_holidays & self.extra_workdays)
        if both:
            listed = "、".join(day.isoformat() for day in both)
            raise ValueError(f"{listed} 同时列在 extra_holidays 和 extra_workdays 中")
        return self

    def jobs(self) -> dict[str, JobSettings]:
        """Each job's settings by its name in the TOML (``weekly-briefing`` …)."""
        found = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, JobSettings):
                found[field.alias or name] = value
        return found

    @property
    def catchup_grace(self) -> timedelta:
        return timedelta(hours=self.catchup_grace_hours)

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
