"""Fake file downloads for each inbound channel, as PLATFORMS.md (addendum 1) describes them.

- WeCom app ``GET /cgi-bin/media/get?access_token&media_id``: the raw bytes with ``Content-Disposition``
  (``filename*=UTF-8''…``); errors as JSON on HTTP 200 — 40014/42001 for a bad or expired token, 40007 for an
  unknown or expired media_id (valid 3 days), 830002 for a file over 20 MB requested without ``Range``;
  ``Range: bytes=a-b`` is answered 206 with ``Content-Range``.
- WeCom 智能机器人 ``GET /aibot/file/{code}``: the bytes AES-256-CBC encrypted with the bot's key (IV = key[:16],
  PKCS#7 to 32 bytes); the url works for 5 minutes, then HTTP 403 (WeCom documents no answer for an expired
  url: this fake's choice).
- Feishu ``GET /open-apis/im/v1/messages/{message_id}/resources/{file_key}?type=image|file`` with
  ``Authorization: Bearer <tenant_access_token>`` (the long-connection fake's tokens): the bytes, or a JSON error
  (99991663 for a bad token, 234003 for an unknown resource — the code is this fake's choice).
- DingTalk ``POST /v1.0/oauth2/accessToken`` (``{"appKey","appSecret"}`` → ``{"accessToken","expireIn"}``),
  ``POST /v1.0/robot/messageFiles/download`` (header ``x-acs-dingtalk-access-token``, body
  ``{"downloadCode","robotCode"}`` → ``{"downloadUrl"}``; errors as HTTP 4xx with ``{"code","message"}``), and
  the plain ``GET`` of the download url.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.fakes.behaviour import answer, read_json
from tests.fakes.dingtalk import FakeDingtalk
from tests.fakes.feishu_ws import FakeFeishuSocket
from tests.fakes.wecom import FakeWecom

MEDIA_LIFETIME = 3 * 24 * 3600.0
BOT_URL_LIFETIME = 300.0
WHOLE_LIMIT = 20 * 1024 * 1024
DINGTALK_TOKEN_LIFETIME = 7200.0


@dataclass
class Served:
    data: bytes
    name: str
    content_type: str
    issued_at: float
    aes_key: str = ""  # the 智能机器人's: the bytes go out encrypted


def encrypt_for_bot(data: bytes, b64key: str) -> bytes:
    key = base64.b64decode(b64key + "=" * (-len(b64key) % 4))
    count = 32 - len(data) % 32
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return encryptor.update(data + bytes([count]) * count) + encryptor.finalize()


def disposition(name: str) -> str:
    return f"attachment; filename*=UTF-8''{quote(name)}"


class FakeFiles:
    """The download endpoints of the WeCom and DingTalk fakes (they share their clocks, tokens and faults)."""

    def __init__(self, wecom: FakeWecom, dingtalk: FakeDingtalk, feishu: FakeFeishuSocket) -> None:
        self.wecom = wecom
        self.dingtalk = dingtalk
        self.feishu = feishu
        self.feishu_resources: dict[tuple[str, str], Served] = {}
        self.media: dict[str, Served] = {}
        self.bot_files: dict[str, Served] = {}
        self.dingtalk_codes: dict[str, Served] = {}
        self.dingtalk_links: dict[str, Served] = {}
        self.dingtalk_tokens: dict[str, float] = {}
        self.dingtalk_app = ("dingkey", "appSecretTest")
        self.downloads: list[tuple[str, str]] = []  # (channel, reference) for every body served

    @property
    def base_url(self) -> str:
        return self.wecom.base_url

    # ---- set-up ---------------------------------------------------------------------------------------

    def add_media(self, data: bytes, name: str, content_type: str = "application/octet-stream") -> str:
        media_id = "MEDIA_" + secrets.token_hex(12)
        self.media[media_id] = Served(data, name, content_type, self.wecom.clock())
        return media_id

    def add_bot_file(self, data: bytes, name: str, aes_key: str, content_type: str = "application/octet-stream") -> str:
        code = secrets.token_hex(12)
        self.bot_files[code] = Served(data, name, content_type, self.wecom.clock(), aes_key)
        return f"{self.base_url}/aibot/file/{code}"

    def add_dingtalk_file(self, data: bytes, name: str, content_type: str = "application/octet-stream") -> str:
        code = "DC" + secrets.token_hex(16)
        self.dingtalk_codes[code] = Served(data, name, content_type, self.dingtalk.clock())
        return code

    def add_feishu_file(self, message_id: str, data: bytes, name: str, content_type: str = "application/pdf") -> str:
        file_key = "file_v3_" + secrets.token_hex(10)
        self.feishu_resources[(message_id, file_key)] = Served(data, name, content_type, time.time())
        return file_key

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/open-apis/im/v1/messages/{message_id}/resources/{file_key}", self.feishu_resource),
            web.get("/cgi-bin/media/get", self.media_get),
            web.get("/aibot/file/{code}", self.bot_file),
            web.post("/v1.0/oauth2/accessToken", self.dingtalk_token),
            web.post("/v1.0/robot/messageFiles/download", self.dingtalk_download),
            web.get("/dingtalk-files/{link}", self.dingtalk_file),
        ]

    # ---- WeCom app media/get --------------------------------------------------------------------------

    async def media_get(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("access_token", "")
        media_id = request.query.get("media_id", "")
        wanted = request.headers.get("Range", "")

        def handle() -> web.Response:
            expiry = self.wecom.tokens.get(token)
            now = self.wecom.clock()
            if expiry is None:
                return self._wecom_error(media_id, 40014, "invalid access_token")
            if now >= expiry:
                return self._wecom_error(media_id, 42001, "access_token expired")
            served = self.media.get(media_id)
            if served is None or now - served.issued_at > MEDIA_LIFETIME:
                return self._wecom_error(media_id, 40007, "invalid media_id")
            headers = {"Content-Disposition": disposition(served.name), "Content-Type": served.content_type}
            if not wanted:
                if len(served.data) > WHOLE_LIMIT:
                    return self._wecom_error(media_id, 830002, "file size too large, use Range")
                self._served("wecom_app", media_id)
                return web.Response(body=served.data, headers=headers)
            start, end = _range(wanted, len(served.data))
            self._served("wecom_app", media_id)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(served.data)}"
            return web.Response(status=206, body=served.data[start : end + 1], headers=headers)

        return await self.wecom.behave("media", media_id, {}, handle, request=request)

    def _wecom_error(self, media_id: str, code: int, message: str) -> web.Response:
        self.wecom.record("media", media_id, {}, code)
        return answer(code, message)

    # ---- WeCom 智能机器人 url ---------------------------------------------------------------------------

    async def bot_file(self, request: web.Request) -> web.StreamResponse:
        code = request.match_info["code"]

        def handle() -> web.Response:
            served = self.bot_files.get(code)
            if served is None or self.wecom.clock() - served.issued_at > BOT_URL_LIFETIME:
                self.wecom.record("bot_file", code, {}, None, status=403)
                return web.Response(status=403, text="url expired")
            self._served("wecom_bot", code)
            self.wecom.record("bot_file", code, {}, 0, delivered=True)
            body = encrypt_for_bot(served.data, served.aes_key)
            headers = {"Content-Type": "application/octet-stream", "Content-Disposition": disposition(served.name)}
            return web.Response(body=body, headers=headers)

        return await self.wecom.behave("bot_file", code, {}, handle, request=request)

    # ---- DingTalk -------------------------------------------------------------------------------------

    async def dingtalk_token(self, request: web.Request) -> web.StreamResponse:
        payload = await read_json(request) or {}

        def handle() -> web.Response:
            if (payload.get("appKey"), payload.get("appSecret")) != self.dingtalk_app:
                self.dingtalk.record("accessToken", str(payload.get("appKey")), {}, None, status=400)
                return _dingtalk_error(400, "invalidClientIdOrSecret", "无效的clientId或clientSecret")
            token = secrets.token_hex(16)
            self.dingtalk_tokens[token] = self.dingtalk.clock() + DINGTALK_TOKEN_LIFETIME
            self.dingtalk.record("accessToken", str(payload.get("appKey")), {}, 0)
            return web.json_response({"accessToken": token, "expireIn": int(DINGTALK_TOKEN_LIFETIME)})

        return await self.dingtalk.behave("accessToken", "token", {}, handle, request=request)

    async def dingtalk_download(self, request: web.Request) -> web.StreamResponse:
        token = request.headers.get("x-acs-dingtalk-access-token", "")
        payload = await read_json(request) or {}
        code = str(payload.get("downloadCode", ""))

        def handle() -> web.Response:
            expiry = self.dingtalk_tokens.get(token)
            if expiry is None or self.dingtalk.clock() >= expiry:
                return _dingtalk_error(401, "InvalidAuthentication", "不合法的access_token")
            if payload.get("robotCode") != self.dingtalk_app[0]:
                return _dingtalk_error(400, "invalidParameter.robotCode", "robotCode不合法")
            served = self.dingtalk_codes.get(code)
            if served is None:
                return _dingtalk_error(400, "invalidParameter.downloadCode", "downloadCode不合法或已过期")
            link = secrets.token_hex(16)
            self.dingtalk_links[link] = served
            self.dingtalk.record("messageFiles", code, {}, 0)
            return web.json_response({"downloadUrl": f"{self.base_url}/dingtalk-files/{link}"})

        return await self.dingtalk.behave("messageFiles", code, {}, handle, request=request)

    async def dingtalk_file(self, request: web.Request) -> web.StreamResponse:
        served = self.dingtalk_links.get(request.match_info["link"])
        if served is None:
            return web.Response(status=404, text="NoSuchKey")
        self._served("dingtalk_bot", request.match_info["link"])
        headers = {"Content-Disposition": disposition(served.name), "Content-Type": served.content_type}
        return web.Response(body=served.data, headers=headers)

    # ---- Feishu ---------------------------------------------------------------------------------------

    async def feishu_resource(self, request: web.Request) -> web.StreamResponse:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.feishu.tokens:
            return web.json_response({"code": 99991663, "msg": "Invalid access token for authorization."})
        if request.query.get("type") not in ("image", "file"):
            return web.json_response({"code": 234001, "msg": "Invalid request param."}, status=400)
        served = self.feishu_resources.get((request.match_info["message_id"], request.match_info["file_key"]))
        if served is None:
            return web.json_response({"code": 234003, "msg": "File not in msg."}, status=400)
        self._served("feishu_ws", request.match_info["file_key"])
        headers = {"Content-Disposition": disposition(served.name), "Content-Type": served.content_type}
        return web.Response(body=served.data, headers=headers)

    def _served(self, channel: str, reference: str) -> None:
        self.downloads.append((channel, reference))


def _dingtalk_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message, "requestid": secrets.token_hex(8)}, status=status)


def _range(header: str, size: int) -> tuple[int, int]:
    first, _, last = header.removeprefix("bytes=").partition("-")
    start = int(first or 0)
    end = min(int(last) if last else size - 1, size - 1)
    return start, end
