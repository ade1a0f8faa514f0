"""Template filters: times in the office's zone, as an office writes them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, tzinfo
from typing import Any


def local(moment: datetime | None, tz: tzinfo, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(tz).strftime(pattern) if moment is not None else ""


def day(value: date | None) -> str:
    return f"{value.year}年{value.month}月{value.day}日" if value is not None else ""


def percent(value: float) -> str:
    return f"{value:.1%}"


FILTERS: dict[str, Callable[..., Any]] = {"local": local, "day": day, "percent": percent}
