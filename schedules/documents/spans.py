"""The spans a document covers: a month (``2026-10``), a quarter (``2026Q4``) or a half-year (``2026H2``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from storage.periods import Period

_QUARTER = re.compile(r"^(\d{4})\s*[Qq]([1-4])$")
_HALF = re.compile(r"^(\d{4})\s*[Hh]([12])$")
_QUARTER_NAMES = ("一", "二", "三", "四")


@dataclass(frozen=True)
class Span:
    """Consecutive reporting periods under one name (一季度, 下半年…)."""

    periods: tuple[Period, ...]
    key: str  # 2026Q4, 2026H2, 2026-10
    label: str  # 2026年第四季度, 2026年下半年, 2026年10月

    @property
    def first(self) -> Period:
        return self.periods[0]

    @property
    def last(self) -> Period:
        return self.periods[-1]


def _run(year: int, first_month: int, months: int) -> tuple[Period, ...]:
    return tuple(Period(year, month) for month in range(first_month, first_month + months))


def month_span(period: Period) -> Span:
    return Span((period,), str(period), period.label)


def parse_quarter(text: str) -> Span:
    match = _QUARTER.match(text.strip())
    if not match:
        raise ValueError(f"季度应写作 YYYYQn，例如 2026Q4（收到 {text!r}）")
    year, quarter = int(match[1]), int(match[2])
    return Span(_run(year, 3 * quarter - 2, 3), f"{year}Q{quarter}", f"{year}年第{_QUARTER_NAMES[quarter - 1]}季度")


def parse_half(text: str) -> Span:
    match = _HALF.match(text.strip())
    if not match:
        raise ValueError(f"半年应写作 YYYYH1 或 YYYYH2，例如 2026H2（收到 {text!r}）")
    year, half = int(match[1]), int(match[2])
    return Span(_run(year, 6 * half - 5, 6), f"{year}H{half}", f"{year}年{'上' if half == 1 else '下'}半年")
