"""Fake Feishu long connection (PLATFORMS.md addendum §5) and the two OpenAPI calls a reply needs.

``POST /callback/ws/endpoint`` checks the app's credentials and returns a websocket URL with ``device_id`` and
``service_id`` and a ``ClientConfig``; the websocket speaks protobuf ``pbbp2.Frame``: it answers a CONTROL
``ping`` with a ``pong``, pushes DATA ``event`` frames (optionally split into ``sum`` parts) and expects each
answered with the same ``message_id`` and a ``{"code": 200}`` payload within 3 s. ``POST
/open-apis/auth/v3/tenant_access_token/internal`` issues tokens; ``POST /open-apis/im/v1/messages/{id}/reply``
takes a reply (``content`` must be a JSON string) to a message it pushed, with a valid token.

Files (PLATFORMS.md §2): ``POST /open-apis/im/v1/files`` (multipart ``file_type`` of opus/mp4/pdf/doc/xls/ppt/stream,
``file_name``, ``file``; not empty, at most 30 MB; 1000 a minute and 50 a second) → ``data.file_key``; ``POST
/open-apis/im/v1/messages?receive_id_type=chat_id`` with ``msg_type`` ``file`` and ``content`` the JSON string
``{"file_key"}`` to a chat it pushed a message from. The codes for a bad size (234006, 234010) and an unknown
file_key (230001) are this fake's choice where PLATFORMS.md names none; 99991400 is Feishu's frequency limit.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

from bot.transports.feishu_frames import CONTROL, DATA, Frame
from tests.fakes.behaviour import SlidingWindow
from tests.fakes.wecom_media import Upload

APP_ID = "cli_a1b2c3d4e5"
APP_SECRET = "feishu-app-secret-value"
SERVICE_ID = 33554678
ANSWER_WITHIN = 3.0
FILE_TYPES = ("opus", "mp4", "pdf", "doc", "xls", "ppt", "stream")
FILE_LIMIT = 30 * 1024 * 1024


@dataclass
class FeishuConnection:
    number: int
    ws: web.WebSocketResponse
    answered: dict[str, float] = field(default_factory=dict)  # message_id → seconds to the answer
    closed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class Reply:
    message_id: str
    msg_type: str
    content: dict[str, Any]


class FakeFeishuSocket:
    def __init__(self, app_id: str = APP_ID, app_secret: str = APP_SECRET) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.base_url = ""
        self.connections: list[FeishuConnection] = []
        self.tokens: set[str] = set()
        self.pushed: dict[str, float] = {}  # message_id of each pushed frame → when
        self.messages: set[str] = set()  # om_… ids of the messages pushed (replies must name one)
        self.replies: list[Reply] = []
        self.chats: set[str] = set()  # chats it pushed a message from (a new message must go to one)
        self.uploads: dict[str, Upload] = {}
        self.sent_files: list[tuple[str, Upload]] = []  # (chat_id, upload) of each file message
        self.upload_windows = (SlidingWindow(1000, 60), SlidingWindow(50, 1))
        self.upload_answers: list[int] = []  # the code of every upload, in order
        self.pings = 0
        self.problems: list[str] = []
        self.changed = asyncio.Condition()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/open-apis/im/v1/files", self.upload_file),
            web.post("/open-apis/im/v1/messages", self.create_message),
            web.post("/callback/ws/endpoint", self.endpoint),
            web.get("/feishu/ws", self.serve),
            web.post("/open-apis/auth/v3/tenant_access_token/internal", self.token),
            web.post("/open-apis/im/v1/messages/{message_id}/reply", self.reply),
        ]

    @property
    def live(self) -> list[FeishuConnection]:
        return [c for c in self.connections if not c.closed.is_set()]

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, predicate: Any, *, within: float = 30.0) -> None:
        async with asyncio.timeout(within), self.changed:
            await self.changed.wait_for(predicate)

    async def endpoint(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("AppID") != self.app_id or body.get("AppSecret") != self.app_secret:
            return web.json_response({"code": 1000040343, "msg": "app secret invalid"})
        base = self.base_url.replace("http", "ws", 1)
        url = f"{base}/feishu/ws?device_id={secrets.token_hex(8)}&service_id={SERVICE_ID}"
        config = {"ReconnectCount": -1, "ReconnectInterval": 120, "ReconnectNonce": 30, "PingInterval": 120}
        return web.json_response({"code": 0, "msg": "ok", "data": {"URL": url, "ClientConfig": config}})

    async def serve(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        connection = FeishuConnection(len(self.connections) + 1, ws)
        self.connections.append(connection)
        await self._notify()
        try:
            async for message in ws:
                if message.type is WSMsgType.BINARY:
                    await self._frame(connection, message.data)
                    await self._notify()
                else:
                    self.problems.append(f"a {message.type.name} message: frames are binary")
        finally:
            connection.closed.set()
            await self._notify()
        return ws

    async def _frame(self, connection: FeishuConnection, data: bytes) -> None:
        try:
            frame = Frame.decode(data)
        except ValueError:
            self.problems.append("not a pbbp2 frame")
            return
        if frame.method == CONTROL and frame.headers.get("type") == "ping":
            if frame.service != SERVICE_ID:
                self.problems.append(f"ping for service {frame.service}")
            self.pings += 1
            pong = json.dumps({"PingInterval": 120}).encode()
            await connection.ws.send_bytes(Frame(CONTROL, SERVICE_ID, {"type": "pong"}, pong).encode())
            return
        if frame.method == DATA:
            message_id = frame.headers.get("message_id", "")
            if message_id not in self.pushed:
                self.problems.append(f"answered an unknown frame {message_id}")
                return
            took = time.monotonic() - self.pushed[message_id]
            if json.loads(frame.payload or b"{}").get("code") != 200 or "biz_rt" not in frame.headers:
                self.problems.append(f"bad answer to {message_id}")
            if took > ANSWER_WITHIN:
                self.problems.append(f"{message_id} answered after {took:.1f} s")
            connection.answered[message_id] = took
            return
        self.problems.append(f"unexpected frame method {frame.method}")

    async def push_event(self, event: dict[str, Any], *, parts: int = 1) -> tuple[FeishuConnection, str]:
        """An event to one live connection (waiting for one), split into ``parts`` frames."""
        await self.wait_for(lambda: bool(self.live))
        connection = self.live[secrets.randbelow(len(self.live))]
        payload = json.dumps(event, ensure_ascii=False).encode()
        frame_id = f"frame_{secrets.token_hex(6)}"
        size = -(-len(payload) // parts)
        self.pushed[frame_id] = time.monotonic()
        for seq in range(parts):
            headers = {"type": "event", "message_id": frame_id, "sum": str(parts), "seq": str(seq), "trace_id": "t"}
            chunk = payload[seq * size : (seq + 1) * size]
            await connection.ws.send_bytes(Frame(DATA, SERVICE_ID, headers, chunk, seq_id=seq, log_id=7).encode())
        return connection, frame_id

    async def drop_all(self) -> None:
        """Cut every live connection without a word."""
        for connection in self.live:
            transport = connection.ws._req.transport if connection.ws._req is not None else None
            if transport is not None:
                transport.abort()
            await asyncio.wait_for(connection.closed.wait(), 10)

    async def token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("app_id") != self.app_id or body.get("app_secret") != self.app_secret:
            return web.json_response({"code": 10014, "msg": "app secret invalid"})
        token = f"t-{secrets.token_hex(12)}"
        self.tokens.add(token)
        return web.json_response({"code": 0, "msg": "ok", "tenant_access_token": token, "expire": 7200})

    async def reply(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return web.json_response({"code": 99991663, "msg": "Invalid access token for authorization."})
        message_id = request.match_info["message_id"]
        body = await request.json()
        content = body.get("content")
        if message_id not in self.messages:
            return web.json_response({"code": 230011, "msg": "The message is not found."})
        if not isinstance(content, str):
            return web.json_response({"code": 230001, "msg": "content is not a string"})
        self.replies.append(Reply(message_id, str(body.get("msg_type")), json.loads(content)))
        await self._notify()
        return web.json_response({"code": 0, "msg": "success", "data": {"message_id": f"om_{secrets.token_hex(8)}"}})

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "").removeprefix("Bearer ") in self.tokens

    def _upload_answer(self, code: int, msg: str, **extra: Any) -> web.Response:
        self.upload_answers.append(code)
        return web.json_response({"code": code, "msg": msg, **extra})

    async def upload_file(self, request: web.Request) -> web.Response:
        fields: dict[str, str] = {}
        content: bytes | None = None
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if isinstance(part, BodyPartReader) and part.name == "file":
                    content = bytes(await part.read())
                elif isinstance(part, BodyPartReader) and part.name:
                    fields[part.name] = await part.text()
        if not self._authorized(request):
            return self._upload_answer(99991663, "Invalid access token for authorization.")
        now = time.time()
        if any(window.full(now) for window in self.upload_windows):
            return self._upload_answer(99991400, "request trigger frequency limit")
        for window in self.upload_windows:
            window.record(now)
        if fields.get("file_type") not in FILE_TYPES or not fields.get("file_name") or content is None:
            return self._upload_answer(234001, "Invalid request param.")
        if not content:
            return self._upload_answer(234010, "File's size can't be 0.")
        if len(content) > FILE_LIMIT:
            return self._upload_answer(234006, "The file size exceed the max value.")
        upload = Upload(f"file_v3_{secrets.token_hex(10)}", "app", fields["file_name"], content, now)
        self.uploads[upload.media_id] = upload
        return self._upload_answer(0, "success", data={"file_key": upload.media_id})

    async def create_message(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": 99991663, "msg": "Invalid access token for authorization."})
        body = await request.json()
        chat_id = str(body.get("receive_id", ""))
        content = body.get("content")
        if request.query.get("receive_id_type") != "chat_id" or chat_id not in self.chats:
            return web.json_response({"code": 230002, "msg": "The bot is not in the chat."})
        if not isinstance(content, str):
            return web.json_response({"code": 230001, "msg": "content is not a string"})
        parsed = json.loads(content)
        upload = self.uploads.get(parsed.get("file_key")) if body.get("msg_type") == "file" else None
        if body.get("msg_type") != "file" or upload is None:
            return web.json_response({"code": 230001, "msg": "invalid file_key"})
        self.sent_files.append((chat_id, upload))
        await self._notify()
        return web.json_response({"code": 0, "msg": "success", "data": {"message_id": f"om_{secrets.token_hex(8)}"}})

    def group_message(
        self,
        text: str,
        *,
        user_id: str | None = "stranger01",
        open_id: str = "ou_stranger01",
        chat_id: str = "oc_group01",
    ) -> dict[str, Any]:
        """``im.message.receive_v1`` for a group message that @-mentions the bot.

        ``user_id=None`` leaves ``user_id`` out, as Feishu does for an app without the user-id permission.
        """
        sender_id = {"open_id": open_id, "union_id": f"on_{open_id[3:]}"}
        if user_id is not None:
            sender_id["user_id"] = user_id
        message_id = f"om_{secrets.token_hex(8)}"
        self.messages.add(message_id)
        self.chats.add(chat_id)
        now = str(int(time.time() * 1000))
        return {
            "schema": "2.0",
            "header": {
                "event_id": secrets.token_hex(16),
                "event_type": "im.message.receive_v1",
                "create_time": now,
                "token": "",
                "app_id": self.app_id,
                "tenant_key": "tenant01",
            },
            "event": {
                "sender": {
                    "sender_id": sender_id,
                    "sender_type": "user",
                },
                "message": {
                    "message_id": message_id,
                    "root_id": "",
                    "parent_id": "",
                    "create_time": now,
                    "chat_id": chat_id,
                    "chat_type": "group",
                    "message_type": "text",
                    "content": json.dumps({"text": f"@_user_1 {text}"}, ensure_ascii=False),
                    "mentions": [{"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "督办助手"}],
                },
            },
        }
