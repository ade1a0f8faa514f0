"""Signing in by a one-time link, signing out, and the office's list of open sessions.

A link opens a page with one button rather than a session at once: chat apps fetch links to preview them,
and such a fetch must not use up the link. The button's POST redeems it.
"""

from __future__ import annotations

from aiohttp import web

from bot.console.base import (
    actor_for,
    clear_session_cookie,
    context_of,
    form_of,
    refuse,
    render,
    require_office,
    set_session_cookie,
    viewer_of,
)
from storage.console_auth import LinkRefused, end_session, open_sessions, redeem_link
from storage.models import AuditEntry, utcnow

routes = web.RouteTableDef()


@routes.get("/login/{token}", name="login")
async def login_page(request: web.Request) -> web.Response:
    return render(request, "login.html.j2", token=request.match_info["token"])


@routes.post("/login", name="login_confirm")
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    token = form.get("token")
    ctx = context_of(request)
    now = utcnow()
    try:
        async with ctx.db.transaction() as session:
            opened = await redeem_link(
                session,
                token if isinstance(token, str) else "",
                now=now,
                user_agent=request.headers.get("User-Agent", ""),
                address=request.remote or "",
            )
            session.add(
                AuditEntry(
                    person_id=opened.person.id,
                    actor=opened.person.name,
                    action="控制台登录",
                    detail="以一次性链接登录",
                    at=now,
                    via="console",
                )
            )
    except LinkRefused as exc:
        return refuse(request, 403, f"{exc}请在单聊中向机器人发送“登录”获取新的链接。")
    response = web.HTTPSeeOther("/console/")
    set_session_cookie(request, response, opened.session_id)
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    viewer = viewer_of(request)
    async with context_of(request).db.transaction() as session:
        actor = actor_for(request, session)
        await end_session(session, viewer.session.id_hash, now=actor.now, by=f"{viewer.person.name}（退出登录）")
        actor.audit("控制台退出", "")
    response = web.HTTPSeeOther("/console/")
    clear_session_cookie(response)
    return response


@routes.get("/sessions")
async def sessions(request: web.Request) -> web.Response:
    if (refused := require_office(request)) is not None:
        return refused
    async with context_of(request).db.sessions() as session:
        rows = await open_sessions(session, now=utcnow())
    return render(request, "sessions.html.j2", rows=rows, mine=viewer_of(request).session.id_hash)


@routes.post("/sessions/end")
async def end(request: web.Request) -> web.StreamResponse:
    if (refused := require_office(request)) is not None:
        return refused
    form = await form_of(request)
    target = form.get("session")
    if not isinstance(target, str) or len(target) != 64:
        return refuse(request, 400, "未指明要结束的会话。")
    viewer = viewer_of(request)
    async with context_of(request).db.transaction() as session:
        actor = actor_for(request, session)
        ended = await end_session(session, target, now=actor.now, by=f"{viewer.person.name}（办公室结束）")
        actor.audit("结束控制台会话", target[:8], "ok" if ended else "not_found")
    return web.HTTPSeeOther("/console/sessions")
