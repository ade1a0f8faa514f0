"""When each job runs: occurrences as pure functions of the working calendar and the settings.

``duban jobs list``, the scheduler, the catch-up at start-up and the office's ``周报 发送`` all ask the
:class:`Planner`, so what the office is shown is what fires. Each job's own rule is its ``plan`` (in its module
under :mod:`schedules.kinds`); the planner holds what they share (moving a day off a holiday, the deadlines).
An occurrence's ``at`` (an aware datetime in the office's zone) is also the key of its claim.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from schedules.dates import day_label
from storage.periods import Period

if TYPE_CHECKING:
    from schedules.calendar import WorkCalendar
    from schedules.job import Job, JobSettings
    from schedules.settings import ScheduleSettings
    from storage.policy import Policy


def _jobs() -> tuple[Job[Any], ...]:
    """The registered jobs, imported when first needed: the job modules plan with this module's planner."""
    from schedules.registry import JOBS

    return JOBS


@dataclass(frozen=True)
class Occurrence:
    """One run of a job. ``skipped`` ones are shown by ``jobs list`` but never fire."""

    job: str
    at: datetime  # aware, in the office's zone
    nominal: date  # the day the rule names: the Monday, the 1st, the deadline…
    subject: str  # what it is about: the week (2026-W45), the month (2026-12) or the period (2026-10)
    note: str = ""
    skipped: bool = False

    @property
    def title(self) -> str:
        return next(job.title for job in _jobs() if job.name == self.job)

    @property
    def utc(self) -> datetime:
        return self.at.astimezone(UTC)

    @property
    def key(self) -> str:
        """``weekly-briefing:2026-11-02T09:00:00+08:00``: names the occurrence in dedupe keys and drafts."""
        return f"{self.job}:{self.at.isoformat()}"


def occurrence_key(job: str, at: datetime) -> str:
    return f"{job}:{at.isoformat()}"


class Planner:
    """Every job's occurrences for one office (its policy, settings and calendar)."""

    def __init__(self, policy: Policy, settings: ScheduleSettings, calendar: WorkCalendar) -> None:
        self.policy = policy
        self.settings = settings
        self.calendar = calendar
        self.tz = policy.tz

    def at(self, day: date, at: time) -> datetime:
        """``day`` at ``at`` in the office's zone."""
        return datetime.combine(day, at, tzinfo=self.tz)

    def why(self, day: date) -> str:
        """Why ``day`` is not a working day: ``10月1日（周四）为国庆节``."""
        return f"{day_label(day)}为{self.calendar.explain(day).reason}"

    def on_workday(self, job: str, config: JobSettings, nominal: date, subject: str, prefix: str = "") -> Occurrence:
        """An occurrence due on ``nominal``, moved to the next working day under the shift policy."""
        if self.calendar.is_workday(nominal):
            return Occurrence(job, self.at(nominal, config.at), nominal, subject, prefix)
        why = prefix + self.why(nominal)
        if config.holiday_policy == "keep":
            return Occurrence(job, self.at(nominal, config.at), nominal, subject, f"{why}，按设置照常发送")
        if config.holiday_policy == "skip":
            note = f"{why}，按设置本次不发送"
            return Occurrence(job, self.at(nominal, config.at), nominal, subject, note, skipped=True)
        moved = self.calendar.next_workday(nominal)
        return Occurrence(job, self.at(moved, config.at), nominal, subject, f"{why}，顺延至{day_label(moved)}")

    def every_workday(self, job: str, config: JobSettings, start: date, end: date) -> list[Occurrence]:
        """Every working day (every day under ``keep``) at ``config.at``; the claim makes it once a day at most."""
        found = []
        day = start
        while day <= end:
            if config.holiday_policy == "keep" or self.calendar.is_workday(day):
                found.append(Occurrence(job, self.at(day, config.at), day, day.isoformat()))
            day += timedelta(days=1)
        return found

    # --- deadlines -------------------------------------------------------------------------------------

    def periods_due_between(self, start: date, end: date) -> list[Period]:
        """Periods whose (adjusted) due date falls between ``start`` and ``end`` inclusive."""
        period = Period.of(start).previous().previous()
        found = []
        while period.first_day <= end:
            if start <= self.policy.deadline.due_date(period) <= end:
                found.append(period)
            period = period.next()
        return found

    def deadline_note(self, period: Period) -> str:
        """Why ``period``'s deadline moved (``""`` when it did not), as a prefix for an occurrence's note."""
        nominal = self.policy.deadline.nominal_due_date(period)
        due = self.policy.deadline.due_date(period)
        if due == nominal:
            return ""
        direction = "提前" if due < nominal else "顺延"
        return f"截止日{self.why(nominal)}，按设置{direction}至{day_label(due)}；"

    # --- all of them -----------------------------------------------------------------------------------

    def occurrences(
        self, start: date, end: date, *, jobs: Iterable[str] | None = None, enabled_only: bool = True
    ) -> list[Occurrence]:
        """Every occurrence dated ``start`` to ``end`` (inclusive), in time order, skipped ones included."""
        registered = _jobs()
        names = set(jobs) if jobs is not None else {job.name for job in registered}
        order = {job.name: index for index, job in enumerate(registered)}
        found: list[Occurrence] = []
        for job in registered:
            if job.name in names and (not enabled_only or self.settings.job(job).enabled):
                found += [o for o in job.plan(self, start, end) if start <= o.at.date() <= end]
        return sorted(found, key=lambda o: (o.at, order[o.job]))

    def due(self, start: datetime, end: datetime) -> list[Occurrence]:
        """Occurrences that fire in ``[start, end)`` (aware datetimes), skipped ones left out."""
        first, last = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        return [o for o in self.occurrences(first, last) if not o.skipped and start <= o.at < end]
