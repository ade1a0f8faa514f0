"""The settings handlers and jobs work by, handed down from the application shell."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from storage.periods import DeadlineRule


@dataclass(frozen=True)
class Policy:
    tz: ZoneInfo
    office_name: str
    deadline: DeadlineRule
