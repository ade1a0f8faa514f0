"""Feishu message reply API: ``POST {api_base}/open-apis/im/v1/messages/{message_id}/reply`` with the app's
``tenant_access_token`` (fetched from ``/open-apis/auth/v3/tenant_access_token/internal``, cached, renewed
30 minutes before it expires or when the platform says it is invalid).

A file (PLATFORMS.md §2): ``POST /open-apis/im/v1/files`` (multipart ``file_type``, ``file_name``, ``file``; up to
30 MB; ``file_type`` ``pdf``/``doc``/``xls``/``ppt`` only for exactly those extensions — whether ``doc`` takes a
``.docx`` is unverified — else ``stream``, the documented catch-all) → ``data.file_key``; then ``POST
/open-apis/im/v1/messages?receive_id_type=chat_id`` with ``msg_type`` ``file`` and ``content`` the JSON string
``{"file_key": …}``. How long a ``file_key`` stays usable is not documented: it is reused on retry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from pathlib import PurePath
from typing import Any, ClassVar

import aiohttp

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
from bot.outbound.senders.context import ContextSender, with_token
from bot.outbound.senders.files import FileSender, Uploaded
from storage.outbound import OutboundMessage
from storage.outbox_claim import Claim

PLATFORM = "飞书"
CHANNEL = "feishu_reply"
ACCESS_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
TOKEN_INVALID = (99991663, 99991661, 99991668)
RATE_LIMITED = 99991400
RENEW_BEFORE_SECONDS = 1800
FILE_LIMIT = 30 * 1024 * 1024  # im/v1/files: at most 30 MB, not empty
EXACT_TYPES = ("pdf", "doc", "xls", "ppt")


def classify(answer: Answer) -> Outcome:
    early = transport_outcome(answer, PLATFORM)
    if early is not None:
        return early
    code = answer.errcode
    if code == 0:
        return Outcome.ok()
    if code in TOKEN_INVALID:
        return Outcome(Kind.RETRY, str(code), "飞书访问令牌已失效", detail=answer.errmsg, refresh_token=True)
    if code == RATE_LIMITED:
        return Outcome.retry("飞书接口调用过于频繁", errcode=code, detail=answer.errmsg, wait=5.0)
    return remaining_outcome(
        answer,
        PLATFORM,
        fix="请对照飞书开放平台的错误码说明处理（常见原因：未开通机器人能力、缺少 im:message 权限、机器人不在该群）。",
        unrecognised_fix="请核对配置 [feishu] api_base 是否为飞书开放平台地址。",
        field="code",
        busy=False,
    )


class FeishuReplySender(FileSender, ContextSender):
    channel: ClassVar[str] = CHANNEL
    platform_name = PLATFORM
    size_limit = FILE_LIMIT
    media_lifetime = None

    _token: str = ""
    _expires: float = 0.0

    def text_payloads(self, claim: Claim, message: OutboundMessage) -> list[Payload]:
        return render(message, "feishu_bot")

    async def _with_token(self, request: Callable[[str], Awaitable[Answer]]) -> tuple[Outcome, Answer | None]:
        return await with_token(self, request, classify, "飞书访问令牌已失效")

    async def upload(self, claim: Claim, name: str, content: bytes) -> Uploaded | Outcome:
        url = f"{self.ctx.settings.feishu.api_base.rstrip('/')}/open-apis/im/v1/files"
        suffix = PurePath(name).suffix.removeprefix(".").lower()
        fields = {"file_type": suffix if suffix in EXACT_TYPES else "stream", "file_name": name}

        def request(token: str) -> Awaitable[Answer]:
            headers = {"Authorization": f"Bearer {token}"}
            return post_file(self.ctx.http, url, name, content, fields=fields, headers=headers, part="file")

        outcome, answer = await self._with_token(request)
        data = (answer.body or {}).get("data") if answer is not None else None
        file_key = data.get("file_key") if isinstance(data, dict) else None
        if outcome.kind is Kind.OK and isinstance(file_key, str) and file_key:
            return Uploaded(file_key)
        return outcome if outcome.kind is not Kind.OK else Outcome.retry("上传文件的答复中没有 file_key")

    async def send_file(self, claim: Claim, media_id: str, name: str) -> Outcome:
        chat_id = claim.address.get("chat_id")
        if not isinstance(chat_id, str) or not chat_id:
            raise Undeliverable(Outcome.permanent("缺少飞书会话编号", "请联系系统维护人员。", errcode="no_chat"))
        url = f"{self.ctx.settings.feishu.api_base.rstrip('/')}/open-apis/im/v1/messages?receive_id_type=chat_id"
        body = {"receive_id": chat_id, "msg_type": "file", "content": json.dumps({"file_key": media_id})}
        outcome, _ = await self._with_token(lambda token: _post_with_token(self, url, body, token))
        return outcome

    def media_refused(self, outcome: Outcome) -> bool:
        return False  # Feishu documents no "file_key expired" answer; a refusal stays a refusal

    async def get(self, *, stale: str | None = None) -> str | Outcome:
        """The tenant access token (:class:`~bot.outbound.senders.context.Tokens`), fetched anew when ``stale``."""
        if stale is not None or not self._token or time.monotonic() > self._expires:
            config = self.ctx.settings.feishu
            url = config.api_base.rstrip("/") + ACCESS_PATH
            answer = await post_json(
                self.ctx.http, url, {"app_id": config.app_id, "app_secret": config.app_secret.get_secret_value()}
            )
            body = answer.body or {}
            token, expire = body.get("tenant_access_token"), body.get("expire")
            if answer.errcode != 0 or not isinstance(token, str) or not isinstance(expire, int):
                outcome = classify(answer)
                if outcome.kind is Kind.OK:
                    return Outcome.permanent("飞书未发放访问令牌", "请核对配置 [feishu] app_id 与 app_secret。")
                return outcome
            self._token, self._expires = token, time.monotonic() + max(60, expire - RENEW_BEFORE_SECONDS)
        return self._token

    async def send_text(self, claim: Claim, payload: Payload) -> Outcome:
        message_id = claim.address.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            missing = Outcome.permanent("回复缺少消息编号", "请联系系统维护人员。", errcode="no_message", alert=False)
            raise Undeliverable(missing)
        body = _reply_body(payload)
        url = f"{self.ctx.settings.feishu.api_base.rstrip('/')}/open-apis/im/v1/messages/{message_id}/reply"
        outcome, _ = await self._with_token(lambda token: _post_with_token(self, url, body, token))
        return outcome


def _reply_body(payload: Payload) -> dict[str, Any]:
    """The custom-bot payload as the IM API wants it: ``content`` a JSON *string*, a post without its wrapper."""
    msg_type = str(payload.get("msg_type", "text"))
    content: Any = payload.get("content", {})
    if msg_type == "post" and isinstance(content, dict):
        content = content.get("post", content)
    return {"msg_type": msg_type, "content": json.dumps(content, ensure_ascii=False)}


async def _post_with_token(sender: FeishuReplySender, url: str, body: dict[str, Any], token: str) -> Answer:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"}
    try:
        async with sender.ctx.http.post(url, data=json.dumps(body, ensure_ascii=False), headers=headers) as response:
            raw = await response.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            return Answer(response.status, parsed if isinstance(parsed, dict) else None)
    except (TimeoutError, aiohttp.ClientError) as exc:
        return Answer(error=exc)
