"""When each job runs: occurrences as pure functions of the working calendar and the settings.

``duban jobs list``, the scheduler, the catch-up at start-up and the office's ``周报 发送`` all ask the
:class:`Planner`, so what the office is shown is what fires. An occurrence's ``at`` (an aware datetime in the
office's zone) is also the key of its claim.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from schedules.calendar import WorkCalendar
from schedules.dates import day_label, month_key, week_key, week_monday
from schedules.settings import (
    DEADLINE_REMINDER,
    ITEM_REMINDER,
    MONTHLY_CIRCULAR,
    OVERDUE_NOTICE,
    WEEKLY_BRIEFING,
    JobSettings,
    ScheduleSettings,
)
from storage.periods import Period
from storage.policy import Policy

if TYPE_CHECKING:
    from schedules.job import Job


def _jobs() -> tuple[Job, ...]:
    """The registered jobs, imported when first needed: the registry declares them with this module's planner."""
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

    def _at(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.tz)

    def _why(self, day: date) -> str:
        return f"{day_label(day)}为{self.calendar.explain(day).reason}"

    # --- weekly briefing -------------------------------------------------------------------------------

    def week_occurrence(self, day: date) -> Occurrence:
        """The weekly briefing of the week (Monday to Sunday) holding ``day``."""
        config = self.settings.weekly_briefing
        monday = week_monday(day)
        subject = week_key(monday)
        if self.calendar.is_workday(monday):
            return Occurrence(WEEKLY_BRIEFING, self._at(monday, config.at), monday, subject)
        why = self._why(monday)
        if config.holiday_policy == "keep":
            return Occurrence(WEEKLY_BRIEFING, self._at(monday, config.at), monday, subject, f"{why}，按设置照常发送")
        if config.holiday_policy == "skip":
            note = f"{why}，按设置本周不发送"
            return Occurrence(WEEKLY_BRIEFING, self._at(monday, config.at), monday, subject, note, skipped=True)
        first = self.calendar.first_workday_of_week(monday)
        if first is None:
            reason = self.calendar.explain(monday).reason
            note = f"本周（{monday.month}月{monday.day}日起）没有工作日（{reason}），本周不发送"
            return Occurrence(WEEKLY_BRIEFING, self._at(monday, config.at), monday, subject, note, skipped=True)
        note = f"{why}，顺延至本周第一个工作日{day_label(first)}"
        return Occurrence(WEEKLY_BRIEFING, self._at(first, config.at), monday, subject, note)

    def weekly(self, start: date, end: date) -> list[Occurrence]:
        found = []
        monday = week_monday(start)
        while monday <= end:
            found.append(self.week_occurrence(monday))
            monday += timedelta(days=7)
        return found

    # --- monthly circular ------------------------------------------------------------------------------

    def month_occurrence(self, day: date) -> Occurrence:
        """The monthly circular of the month holding ``day``."""
        config = self.settings.monthly_circular
        first = day.replace(day=1)
        return self._on_workday(MONTHLY_CIRCULAR, config, first, month_key(first))

    def monthly(self, start: date, end: date) -> list[Occurrence]:
        found = []
        first = start.replace(day=1)
        while first <= end:
            found.append(self.month_occurrence(first))
            first = (first + timedelta(days=32)).replace(day=1)
        return found

    def _on_workday(self, job: str, config: JobSettings, nominal: date, subject: str, prefix: str = "") -> Occurrence:
        """An occurrence due on ``nominal``, moved to the next working day under the shift policy."""
        if self.calendar.is_workday(nominal):
            return Occurrence(job, self._at(nominal, config.at), nominal, subject, prefix)
        why = prefix + self._why(nominal)
        if config.holiday_policy == "keep":
            return Occurrence(job, self._at(nominal, config.at), nominal, subject, f"{why}，按设置照常发送")
        if config.holiday_policy == "skip":
            note = f"{why}，按设置本次不发送"
            return Occurrence(job, self._at(nominal, config.at), nominal, subject, note, skipped=True)
        moved = self.calendar.next_workday(nominal)
        return Occurrence(job, self._at(moved, config.at), nominal, subject, f"{why}，顺延至{day_label(moved)}")

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

    def _deadline_note(self, period: Period) -> str:
        nominal = self.policy.deadline.nominal_due_date(period)
        due = self.policy.deadline.due_date(period)
        if due == nominal:
            return ""
        direction = "提前" if due < nominal else "顺延"
        return f"截止日{self._why(nominal)}，按设置{direction}至{day_label(due)}；"

    def reminders_for(self, period: Period) -> list[Occurrence]:
        config = self.settings.deadline_reminder
        due = self.policy.deadline.due_date(period)
        prefix = self._deadline_note(period)
        found: dict[datetime, Occurrence] = {}
        for n in sorted(config.days_before, reverse=True):
            day = self.calendar.nth_workday_before(due, n)
            at = self._at(day, config.at)
            found[at] = Occurrence(DEADLINE_REMINDER, at, due, str(period), f"{prefix}截止日前第{n}个工作日")
        for at_time in config.deadline_day_at:
            occurrence = self._deadline_day_reminder(period, due, at_time, prefix)
            existing = found.get(occurrence.at)
            if existing is None:
                found[occurrence.at] = occurrence
            elif not occurrence.skipped:  # a deadline-day reminder moved onto one already planned: one post
                merged = f"{existing.note}；{occurrence.note.removeprefix(prefix)}"
                found[occurrence.at] = Occurrence(DEADLINE_REMINDER, occurrence.at, due, str(period), merged)
        return sorted(found.values(), key=lambda occurrence: occurrence.at)

    def _deadline_day_reminder(self, period: Period, due: date, at_time: time, prefix: str) -> Occurrence:
        config = self.settings.deadline_reminder
        if self.calendar.is_workday(due) or config.holiday_policy == "keep":
            note = f"{prefix}截止日当天" + (
                "" if self.calendar.is_workday(due) else f"（{self._why(due)}，按设置照常发送）"
            )
            return Occurrence(DEADLINE_REMINDER, self._at(due, at_time), due, str(period), note)
        why = f"截止日{self._why(due)}"
        if config.holiday_policy == "skip":
            note = f"{prefix}{why}，按设置当天不发送"
            return Occurrence(DEADLINE_REMINDER, self._at(due, at_time), due, str(period), note, skipped=True)
        before = self.calendar.previous_workday(due)
        note = f"{prefix}{why}，截止日当天的提醒提前至{day_label(before)}"
        return Occurrence(DEADLINE_REMINDER, self._at(before, at_time), due, str(period), note)

    def reminders(self, start: date, end: date) -> list[Occurrence]:
        search_end = end + timedelta(days=45)  # the 5th working day before a deadline may be weeks earlier
        found = []
        for period in self.periods_due_between(start, search_end):
            found += [o for o in self.reminders_for(period) if start <= o.at.date() <= end]
        return found

    def overdue_for(self, period: Period) -> Occurrence:
        config = self.settings.overdue_notice
        due = self.policy.deadline.due_date(period)
        prefix = self._deadline_note(period)
        return self._on_workday(OVERDUE_NOTICE, config, due + timedelta(days=1), str(period), prefix)

    def overdue(self, start: date, end: date) -> list[Occurrence]:
        found = []
        for period in self.periods_due_between(start - timedelta(days=45), end):
            occurrence = self.overdue_for(period)
            if start <= occurrence.at.date() <= end:
                found.append(occurrence)
        return found

    # --- 督办 item reminders ---------------------------------------------------------------------------

    def item_reminders(self, start: date, end: date) -> list[Occurrence]:
        """Every working morning (every day under ``keep``); the claim on each makes it once a day at most."""
        config = self.settings.item_reminder
        found = []
        day = start
        while day <= end:
            if config.holiday_policy == "keep" or self.calendar.is_workday(day):
                found.append(Occurrence(ITEM_REMINDER, self._at(day, config.at), day, day.isoformat()))
            day += timedelta(days=1)
        return found

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
            if job.name in names and (not enabled_only or job.settings_of(self.settings).enabled):
                found += [o for o in job.plan(self, start, end) if start <= o.at.date() <= end]
        return sorted(found, key=lambda o: (o.at, order[o.job]))

    def due(self, start: datetime, end: datetime) -> list[Occurrence]:
        """Occurrences that fire in ``[start, end)`` (aware datetimes), skipped ones left out."""
        first, last = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        return [o for o in self.occurrences(first, last) if not o.skipped and start <= o.at < end]

    # --- what an occurrence is about -------------------------------------------------------------------

    def reminder_period(self, at: datetime) -> Period:
        """The period a reminder at ``at`` chases: the one with the nearest deadline not before it."""
        local = at.astimezone(self.tz).date()
        candidates = [Period.of(local).previous().previous(), Period.of(local).previous(), Period.of(local)]
        upcoming = [p for p in candidates if self.policy.deadline.due_date(p) >= local]
        return min(upcoming, key=self.policy.deadline.due_date)

    def overdue_period(self, at: datetime) -> Period:
        """The period an overdue notice at ``at`` names: the one whose deadline passed most recently."""
        local = at.astimezone(self.tz).date()
        candidates = [Period.of(local).previous().previous().previous(), Period.of(local).previous().previous()]
        candidates.append(Period.of(local).previous())
        passed = [p for p in candidates if self.policy.deadline.due_date(p) < local]
        return max(passed, key=self.policy.deadline.due_date)
