"""发送队列: failed and uncertain messages with their reason, and 重发 after a confirmation step."""

from __future__ import annotations

from aiohttp import web

from bot.console.base import actor_for, context_of, path_id, refuse, render, require_office
from bot.outbound.alerts import channel_label
from handlers.services.actor import Refused
from handlers.services.outbox import resend
from storage.models import OutboxMessage, OutboxState
from storage.outbound import without_link_marks
from storage.outbox_ops import STATE_LABELS, list_rows, state_counts

routes = web.RouteTableDef()
FILTERS = {
    "attention": (OutboxState.FAILED, OutboxState.UNCERTAIN),
    "failed": (OutboxState.FAILED,),
    "uncertain": (OutboxState.UNCERTAIN,),
    "pending": (OutboxState.PENDING, OutboxState.SENDING),
    "all": (),
}
LIMIT = 200


def _preview(row: OutboxMessage) -> str:
    body = without_link_marks(str(row.message.get("title") or row.message.get("body") or ""))
    flat = " ".join(body.split())
    return flat if len(flat) <= 80 else flat[:79] + "…"


@routes.get("/outbox")
async def outbox(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    which = request.query.get("show", "attention")
    states = FILTERS.get(which, FILTERS["attention"])
    async with context_of(request).db.sessions() as session:
        rows = await list_rows(session, states=states or None, limit=LIMIT)
        counts = await state_counts(session)
    return render(
        request,
        "outbox.html.j2",
        rows=rows,
        counts=counts,
        which=which if which in FILTERS else "attention",
        labels=STATE_LABELS,
        channel_label=channel_label,
        preview=_preview,
        resendable=(OutboxState.FAILED, OutboxState.UNCERTAIN, OutboxState.SENT),
    )


async def _row(request: web.Request) -> OutboxMessage:
    outbox_id = path_id(request, "outbox_id")
    async with context_of(request).db.sessions() as session:
        row = await session.get(OutboxMessage, outbox_id)
    if row is None:
        raise web.HTTPNotFound()
    return row


@routes.get("/outbox/{outbox_id}/resend")
async def confirm(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    row = await _row(request)
    return render(
        request,
        "resend.html.j2",
        row=row,
        labels=STATE_LABELS,
        channel_label=channel_label,
        body=without_link_marks(str(row.message.get("body", ""))),
    )


@routes.post("/outbox/{outbox_id}/resend")
async def resend_row(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    row = await _row(request)
    async with context_of(request).db.transaction() as session:
        try:
            copy = await resend(actor_for(request, session), row.id)
        except Refused as refusal:
            failure: Refused | None = refusal  # committed: the refusal's audit entry stays
        else:
            failure = None
    if failure is not None:
        return refuse(request, 409, failure.message)
    return render(request, "resent.html.j2", row=row, copy=copy)
