"""What a job runs with: the office's policy, its calendar and planner, the templates, and the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from schedules.calendar import WorkCalendar
from schedules.occurrences import Planner
from schedules.templating import Templates, templates_for
from storage.db import Database
from storage.policy import Policy

if TYPE_CHECKING:
    from schedules.settings import ScheduleSettings


@dataclass(frozen=True)
class ScheduleEnv:
    """Everything a job or an office command needs to compose a briefing, without the database."""

    policy: Policy
    settings: ScheduleSettings
    calendar: WorkCalendar
    planner: Planner
    templates: Templates

    @classmethod
    def of(cls, policy: Policy) -> ScheduleEnv:
        settings = policy.schedules
        calendar = settings.calendar()
        return cls(
            policy=policy,
            settings=settings,
            calendar=calendar,
            planner=Planner(policy, settings, calendar),
            templates=templates_for(policy.tz, settings.templates_dir),
        )


@dataclass
class JobContext:
    """A job's world: the database it claims and writes in, and the instance it runs as."""

    db: Database
    env: ScheduleEnv
    instance_id: str = field(default="duban")

    @classmethod
    def create(cls, db: Database, policy: Policy, instance_id: str = "duban") -> JobContext:
        return cls(db=db, env=ScheduleEnv.of(policy), instance_id=instance_id)

    @property
    def policy(self) -> Policy:
        return self.env.policy

    @property
    def settings(self) -> ScheduleSettings:
        return self.env.settings

    @staticmethod
    def now() -> datetime:
        """The current time (tests freeze it with time_machine)."""
        return datetime.now(UTC)
