"""``[schedules]`` of the configuration turned into the plain objects ``schedules`` works with."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.config import JobConfig, ReminderJobConfig, Settings
from schedules.settings import JobSettings, ReminderSettings, ScheduleSettings


def _job(config: JobConfig) -> JobSettings:
    return JobSettings(
        enabled=config.enabled, at=config.at, groups=tuple(config.groups), holiday_policy=config.holiday_policy
    )


def _reminder(config: ReminderJobConfig) -> ReminderSettings:
    return ReminderSettings(
        enabled=config.enabled,
        at=config.at,
        groups=tuple(config.groups),
        holiday_policy=config.holiday_policy,
        days_before=tuple(config.days_before),
        deadline_day_at=tuple(config.deadline_day_at),
    )


def schedule_settings_of(settings: Settings) -> ScheduleSettings:
    config = settings.schedules
    return ScheduleSettings(
        weekly_briefing=_job(config.weekly_briefing),
        monthly_circular=_job(config.monthly_circular),
        deadline_reminder=_reminder(config.deadline_reminder),
        overdue_notice=_job(config.overdue_notice),
        item_reminder=_job(config.item_reminder),
        deadline_policy=config.deadline_policy,
        catchup_grace=timedelta(hours=config.catchup_grace_hours),
        templates_dir=Path(config.templates_dir) if config.templates_dir else None,
        extra_holidays=frozenset(config.extra_holidays),
        extra_workdays=frozenset(config.extra_workdays),
    )
