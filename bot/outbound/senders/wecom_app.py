"""WeCom self-built app message (自建应用): ``POST {api_base}/cgi-bin/message/send?access_token=…``.

The access token comes from ``gettoken`` and is cached until shortly before it expires; an answer of
40014 / 42001 (token invalid or expired) refreshes it and retries once at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

import aiohttp

from bot.config import Settings
from bot.outbound.render import Payload, render
from bot.outbound.senders.base import (
    Answer,
    Kind,
    Outcome,
    Undeliverable,
    get_json,
    post_file,
    post_json,
    remaining_outcome,
    transport_outcome,
)
from bot.outbound.senders.context import ContextSender, SendContext, with_token
from bot.outbound.senders.files import FileSender, Uploaded
from storage.outbound import OutboundMessage
from storage.outbox_claim import Claim

PLATFORM = "企业微信"
MESSAGE = "/cgi-bin/message/send"
UPLOAD = "/cgi-bin/media/upload"
INVALID_MEDIA = 40007  # invalid media_id (unknown, expired after 3 days)
TOKEN_MARGIN = 300.0  # refresh this long before WeCom says the token expires
RATE_LIMIT_WAIT = 65.0


def classify(answer: Answer) -> Outcome:
    """The one place that decides what WeCom's app API (``gettoken`` and ``message/send``) answered."""
    early = transport_outcome(answer, PLATFORM)
    if early is not None:
        return early
    code, message = answer.errcode, answer.errmsg
    if code == 0:
        invalid = str((answer.body or {}).get("invaliduser") or "")
        if invalid:
            return Outcome.permanent(
                "接收人无效（成员不存在，或不在应用的可见范围内）",
                "请核对名册中该成员的企业微信账号，并确认其在应用的可见范围内。",
                errcode="invaliduser",
                detail=message,
            )
        return Outcome.ok()
    if code in (40014, 42001):
        return Outcome(Kind.RETRY, str(code), "企业微信访问令牌已失效", detail=message, refresh_token=True)
    if code == 45009:
        return Outcome.retry(
            "发送频率超过企业微信应用消息的限制（每人每分钟 30 条）", errcode=code, detail=message, wait=RATE_LIMIT_WAIT
        )
    if code == 40001:
        return Outcome.permanent(
            "企业微信自建应用的 Secret 无效",
            "请核对配置 [wecom.app] 的 secret（应用管理 → 自建应用 → Secret）后重启服务，再重发。",
            errcode=code,
            detail=message,
        )
    if code == 40013:
        return Outcome.permanent(
            "企业 ID（corp_id）无效",
            "请核对配置 [wecom.app] 的 corp_id 后重启服务，再重发。",
            errcode=code,
            detail=message,
        )
    if code == 60020:
        return Outcome.permanent(
            "服务器出口 IP 不在企业微信应用的“企业可信 IP”中",
            "请在应用管理 → 自建应用 → 企业可信 IP 中加入本服务的出口 IP，然后再重发。",
            errcode=code,
            detail=message,
        )
    if code == 81013:
        return Outcome.permanent(
            "接收人无效（成员不存在，或不在应用的可见范围内）",
            "请核对名册中该成员的企业微信账号，并确认其在应用的可见范围内。",
            errcode=code,
            detail=message,
        )
    return remaining_outcome(
        answer,
        PLATFORM,
        fix="请对照企业微信全局错误码说明处理后再重发。",
        unrecognised_fix="请核对配置 [wecom] api_base 是否正确。",
    )


@dataclass
class _Token:
    value: str
    expires_at: float  # time.time() seconds


class WecomAppToken:
    """The app's access token, fetched once for all concurrent users and cached until shortly before it expires.

    The sender and the file fetcher (``bot/files``) each hold one.
    """

    def __init__(self, http: aiohttp.ClientSession, settings: Settings) -> None:
        self.http = http
        self.settings = settings
        self._token: _Token | None = None
        self._lock = asyncio.Lock()

    async def get(self, *, stale: str | None = None) -> str | Outcome:
        """A valid token; ``stale`` is a token WeCom just refused. An :class:`Outcome` when none could be had."""
        async with self._lock:
            token = self._token
            if token is not None and token.value != stale and time.time() < token.expires_at:
                return token.value
            app = self.settings.wecom.app
            answer = await get_json(
                self.http,
                self.settings.wecom.api_base.rstrip("/") + "/cgi-bin/gettoken",
                {"corpid": app.corp_id, "corpsecret": app.secret.get_secret_value()},
            )
            outcome = classify(answer)
            if outcome.kind is Kind.UNCERTAIN:  # only the token request went unanswered: the message never left
                outcome = Outcome.retry("获取企业微信访问令牌时未得到答复（消息尚未发出）", detail=outcome.detail)
            value = (answer.body or {}).get("access_token")
            if outcome.kind is not Kind.OK or not isinstance(value, str):
                return outcome if outcome.kind is not Kind.OK else Outcome.retry("获取企业微信访问令牌失败")
            expires_in = (answer.body or {}).get("expires_in", 7200)
            lifetime = float(expires_in) if isinstance(expires_in, int | float) else 7200.0
            self._token = _Token(value, time.time() + max(lifetime - TOKEN_MARGIN, 60.0))
            return value


class WecomAppSender(FileSender, ContextSender):
    """Text to a member; a file by ``media/upload`` (type ``file``, field ``media``) then ``msgtype: file``."""

    channel: ClassVar[str] = "wecom_app"
    platform_name = PLATFORM

    def __init__(self, ctx: SendContext) -> None:
        super().__init__(ctx)
        self._token = WecomAppToken(ctx.http, ctx.settings)

    def check_ready(self, claim: Claim) -> None:
        app = self.ctx.settings.wecom.app
        if not (app.corp_id and app.secret.get_secret_value() and app.agent_id is not None):
            raise Undeliverable(
                Outcome.permanent(
                    "未配置企业微信自建应用，无法发送应用消息",
                    "请在配置 [wecom.app] 中填写 corp_id、agent_id 和 secret 后重启服务，再重发。",
                    errcode="no_app",
                )
            )

    def text_payloads(self, claim: Claim, message: OutboundMessage) -> list[Payload]:
        return render(message, self.channel)

    def _touser(self, claim: Claim) -> str:
        touser = claim.address.get("touser")
        if not isinstance(touser, str) or not touser:
            raise Undeliverable(Outcome.permanent("应用消息缺少接收人", "请联系系统维护人员。", errcode="no_touser"))
        return touser

    async def _with_token(self, request: Callable[[str], Awaitable[Answer]]) -> tuple[Outcome, Answer | None]:
        return await with_token(self._token, request, classify, "企业微信访问令牌已失效")

    def _url(self, path: str, token: str) -> str:
        return f"{self.ctx.settings.wecom.api_base.rstrip('/')}{path}?access_token={token}"

    async def send_text(self, claim: Claim, payload: Payload) -> Outcome:
        body = {"touser": self._touser(claim), "agentid": self.ctx.settings.wecom.app.agent_id, **payload}
        outcome, _ = await self._with_token(lambda token: post_json(self.ctx.http, self._url(MESSAGE, token), body))
        return outcome

    async def upload(self, claim: Claim, name: str, content: bytes) -> Uploaded | Outcome:
        outcome, answer = await self._with_token(
            lambda token: post_file(self.ctx.http, self._url(UPLOAD, token) + "&type=file", name, content)
        )
        media_id = (answer.body or {}).get("media_id") if answer is not None else None
        if outcome.kind is Kind.OK and isinstance(media_id, str) and media_id:
            return Uploaded(media_id)
        return outcome if outcome.kind is not Kind.OK else Outcome.retry("上传文件的答复中没有 media_id")

    async def send_file(self, claim: Claim, media_id: str, name: str) -> Outcome:
        return await self.send_text(claim, {"msgtype": "file", "file": {"media_id": media_id}, "safe": 0})

    def media_refused(self, outcome: Outcome) -> bool:
        return outcome.errcode == str(INVALID_MEDIA)
