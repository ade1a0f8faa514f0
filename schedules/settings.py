"""``[schedules]`` of the TOML, defined once: the common keys here, one typed section per registered job.

``ScheduleSettings`` is built from the job declarations (:mod:`schedules.registry`): each job's ``settings`` model
becomes a field named after it (``[schedules.weekly-briefing]`` in the file, ``DUBAN_SCHEDULES__WEEKLY_BRIEFING__AT``
in the environment), so a new job's section is accepted without editing this module, and an unknown section is
refused. ``bot.config.Settings.schedules`` holds it; the same object rides on ``Policy.schedules`` to the handlers
and the jobs, which read a job's settings typed with :meth:`CommonScheduleSettings.job`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from schedules.job import Job, JobSettings, SettingsT
from schedules.meetings import MeetingSeries
from storage.policy import Policy

if TYPE_CHECKING:
    from schedules.calendar import WorkCalendar

DeadlinePolicy = Literal["keep", "previous", "next"]
"""What happens to a deadline that falls on a non-working day: stays, or moves to the previous or next
working day."""


class CommonScheduleSettings(BaseModel):
    """``[schedules]`` but the jobs' sections: the declared meetings, the deadline policy, the catch-up grace, the
    templates and the office's working-day lists; and the typed way to a job's section."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

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
    def _days_listed_once(self) -> CommonScheduleSettings:
        both = sorted(self.extra_holidays & self.extra_workdays)
        if both:
            listed = "、".join(day.isoformat() for day in both)
            raise ValueError(f"{listed} 同时列在 extra_holidays 和 extra_workdays 中")
        return self

    def job(self, job: Job[SettingsT]) -> SettingsT:
        """``job``'s own section, of its own settings type (``settings.job(deadline_reminder.JOB).days_before``)."""
        value = getattr(self, job.field)
        if not isinstance(value, job.settings):
            raise TypeError(f"[schedules.{job.name}] 不是 {job.settings.__name__}")
        return value

    def jobs(self) -> dict[str, JobSettings]:
        """Each registered job's settings by its name in the TOML (``weekly-briefing`` …), in the registry's order."""
        from schedules.registry import JOBS

        return {job.name: self.job(job) for job in JOBS}

    @property
    def catchup_grace(self) -> timedelta:
        return timedelta(hours=self.catchup_grace_hours)

    def calendar(self) -> WorkCalendar:
        from schedules.calendar import WorkCalendar  # chinesecalendar and holidays load only when asked

        return WorkCalendar(extra_holidays=self.extra_holidays, extra_workdays=self.extra_workdays)


def _with_job_sections() -> type[CommonScheduleSettings]:
    """The common keys plus one field per registered job: its settings model, defaults when the section is absent."""
    from schedules.registry import JOBS

    sections: dict[str, Any] = {
        job.field: (job.settings, Field(default_factory=job.settings, alias=job.name)) for job in JOBS
    }
    return create_model("ScheduleSettings", __base__=CommonScheduleSettings, __module__=__name__, **sections)


if TYPE_CHECKING:
    # Type checkers see the common model; a job's section is read through ``job()``, typed by the declaration.
    ScheduleSettings = CommonScheduleSettings
else:
    ScheduleSettings = _with_job_sections()


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
