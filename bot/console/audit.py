"""审计日志: every recorded action — by chat, command line or console — newest first, filterable."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from aiohttp import web
from sqlalchemy import select

from bot.console.base import as_id, context_of, refuse, render, require_office
from handlers.services.actor import VIA_LABELS
from storage.models import AuditEntry

routes = web.RouteTableDef()
PAGE = 100


@routes.get("/audit")
async def audit(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    ctx = context_of(request)
    query = request.query
    via, action, actor, outcome = (query.get(key, "").strip() for key in ("via", "action", "actor", "outcome"))
    statement = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(PAGE + 1)
    try:
        if query.get("before"):
            before = as_id(query["before"])
            if before is None:
                raise ValueError(query["before"])
            statement = statement.where(AuditEntry.id < before)
        if query.get("from"):
            start = datetime.combine(date.fromisoformat(query["from"]), time(), tzinfo=ctx.settings.tz)
            statement = statement.where(AuditEntry.at >= start)
        if query.get("to"):
            end = datetime.combine(date.fromisoformat(query["to"]), time(), tzinfo=ctx.settings.tz)
            statement = statement.where(AuditEntry.at < end + timedelta(days=1))
    except ValueError:
        return refuse(request, 400, "筛选条件有误：日期应写作 YYYY-MM-DD。")
    except OverflowError:
        return refuse(request, 400, "筛选条件有误：日期超出范围。")
    if via in VIA_LABELS:
        statement = statement.where(AuditEntry.via == via)
    if action:
        statement = statement.where(AuditEntry.action.contains(action, autoescape=True))
    if actor:
        statement = statement.where(AuditEntry.actor.contains(actor, autoescape=True))
    if outcome:
        statement = statement.where(AuditEntry.outcome == outcome)
    async with ctx.db.sessions() as session:
        rows = list(await session.scalars(statement))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    following = {key: value for key, value in query.items() if key != "before"}
    return render(
        request,
        "audit.html.j2",
        rows=rows,
        more=more,
        via_labels=VIA_LABELS,
        filters={
            "via": via,
            "action": action,
            "actor": actor,
            "outcome": outcome,
            "from": query.get("from", ""),
            "to": query.get("to", ""),
        },
        following=following,
    )
