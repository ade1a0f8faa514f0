"""Fake WeCom 智能机器人 long-connection gateway (PLATFORMS.md addendum §4) on a loopback websocket.

It checks that ``aibot_subscribe`` comes first with the bot's id and secret, acknowledges ``ping``, and keeps
**one** live connection per bot: a second subscription kicks the first with ``disconnected_event`` and closes
it (:attr:`kicks` counts that). A reply (``aibot_respond_msg``) is accepted only on the connection that
received the callback's ``req_id``, once; otherwise errcode 846605, as the platform answers. Commands before
subscribing get 846609. Messages pushed while no connection is subscribed wait for the next one (this fake's
assumption; what the platform does then is not documented). :attr:`problems` lists protocol violations.

Files (§4 upload frames): ``aibot_upload_media_init`` (type, filename, total_size, total_chunks ≤100, md5) answers
``body.upload_id``; ``aibot_upload_media_chunk`` takes each 0-based ``chunk_index`` once, at most 512 KB before
base64; ``aibot_upload_media_finish`` checks the count, the size and the md5 of the reassembled bytes and answers
``body.{type, media_id, created_at}``. A file message (``msgtype: file``) must name a media id uploaded here.
The errcodes of refused uploads and of an unknown media id are not documented: this fake answers 40058 and
40007 (WeCom's global "invalid parameter" and "invalid media_id"). :attr:`upload_failures` scripts errcodes
for the next inits.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

BOT_ID = "aibZHsocket01"
BOT_SECRET = "bot-socket-secret-value"
PATH = "/wecom/aibot"
CHUNK_LIMIT = 512 * 1024
MAX_CHUNKS = 100
BAD_PARAMETER = 40058
INVALID_MEDIA = 40007


@dataclass
class BotConnection:
    number: int
    ws: web.WebSocketResponse
    subscribed: bool = False
    callbacks: set[str] = field(default_factory=set)  # req_ids of the message callbacks sent here
    closed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Upload:
    """An upload under way (``aibot_upload_media_init`` accepted)."""

    upload_id: str
    filename: str
    total_size: int
    total_chunks: int
    md5: str
    chunks: dict[int, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Media:
    """A finished upload: what the platform would keep under ``media_id``."""

    media_id: str
    filename: str
    size: int
    chunks: int
    sha256: str


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

    @property
    def media_id(self) -> str | None:
        file = self.body.get("file") if self.body.get("msgtype") == "file" else None
        return str(file.get("media_id")) if isinstance(file, dict) else None


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
        self.uploads: dict[str, Upload] = {}
        self.media: dict[str, Media] = {}
        self.upload_answers: list[int] = []  # errcode of every init, in order
        self.upload_failures: list[int] = []  # errcodes the next inits answer with
        self.unanswered: set[str] = set()  # cmds accepted but never acknowledged (the ack lost on the way)
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

    def files_sent(self) -> list[tuple[Sent, Media]]:
        """Every accepted file message with the upload it named."""
        return [(sent, self.media[sent.media_id]) for sent in self.sent if sent.media_id is not None]

    async def _answer(
        self,
        connection: BotConnection,
        req_id: str,
        errcode: int = 0,
        errmsg: str = "ok",
        body: dict[str, Any] | None = None,
    ) -> None:
        frame: dict[str, Any] = {"headers": {"req_id": req_id}, "errcode": errcode, "errmsg": errmsg}
        if body is not None:
            frame["body"] = body
        await connection.ws.send_str(json.dumps(frame))

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
        elif cmd in ("aibot_upload_media_init", "aibot_upload_media_chunk", "aibot_upload_media_finish"):
            errcode, errmsg, answer = self._upload(cmd, body)
            await self._answer(connection, req_id, errcode, errmsg, answer)
        elif cmd in self.unanswered:
            self.sent.append(Sent(cmd, connection.number, req_id, body))
        elif cmd in ("aibot_respond_msg", "aibot_send_msg") and self._unknown_media(body):
            await self._answer(connection, req_id, INVALID_MEDIA, "invalid media_id")
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

    def _unknown_media(self, body: dict[str, Any]) -> bool:
        if body.get("msgtype") != "file":
            return False
        file = body.get("file")
        return not isinstance(file, dict) or file.get("media_id") not in self.media

    def _upload(self, cmd: str, body: dict[str, Any]) -> tuple[int, str, dict[str, Any] | None]:
        """One upload frame: its errcode, errmsg and answer body."""
        if cmd == "aibot_upload_media_init":
            return self._init(body)
        upload = self.uploads.get(str(body.get("upload_id")))
        if upload is None:
            self.problems.append(f"{cmd} with an unknown upload_id")
            return BAD_PARAMETER, "invalid upload_id", None
        if cmd == "aibot_upload_media_chunk":
            return self._chunk(upload, body)
        del self.uploads[upload.upload_id]
        content = b"".join(upload.chunks[index] for index in sorted(upload.chunks))
        if len(upload.chunks) != upload.total_chunks or len(content) != upload.total_size:
            self.problems.append(f"finish after {len(upload.chunks)}/{upload.total_chunks} chunks, {len(content)} B")
            return BAD_PARAMETER, "upload incomplete", None
        if hashlib.md5(content, usedforsecurity=False).hexdigest() != upload.md5:
            self.problems.append("the reassembled bytes do not match the md5 of the init")
            return BAD_PARAMETER, "md5 mismatch", None
        media_id = f"aibot_media_{secrets.token_hex(8)}"
        sha256 = hashlib.sha256(content).hexdigest()
        self.media[media_id] = Media(media_id, upload.filename, len(content), upload.total_chunks, sha256)
        return 0, "ok", {"type": "file", "media_id": media_id, "created_at": str(int(time.time()))}

    def _init(self, body: dict[str, Any]) -> tuple[int, str, dict[str, Any] | None]:
        size, chunks, md5 = body.get("total_size"), body.get("total_chunks"), body.get("md5")
        valid = (
            body.get("type") in ("file", "image", "voice", "video")
            and isinstance(body.get("filename"), str)
            and bool(body.get("filename"))
            and isinstance(size, int)
            and isinstance(chunks, int)
            and 0 < chunks <= MAX_CHUNKS
            and 0 < size <= chunks * CHUNK_LIMIT
            and isinstance(md5, str)
            and len(md5) == 32
        )
        if not valid:
            self.problems.append(f"a malformed aibot_upload_media_init: {body}")
            self.upload_answers.append(BAD_PARAMETER)
            return BAD_PARAMETER, "invalid parameter", None
        if self.upload_failures:
            errcode = self.upload_failures.pop(0)
            self.upload_answers.append(errcode)
            return errcode, "scripted failure", None
        assert isinstance(size, int) and isinstance(chunks, int) and isinstance(md5, str)
        upload = Upload(f"upload_{secrets.token_hex(8)}", str(body["filename"]), size, chunks, md5)
        self.uploads[upload.upload_id] = upload
        self.upload_answers.append(0)
        return 0, "ok", {"upload_id": upload.upload_id}

    def _chunk(self, upload: Upload, body: dict[str, Any]) -> tuple[int, str, dict[str, Any] | None]:
        index = body.get("chunk_index")
        try:
            data = base64.b64decode(str(body.get("base64_data", "")), validate=True)
        except (binascii.Error, ValueError):
            data = None
        if not isinstance(index, int) or not 0 <= index < upload.total_chunks or index in upload.chunks:
            self.problems.append(f"chunk {index} of {upload.total_chunks} (received: {sorted(upload.chunks)})")
            return BAD_PARAMETER, "invalid chunk_index", None
        if data is None or not data or len(data) > CHUNK_LIMIT:
            self.problems.append(f"chunk {index}: not base64, empty, or over 512 KB")
            return BAD_PARAMETER, "invalid chunk", None
        upload.chunks[index] = data
        return 0, "ok", None

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
