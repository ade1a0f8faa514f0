"""定时任务: the plan (the scheduler's own planner) with holiday notes, and what became of each past occurrence.

A past occurrence's fate is read from its claim (:mod:`schedules.claims`): posted (on time, or caught up —
补发 — after the service was down), nothing to say, dropped, missed beyond the catch-up grace, replaced by a
later run, sent early by hand; no claim at all means it has not run (the service was not running then).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import select

from bot.console.base import context_of, render, require_office
from schedules import claims
from schedules.catchup import LATE_AFTER
from schedules.context import ScheduleEnv
from schedules.listing import Check, fold_checks
from schedules.occurrences import Occurrence
from schedules.registry import JOB_NAMES, JOB_TITLES, JOBS
from schedules.special_days import special_days
from storage.models import JobClaim, utcnow

routes = web.RouteTableDef()
PAST_DAYS = 14
AHEAD_DAYS = 31
STATUS_LABELS = {
    claims.POSTED: "已发送",
    claims.NOTHING: "已执行（无需发送）",
    claims.DROPPED: "未发送（已过时）",
    claims.MISSED: "错过（已告知办公室）",
    claims.COALESCED: "由较晚一次补发代替",
    claims.MANUAL: "已提前手动发送",
    claims.CLAIMED: "执行中",
}


@dataclass(frozen=True)
class PlanLine:
    occurrence: Occurrence
    past: bool
    fate: str  # what happened, in Chinese ("" for a coming one)
    kind: str  # css: ok | late | missing | open
    claim: JobClaim | None


def fate_of(occurrence: Occurrence, claim: JobClaim | None, now: datetime, epoch: datetime | None) -> tuple[str, str]:
    if occurrence.skipped:
        return "不发送", "open"
    if occurrence.at > now:
        return "", "open"
    if claim is None:
        if epoch is None or occurrence.at < epoch:
            return "（尚未启用定时任务）", "open"
        return "未执行（服务未运行）", "missing"
    label = STATUS_LABELS.get(claim.status, claim.status)
    if claim.status == claims.POSTED and claim.claimed_at - occurrence.utc > LATE_AFTER:
        return "已补发", "late"
    if claim.status in (claims.MISSED,):
        return label, "missing"
    if claim.status in (claims.DROPPED, claims.COALESCED):
        return label, "late"
    return label, "ok"


@routes.get("/jobs")
async def jobs(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    ctx = context_of(request)
    policy = ctx.policy
    now = utcnow()
    env = ScheduleEnv.of(policy)
    today = now.astimezone(policy.tz).date()
    start, end = today - timedelta(days=PAST_DAYS), today + timedelta(days=AHEAD_DAYS)
    job = request.query.get("job", "")
    occurrences = env.planner.occurrences(start, end, jobs=[job] if job in JOB_NAMES else None)
    checks: list[Check] = []
    if job not in JOB_NAMES:  # the whole plan: a checking job's coming days are one line (a filter shows them all)
        coming, checks = fold_checks([o for o in occurrences if o.at > now], env.settings, now=now)
        occurrences = [o for o in occurrences if o.at <= now] + coming
    first = datetime.combine(start, datetime.min.time(), tzinfo=policy.tz)
    async with ctx.db.sessions() as session:
        rows = await session.scalars(select(JobClaim).where(JobClaim.occurrence >= first, JobClaim.job.in_(JOB_NAMES)))
        found = {(row.job, row.occurrence): row for row in rows}
        epoch_row = await claims.claim_of(session, claims.EPOCH_JOB, claims.EPOCH_KEY)
    epoch = epoch_row.claimed_at if epoch_row is not None else None
    lines = []
    for occurrence in occurrences:
        claim = found.get((occurrence.job, occurrence.utc))
        fate, kind = fate_of(occurrence, claim, now, epoch)
        lines.append(PlanLine(occurrence, occurrence.at <= now, fate, kind, claim))
    disabled = [job.title for job in JOBS if not env.settings.job(job).enabled]
    return render(
        request,
        "jobs.html.j2",
        lines=lines,
        special=special_days(env.calendar, start, end),
        unofficial=env.calendar.unofficial_years(start, end),
        disabled=disabled,
        start=start,
        end=end,
        job=job,
        titles=JOB_TITLES,
        checks=checks,
    )
