"""What senders need from the running service, the lookups several of them share, and their common shapes."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol
from urllib.parse import quote

import aiohttp
from pydantic import ValidationError

from bot.config import GroupConfig, Settings
from bot.outbound.render import Payload, combine, render
from bot.outbound.senders.base import Answer, Outcome, Sender, Undeliverable, post_json
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


class ContextSender(Sender):
    """A sender built on the running service; its payloads are the row's message rendered for its channel."""

    def __init__(self, ctx: SendContext) -> None:
        self.ctx = ctx

    def payloads(self, claim: Claim) -> list[Payload]:
        return render(message_of(claim), self.channel)


class GroupRobotSender(ContextSender):
    """A configured group's robot webhook: one POST per payload, signed if the robot wants it."""

    platform: ClassVar[str]  # the group's ``platform`` in the configuration
    hook_path: ClassVar[str]  # built onto ``api_base`` when the webhook is a bare key (see :func:`webhook_url`)

    @abstractmethod
    def api_base(self) -> str:
        """The platform's configured ``api_base``."""

    @abstractmethod
    def classify(self, answer: Answer) -> Outcome:
        """The channel's classifier."""

    def signed(self, url: str, payload: Payload, secret: str) -> tuple[str, Payload]:
        """The request as the robot's signature check wants it (``secret`` may be empty: no signing)."""
        return url, payload

    def payloads(self, claim: Claim) -> list[Payload]:
        group = group_of(self.ctx, claim, self.platform)
        return render(message_of(claim), self.channel, keywords=group.keywords)

    async def send(self, claim: Claim, payload: Payload) -> Outcome:
        group = group_of(self.ctx, claim, self.platform)
        url = webhook_url(group.webhook, self.api_base(), self.hook_path)
        url, payload = self.signed(url, payload, group.secret.get_secret_value())
        return self.classify(await post_json(self.ctx.http, url, payload))


class Tokens(Protocol):
    """A platform's access token, fetched and cached (``WecomAppToken``, ``DingtalkAppToken``)."""

    async def get(self, *, stale: str | None = None) -> str | Outcome: ...


async def with_token(
    tokens: Tokens, request: Callable[[str], Awaitable[Answer]], classify: Callable[[Answer], Outcome], expired: str
) -> tuple[Outcome, Answer | None]:
    """``request`` made with a valid token, and once more with a fresh one if the platform says the token went stale
    (``expired`` says so to the office if it still is); the outcome, and the answer when there was one."""
    stale: str | None = None
    outcome = Outcome.retry(expired)
    for _ in range(2):
        token = await tokens.get(stale=stale)
        if isinstance(token, Outcome):
            return token, None
        answer = await request(token)
        outcome = classify(answer)
        if not outcome.refresh_token:
            return outcome, answer
        stale = token
    return Outcome.retry(outcome.cause, errcode=outcome.errcode, detail=outcome.detail), None
