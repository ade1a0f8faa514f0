"""WeCom 智能机器人 over its long connection: a reply through the callback's ``req_id`` while the platform
allows it, else an active send (``aibot_send_msg``) to the chat; posts to a group's chat id the same way.

A ``req_id`` is valid only on the connection that received it, for one finished reply: after a reconnect,
for a second part, or when the platform answers 846605 (invalid req_id) or 846608 (expired), the part goes
out as an active send instead. Only the instance holding the connection sends on this channel (its own
pump); elsewhere the rows wait.

A file (a document the office asked for, :mod:`bot.outbound.senders.files`) is uploaded on the connection in
chunks (``aibot_upload_media_init`` → ``aibot_upload_media_chunk`` ×N → ``aibot_upload_media_finish``,
PLATFORMS.md §4), then sent as ``msgtype: file`` the same way as text: passively while the ``req_id`` is good,
else actively.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from bot.outbound.render import Payload, render
from bot.outbound.senders.base import BUSY, Outcome, Undeliverable
from bot.outbound.senders.context import SendContext
from bot.outbound.senders.files import FileSender, Uploaded
from bot.transports.wecom_socket import BotSocket, CommandFailed, NotSent
from storage.outbound import OutboundMessage
from storage.outbox_claim import Claim

CHANNEL = "wecom_bot_ws"
PLATFORM = "企业微信智能机器人"
REPLY_WINDOW = timedelta(minutes=5)  # stream replies are accepted for about 6 minutes
INVALID_REQ_ID = 846605
EXPIRED = 846608
NOT_SUBSCRIBED = 846609
INVALID_MEDIA = 40007  # WeCom's "invalid media_id" (expired after 3 days); not documented for the long connection
# Raw bytes per aibot_upload_media_chunk, before base64: a file within the 20 MB limit takes at most 40 of the
# 100 chunks the platform allows.
CHUNK_BYTES = 512 * 1024


class WecomBotSocketSender(FileSender):
    channel: ClassVar[str] = CHANNEL
    platform_name = "企业微信"

    def __init__(self, ctx: SendContext, socket: Callable[[], BotSocket | None]) -> None:
        self.ctx = ctx
        self.socket = socket

    def text_payloads(self, claim: Claim, message: OutboundMessage) -> list[Payload]:
        return render(message, CHANNEL)

    async def send(self, claim: Claim, payload: Payload) -> Outcome:
        socket = self.socket()
        if socket is None or not socket.open:
            return Outcome.retry(f"与{PLATFORM}的长连接暂未建立", errcode="not_connected", wait=5.0)
        return await super().send(claim, payload)

    async def send_text(self, claim: Claim, payload: Payload) -> Outcome:
        content = _content(payload)
        stream = {"msgtype": "stream", "stream": {"id": secrets.token_hex(8), "finish": True, "content": content}}
        return await self._deliver(claim, stream, {"msgtype": "markdown", "markdown": {"content": content}})

    async def send_file(self, claim: Claim, media_id: str, name: str) -> Outcome:
        body = {"msgtype": "file", "file": {"media_id": media_id}}
        return await self._deliver(claim, body, body)

    def media_refused(self, outcome: Outcome) -> bool:
        return outcome.errcode == str(INVALID_MEDIA)

    async def upload(self, claim: Claim, name: str, content: bytes) -> Uploaded | Outcome:
        socket = self.socket()
        if socket is None or not socket.open:
            return Outcome.retry(f"与{PLATFORM}的长连接暂未建立", errcode="not_connected", wait=5.0)
        chunks = [content[start : start + CHUNK_BYTES] for start in range(0, len(content), CHUNK_BYTES)] or [b""]
        init = {
            "type": "file",
            "filename": name,
            "total_size": len(content),
            "total_chunks": len(chunks),
            "md5": hashlib.md5(content, usedforsecurity=False).hexdigest(),
        }
        try:
            started = await socket.command("aibot_upload_media_init", init)
            upload_id = _field(started, "upload_id")
            if upload_id is None:
                return Outcome.retry("上传文件的答复中没有 upload_id")
            for index, chunk in enumerate(chunks):
                part = {"upload_id": upload_id, "chunk_index": index, "base64_data": base64.b64encode(chunk).decode()}
                await socket.command("aibot_upload_media_chunk", part)
            finished = await socket.command("aibot_upload_media_finish", {"upload_id": upload_id})
        except CommandFailed as failed:
            return _classify(failed)
        except NotSent:
            return Outcome.retry(f"与{PLATFORM}的长连接已断开", errcode="not_connected", wait=5.0)
        except TimeoutError:
            # An upload delivers nothing to anyone: without its answer it is simply made again.
            return Outcome.retry(f"{PLATFORM}未在时限内确认上传", errcode="timeout")
        media_id = _field(finished, "media_id")
        return Uploaded(media_id) if media_id is not None else Outcome.retry("上传文件的答复中没有 media_id")

    async def _deliver(self, claim: Claim, reply: dict[str, Any], active: dict[str, Any]) -> Outcome:
        """``reply`` through the callback's ``req_id`` while it is good, else ``active`` by ``aibot_send_msg``."""
        socket = self.socket()
        if socket is None or not socket.open:
            return Outcome.retry(f"与{PLATFORM}的长连接暂未建立", errcode="not_connected", wait=5.0)
        chat = str(claim.address.get("chatid") or claim.address.get("chat_id") or "")
        if _may_reply(claim, socket):
            req_id = str(claim.address["req_id"])
            socket.replied.add(req_id)
            try:
                await socket.command("aibot_respond_msg", reply, req_id=req_id)
                return Outcome.ok()
            except CommandFailed as failed:
                if failed.errcode not in (INVALID_REQ_ID, EXPIRED):
                    return _classify(failed)
            except NotSent:
                return Outcome.retry(f"与{PLATFORM}的长连接已断开", errcode="not_connected", wait=5.0)
            except TimeoutError:
                return Outcome.uncertain(f"回复已发出，但{PLATFORM}未在时限内确认，无法确认是否送达")
        if not chat:
            raise Undeliverable(
                Outcome.permanent("消息没有会话标识，无法主动发送", "请联系系统维护人员。", errcode="no_chat")
            )
        try:
            await socket.command("aibot_send_msg", {"chatid": chat, **active})
        except CommandFailed as failed:
            return _classify(failed)
        except NotSent:
            return Outcome.retry(f"与{PLATFORM}的长连接已断开", errcode="not_connected", wait=5.0)
        except TimeoutError:
            return Outcome.uncertain(f"消息已发出，但{PLATFORM}未在时限内确认，无法确认是否送达")
        return Outcome.ok()


def _field(acknowledged: dict[str, Any], name: str) -> str | None:
    body = acknowledged.get("body")
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


def _content(payload: Payload) -> str:
    markdown: Any = payload.get("markdown")
    if isinstance(markdown, dict):
        return str(markdown.get("content", ""))
    text: Any = payload.get("text")
    return str(text.get("content", "")) if isinstance(text, dict) else ""


def _may_reply(claim: Claim, socket: BotSocket) -> bool:
    """Is the callback's ``req_id`` still good for this part (same connection, unused, recent)?"""
    req_id = claim.address.get("req_id")
    if not isinstance(req_id, str) or not req_id or req_id in socket.replied:
        return False
    if claim.address.get("connection") != socket.name:
        return False
    return datetime.now(UTC) - claim.created_at < REPLY_WINDOW


def _classify(failed: CommandFailed) -> Outcome:
    if failed.errcode in (BUSY, 45009, NOT_SUBSCRIBED):
        return Outcome.retry(f"{PLATFORM}暂时无法受理", errcode=failed.errcode, detail=failed.errmsg, wait=5.0)
    return Outcome.permanent(
        f"{PLATFORM}返回错误 {failed.errcode}",
        "请对照企业微信智能机器人长连接的错误码说明处理；如为权限问题，请在管理后台检查机器人配置。",
        errcode=failed.errcode,
        detail=failed.errmsg,
    )
