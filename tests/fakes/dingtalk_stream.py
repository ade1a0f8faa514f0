"""Fake DingTalk Stream gateway (PLATFORMS.md addendum §3): the open-connection call and the websocket.

It checks what the real gateway relies on: the app's credentials and a CALLBACK subscription to the robot
topic on ``POST /v1.0/gateway/connections/open``; a ticket that is single-use and valid 90 s; an
acknowledgement of every pushed frame that echoes its ``messageId`` (code 200, ``data`` a JSON string); a
``ping`` answered with its own ``data``; no answer to ``disconnect``. Anything else is noted in
:attr:`FakeDingtalkStream.problems`, which a test asserts empty. Each push goes to one connection at random.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

ROBOT_TOPIC = "/v1.0/im/bot/messages/get"
TICKET_SECONDS = 90.0
APP_KEY = "dingstreamkey"
APP_SECRET = "stream-app-secret"
EVENT_TOPIC_ONLY_STAR = {"code": "InvalidParameter", "message": "EVENT topic must be *"}


@dataclass
class StreamConnection:
    number: int
    ws: web.WebSocketResponse
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class FakeDingtalkStream:
    def __init__(self, app_key: str = APP_KEY, app_secret: str = APP_SECRET) -> None:
        self.app_key = app_key
        self.app_secret = app_secret
        self.base_url = ""
        self.disconnect_grace = 0.5  # the real gateway drops the socket 10 s after ``disconnect``
        self.tickets: dict[str, float] = {}
        self.opened = 0  # successful open-connection calls
        self.refused: list[str] = []
        self.connections: list[StreamConnection] = []
        self.problems: list[str] = []
        self.sent: dict[str, dict[str, Any]] = {}  # every frame pushed, by messageId
        self.changed = asyncio.Condition()

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1.0/gateway/connections/open", self.open), web.get("/gateway/connect", self.connect)]

    @property
    def live(self) -> list[StreamConnection]:
        return [connection for connection in self.connections if not connection.closed.is_set()]

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, predicate: Any, *, within: float = 30.0) -> None:
        async with asyncio.timeout(within), self.changed:
            await self.changed.wait_for(predicate)

    async def _refuse(self, reason: str, body: dict[str, str], status: int) -> web.Response:
        self.refused.append(reason)
        await self._notify()
        return web.json_response(body, status=status)

    async def open(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return await self._refuse("not json", {"code": "InvalidParameter", "message": "body"}, 400)
        if body.get("clientId") != self.app_key or body.get("clientSecret") != self.app_secret:
            return await self._refuse("credentials", {"code": "InvalidAuthentication", "message": "鉴权失败"}, 401)
        subscriptions = body.get("subscriptions")
        if not isinstance(subscriptions, list) or {"type": "CALLBACK", "topic": ROBOT_TOPIC} not in subscriptions:
            return await self._refuse("subscriptions", {"code": "InvalidParameter", "message": "subscriptions"}, 400)
        if any(s.get("type") == "EVENT" and s.get("topic") != "*" for s in subscriptions if isinstance(s, dict)):
            return await self._refuse("event topic", EVENT_TOPIC_ONLY_STAR, 400)
        ticket = secrets.token_hex(16)
        self.tickets[ticket] = time.monotonic() + TICKET_SECONDS
        self.opened += 1
        endpoint = self.base_url.replace("http", "ws", 1) + "/gateway/connect"  # https → wss
        return web.json_response({"endpoint": endpoint, "ticket": ticket})

    async def connect(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        expires = self.tickets.pop(ticket, None)  # single use
        if expires is None or expires < time.monotonic():
            return await self._refuse("ticket", {"code": "InvalidTicket"}, 401)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        connection = StreamConnection(len(self.connections) + 1, ws)
        self.connections.append(connection)
        await self._notify()
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._acknowledged(connection, message.data)
                    await self._notify()
        finally:
            connection.closed.set()
            await self._notify()
        return ws

    def _acknowledged(self, connection: StreamConnection, raw: str) -> None:
        try:
            ack = json.loads(raw)
            headers = ack["headers"]
            message_id = headers["messageId"]
        except (ValueError, KeyError, TypeError):
            self.problems.append(f"not an acknowledgement: {raw[:200]}")
            return
        sent = self.sent.get(message_id)
        if sent is None:
            self.problems.append(f"acknowledged an unknown messageId {message_id}")
            return
        if sent["headers"].get("topic") == "disconnect":
            self.problems.append("answered a disconnect frame")
        if ack.get("code") != 200 or not isinstance(ack.get("data"), str):
            self.problems.append(f"bad acknowledgement for {message_id}: {raw[:200]}")
        elif sent["headers"].get("topic") == "ping" and ack["data"] != sent["data"]:
            self.problems.append(f"ping {message_id} answered with other data")
        elif sent["type"] == "EVENT" and json.loads(ack["data"]).get("status") not in ("SUCCESS", "LATER"):
            self.problems.append(f"event {message_id} acknowledged without a status")
        if message_id in connection.acks:
            self.problems.append(f"{message_id} acknowledged twice")
        connection.acks[message_id] = ack

    async def _send(self, connection: StreamConnection, kind: str, topic: str, data: str, **extra: str) -> str:
        message_id = f"{secrets.token_hex(4)}_{len(self.sent)}_{int(time.time() * 1000):x}"
        headers = {
            "appId": "fake-app",
            "topic": topic,
            "messageId": message_id,
            "contentType": "application/json",
            "time": str(int(time.time() * 1000)),
            **extra,
        }
        frame = {"specVersion": "1.0", "type": kind, "headers": headers, "data": data}
        self.sent[message_id] = frame
        await connection.ws.send_str(json.dumps(frame, ensure_ascii=False))
        return message_id

    async def any_connection(self, *, within: float = 30.0) -> StreamConnection:
        await self.wait_for(lambda: bool(self.live), within=within)
        return random.choice(self.live)

    async def push(self, message: dict[str, Any], *, within: float = 30.0) -> tuple[StreamConnection, str]:
        """A robot message to one live connection chosen at random (waiting for one); its messageId."""
        connection = await self.any_connection(within=within)
        data = json.dumps(message, ensure_ascii=False)
        return connection, await self._send(connection, "CALLBACK", ROBOT_TOPIC, data)

    async def acked(self, connection: StreamConnection, message_id: str, *, within: float = 30.0) -> dict[str, Any]:
        await self.wait_for(lambda: message_id in connection.acks, within=within)
        return connection.acks[message_id]

    async def ping(self, connection: StreamConnection) -> str:
        return await self._send(connection, "SYSTEM", "ping", json.dumps({"opaque": secrets.token_hex(6)}))

    async def event(self, connection: StreamConnection) -> str:
        return await self._send(
            connection, "EVENT", "chat_update_title", json.dumps({"title": "新群名"}), eventType="chat_update_title"
        )

    async def disconnect(self, connection: StreamConnection) -> None:
        """Ask the client to reconnect, then drop the socket after the grace period (as the gateway does)."""
        await self._send(connection, "SYSTEM", "disconnect", json.dumps({"reason": "connection is expired"}))
        try:
            await asyncio.wait_for(connection.closed.wait(), self.disconnect_grace)
        except TimeoutError:
            await connection.ws.close()

    async def drop(self, connection: StreamConnection) -> None:
        """Cut the connection without a word (a gateway restart, a proxy timeout)."""
        transport = connection.ws._req.transport if connection.ws._req is not None else None
        if transport is not None:
            transport.abort()
        await asyncio.wait_for(connection.closed.wait(), 10)
