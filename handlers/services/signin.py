"""One-time sign-in links to the console, asked for in chat (``登录``) or on the command line."""

from __future__ import annotations

from handlers.services.actor import Actor
from storage.console_auth import LINK_TTL, issue_link_token
from storage.models import Person, Role

ACTION = "控制台登录链接"


def console_off(office_name: str) -> str:
    return f"抱歉，{office_name}的网页控制台目前未开启，请联系办公室。"


async def issue_link(actor: Actor, person: Person | None = None) -> str:
    """A fresh single-use link for ``person`` (by default the acting person), valid :data:`LINK_TTL`.

    Audited; the link itself never is. The command line issues links for others (first sign-in, recovery).
    """
    person = person or actor.member
    base = actor.policy.console_url
    if not base:
        raise actor.refuse(console_off(actor.policy.office_name), ACTION, "控制台未开启", "console_off")
    if not person.active or not (person.role is Role.OFFICE or (person.role.is_liaison and person.unit_id is not None)):
        raise actor.refuse("抱歉，您不在名册的成员单位或办公室中，无法登录控制台。", ACTION, "", "refused")
    token = await issue_link_token(actor.session, person, now=actor.now, via=actor.via)
    whom = "" if actor.person is not None and actor.person.id == person.id else f"为{person.name}生成，"
    actor.audit(ACTION, f"{whom}有效期{int(LINK_TTL.total_seconds() // 60)}分钟")
    return f"{base}login/{token}"


def link_message(url: str, office_name: str) -> str:
    minutes = int(LINK_TTL.total_seconds() // 60)
    return (
        f"这是您登录{office_name}网页控制台的链接（{minutes}分钟内有效，只能使用一次，请勿转发）：\n{url}\n"
        "如非本人操作，请忽略本消息。"
    )
