"""What senders need from the running service, and the lookups several of them share."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

import aiohttp
from pydantic import ValidationError

from bot.config import GroupConfig, Settings
from bot.outbound.render import combine
from bot.outbound.senders.base import Outcome, Undeliverable
from storage.db import Database
from storage.outbound import OutboundMessage
from storage.outbox_claim import Claim


@dataclass
class SendContext:
    settings: Settings
    http: aiohttp.ClientSession
    db: Database
    groups: dict[str, GroupConfig] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.groups:
            self.groups = {group.name: group for group in self.settings.groups}


def message_of(claim: Claim) -> OutboundMessage:
    """The row's message (with the rows merged into its request, if any)."""
    try:
        messages = [OutboundMessage.model_validate(claim.message)]
        messages += [OutboundMessage.model_validate(message) for _, message in claim.merged]
        return combine(messages)
    except ValidationError as exc:
        raise Undeliverable(
            Outcome.permanent(
                "消息内容不符合格式，无法发送",
                "请联系系统维护人员检查生成该消息的功能。",
                errcode="bad_message",
                detail=f"{exc.error_count()} 处格式错误",
            )
        ) from None


def group_of(ctx: SendContext, claim: Claim, platform: str) -> GroupConfig:
    """The configured group a group-robot row goes to (secrets and keywords live only in the config)."""
    name = str(claim.address.get("group") or claim.target)
    group = ctx.groups.get(name)
    if group is None:
        raise Undeliverable(
            Outcome.permanent(
                f"群「{name}」已不在配置中",
                "如仍需向该群发送，请在配置 [[groups]] 中恢复该群并重启服务，再重发此消息。",
                errcode="no_group",
            )
        )
    if group.platform != platform:
        raise Undeliverable(
            Outcome.permanent(
                f"群「{name}」已改到其他平台（{group.platform}），此消息按原平台格式排队",
                "请在该群重新发起这条消息（例如重新发布通知）。",
                errcode="platform_changed",
            )
        )
    return group


def webhook_url(webhook: str, api_base: str, path: str) -> str:
    """A full webhook URL as configured, or one built from a bare key/token and the platform's ``api_base``.

    ``path`` holds ``{token}``, e.g. ``/cgi-bin/webhook/send?key={token}``.
    """
    if webhook.startswith(("http://", "https://")):
        return webhook
    return api_base.rstrip("/") + path.format(token=quote(webhook, safe=""))
