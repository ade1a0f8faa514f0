"""督办事项: the ledger by light with filters, an item's timeline, and actions on it.

Every action goes through :mod:`handlers.services.items` — the same rules, notices and audit as the chat
commands. The office acts on any item; a liaison sees the items their unit leads or supports, and acts as the
rules allow them (签收, 进展, 办结).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.base import actor_for, as_id, context_of, form_text, path_id, render, viewer_of
from handlers.item_texts import ACTIONS
from handlers.services import items as rules
from handlers.services.actor import Actor, Refused
from storage import items as ledger
from storage.items import Light
from storage.models import Item, ItemState, Unit, utcnow

routes = web.RouteTableDef()
LIGHT_ORDER = {Light.RED: 0, Light.AMBER: 1, Light.GREEN: 2, None: 3}


def _visible(item: Item, unit_id: int | None) -> bool:
    return unit_id is None or item.lead_unit_id == unit_id or any(unit.id == unit_id for unit in item.supporting_units)


@routes.get("/items")
async def item_list(request: web.Request) -> web.Response:
    viewer = viewer_of(request)
    ctx = context_of(request)
    now = utcnow()
    calendar = ctx.policy.schedules.calendar()
    light_filter = request.query.get("light", "")
    state_filter = request.query.get("state", "open")
    unit_filter = request.query.get("unit", "")
    async with ctx.db.sessions() as session:
        if viewer.unit_id is not None:
            items = await ledger.items_of_unit(session, viewer.unit_id)
        elif (unit_id := as_id(unit_filter)) is not None:
            items = await ledger.items_of_unit(session, unit_id)
        else:
            items = await ledger.all_items(session)
        units = list(await session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.id)))
    lit = [(item, ledger.item_light(item, calendar, now, ctx.policy.tz)) for item in items]
    if state_filter == "open":
        lit = [(item, light) for item, light in lit if item.state.is_open]
    elif state_filter in {state.value for state in ItemState}:
        lit = [(item, light) for item, light in lit if item.state.value == state_filter]
    if light_filter in {light.value for light in Light}:
        lit = [(item, light) for item, light in lit if light is not None and light.value == light_filter]
    lit.sort(key=lambda pair: (LIGHT_ORDER[pair[1]], pair[0].due or date.max, pair[0].number))
    return render(
        request,
        "items.html.j2",
        rows=lit,
        units=units,
        states=list(ItemState),
        lights=list(Light),
        light_filter=light_filter,
        state_filter=state_filter,
        unit_filter=unit_filter,
    )


async def _item(request: web.Request, session: AsyncSession) -> Item:
    item = await ledger.by_number(session, path_id(request, "number"))
    if item is None or not _visible(item, viewer_of(request).unit_id):
        raise web.HTTPNotFound()
    return item


async def _detail(request: web.Request, *, message: str = "", error: str = "") -> web.Response:
    ctx = context_of(request)
    now = utcnow()
    async with ctx.db.sessions() as session:
        item = await _item(request, session)
        events = await ledger.events_of(session, item.id)
        units = list(await session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.id)))
    calendar = ctx.policy.schedules.calendar()
    viewer = viewer_of(request)
    return render(
        request,
        "item.html.j2",
        item=item,
        events=events,
        actions=ACTIONS,
        light=ledger.item_light(item, calendar, now, ctx.policy.tz),
        units=units,
        message=message,
        error=error,
        can_sign=rules.is_liaison_of(viewer.person, item.lead_unit_id),
        can_progress=rules.may_add_progress(viewer.person, item),
        today=now.astimezone(ctx.policy.tz).date(),
    )


@routes.get("/items/{number}")
async def item_page(request: web.Request) -> web.Response:
    return await _detail(request)


def _date(text: object) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise Refused("日期应写作 YYYY-MM-DD，例如 2026-12-10。") from None


@routes.post("/items/{number}/{action}")
async def act(request: web.Request) -> web.Response:
    form = await request.post()
    action = request.match_info["action"]
    text = form_text(form, "text")
    ctx = context_of(request)
    async with ctx.db.transaction() as session:
        item = await _item(request, session)
        actor = actor_for(request, session)
        try:
            message = await _apply(session, actor, item, action, form, text)
        except Refused as refusal:
            failure: Refused | None = refusal  # committed: the refusal's audit entry stays
        else:
            failure = None
    if failure is not None:
        return await _detail(request, error=failure.message)
    return await _detail(request, message=message)


async def _apply(
    session: AsyncSession, actor: Actor, item: Item, action: str, form: MultiDictProxy[Any], text: str
) -> str:
    if action == "assign":
        rules.require_assignable(actor, item)
        lead = await _unit(session, form.get("lead"))
        supporting = [await _unit(session, value) for value in form.getall("supporting", []) if value]
        return await rules.assign(actor, item, lead, supporting, _date(form.get("due")))
    if action == "sign":
        return await rules.sign(actor, item)
    if action == "progress":
        return await rules.progress(actor, item, text, usage="请填写进展内容。")
    if action == "done":
        return await rules.done(actor, item, text, usage="请填写办理结果。")
    if action == "close":
        return await rules.close(actor, item, text)
    if action == "reject":
        return await rules.reject(actor, item, text, usage="请填写退回原因。")
    if action == "extend":
        rules.require_extendable(actor, item)
        return await rules.extend(actor, item, _date(form.get("due")), text, usage="请填写延期原因。")
    if action == "stop":
        return await rules.stop(actor, item, text, usage="请填写中止原因。")
    raise web.HTTPNotFound()


async def _unit(session: AsyncSession, value: object) -> Unit:
    unit_id = as_id(value)
    unit = await session.get(Unit, unit_id) if unit_id is not None else None
    if unit is None or not unit.active:
        raise Refused("请从列表中选择在册的成员单位。")
    return unit
