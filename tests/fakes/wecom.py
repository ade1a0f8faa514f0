"""Fake WeCom: group robot webhooks, the app API (gettoken, message/send) and 智能机器人 response_urls.

Behaves as PLATFORMS.md says: errcode in a JSON body on HTTP 200; 20 messages per minute per robot, then
45009; text ≤ 2048 and markdown ≤ 4096 bytes (40058 beyond); unknown key 93000; app tokens valid 7200 s,
40014 / 42001 for an unknown / expired token, 40001 for a wrong secret, 30 messages per minute per member.
A ``response_url`` works once and for an hour (WeCom documents no errcode for a spent one; this fake
answers 93001 with an explanatory errmsg).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.behaviour import Behaviour, SlidingWindow, answer, read_json
from tests.fakes.wecom_media import MediaStore, read_media

TEXT_LIMIT = 2048
MARKDOWN_LIMIT = 4096
TOKEN_LIFETIME = 7200.0
RESPONSE_URL_LIFETIME = 3600.0
RESPONSE_URL_SPENT = 93001  # fake-only: WeCom documents no code for a used or expired response_url


@dataclass
class WecomRobot:
    key: str
    window: SlidingWindow = field(default_factory=lambda: SlidingWindow(20, 60))


@dataclass
class ResponseUrl:
    code: str
    issued_at: float
    used: bool = False


def content_of(payload: dict[str, Any]) -> str:
    msgtype = payload.get("msgtype")
    part = payload.get(msgtype) if isinstance(msgtype, str) else None
    content = part.get("content") if isinstance(part, dict) else None
    return content if isinstance(content, str) else ""


def _too_long(payload: dict[str, Any]) -> str | None:
    size = len(content_of(payload).encode())
    limit = MARKDOWN_LIMIT if payload.get("msgtype") == "markdown" else TEXT_LIMIT
    if size > limit:
        return f"{payload.get('msgtype')}.content exceed max length {limit}"
    return None


def _errcode(reply: web.Response) -> int:
    body = reply.text or "{}"
    return int(json.loads(body).get("errcode", 0))


class FakeWecom(Behaviour):
    platform = "wecom"
    busy_errcode = 45009
    refusal = (93000, "invalid webhook url")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.robots: dict[str, WecomRobot] = {}
        self.auto_register = False
        self.corp_id = "wwfakecorp"
        self.corp_secret = "fake-app-secret"
        self.agent_id = 1000002
        self.members: set[str] = set()
        self.tokens: dict[str, float] = {}  # token → expiry (clock)
        self.tokens_issued = 0
        self.member_windows: dict[str, SlidingWindow] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.media = MediaStore(self.clock)
        self.base_url = ""

    # ---- set-up ---------------------------------------------------------------------------------------

    def add_robot(self, key: str | None = None) -> str:
        """Register a group robot; returns its webhook URL."""
        key = key or secrets.token_hex(8)
        self.robots[key] = WecomRobot(key)
        return f"{self.base_url}/cgi-bin/webhook/send?key={key}"

    def new_response_url(self) -> str:
        code = secrets.token_hex(8)
        self.response_urls[code] = ResponseUrl(code, self.clock())
        return f"{self.base_url}/cgi-bin/aibot/response?response_code={code}"

    def expire_tokens(self) -> None:
        self.tokens = dict.fromkeys(self.tokens, 0.0)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/cgi-bin/webhook/send", self.robot_send),
            web.get("/cgi-bin/gettoken", self.gettoken),
            web.post("/cgi-bin/message/send", self.app_send),
            web.post("/cgi-bin/aibot/response", self.response),
            web.post("/cgi-bin/webhook/upload_media", self.robot_upload),
            web.post("/cgi-bin/media/upload", self.app_upload),
        ]

    # ---- group robot ----------------------------------------------------------------------------------

    async def robot_send(self, request: web.Request) -> web.StreamResponse:
        key = request.query.get("key", "")
        payload = await read_json(request) or {}

        def handle() -> web.Response:
            robot = self.robots.get(key)
            if robot is None and self.auto_register and key:
                robot = self.robots[key] = WecomRobot(key)
            if robot is None:
                self.record("robot", key, payload, 93000)
                return answer(93000, "invalid webhook url")
            now = self.clock()
            if robot.window.full(now):
                self.record("robot", key, payload, 45009)
                return answer(45009, "api freq out of limit")
            too_long = _too_long(payload)
            if too_long:
                self.record("robot", key, payload, 40058)
                return answer(40058, too_long)
            if payload.get("msgtype") == "file" and not self.media.usable(payload, key):
                self.record("robot", key, payload, 40007)
                return answer(40007, "invalid media_id")
            robot.window.record(now)
            self.record("robot", key, payload, 0, delivered=True)
            return answer(0, "ok")

        return await self.behave("robot", key, payload, handle, request=request)

    async def robot_upload(self, request: web.Request) -> web.StreamResponse:
        key = request.query.get("key", "")
        media = await read_media(request)

        def handle() -> web.Response:
            if key not in self.robots:
                self.record("robot_upload", key, {}, 93000)
                return answer(93000, "invalid webhook url")
            record, reply = self.media.accept(request.query.get("type", ""), media, key)
            self.record("robot_upload", key, record, _errcode(reply))
            return reply

        # Scripted faults for a robot apply to its uploads too (the upload is its first request for a file).
        return await self.behave("robot_upload", key, {}, handle, request=request)

    # ---- app ------------------------------------------------------------------------------------------

    async def app_upload(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("access_token", "")
        media = await read_media(request)

        def handle() -> web.Response:
            expiry = self.tokens.get(token)
            if expiry is None or self.clock() >= expiry:
                errcode, errmsg = (40014, "invalid access_token") if expiry is None else (42001, "access_token expired")
                self.record("app_upload", token, {}, errcode)
                return answer(errcode, errmsg)
            record, reply = self.media.accept(request.query.get("type", ""), media, "app")
            self.record("app_upload", token, record, _errcode(reply))
            return reply

        # Faults are scripted for the target "app_upload" (the token is not known to a test).
        return await self.behave("app_upload", "app_upload", {}, handle, request=request)

    async def gettoken(self, request: web.Request) -> web.StreamResponse:
        corpid = request.query.get("corpid", "")
        corpsecret = request.query.get("corpsecret", "")

        def handle() -> web.Response:
            if corpid != self.corp_id:
                self.record("gettoken", corpid, {}, 40013)
                return answer(40013, "invalid corpid")
            if corpsecret != self.corp_secret:
                self.record("gettoken", corpid, {}, 40001)
                return answer(40001, "invalid credential")
            token = secrets.token_hex(16)
            self.tokens[token] = self.clock() + TOKEN_LIFETIME
            self.tokens_issued += 1
            self.record("gettoken", corpid, {}, 0)
            return answer(0, "ok", access_token=token, expires_in=int(TOKEN_LIFETIME))

        return await self.behave("gettoken", corpid, {}, handle, request=request)

    async def app_send(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("access_token", "")
        payload = await read_json(request) or {}
        touser = str(payload.get("touser", ""))

        def handle() -> web.Response:
            expiry = self.tokens.get(token)
            now = self.clock()
            if expiry is None:
                self.record("app", touser, payload, 40014)
                return answer(40014, "invalid access_token")
            if now >= expiry:
                self.record("app", touser, payload, 42001)
                return answer(42001, "access_token expired")
            if payload.get("agentid") != self.agent_id:
                self.record("app", touser, payload, 40056)
                return answer(40056, "invalid agentid")
            if touser not in self.members:
                self.record("app", touser, payload, 81013)
                return answer(81013, "user & party & tag all invalid")
            window = self.member_windows.setdefault(touser, SlidingWindow(30, 60))
            if window.full(now):
                self.record("app", touser, payload, 45009)
                return answer(45009, "api freq out of limit")
            if len(content_of(payload).encode()) > TEXT_LIMIT:
                self.record("app", touser, payload, 40058)
                return answer(40058, "content exceed max length 2048")
            if payload.get("msgtype") == "file" and not self.media.usable(payload, "app"):
                self.record("app", touser, payload, 40007)
                return answer(40007, "invalid media_id")
            window.record(now)
            self.record("app", touser, payload, 0, delivered=True)
            return answer(0, "ok", invaliduser="")

        return await self.behave("app", touser, payload, handle, request=request)

    # ---- 智能机器人 response_url ------------------------------------------------------------------------

    async def response(self, request: web.Request) -> web.StreamResponse:
        code = request.query.get("response_code", "")
        payload = await read_json(request) or {}

        def handle() -> web.Response:
            url = self.response_urls.get(code)
            if url is None or url.used or self.clock() - url.issued_at > RESPONSE_URL_LIFETIME:
                self.record("response_url", code, payload, RESPONSE_URL_SPENT)
                return answer(RESPONSE_URL_SPENT, "response_url already used, expired or unknown (fake)")
            if payload.get("msgtype") != "markdown" or len(content_of(payload).encode()) > MARKDOWN_LIMIT:
                self.record("response_url", code, payload, 40058)
                return answer(40058, "markdown.content invalid or exceeds 4096 bytes")
            url.used = True
            self.record("response_url", code, payload, 0, delivered=True)
            return answer(0, "ok")

        return await self.behave("response_url", code, payload, handle, request=request)
