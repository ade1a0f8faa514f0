"""Reporting periods (a month, ``YYYY-MM``) and their deadlines.

A unit reports *last* month's progress before the deadline of the current month (seed 000:
于每月25日前报送上月有关工作进展), so the period open for reports in November 2026 is 2026-10, due on
25 November 2026 at the configured time, in the office's time zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 2000 <= self.year <= 2999:
            raise ValueError(f"invalid period {self.year}-{self.month}")

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(text.strip())
        if not match:
            raise ValueError(f"期别应写作 YYYY-MM，例如 2026-10（收到 {text!r}）")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        """As an office writes it: 2026年10月."""
        return f"{self.year}年{self.month}月"

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)


@dataclass(frozen=True)
class DeadlineRule:
    """When a period's report is due: ``day`` of the following month at ``at`` local time.

    ``shift`` moves a nominal due date that is not a working day (the office's deadline policy: keep, previous
    or next working day); the shell builds it from the working calendar, so storage needs no calendar.
    """

    tz: ZoneInfo
    day: int = 25
    at: time = time(23, 59, 59)
    shift: Callable[[date], date] | None = field(default=None, compare=False)

    def nominal_due_date(self, period: Period) -> date:
        following = period.next()
        return date(following.year, following.month, self.day)

    def due_date(self, period: Period) -> date:
        nominal = self.nominal_due_date(period)
        return self.shift(nominal) if self.shift is not None else nominal

    def deadline(self, period: Period) -> datetime:
        """The last moment a report counts as on time, as an aware UTC datetime."""
        local = datetime.combine(self.due_date(period), self.at, tzinfo=self.tz)
        return local.astimezone(UTC)

    def open_period(self, now: datetime) -> Period:
        """The period a report written at ``now`` belongs to by default: the previous month."""
        return Period.of(now.astimezone(self.tz).date()).previous()

    def is_on_time(self, period: Period, received_at: datetime) -> bool:
        """Whole seconds decide: 23:59:59.6 is still within 23:59:59, as the confirmation shows it."""
        return received_at.replace(microsecond=0) <= self.deadline(period)
