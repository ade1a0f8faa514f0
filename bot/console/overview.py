"""总览 (the morning page) and 报送矩阵 (units × months)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from markupsafe import Markup
from sqlalchemy import select

from bot.console.base import as_id, context_of, refuse, render, require_office, viewer_of
from schedules.context import ScheduleEnv
from storage import items as ledger
from storage.items import Light
from storage.matrix import LABELS, MatrixRow, months_ending, report_matrix
from storage.models import Group, OutboxState, utcnow
from storage.monthly_round import deadline_of
from storage.outbox_ops import state_counts
from storage.periods import Period
from storage.rounds import open_rounds, round_standing
from storage.standing import period_standing

routes = web.RouteTableDef()

UPCOMING_DAYS = 14
UPCOMING_SHOWN = 6
MONTH_CHOICES = (6, 12, 24)


@routes.get("/")
async def overview(request: web.Request) -> web.StreamResponse:
    viewer = viewer_of(request)
    if not viewer.is_office:
        raise web.HTTPSeeOther(f"/console/units/{viewer.person.unit_id}")
    ctx = context_of(request)
    policy = ctx.policy
    now = utcnow()
    period = policy.deadline.open_period(now)
    env = ScheduleEnv.of(policy)
    async with ctx.db.sessions() as session:
        standing = await period_standing(session, period)
        deadline = await deadline_of(session, policy.deadline, period)
        lit = await ledger.by_standing(session, env.calendar, now, policy.tz)
        queue = await state_counts(session)
        rounds = [await round_standing(session, found) for found in await open_rounds(session)]
    today = now.astimezone(policy.tz).date()
    upcoming = [
        occurrence
        for occurrence in env.planner.occurrences(today, today + timedelta(days=UPCOMING_DAYS))
        if not occurrence.skipped and occurrence.at >= now
    ][:UPCOMING_SHOWN]
    return render(
        request,
        "overview.html.j2",
        period=period,
        due=deadline.astimezone(policy.tz).date(),
        standing=standing,
        red=[row for row in lit if row.light is Light.RED],
        amber=sum(1 for row in lit if row.light is Light.AMBER),
        upcoming=upcoming,
        past_due=deadline < now,
        rounds=rounds,
        failed=queue[OutboxState.FAILED],
        uncertain=queue[OutboxState.UNCERTAIN],
    )


def row_cells(row: MatrixRow, periods: list[str]) -> Markup:
    """A matrix row's cells as HTML, built here rather than in the template: 12,000 cells render in a few
    milliseconds this way (the template loop took ~80 ms). Every part is ours — an id, a period, a status —
    so nothing needs escaping."""
    unit = row.unit_id
    return Markup(  # noqa: S704  (ids, periods and fixed labels only)
        "".join(
            f'<td class="cell s-{status}"><a href="/console/units/{unit}/reports/{period}">{LABELS[status]}</a></td>'
            for status, period in zip(row.cells, periods, strict=True)
        )
    )


@routes.get("/matrix")
async def matrix(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    ctx = context_of(request)
    now = utcnow()
    try:
        months = int(request.query.get("months", "12"))
        last = Period.parse(request.query["to"]) if request.query.get("to") else ctx.policy.deadline.open_period(now)
        group_id = as_id(request.query["group"]) if request.query.get("group") else None
        if request.query.get("group") and group_id is None:
            raise ValueError(request.query["group"])
    except (ValueError, KeyError):
        return refuse(request, 400, "筛选条件有误：期别应写作 YYYY-MM，月数与群应从列表中选择。")
    if months not in MONTH_CHOICES:
        months = 12
    periods = months_ending(last, months)
    async with ctx.db.sessions() as session:
        groups = list(await session.scalars(select(Group).where(Group.active.is_(True)).order_by(Group.id)))
        rows = await report_matrix(session, periods, ctx.policy.deadline, now, group_id=group_id)
    return render(
        request,
        "matrix.html.j2",
        periods=periods,
        rows=[(row, row_cells(row, [str(period) for period in periods])) for row in rows],
        groups=groups,
        group_id=group_id,
        months=months,
        month_choices=MONTH_CHOICES,
        last=last,
    )
