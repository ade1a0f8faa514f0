"""``登录`` / ``/login``: a one-time link to the office's web console, sent only in a 1:1 chat.

Asked for in a group, the link goes to the person 1:1 where the platform lets the bot write to them (the sandbox;
WeCom through the self-built app); elsewhere the bot asks them to write to it 1:1. A link is never posted in a group.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from handlers.commands.items import chat_actor
from handlers.commands.registry import CommandContext, command
from handlers.services.actor import Refused
from handlers.services.signin import issue_link, link_message
from storage.models import Person
from storage.outbound import OutboundMessage, enqueue

ORIGIN = "console_link"


class Route(NamedTuple):
    channel: str
    target: str
    rate_key: str
    address: dict[str, Any]


def _direct_route(ctx: CommandContext) -> Route | None:
    """How to write to the sender 1:1 on the platform the message came from, if the bot can."""
    person: Person = ctx.person
    platform = ctx.inbox.platform
    if platform not in ctx.policy.direct_platforms:
        return None
    if platform == "sandbox":
        chat = f"dm:{person.id}"
        return Route("sandbox", chat, f"sandbox:{chat}", {"chat": chat})
    if platform == "wecom" and person.wecom_userid:
        userid = person.wecom_userid
        return Route("wecom_app", userid, f"wecom_app:{userid}", {"touser": userid})
    return None


@command("登录", "/login", usage="登录", summary="获取网页控制台的一次性登录链接（单聊发送）", office_only=False)
async def login(ctx: CommandContext) -> None:
    in_group = ctx.inbox.chat_type != "single"
    route = _direct_route(ctx) if in_group else None
    if in_group and route is None:
        ctx.reply("为安全起见，登录链接只在单聊中发送：请与我单聊发送“登录”。")
        ctx.audit("登录", "群内请求，需单聊", "needs_direct")
        return
    try:
        url = await issue_link(chat_actor(ctx))
    except Refused as refusal:
        ctx.reply(refusal.message)
        return
    message = OutboundMessage(body=link_message(url, ctx.policy.office_name))
    if route is None:
        ctx.reply(message.body)
        return
    enqueue(
        ctx.session,
        channel=route.channel,
        target=route.target,
        rate_key=route.rate_key,
        address=route.address,
        message=message,
        origin=ORIGIN,
        inbox_id=ctx.inbox.id,
    )
    ctx.reply("已通过单聊向您发送控制台登录链接，请查收（10分钟内有效）。")
