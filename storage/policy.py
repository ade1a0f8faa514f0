"""The settings handlers and jobs work by, handed down from the application shell."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from storage.periods import DeadlineRule

if TYPE_CHECKING:
    from schedules.settings import ScheduleSettings


def _default_schedules() -> ScheduleSettings:
    # Imported here: the settings model belongs to ``schedules``, which imports storage, not the other way round.
    from schedules.settings import ScheduleSettings

    return ScheduleSettings()


@dataclass(frozen=True)
class Policy:
    tz: ZoneInfo
    office_name: str
    deadline: DeadlineRule
    # The timed jobs' settings, read typed by handlers and jobs; the defaults when nothing was configured.
    schedules: ScheduleSettings = field(default_factory=_default_schedules, compare=False)
