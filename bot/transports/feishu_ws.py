"""The Feishu long connection: ``im.message.receive_v1`` (group @-messages, 1:1 messages) with no public address.

Protocol (PLATFORMS.md addendum §5, lark-oapi's ``ws`` client): ``POST {api_base}/callback/ws/endpoint`` with
``{"AppID", "AppSecret"}`` returns ``data.URL`` (its query names ``service_id``) and ``ClientConfig``; frames on
the websocket are protobuf (:mod:`bot.transports.feishu_frames`). A CONTROL ``ping`` goes out every
``PingInterval`` seconds (the ``pong`` may carry a new ``ClientConfig``); every DATA frame is answered with the
same frame carrying a JSON ``{"code": 200}`` payload and a ``biz_rt`` header, within the platform's 3 s. A split
payload (``sum`` > 1) is put together by ``message_id`` and ``seq``. The platform gives each event to one of
the app's connections (up to 50), so every instance connects.

lark-oapi is not used: its client captures an event loop at import and blocks in ``start()``, so it cannot run
inside the service's loop; speaking the protocol natively keeps it in that loop, behind ``[network] proxy``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from bot.context import AppContext
from bot.inbound.edge import Inbox, Refused, digest_id, text_of
from bot.net import client_session, tls_context
from bot.transports.backoff import Backoff, keep_connecting
from bot.transports.feishu_frames import CONTROL, DATA, Frame
from bot.transports.status import LinkStatus
from storage.inbox import InboundMessage, ReplyRoute

log = logging.getLogger(__name__)

TRANSPORT = "feishu_ws"
ENDPOINT_PATH = "/callback/ws/endpoint"
DEFAULT_PING_SECONDS = 120.0
STORE_RETRY_SECONDS = 1.0
_MENTION_KEY = re.compile(r"@_user_\d+\s*")


class EndpointRefused(Exception):
    def __init__(self, code: object) -> None:
        super().__init__(f"code {code}")
        self.code = code


def feishu_sender_id(ids: dict[str, Any]) -> str:
    """The sender's ``user_id``, or their ``open_id`` when the event carries no ``user_id``.

    The roster's 飞书账号 column (``Person.feishu_userid``) holds the ``user_id``: it is tenant-scoped, the same
    for a person in every app of the organisation and shown in the admin console's 通讯录, so an office can fill
    it in from the directory and it survives a new app. ``open_id`` is app-scoped (another app, another id) and
    ``union_id`` spans a developer's apps, not the organisation. Feishu puts ``user_id`` into the event only when
    the app has the 获取用户 user ID permission; without it the ``open_id`` is what arrives, and an office whose
    app lacks that permission must enter open_ids in the column instead.
    """
    return text_of(ids.get("user_id")) or text_of(ids.get("open_id"))


def parse_receive_event(event: dict[str, Any], raw: str) -> InboundMessage | None:
    """The neutral message for ``im.message.receive_v1`` (``None`` for other events or a sender that is a bot)."""
    header = event.get("header") if isinstance(event.get("header"), dict) else {}
    if not isinstance(header, dict) or header.get("event_type") != "im.message.receive_v1":
        return None
    body = event.get("event") if isinstance(event.get("event"), dict) else {}
    sender = body.get("sender") if isinstance(body, dict) and isinstance(body.get("sender"), dict) else {}
    message = body.get("message") if isinstance(body, dict) and isinstance(body.get("message"), dict) else {}
    if not isinstance(sender, dict) or not isinstance(message, dict) or sender.get("sender_type") not in (None, "user"):
        return None
    ids = sender.get("sender_id") if isinstance(sender.get("sender_id"), dict) else {}
    sender_id = feishu_sender_id(ids) if isinstance(ids, dict) else ""
    msgtype = text_of(message.get("message_type")) or "unknown"
    chat_id = text_of(message.get("chat_id"))
    message_id = text_of(message.get("message_id")) or digest_id(raw)
    text, attachments = _content(msgtype, text_of(message.get("content")))
    created = text_of(message.get("create_time"))
    return InboundMessage(
        platform="feishu",
        channel=TRANSPORT,
        message_id=message_id,
        sender_id=sender_id,
        text=_MENTION_KEY.sub("", text).strip(),
        chat_id=chat_id,
        chat_type="single" if message.get("chat_type") == "p2p" else "group",
        msgtype=msgtype,
        attachments=attachments,
        sent_at=datetime.fromtimestamp(int(created) / 1000, UTC) if created.isdigit() else None,
        reply=ReplyRoute(
            channel="feishu_reply",
            target=chat_id,
            rate_key=f"feishu_reply:{chat_id}",
            address={"message_id": message_id, "chat_id": chat_id},
        ),
        raw=event,
    )


def _content(msgtype: str, content: str) -> tuple[str, list[dict[str, Any]]]:
    try:
        parsed = json.loads(content) if content else {}
    except ValueError:
        return "", []
    if not isinstance(parsed, dict):
        return "", []
    if msgtype == "text":
        return text_of(parsed.get("text")), []
    if msgtype == "image":
        return "", [{"kind": "image", "image_key": text_of(parsed.get("image_key"))}]
    if msgtype == "file":
        return "", [
            {"kind": "file", "file_key": text_of(parsed.get("file_key")), "name": text_of(parsed.get("file_name"))}
        ]
    return "", []


class FeishuLink:
    def __init__(self, ctx: AppContext, inbox: Inbox, link: LinkStatus) -> None:
        config = ctx.settings.feishu
        self.ctx = ctx
        self.endpoint_url = config.api_base.rstrip("/") + ENDPOINT_PATH
        self.app_id = config.app_id
        self._app_secret = config.app_secret.get_secret_value()
        self.ssl = tls_context(ctx.settings.network.ca_file)
        self.inbox = inbox
        self.link = link
        self.ping_seconds = DEFAULT_PING_SECONDS
        self.parts: dict[str, dict[int, bytes]] = {}

    async def run(self, stopping: asyncio.Event) -> None:
        backoff = Backoff()
        async with client_session(self.ctx.settings.network) as http:

            async def attempt() -> str:
                url = await self.endpoint(http)
                return await self.connect(http, url, stopping, backoff)

            await keep_connecting(log, self.link, stopping, backoff, attempt, EndpointRefused)

    async def endpoint(self, http: aiohttp.ClientSession) -> str:
        body = {"AppID": self.app_id, "AppSecret": self._app_secret}
        async with http.post(self.endpoint_url, json=body, ssl=self.ssl, headers={"locale": "zh"}) as answer:
            data = await answer.json(content_type=None)
        if not isinstance(data, dict) or data.get("code") != 0 or not isinstance(data.get("data"), dict):
            raise EndpointRefused(data.get("code") if isinstance(data, dict) else answer.status)
        self._configure(data["data"].get("ClientConfig"))
        url = data["data"].get("URL")
        if not isinstance(url, str) or not url:
            raise EndpointRefused("no URL")
        return url

    def _configure(self, config: object) -> None:
        if isinstance(config, dict) and isinstance(config.get("PingInterval"), int) and config["PingInterval"] > 0:
            self.ping_seconds = float(config["PingInterval"])

    async def connect(self, http: aiohttp.ClientSession, url: str, stopping: asyncio.Event, backoff: Backoff) -> str:
        service = int(parse_qs(urlsplit(url).query).get("service_id", ["0"])[0] or 0)
        async with http.ws_connect(url, ssl=self.ssl, autoping=True, max_msg_size=0) as ws:
            self.link.connected()
            backoff.failures = 0
            log.info("feishu: connected")
            pinger = asyncio.create_task(self.ping(ws, service))
            stop = asyncio.create_task(stopping.wait())
            try:
                while True:
                    receive = asyncio.ensure_future(ws.receive())
                    await asyncio.wait({receive, stop, pinger}, return_when=asyncio.FIRST_COMPLETED)
                    if not receive.done():
                        receive.cancel()
                        return "stopping" if stop.done() else "ping failed"
                    message = receive.result()
                    if message.type is aiohttp.WSMsgType.BINARY:
                        await self.on_frame(ws, message.data)
                    elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                        return "closed by the platform"
                    elif message.type is aiohttp.WSMsgType.ERROR:
                        return "websocket error"
            finally:
                for task in (pinger, stop):
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pinger

    async def ping(self, ws: aiohttp.ClientWebSocketResponse, service: int) -> None:
        while True:
            await ws.send_bytes(Frame(CONTROL, service, {"type": "ping"}).encode())
            await asyncio.sleep(self.ping_seconds)

    async def on_frame(self, ws: aiohttp.ClientWebSocketResponse, data: bytes) -> None:
        try:
            frame = Frame.decode(data)
        except ValueError:
            self.link.frame("other")
            return
        kind = frame.headers.get("type", "")
        if frame.method == CONTROL:
            self.link.frame("pong" if kind == "pong" else "other")
            if kind == "pong" and frame.payload:
                with contextlib.suppress(ValueError):
                    self._configure(json.loads(frame.payload))
            return
        if frame.method != DATA:
            self.link.frame("other")
            return
        self.link.frame("event" if kind == "event" else "other")
        began = time.monotonic()
        payload = self._assembled(frame)
        if payload is None:
            return  # more parts to come; the last one is answered
        if kind == "event":
            await self.store(payload)
        frame.headers["biz_rt"] = str(int((time.monotonic() - began) * 1000))
        await ws.send_bytes(
            Frame(DATA, frame.service, frame.headers, b'{"code":200}', frame.seq_id, frame.log_id).encode()
        )

    def _assembled(self, frame: Frame) -> bytes | None:
        total = int(frame.headers.get("sum", "1") or 1)
        if total <= 1:
            return frame.payload
        message_id = frame.headers.get("message_id", "")
        parts = self.parts.setdefault(message_id, {})
        parts[int(frame.headers.get("seq", "0") or 0)] = frame.payload
        if len(parts) < total:
            return None
        del self.parts[message_id]
        return b"".join(parts[index] for index in sorted(parts))

    async def store(self, payload: bytes) -> None:
        try:
            raw = payload.decode("utf-8")
            event = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            log.warning("feishu: an event that is not JSON (%d bytes)", len(payload))
            return
        if not isinstance(event, dict):
            return
        try:
            message = parse_receive_event(event, raw)
        except (ValueError, OverflowError, OSError):
            log.warning("feishu: a malformed message event")
            return
        if message is None:
            return
        while True:
            try:
                await self.inbox.store(self.ctx.db, message)
                return
            except Refused as refused:
                if refused.status != 503:
                    log.warning("feishu: %s not stored (%s)", message.message_id, refused.reason)
                    return
            await asyncio.sleep(STORE_RETRY_SECONDS)


async def feishu_ws_worker(ctx: AppContext, stopping: asyncio.Event, *, inbox: Inbox, link: LinkStatus) -> None:
    """The service's worker (``bot.lifecycle.Worker`` once ``inbox`` and ``link`` are bound)."""
    await FeishuLink(ctx, inbox, link).run(stopping)
