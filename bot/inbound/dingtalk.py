"""``POST /dingtalk/bot``: the DingTalk enterprise internal robot (企业内部应用机器人) in HTTP mode.

DingTalk signs each callback with headers ``timestamp`` (ms) and ``sign`` =
``base64(HMAC_SHA256(appSecret, f"{timestamp}\\n{appSecret}"))`` and sends the message as plain JSON. The
signature covers only the timestamp, not the body, so a captured signature could carry a forged body for up
to an hour: the reply address (``sessionWebhook``) is therefore accepted only on the platform's own host.

A reply to another message (引用回复) carries ``isReplyMsg`` and ``repliedMsg`` under ``text`` (and, for other
message types, under ``content``): ``{"msgId", "msgType", "senderId", "createdAt", "content": …}``. PLATFORMS.md
documents none of it and DingTalk's public pages do not describe it; the shape is the one open-source DingTalk
adapters read from real callbacks (soimy/openclaw-channel-dingtalk PR #128, QwenLM/qwen-code #9536): a quoted
text's words in ``content.text`` (or ``content.content``), a quoted rich text's in ``content.richText[]`` items
(``{"text": …}`` or ``{"msgType": "text", "content": …}``). A quoted card or picture carries no text: then
``quoted`` stays empty.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

import yarl
from aiohttp import web

from bot.app import Channel
from bot.config import Settings
from bot.inbound.edge import (
    Inbox,
    bad_request,
    decode_utf8,
    digest_id,
    forbidden,
    guarded,
    parse_json_object,
    read_body,
    stale,
    text_of,
)
from storage.inbox import InboundMessage, ReplyRoute

CHANNEL = "dingtalk_bot"
PATH = "/dingtalk/bot"
WINDOW_MS = 3600 * 1000
PLATFORM_DOMAIN = "dingtalk.com"
OFF_REASON = "未配置 [dingtalk] app_secret（或环境变量 DUBAN_DINGTALK__APP_SECRET）"


def callback_sign(app_secret: str, timestamp: str) -> str:
    """The ``sign`` header DingTalk computes for ``timestamp`` (milliseconds, as sent)."""
    digest = hmac.new(app_secret.encode(), f"{timestamp}\n{app_secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_callback(app_secret: str, timestamp: str, sign: str, *, now_ms: int) -> None:
    """Raise a 403 refusal unless ``sign`` is DingTalk's for ``timestamp`` and it is within an hour of now."""
    if not timestamp or not sign:
        raise forbidden("missing timestamp or sign")
    expected = callback_sign(app_secret, timestamp)
    if not hmac.compare_digest(expected.encode("ascii"), sign.encode("utf-8", "replace")):
        raise forbidden("bad signature")
    try:
        sent = int(timestamp)
    except ValueError:
        raise stale("bad timestamp") from None
    if abs(now_ms - sent) > WINDOW_MS:
        raise stale("stale timestamp")


def _client_url(url: str) -> yarl.URL | None:
    """``url`` as the dispatcher's HTTP client will read it, or ``None`` when the client could not post to it.

    Reading it with the client's own parser (not ``urllib``) leaves no room for the two to disagree on the
    host of a crafted address (a backslash or an ``@`` in the authority).
    """
    try:
        parsed = yarl.URL(url)
        port = parsed.port  # out of range or not a number: ValueError
    except (ValueError, TypeError):
        return None
    if not parsed.absolute or not parsed.host or port == 0:
        return None
    return parsed


def _host(url: str) -> str:
    parsed = _client_url(url)
    return (parsed.host or "").lower() if parsed is not None else ""


def webhook_on_platform(url: str, api_base: str) -> bool:
    """Is ``url`` on DingTalk's own hosts (``*.dingtalk.com``) or on the configured private ``api_base``?"""
    parsed = _client_url(url)
    if parsed is None or parsed.scheme not in ("http", "https"):
        return False
    host = _host(url)
    return host == _host(api_base) or host == PLATFORM_DOMAIN or host.endswith("." + PLATFORM_DOMAIN)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e999 and Infinity are valid to ``json``
        return None


def parse_dingtalk_message(data: dict[str, Any], *, api_base: str, body_text: str) -> InboundMessage:
    msgtype = text_of(data.get("msgtype")) or "unknown"
    conversation_id = text_of(data.get("conversationId"))
    session_webhook = text_of(data.get("sessionWebhook"))
    if session_webhook and not webhook_on_platform(session_webhook, api_base):
        raise bad_request("sessionWebhook is not on the platform's host")
    expires_ms = _int(data.get("sessionWebhookExpiredTime")) or 0
    created_ms = _int(data.get("createAt"))
    message_id = text_of(data.get("msgId")) or digest_id(body_text)
    text, attachments = _content(msgtype, data)
    quoted = replied_text(data)
    robot_code = text_of(data.get("robotCode"))
    attachments = [{**item, "robot_code": robot_code} if robot_code else item for item in attachments]
    return InboundMessage(
        platform="dingtalk",
        channel=CHANNEL,
        message_id=message_id,
        sender_id=text_of(data.get("senderStaffId")),
        sender_name=text_of(data.get("senderNick")),
        text=text.strip(),
        chat_id=conversation_id,
        chat_type="group" if text_of(data.get("conversationType")) == "2" else "single",
        msgtype=msgtype,
        attachments=attachments,
        quoted=quoted,
        sent_at=_sent_at(created_ms),
        reply=ReplyRoute(
            channel="dingtalk_session",
            target=conversation_id,
            rate_key=f"dingtalk_session:{conversation_id}",
            address={"url": session_webhook, "expires_at_ms": expires_ms},
        ),
        raw=data,
    )


def _sent_at(created_ms: int | None) -> datetime | None:
    if created_ms is None:
        return None
    try:
        return datetime.fromtimestamp(created_ms / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _content(msgtype: str, data: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The text and the attachments (with their download codes) of each message type."""
    content = _dict(data.get("content"))
    if msgtype == "text":
        return text_of(_dict(data.get("text")).get("content")), []
    if msgtype == "picture":
        code = text_of(content.get("downloadCode")) or text_of(content.get("pictureDownloadCode"))
        return "", [{"kind": "image", "download_code": code}]
    if msgtype == "file":
        return "", [
            {
                "kind": "file",
                "download_code": text_of(content.get("downloadCode")),
                "name": text_of(content.get("fileName")),
                "file_id": text_of(content.get("fileId")),
                "space_id": text_of(content.get("spaceId")),
            }
        ]
    if msgtype == "audio":  # DingTalk sends the speech already recognised
        return text_of(content.get("recognition")), [
            {"kind": "voice", "download_code": text_of(content.get("downloadCode"))}
        ]
    if msgtype == "video":
        return "", [{"kind": "video", "download_code": text_of(content.get("downloadCode"))}]
    if msgtype == "richText":
        texts: list[str] = []
        attachments: list[dict[str, Any]] = []
        items = content.get("richText")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            if "text" in item:
                texts.append(text_of(item.get("text")))
            elif item.get("type") == "picture" or "downloadCode" in item:
                code = text_of(item.get("downloadCode")) or text_of(item.get("pictureDownloadCode"))
                attachments.append({"kind": "image", "download_code": code})
        return "\n".join(texts), attachments
    return "", []


def replied_text(data: dict[str, Any]) -> str:
    """The text of the message ``data`` replies to (``text.repliedMsg`` or ``content.repliedMsg``); ``""`` if none."""
    for holder in (_dict(data.get("text")), _dict(data.get("content"))):
        replied = _dict(holder.get("repliedMsg"))
        content = replied.get("content")
        if isinstance(content, str):
            found = content
        else:
            content = _dict(content)
            found = text_of(content.get("text")) or text_of(content.get("content"))
            items = content.get("richText")
            if not found and isinstance(items, list):
                parts = (_dict(item) for item in items)
                found = "".join(text_of(part.get("text")) or _rich_text(part) for part in parts)
        if found.strip():
            return found.strip()
    return ""


def _rich_text(part: dict[str, Any]) -> str:
    return text_of(part.get("content")) if part.get("msgType", "text") == "text" else ""


class DingtalkEndpoint:
    def __init__(self, app_secret: str, api_base: str, inbox: Inbox) -> None:
        self._app_secret = app_secret
        self.api_base = api_base
        self.inbox = inbox

    async def receive(self, request: web.Request) -> web.Response:
        verify_callback(
            self._app_secret,
            request.headers.get("timestamp", ""),
            request.headers.get("sign", ""),
            now_ms=int(time.time() * 1000),
        )
        body_text = decode_utf8(await read_body(request))
        data = parse_json_object(body_text)
        message = parse_dingtalk_message(data, api_base=self.api_base, body_text=body_text)
        await self.inbox.accept(request, message)
        return web.Response(status=200)


def dingtalk_channel(settings: Settings, inbox: Inbox) -> Channel:
    config = settings.dingtalk
    if not config.enabled:
        return Channel(CHANNEL, False, [], off_reason=OFF_REASON)
    if config.transport != "http":
        return Channel(
            CHANNEL, False, [], off_reason=f'[dingtalk] transport = "{config.transport}"（消息经长连接接收）'
        )
    endpoint = DingtalkEndpoint(config.app_secret.get_secret_value(), config.api_base, inbox)
    return Channel(CHANNEL, True, [web.post(PATH, guarded(CHANNEL, endpoint.receive))])
