"""Fake WeCom 智能机器人 long-connection gateway (PLATFORMS.md addendum §4) on a loopback websocket.

It checks that ``aibot_subscribe`` comes first with the bot's id and secret, acknowledges ``ping``, and keeps
**one** live connection per bot: a second subscription kicks the first with ``disconnected_event`` and closes
it (:attr:`kicks` counts that). A reply (``aibot_respond_msg``) is accepted only on the connection that
received the callback's ``req_id``, once; otherwise errcode 846605, as the platform answers. Commands before
subscribing get 846609. Messages pushed while no connection is subscribed wait for the next one (this fake's
assumption; what the platform does then is not documented). :attr:`problems` lists protocol violations.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

BOT_ID = "aibZHsocket01"
BOT_SECRET = "bot-socket-secret-value"
PATH = "/wecom/aibot"


@dataclass
class BotConnection:
    number: int
    ws: web.WebSocketResponse
    subscribed: bool = False
    callbacks: set[str] = field(default_factory=set)  # req_ids of the message callbacks sent here
    closed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class Sent:
    """A reply or an active send the gateway accepted."""

    cmd: str
    connection: int
    req_id: str
    body: dict[str, Any]

    @property
    def content(self) -> str:
        part = self.body.get("stream") or self.body.get("markdown") or {}
        return str(part.get("content", ""))


class FakeWecomBotSocket:
    def __init__(self, bot_id: str = BOT_ID, secret: str = BOT_SECRET) -> None:
        self.bot_id = bot_id
        self.secret = secret
        self.base_url = ""
        self.connections: list[BotConnection] = []
        self.current: BotConnection | None = None
        self.waiting: list[dict[str, Any]] = []  # pushed while no connection was subscribed
        self.delivered: list[tuple[int, str]] = []  # (connection, msgid) of every callback sent
        self.sent: list[Sent] = []
        self.pings = 0
        self.kicks = 0
        self.subscriptions = 0
        self.problems: list[str] = []
        self.changed = asyncio.Condition()

    @property
    def url(self) -> str:
        return self.base_url.replace("http", "ws", 1) + PATH  # https → wss

    def routes(self) -> list[web.RouteDef]:
        return [web.get(PATH, self.serve)]

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, predicate: Any, *, within: float = 30.0) -> None:
        async with asyncio.timeout(within), self.changed:
            await self.changed.wait_for(predicate)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        connection = BotConnection(len(self.connections) + 1, ws)
        self.connections.append(connection)
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await self._command(connection, message.data)
                    await self._notify()
        finally:
            connection.closed.set()
            if self.current is connection:
                self.current = None
            await self._notify()
        return ws

    async def _answer(self, connection: BotConnection, req_id: str, errcode: int = 0, errmsg: str = "ok") -> None:
        await connection.ws.send_str(json.dumps({"headers": {"req_id": req_id}, "errcode": errcode, "errmsg": errmsg}))

    async def _command(self, connection: BotConnection, raw: str) -> None:
        try:
            frame = json.loads(raw)
            cmd, req_id = frame["cmd"], frame["headers"]["req_id"]
        except (ValueError, KeyError, TypeError):
            self.problems.append(f"not a command: {raw[:200]}")
            return
        body = frame.get("body") if isinstance(frame.get("body"), dict) else {}
        if cmd == "aibot_subscribe":
            if body.get("bot_id") != self.bot_id or body.get("secret") != self.secret:
                await self._answer(connection, req_id, 40001, "invalid credential")  # auth errcodes: UNVERIFIED
                return
            await self._subscribe(connection, req_id)
            return
        if not connection.subscribed:
            await self._answer(connection, req_id, 846609, "aibot websocket not subscribed")
            return
        if cmd == "ping":
            self.pings += 1
            await self._answer(connection, req_id)
        elif cmd == "aibot_respond_msg":
            if req_id not in connection.callbacks:
                await self._answer(connection, req_id, 846605, "invalid req_id")
                return
            connection.callbacks.discard(req_id)  # one finished reply per callback
            self.sent.append(Sent(cmd, connection.number, req_id, body))
            await self._answer(connection, req_id)
        elif cmd == "aibot_send_msg":
            if not body.get("chatid"):
                await self._answer(connection, req_id, 40058, "chatid required")
                return
            self.sent.append(Sent(cmd, connection.number, req_id, body))
            await self._answer(connection, req_id)
        else:
            self.problems.append(f"unexpected command {cmd}")

    async def _subscribe(self, connection: BotConnection, req_id: str) -> None:
        previous = self.current
        connection.subscribed = True
        self.current = connection
        self.subscriptions += 1
        await self._answer(connection, req_id)
        if previous is not None and previous is not connection and not previous.closed.is_set():
            self.kicks += 1
            await self._event(previous, "disconnected_event")
            await previous.ws.close()
        waiting, self.waiting = self.waiting, []
        for body in waiting:
            await self._callback(connection, body)

    async def _event(self, connection: BotConnection, eventtype: str) -> None:
        body = {
            "msgid": secrets.token_hex(8),
            "create_time": int(time.time()),
            "aibotid": self.bot_id,
            "from": {"userid": "sys"},
            "msgtype": "event",
            "event": {"eventtype": eventtype},
        }
        req_id = f"evt_{secrets.token_hex(6)}"
        await connection.ws.send_str(
            json.dumps({"cmd": "aibot_event_callback", "headers": {"req_id": req_id}, "body": body})
        )

    async def _callback(self, connection: BotConnection, body: dict[str, Any]) -> None:
        req_id = f"cb_{secrets.token_hex(8)}"
        connection.callbacks.add(req_id)
        self.delivered.append((connection.number, str(body.get("msgid"))))
        frame = {"cmd": "aibot_msg_callback", "headers": {"req_id": req_id}, "body": body}
        await connection.ws.send_str(json.dumps(frame, ensure_ascii=False))

    async def push(self, body: dict[str, Any]) -> None:
        """A message to the live connection, or kept for the next one to subscribe."""
        if self.current is not None and not self.current.closed.is_set():
            await self._callback(self.current, body)
        else:
            self.waiting.append(body)
        await self._notify()

    async def kick(self) -> None:
        """``disconnected_event`` to the live connection, as if another client had subscribed elsewhere."""
        assert self.current is not None
        self.kicks += 1
        connection, self.current = self.current, None
        await self._event(connection, "disconnected_event")
        await connection.ws.close()

    async def drop(self) -> None:
        """Cut the live connection without a word."""
        assert self.current is not None
        connection = self.current
        transport = connection.ws._req.transport if connection.ws._req is not None else None
        if transport is not None:
            transport.abort()
        await asyncio.wait_for(connection.closed.wait(), 10)


def group_message(msgid: str, userid: str, text: str, *, chatid: str = "wrkSFfCgAAgroup01") -> dict[str, Any]:
    """A group @-message as the long connection delivers it (the HTTP callback's JSON, without response_url)."""
    return {
        "msgid": msgid,
        "aibotid": BOT_ID,
        "chatid": chatid,
        "chattype": "group",
        "from": {"userid": userid},
        "msgtype": "text",
        "text": {"content": f"@督办助手 {text}"},
    }
