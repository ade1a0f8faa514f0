"""文档: the 台账 of any period and the 督办事项台账, as the .xlsx workbooks ``duban export`` writes."""

from __future__ import annotations

import io

from aiohttp import web
from openpyxl import Workbook

from bot.console.base import XLSX, actor_for, attachment, context_of, refuse, render, require_office
from bot.workbooks.items import build_items_workbook
from bot.workbooks.ledger import build_workbook
from schedules.settings import schedule_settings
from storage import items as ledger
from storage.matrix import months_ending
from storage.models import utcnow
from storage.periods import Period
from storage.reports import period_ledger

routes = web.RouteTableDef()
PERIODS_LISTED = 12


def workbook_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@routes.get("/documents")
async def documents(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    last = context_of(request).policy.deadline.open_period(utcnow())
    return render(request, "documents.html.j2", periods=months_ending(last, PERIODS_LISTED)[::-1])


@routes.get("/documents/ledger/{period}.xlsx")
async def period_workbook(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    try:
        period = Period.parse(request.match_info["period"])
    except ValueError:
        return refuse(request, 404, "期别应写作 YYYY-MM。")
    ctx = context_of(request)
    async with ctx.db.transaction() as session:
        found = await period_ledger(session, period)
        actor_for(request, session).audit("下载台账", f"{period}")
    workbook = build_workbook(found, tz=ctx.policy.tz, office_name=ctx.settings.office_name)
    return attachment(workbook_bytes(workbook), f"台账-{period}.xlsx", XLSX)


@routes.get("/documents/items.xlsx")
async def items_workbook(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    ctx = context_of(request)
    policy = ctx.policy
    now = utcnow()
    calendar = schedule_settings(policy).calendar()
    async with ctx.db.transaction() as session:
        items = await ledger.all_items(session, with_events=True)
        actor_for(request, session).audit("下载督办事项台账", f"{len(items)}项")
    lights = {item.id: ledger.item_light(item, calendar, now, policy.tz) for item in items}
    workbook = build_items_workbook(items, lights, tz=policy.tz, office_name=policy.office_name, now=now)
    return attachment(workbook_bytes(workbook), "督办事项台账.xlsx", XLSX)
