"""DingTalk enterprise app robot through the OpenAPI: the way a file reaches a DingTalk chat (PLATFORMS.md §2).

A session webhook carries text and markdown only, so the answer that carries a document goes this way:

1. ``POST {api_base}/media/upload?access_token=…`` (multipart ``type=file`` and ``media``) → ``media_id``
   (DingTalk's ids do not expire);
2. one-to-one: ``POST {openapi_base}/v1.0/robot/oToMessages/batchSend`` with ``userIds`` (the sender's staff id);
   in a group: ``POST {openapi_base}/v1.0/robot/groupMessages/send`` with ``openConversationId``; both with header
   ``x-acs-dingtalk-access-token``, ``msgKey`` ``sampleFile`` and ``msgParam`` the JSON string
   ``{"mediaId","fileName","fileType"}``. The text that goes instead of a file that cannot be sent uses the same
   calls with ``sampleText`` / ``sampleMarkdown``.

The access token (``POST {openapi_base}/v1.0/oauth2/accessToken``) is cached until shortly before it expires; the
OpenAPI answers a stale one with HTTP 401, the old ``oapi`` host with errcode 40014 / 42001 — either refreshes it
and retries once at once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import PurePath
from typing import Any, ClassVar

from bot.outbound.render import Payload, render
from bot.outbound.senders.base import (
    Answer,
    Kind,
    Outcome,
    Undeliverable,
    post_file,
    post_json,
    remaining_outcome,
    transport_outcome,
)
from bot.outbound.senders.context import ContextSender, SendContext, with_token
from bot.outbound.senders.files import FileSender, Uploaded
from storage.outbound import OutboundMessage
from storage.outbox_claim import Claim

PLATFORM = "钉钉"
CHANNEL = "dingtalk_app"
TOKEN_MARGIN = 300.0
STALE_TOKEN = (40014, 42001)  # the oapi host: invalid / expired access_token
INVALID_MEDIA = 40007
RATE_LIMITED = (90018, 90002)  # the oapi host's per-app and per-IP call frequency limits


def classify_oapi(answer: Answer) -> Outcome:
    """What the old ``oapi`` host (``media/upload``) answered: ``errcode`` in the JSON."""
    early = transport_outcome(answer, PLATFORM)
    if early is not None:
        return early
    code, message = answer.errcode, answer.errmsg
    if code == 0:
        return Outcome.ok()
    if code in STALE_TOKEN:
        return Outcome(Kind.RETRY, str(code), "钉钉访问令牌已失效", detail=message, refresh_token=True)
    if code in RATE_LIMITED:
        return Outcome.retry("调用钉钉接口过于频繁", errcode=code, detail=message, wait=60.0)
    return remaining_outcome(
        answer, PLATFORM, fix="请对照钉钉开放平台错误码说明处理。", unrecognised_fix="请核对配置 [dingtalk] api_base。"
    )


def classify_openapi(answer: Answer) -> Outcome:
    """What the new OpenAPI answered: HTTP 200 with ``processQueryKey``, or HTTP 4xx with ``{"code","message"}``."""
    early = transport_outcome(answer, PLATFORM)
    if early is not None:
        return early
    body = answer.body or {}
    status = answer.status or 0
    code = str(body.get("code", ""))
    message = str(body.get("message", ""))[:300]
    if 200 <= status < 300:
        return Outcome.ok()
    if status == 401:
        return Outcome(Kind.RETRY, code or "http401", "钉钉访问令牌已失效", detail=message, refresh_token=True)
    if "throttl" in code.lower() or "qpslimit" in code.lower():
        return Outcome.retry("调用钉钉接口过于频繁", errcode=code, detail=message, wait=60.0)
    if code.startswith("invalidParameter.robotCode") or code == "robot.notExist":
        return Outcome.permanent(
            "机器人编码（robotCode）无效",
            "请核对配置 [dingtalk] app_key（企业内部应用机器人的 robotCode 即其 AppKey）后重启服务。",
            errcode=code,
            detail=message,
        )
    return Outcome.permanent(
        f"钉钉拒绝了请求（HTTP {status}）",
        "请确认应用已开通机器人发送消息权限（qyapi_robot_sendmsg），并对照钉钉开放平台错误码说明处理。",
        errcode=code or f"http{status}",
        detail=message,
    )


class DingtalkAppToken:
    """The app's OpenAPI access token, fetched once for all concurrent users."""

    def __init__(self, ctx: SendContext) -> None:
        self.ctx = ctx
        self._token: tuple[str, float] | None = None
        self._lock = asyncio.Lock()

    async def get(self, *, stale: str | None = None) -> str | Outcome:
        async with self._lock:
            if self._token is not None and self._token[0] != stale and time.time() < self._token[1]:
                return self._token[0]
            config = self.ctx.settings.dingtalk
            answer = await post_json(
                self.ctx.http,
                config.openapi_base.rstrip("/") + "/v1.0/oauth2/accessToken",
                {"appKey": config.app_key, "appSecret": config.app_secret.get_secret_value()},
            )
            outcome = classify_openapi(answer)
            token = (answer.body or {}).get("accessToken")
            if outcome.kind is Kind.OK and isinstance(token, str):
                expire = (answer.body or {}).get("expireIn", 7200)
                lifetime = float(expire) if isinstance(expire, int | float) else 7200.0
                self._token = (token, time.time() + max(lifetime - TOKEN_MARGIN, 60.0))
                return token
            if outcome.kind is Kind.OK or outcome.refresh_token or outcome.kind is Kind.UNCERTAIN:
                return Outcome.retry("获取钉钉访问令牌失败（消息尚未发出）", errcode=outcome.errcode)
            if outcome.kind is Kind.PERMANENT:
                return Outcome.permanent(
                    "获取钉钉访问令牌被拒绝",
                    "请核对配置 [dingtalk] app_key 与 app_secret 后重启服务，再重发。",
                    errcode=outcome.errcode,
                    detail=outcome.detail,
                )
            return outcome


class DingtalkAppSender(FileSender, ContextSender):
    channel: ClassVar[str] = CHANNEL
    platform_name = PLATFORM
    media_lifetime = None  # DingTalk's media ids do not expire (PLATFORMS.md §2)

    def __init__(self, ctx: SendContext) -> None:
        super().__init__(ctx)
        self._token = DingtalkAppToken(ctx)

    def check_ready(self, claim: Claim) -> None:
        config = self.ctx.settings.dingtalk
        if not (config.app_key and config.app_secret.get_secret_value()):
            raise Undeliverable(
                Outcome.permanent(
                    "未配置钉钉企业内部应用的 app_key 与 app_secret，无法经开放接口发送",
                    "请在配置 [dingtalk] 中填写 app_key 和 app_secret 后重启服务，再重发。",
                    errcode="no_app",
                )
            )

    def text_payloads(self, claim: Claim, message: OutboundMessage) -> list[Payload]:
        return render(message, "dingtalk_session")  # the robot's markdown, as its session replies write it

    async def _with_token(
        self, request: Callable[[str], Awaitable[Answer]], classify: Callable[[Answer], Outcome]
    ) -> tuple[Outcome, Answer | None]:
        return await with_token(self._token, request, classify, "钉钉访问令牌已失效")

    def _robot_code(self, claim: Claim) -> str:
        return str(claim.address.get("robot_code") or self.ctx.settings.dingtalk.app_key)

    async def _robot_message(self, claim: Claim, msg_key: str, param: dict[str, Any]) -> Outcome:
        base = self.ctx.settings.dingtalk.openapi_base.rstrip("/")
        body: dict[str, Any] = {
            "robotCode": self._robot_code(claim),
            "msgKey": msg_key,
            "msgParam": json.dumps(param, ensure_ascii=False),
        }
        if claim.address.get("chat_type") == "group":
            url = base + "/v1.0/robot/groupMessages/send"
            body["openConversationId"] = str(claim.address.get("conversation_id") or "")
        else:
            user = str(claim.address.get("user_id") or "")
            if not user:
                raise Undeliverable(Outcome.permanent("消息缺少接收人", "请联系系统维护人员。", errcode="no_user"))
            url = base + "/v1.0/robot/oToMessages/batchSend"
            body["userIds"] = [user]

        def request(token: str) -> Awaitable[Answer]:
            return post_json(self.ctx.http, url, body, headers={"x-acs-dingtalk-access-token": token})

        outcome, _ = await self._with_token(request, classify_openapi)
        return outcome

    async def send_text(self, claim: Claim, payload: Payload) -> Outcome:
        if payload.get("msgtype") == "markdown":
            markdown = payload.get("markdown") or {}
            return await self._robot_message(
                claim, "sampleMarkdown", {"title": markdown.get("title", ""), "text": markdown.get("text", "")}
            )
        text = payload.get("text") or {}
        return await self._robot_message(claim, "sampleText", {"content": text.get("content", "")})

    async def upload(self, claim: Claim, name: str, content: bytes) -> Uploaded | Outcome:
        base = self.ctx.settings.dingtalk.api_base.rstrip("/")

        def request(token: str) -> Awaitable[Answer]:
            url = f"{base}/media/upload?access_token={token}"
            return post_file(self.ctx.http, url, name, content, fields={"type": "file"})

        outcome, answer = await self._with_token(request, classify_oapi)
        media_id = (answer.body or {}).get("media_id") if answer is not None else None
        if outcome.kind is Kind.OK and isinstance(media_id, str) and media_id:
            return Uploaded(media_id)
        return outcome if outcome.kind is not Kind.OK else Outcome.retry("上传文件的答复中没有 media_id")

    async def send_file(self, claim: Claim, media_id: str, name: str) -> Outcome:
        file_type = PurePath(name).suffix.removeprefix(".").lower()
        return await self._robot_message(
            claim, "sampleFile", {"mediaId": media_id, "fileName": name, "fileType": file_type}
        )

    def media_refused(self, outcome: Outcome) -> bool:
        return "mediaid" in (outcome.errcode or "").lower()
