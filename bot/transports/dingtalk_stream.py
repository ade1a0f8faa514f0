"""DingTalk Stream mode: the enterprise robot's messages over an outbound websocket (no public address).

The protocol (PLATFORMS.md, addendum §3): ``POST {openapi_base}/v1.0/gateway/connections/open`` with the app's
credentials and subscriptions returns a websocket ``endpoint`` and a single-use ``ticket`` (90 s); the client
connects to ``{endpoint}?ticket=…`` and the gateway pushes JSON frames (``type`` SYSTEM | EVENT | CALLBACK, a
``headers.messageId`` and ``data`` as a JSON string). Every frame is acknowledged with its ``messageId``; a
``ping`` is answered with its own ``data``; a ``disconnect`` means the gateway will drop the connection within
10 s, so a new ticket is fetched and a new connection opened. Each push goes to one of the app's
connections at random, so every instance may hold one. A robot message is stored in the inbox exactly as
the HTTP callback stores it (same parser, same reply route through ``sessionWebhook``); a second delivery of
the same ``msgId`` is a no-op.

Why not the official ``dingtalk-stream`` package: it fixes its endpoint from an environment variable read at
import (a private 专有钉钉 deployment needs a configured host per app), it opens connections and replies with
blocking ``requests`` calls inside the event loop, and it cannot be routed through ``[network] proxy``. The
protocol is four frame shapes over one websocket; aiohttp speaks it in the loop duban already runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import quote_plus

import aiohttp

from bot.config import Settings
from bot.context import AppContext
from bot.inbound.dingtalk import parse_dingtalk_message
from bot.inbound.edge import Inbox, Refused, parse_json_object
from bot.net import client_session, tls_context
from bot.transports.backoff import Backoff, keep_connecting
from bot.transports.status import LinkStatus

log = logging.getLogger(__name__)

TRANSPORT = "dingtalk_stream"
ROBOT_TOPIC = "/v1.0/im/bot/messages/get"
OPEN_PATH = "/v1.0/gateway/connections/open"
OPEN_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=20)
WS_HEARTBEAT_SECONDS = 60.0  # websocket-level pings, as the official SDK sends them
STORE_RETRY_SECONDS = 2.0


class OpenRefused(Exception):
    """The open-connection call was answered, but with no endpoint (bad credentials, app not allowed…)."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"HTTP {status} {code}")
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Ticket:
    endpoint: str
    ticket: str

    @property
    def url(self) -> str:
        return f"{self.endpoint}?ticket={quote_plus(self.ticket)}"


def _agent() -> str:
    try:
        return f"duban/{version('duban')}"
    except PackageNotFoundError:
        return "duban"


def _local_ip() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def ack(message_id: str, data: str, code: int = 200) -> str:
    """The acknowledgement of one frame (``data`` a JSON string, as the gateway expects)."""
    return json.dumps(
        {
            "code": code,
            "headers": {"messageId": message_id, "contentType": "application/json"},
            "message": "OK" if code == 200 else "error",
            "data": data,
        },
        ensure_ascii=False,
    )


class DingtalkStream:
    """One Stream connection of this instance, kept open until the service stops."""

    def __init__(self, settings: Settings, inbox: Inbox, link: LinkStatus) -> None:
        config = settings.dingtalk
        self.settings = settings
        self.app_key = config.app_key
        self._app_secret = config.app_secret.get_secret_value()
        self.open_url = config.openapi_base.rstrip("/") + OPEN_PATH
        self.api_base = config.api_base
        self.ssl = tls_context(settings.network.ca_file, config.ca_file)
        self.inbox = inbox
        self.link = link

    async def run(self, ctx: AppContext, stopping: asyncio.Event) -> None:
        self.backoff = Backoff()
        async with client_session(self.settings.network) as http:

            async def attempt() -> str:
                ticket = await self.open(http)
                return await self.connect(ctx, http, ticket, stopping)

            await keep_connecting(log, self.link, stopping, self.backoff, attempt, OpenRefused)

    async def open(self, http: aiohttp.ClientSession) -> Ticket:
        body = {
            "clientId": self.app_key,
            "clientSecret": self._app_secret,
            "subscriptions": [{"type": "EVENT", "topic": "*"}, {"type": "CALLBACK", "topic": ROBOT_TOPIC}],
            "ua": _agent(),
            "localIp": _local_ip(),
        }
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        async with http.post(self.open_url, json=body, headers=headers, timeout=OPEN_TIMEOUT, ssl=self.ssl) as answer:
            try:
                data = await answer.json(content_type=None)
            except ValueError:
                data = None
            if not isinstance(data, dict) or answer.status != 200:
                code = str(data.get("code", "")) if isinstance(data, dict) else ""
                raise OpenRefused(answer.status, code[:64])
            endpoint, ticket = data.get("endpoint"), data.get("ticket")
            if not isinstance(endpoint, str) or not isinstance(ticket, str) or not endpoint or not ticket:
                raise OpenRefused(answer.status, "no endpoint")
            return Ticket(endpoint, ticket)

    async def connect(
        self, ctx: AppContext, http: aiohttp.ClientSession, ticket: Ticket, stopping: asyncio.Event
    ) -> str:
        """Serve one websocket until it closes; why it ended."""
        async with http.ws_connect(ticket.url, heartbeat=WS_HEARTBEAT_SECONDS, ssl=self.ssl, max_msg_size=0) as ws:
            self.link.connected()
            self.backoff.failures = 0  # the next drop starts again from a short wait
            log.info("dingtalk stream: connected")
            stop = asyncio.create_task(stopping.wait())
            try:
                while True:
                    receive = asyncio.ensure_future(ws.receive())
                    await asyncio.wait({receive, stop}, return_when=asyncio.FIRST_COMPLETED)
                    if not receive.done():
                        receive.cancel()
                        return "stopping"
                    message = receive.result()
                    if message.type is aiohttp.WSMsgType.TEXT:
                        if await self.on_frame(ctx, ws, message.data, stopping) == "disconnect":
                            return "disconnect requested by the gateway"
                    elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                        return "closed by the gateway"
                    elif message.type is aiohttp.WSMsgType.ERROR:
                        return f"websocket error ({type(ws.exception()).__name__})"
            finally:
                stop.cancel()

    async def on_frame(
        self, ctx: AppContext, ws: aiohttp.ClientWebSocketResponse, raw: str, stopping: asyncio.Event
    ) -> str:
        try:
            frame = json.loads(raw)
        except ValueError:
            self.link.frame("other")
            log.warning("dingtalk stream: a frame that is not JSON (%d bytes); ignored", len(raw))
            return "ignored"
        if not isinstance(frame, dict):
            self.link.frame("other")
            return "ignored"
        headers = frame.get("headers")
        if not isinstance(headers, dict):
            headers = {}
        kind, topic = str(frame.get("type", "")), str(headers.get("topic", ""))
        message_id = str(headers.get("messageId", ""))
        data = frame.get("data")
        if not isinstance(data, str):
            data = ""
        if kind == "SYSTEM" and topic == "ping":
            self.link.frame("ping")
            await ws.send_str(ack(message_id, data))
            return "ping"
        if kind == "SYSTEM" and topic == "disconnect":
            self.link.frame("disconnect")
            log.info("dingtalk stream: the gateway asks to reconnect")
            return "disconnect"
        if kind == "CALLBACK" and topic == ROBOT_TOPIC:
            self.link.frame("callback")
            await self.store(ctx, data, stopping)
            await ws.send_str(ack(message_id, json.dumps({"response": None})))
            return "callback"
        if kind == "EVENT":
            self.link.frame("event")
            await ws.send_str(ack(message_id, json.dumps({"status": "SUCCESS", "message": "OK"})))
            return "event"
        self.link.frame("other")
        await ws.send_str(ack(message_id, json.dumps({"response": None})))
        return "ignored"

    async def store(self, ctx: AppContext, data: str, stopping: asyncio.Event) -> None:
        """Keep the message in the inbox before acknowledging it (bot messages are not redelivered: while the
        database cannot take it, this waits and tries again rather than dropping it)."""
        try:
            message = parse_dingtalk_message(
                parse_json_object(data, "stream data"), api_base=self.api_base, body_text=data
            )
        except (Refused, ValueError) as refused:
            log.warning("dingtalk stream: a robot message refused (%s)", refused)
            return
        while True:
            try:
                await self.inbox.store(ctx.db, message)
                return
            except Refused as refused:
                if refused.status != 503 or stopping.is_set():
                    log.warning("dingtalk stream: %s not stored (%s)", message.message_id, refused.reason)
                    return
            await asyncio.sleep(STORE_RETRY_SECONDS)


async def dingtalk_stream_worker(ctx: AppContext, stopping: asyncio.Event, *, inbox: Inbox, link: LinkStatus) -> None:
    """The service's worker (``bot.lifecycle.Worker`` once ``inbox`` and ``link`` are bound)."""
    await DingtalkStream(ctx.settings, inbox, link).run(ctx, stopping)
