"""Fake DingTalk: custom robots (加签, keywords, IP allow-list, 20/min then a 10-minute block) and sessionWebhooks.

errcodes as PLATFORMS.md says: 310000 for a bad signature, stale timestamp, missing keyword or refused IP
(told apart by errmsg, worded as DingTalk words them), 130101 while a robot is blocked, 300001 for an
unknown access token or an expired session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.behaviour import Behaviour, SlidingWindow, answer, read_json

BLOCK_SECONDS = 600.0
SIGN_WINDOW_MS = 3_600_000


@dataclass
class DingtalkRobot:
    token: str
    secret: str = ""
    keywords: tuple[str, ...] = ()
    ip_allowed: bool = True
    window: SlidingWindow = field(default_factory=lambda: SlidingWindow(20, 60))
    blocked_until: float = 0.0
    blocks: int = 0


@dataclass
class Session:
    sid: str
    expires_at_ms: int


def text_of(payload: dict[str, Any]) -> str:
    """Everything DingTalk reads for keywords: text content, or markdown title and text."""
    msgtype = payload.get("msgtype")
    part = payload.get(msgtype) if isinstance(msgtype, str) else None
    if not isinstance(part, dict):
        return ""
    return "\n".join(str(part.get(key, "")) for key in ("content", "title", "text"))


def expected_sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class FakeDingtalk(Behaviour):
    platform = "dingtalk"
    busy_errcode = 130101
    refusal = (300001, "token is not exist")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.robots: dict[str, DingtalkRobot] = {}
        self.sessions: dict[str, Session] = {}
        self.auto_register = False
        self.base_url = ""

    def add_robot(
        self, token: str | None = None, *, secret: str = "", keywords: tuple[str, ...] = (), ip_allowed: bool = True
    ) -> str:
        token = token or secrets.token_hex(8)
        self.robots[token] = DingtalkRobot(token, secret, keywords, ip_allowed)
        return f"{self.base_url}/robot/send?access_token={token}"

    def new_session(self, *, lifetime_s: float = 5400.0) -> tuple[str, int]:
        """A sessionWebhook URL and its expiry (ms), as an inbound message would carry them."""
        sid = secrets.token_hex(8)
        expires = int((self.clock() + lifetime_s) * 1000)
        self.sessions[sid] = Session(sid, expires)
        return f"{self.base_url}/dingtalk/session/{sid}", expires

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/robot/send", self.robot_send), web.post("/dingtalk/session/{sid}", self.session_send)]

    def _security(self, robot: DingtalkRobot, request: web.Request, payload: dict[str, Any]) -> str | None:
        if not robot.ip_allowed:
            return f"ip {request.remote} not in whitelist, more: [https://open.dingtalk.com]"
        if robot.secret:
            timestamp = request.query.get("timestamp", "")
            sign = request.query.get("sign", "")
            if not timestamp.isdigit() or abs(int(timestamp) - int(self.clock() * 1000)) > SIGN_WINDOW_MS:
                return "invalid timestamp, more: [https://open.dingtalk.com]"
            if not hmac.compare_digest(sign, expected_sign(robot.secret, timestamp)):
                return "sign not match, more: [https://open.dingtalk.com]"
        if robot.keywords and not any(keyword in text_of(payload) for keyword in robot.keywords):
            return "keywords not in content, more: [https://open.dingtalk.com]"
        return None

    async def robot_send(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("access_token", "")
        payload = await read_json(request) or {}

        def handle() -> web.Response:
            robot = self.robots.get(token)
            if robot is None and self.auto_register and token:
                robot = self.robots[token] = DingtalkRobot(token)
            if robot is None:
                self.record("robot", token, payload, 300001)
                return answer(300001, "token is not exist")
            now = self.clock()
            if now < robot.blocked_until:
                self.record("robot", token, payload, 130101)
                return answer(130101, "send too fast, exceed 20 times per minute")
            refused = self._security(robot, request, payload)
            if refused:
                self.record("robot", token, payload, 310000)
                return answer(310000, refused)
            if robot.window.full(now):
                robot.blocked_until = now + BLOCK_SECONDS
                robot.blocks += 1
                self.record("robot", token, payload, 130101)
                return answer(130101, "send too fast, exceed 20 times per minute")
            robot.window.record(now)
            self.record("robot", token, payload, 0, delivered=True)
            return answer(0, "ok")

        return await self.behave("robot", token, payload, handle, request=request)

    async def session_send(self, request: web.Request) -> web.StreamResponse:
        sid = request.match_info["sid"]
        payload = await read_json(request) or {}

        def handle() -> web.Response:
            session = self.sessions.get(sid)
            if session is None or self.clock() * 1000 >= session.expires_at_ms:
                self.record("session", sid, payload, 300001)
                return answer(300001, "session 不存在")
            self.record("session", sid, payload, 0, delivered=True)
            return answer(0, "ok")

        return await self.behave("session", sid, payload, handle, request=request)
