"""WeCom 智能机器人 over its long connection: a reply through the callback's ``req_id`` while the platform
allows it, else an active send (``aibot_send_msg``) to the chat; posts to a group's chat id the same way.

A ``req_id`` is valid only on the connection that received it, for one finished reply: after a reconnect,
for a second part, or when the platform answers 846605 (invalid req_id) or 846608 (expired), the part goes
out as an active send instead. Only the instance holding the connection sends on this channel (its own
pump); elsewhere the rows wait.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from bot.outbound.render import Payload, render
from bot.outbound.senders.base import BUSY, Outcome, Sender, Undeliverable
from bot.outbound.senders.context import message_of
from bot.transports.wecom_socket import BotSocket, CommandFailed, NotSent
from storage.outbox_claim import Claim

CHANNEL = "wecom_bot_ws"
PLATFORM = "企业微信智能机器人"
REPLY_WINDOW = timedelta(minutes=5)  # stream replies are accepted for about 6 minutes
INVALID_REQ_ID = 846605
EXPIRED = 846608
NOT_SUBSCRIBED = 846609


class WecomBotSocketSender(Sender):
    channel: ClassVar[str] = CHANNEL

    def __init__(self, socket: Callable[[], BotSocket | None]) -> None:
        self.socket = socket

    def payloads(self, claim: Claim) -> list[Payload]:
        return render(message_of(claim), CHANNEL)

    async def send(self, claim: Claim, payload: Payload) -> Outcome:
        socket = self.socket()
        if socket is None or not socket.open:
            return Outcome.retry(f"与{PLATFORM}的长连接暂未建立", errcode="not_connected", wait=5.0)
        chat = str(claim.address.get("chatid") or claim.address.get("chat_id") or "")
        content = _content(payload)
        if _may_reply(claim, socket):
            req_id = str(claim.address["req_id"])
            socket.replied.add(req_id)
            body = {"msgtype": "stream", "stream": {"id": secrets.token_hex(8), "finish": True, "content": content}}
            try:
                await socket.command("aibot_respond_msg", body, req_id=req_id)
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
        body = {"chatid": chat, "msgtype": "markdown", "markdown": {"content": content}}
        try:
            await socket.command("aibot_send_msg", body)
        except CommandFailed as failed:
            return _classify(failed)
        except NotSent:
            return Outcome.retry(f"与{PLATFORM}的长连接已断开", errcode="not_connected", wait=5.0)
        except TimeoutError:
            return Outcome.uncertain(f"消息已发出，但{PLATFORM}未在时限内确认，无法确认是否送达")
        return Outcome.ok()


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
