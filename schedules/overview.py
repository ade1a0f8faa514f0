"""What ``duban jobs list`` shows beside the occurrences: every job, on or off, with its rule and its next run; the
built-in monthly report round; and the collections and meetings open now (from the database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from schedules.compose import OpenRound, open_round_lines
from schedules.context import ScheduleEnv
from schedules.dates import moment_label
from schedules.job import Job
from schedules.registry import JOBS
from storage import meetings
from storage.periods import Period
from storage.standing import PeriodStanding, period_standing

# Far enough ahead for the next opening of a half-year round (six months, moved past a holiday).
NEXT_WITHIN = timedelta(days=200)

DEADLINE_MOVES = {
    "keep": "遇休息日不调整",
    "previous": "遇休息日提前至前一个工作日",
    "next": "遇休息日顺延至下一个工作日",
}


@dataclass(frozen=True)
class JobSummary:
    job: Job[Any]
    enabled: bool
    rule: str
    next_at: datetime | None  # the next occurrence after now that fires (were the job on), within NEXT_WITHIN


def job_summaries(env: ScheduleEnv, now: datetime) -> list[JobSummary]:
    """Every registered job in the registry's order, switched off ones included."""
    today = now.astimezone(env.policy.tz).date()
    found = []
    for job in JOBS:
        planned = env.planner.occurrences(today, today + NEXT_WITHIN, jobs=[job.name], enabled_only=False)
        upcoming = next((o.at for o in planned if not o.skipped and o.at > now), None)
        rule = job.describe(env.settings) if job.describe is not None else ""
        found.append(JobSummary(job, env.settings.job(job).enabled, rule, upcoming))
    return found


def job_line(summary: JobSummary, env: ScheduleEnv) -> str:
    state = "已开启" if summary.enabled else "未开启"
    parts = [f"{summary.job.title}：{state}"]
    if summary.rule:
        parts.append(summary.rule)
    if summary.next_at is not None:
        when = moment_label(summary.next_at, env.policy.tz, year=True)
        parts.append(f"下次：{when}" if summary.enabled else f"若开启，下次：{when}")
    return "；".join(parts)


def monthly_round_line(env: ScheduleEnv, now: datetime, standing: PeriodStanding | None) -> str:
    """The built-in monthly report round: its rule, the period reported now and, with the database, its standing."""
    rule = env.policy.deadline
    period = rule.open_period(now)
    moves = DEADLINE_MOVES[env.settings.deadline_policy]
    line = (
        f"月度工作进展报送（内置）：各成员单位每月报送上月工作进展，截止次月{rule.day}日{rule.at:%H:%M}（{moves}）；"
        f"本期{period.label}，截止{moment_label(rule.deadline(period), env.policy.tz, year=True)}"
    )
    if standing is not None:
        on_time, late, missing = len(standing.on_time), len(standing.late), len(standing.missing)
        line += f"，已报送{on_time + late}家（按时{on_time}、逾期{late}），未报送{missing}家"
    return line


def open_round_line(found: OpenRound, env: ScheduleEnv) -> str:
    deadline = moment_label(found.deadline, env.policy.tz, year=True)
    if found.kind == meetings.KIND:
        return (
            f"会议#{found.number}“{found.title}”：回执截止{deadline}，已回执{found.answered}家/共{found.asked}家，"
            f"未回执{found.missing}家"
        )
    return (
        f"征集#{found.number}“{found.title}”：截止{deadline}，已答复{found.answered}家/共{found.asked}家，"
        f"未答复{found.missing}家"
    )


@dataclass(frozen=True)
class OpenNow:
    """What the database says at the moment of listing."""

    monthly: PeriodStanding
    rounds: list[OpenRound]


async def open_now(session: AsyncSession, env: ScheduleEnv, now: datetime) -> OpenNow:
    period: Period = env.policy.deadline.open_period(now)
    return OpenNow(await period_standing(session, period), await open_round_lines(session, env))


def overview_lines(env: ScheduleEnv, now: datetime, found: OpenNow | None, why_not: str) -> list[str]:
    """The sections ``duban jobs list`` ends with; ``why_not`` says why the database was not read (``found`` None)."""
    lines = ["", "各定时任务与报送、征集轮次："]
    lines.append("  " + monthly_round_line(env, now, found.monthly if found else None))
    lines += ["  " + job_line(summary, env) for summary in job_summaries(env, now)]
    lines += ["", "进行中的征集与会议："]
    if found is None:
        lines.append(f"  （{why_not}，未列出）")
    elif not found.rounds:
        lines.append("  （暂无）")
    else:
        lines += ["  " + open_round_line(open_round, env) for open_round in found.rounds]
    return lines
