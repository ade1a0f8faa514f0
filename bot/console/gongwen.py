"""文档 (continued): the Word documents in 公文 layout and their charts, made by the same service as
``duban doc`` and the chat's ``文档`` (:mod:`schedules.documents.service`), downloaded from the browser."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.base import actor_for, as_id, attachment, context_of, refuse, require_office, viewer_of
from schedules.documents import service
from schedules.documents.charts import ChartFontMissing
from schedules.documents.letterhead import TemplateError
from schedules.documents.service import BuiltDocument, Chart, DocumentRequest, Kind
from schedules.documents.spans import Span, month_span
from storage.models import utcnow
from storage.periods import Period
from storage.policy import Policy

routes = web.RouteTableDef()
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CANNOT = (TemplateError, ChartFontMissing)


def span_of(kind: Kind, key: str) -> Span:
    """The span a document's address names (``2026-10``, ``2026Q4``, ``2026H2``); ``ValueError`` if none."""
    if kind in (Kind.CIRCULAR, Kind.FLASH):
        return month_span(Period.parse(key))
    return service.parse_span(kind, key)


def recent_quarters(last: Period, count: int) -> list[str]:
    quarter = (last.month - 1) // 3 + 1
    year = last.year
    keys = []
    for _ in range(count):
        keys.append(f"{year}Q{quarter}")
        quarter, year = (quarter - 1, year) if quarter > 1 else (4, year - 1)
    return keys


def recent_halves(last: Period, count: int) -> list[str]:
    half = 1 if last.month <= 6 else 2
    year = last.year
    keys = []
    for _ in range(count):
        keys.append(f"{year}H{half}")
        half, year = (1, year) if half == 2 else (2, year - 1)
    return keys


async def make_document(session: AsyncSession, policy: Policy, kind: Kind, span: Span, now: datetime) -> BuiltDocument:
    request = DocumentRequest(kind, span, now.astimezone(policy.tz).date())
    return await service.build_document(session, policy, request, now)


@routes.get("/documents/doc/{kind}/{span}.docx")
async def document(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    try:
        kind = Kind(request.match_info["kind"])
        span = span_of(kind, request.match_info["span"])
    except ValueError:
        raise web.HTTPNotFound() from None
    ctx = context_of(request)
    now = utcnow()
    viewer = viewer_of(request)
    try:
        async with ctx.db.transaction() as session:
            built = await make_document(session, ctx.policy, kind, span, now)
            service.record_made(
                session, built, actor=viewer.person.name, now=now, via="console", person_id=viewer.person.id
            )
    except CANNOT as exc:
        return refuse(request, 503, f"未能生成{kind.label}：{exc}请联系系统管理员。")
    return attachment(built.content, built.filename, DOCX)


@routes.get("/documents/chart/{chart}/{span}.png")
async def chart(request: web.Request) -> web.StreamResponse:
    if (refused := require_office(request)) is not None:
        return refused
    try:
        which = Chart(request.match_info["chart"])
        span = span_of(Kind.QUARTERLY, request.match_info["span"])
    except ValueError:
        raise web.HTTPNotFound() from None
    part = as_id(request.query.get("part", "0"))
    ctx = context_of(request)
    try:
        async with ctx.db.transaction() as session:
            images = await service.chart_images(session, ctx.policy, which, span, utcnow())
            actor_for(request, session).audit("下载图表", f"{which.value} {span.key}")
    except ChartFontMissing as exc:
        return refuse(request, 503, f"未能生成图表：{exc}请联系系统管理员。")
    if part is None or part >= len(images):
        raise web.HTTPNotFound()
    return web.Response(body=images[part], content_type="image/png")
