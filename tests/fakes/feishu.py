"""Fake Feishu custom bot: signed in the body (19021), keywords (19024), IP (19022), 5/s and 100/min (11232).

Answers as Feishu does: HTTP 200 with ``code``/``msg`` (and ``StatusCode`` on success); a body over 20 KB
is refused with 9499.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.behaviour import Behaviour, SlidingWindow, read_json

BODY_LIMIT = 20 * 1024
SIGN_WINDOW_S = 3600


@dataclass
class FeishuBot:
    token: str
    secret: str = ""
    keywords: tuple[str, ...] = ()
    ip_allowed: bool = True
    per_second: SlidingWindow = field(default_factory=lambda: SlidingWindow(5, 1))
    per_minute: SlidingWindow = field(default_factory=lambda: SlidingWindow(100, 60))


def expected_sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_answer(code: int, msg: str) -> web.Response:
    if code == 0:
        return web.json_response({"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"})
    return web.json_response({"code": code, "data": {}, "msg": msg})


class FakeFeishu(Behaviour):
    platform = "feishu"
    busy_errcode = 11232
    refusal = (19001, "param invalid: incoming webhook access token invalid")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bots: dict[str, FeishuBot] = {}
        self.auto_register = False
        self.base_url = ""

    def add_bot(
        self, token: str | None = None, *, secret: str = "", keywords: tuple[str, ...] = (), ip_allowed: bool = True
    ) -> str:
        token = token or secrets.token_hex(8)
        self.bots[token] = FeishuBot(token, secret, keywords, ip_allowed)
        return f"{self.base_url}/open-apis/bot/v2/hook/{token}"

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/open-apis/bot/v2/hook/{token}", self.send)]

    async def send(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        raw = await request.read()
        payload = await read_json(request) or {}

        def handle() -> web.Response:
            bot = self.bots.get(token)
            if bot is None and self.auto_register:
                bot = self.bots[token] = FeishuBot(token)
            if bot is None:
                self.record("robot", token, payload, 19001)
                return feishu_answer(19001, "param invalid: incoming webhook access token invalid")
            now = self.clock()
            if len(raw) > BODY_LIMIT:
                self.record("robot", token, payload, 9499)
                return feishu_answer(9499, "Bad Request")
            if not bot.ip_allowed:
                self.record("robot", token, payload, 19022)
                return feishu_answer(19022, "Ip Not Allowed")
            if bot.secret:
                timestamp = str(payload.get("timestamp", ""))
                fresh = timestamp.isdigit() and abs(int(timestamp) - now) <= SIGN_WINDOW_S
                if not fresh or not hmac.compare_digest(
                    str(payload.get("sign", "")), expected_sign(bot.secret, timestamp)
                ):
                    self.record("robot", token, payload, 19021)
                    return feishu_answer(19021, "sign match fail or timestamp is not within one hour from current time")
            content = json.dumps(payload.get("content", {}), ensure_ascii=False)
            if bot.keywords and not any(keyword in content for keyword in bot.keywords):
                self.record("robot", token, payload, 19024)
                return feishu_answer(19024, "Key Words Not Found")
            if bot.per_second.full(now) or bot.per_minute.full(now):
                self.record("robot", token, payload, 11232)
                return feishu_answer(11232, "frequency limited psm[lark.oapi.app_platform_runtime]")
            bot.per_second.record(now)
            bot.per_minute.record(now)
            self.record("robot", token, payload, 0, delivered=True)
            return feishu_answer(0, "success")

        return await self.behave("robot", token, payload, handle, request=request)
