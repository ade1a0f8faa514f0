"""All fake platforms on one loopback HTTP server, usable from a test fixture or as a standalone process.

Point ``[wecom] api_base``, ``[dingtalk] api_base`` and ``[feishu] api_base`` (and the groups' webhooks)
at :attr:`FakePlatforms.url`.
"""

from __future__ import annotations

import ssl
import time
from collections import Counter
from types import TracebackType
from typing import Self

from aiohttp import web

from tests.fakes.behaviour import Clock, RandomFaults
from tests.fakes.dingtalk import FakeDingtalk
from tests.fakes.dingtalk_media import DingtalkMedia
from tests.fakes.dingtalk_stream import FakeDingtalkStream
from tests.fakes.feishu import FakeFeishu
from tests.fakes.feishu_ws import FakeFeishuSocket
from tests.fakes.files import FakeFiles
from tests.fakes.wecom import FakeWecom
from tests.fakes.wecom_bot_ws import FakeWecomBotSocket


class FakePlatforms:
    """WeCom, DingTalk and Feishu fakes behind one ``web.AppRunner`` on 127.0.0.1."""

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        latency: float = 0.0,
        auto_register: bool = False,
        faults: RandomFaults | None = None,
    ) -> None:
        self.faults = faults
        self.wecom = FakeWecom(clock=clock, latency=latency)
        self.dingtalk = FakeDingtalk(clock=clock, latency=latency)
        self.feishu = FakeFeishu(clock=clock, latency=latency)
        self.dingtalk_stream = FakeDingtalkStream()  # long connections (not one of :attr:`platforms`' senders)
        self.wecom_bot_socket = FakeWecomBotSocket()
        self.feishu_socket = FakeFeishuSocket()
        for fake in self.platforms:
            fake.auto_register = auto_register
            fake.faults = faults
        self.files = FakeFiles(self.wecom, self.dingtalk, self.feishu_socket)
        self.dingtalk_media = DingtalkMedia(self.dingtalk, self.files)
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.add_routes(
            [
                *self.wecom.routes(),
                *self.dingtalk.routes(),
                *self.feishu.routes(),
                *self.files.routes(),
                *self.dingtalk_media.routes(),
            ]
        )
        self.app.add_routes(
            [*self.dingtalk_stream.routes(), *self.wecom_bot_socket.routes(), *self.feishu_socket.routes()]
        )
        self.app.router.add_get("/_fake/stats", self.stats)
        self._runner: web.AppRunner | None = None
        self.url = ""

    @property
    def platforms(self) -> tuple[FakeWecom, FakeDingtalk, FakeFeishu]:
        return (self.wecom, self.dingtalk, self.feishu)

    def summary(self) -> dict[str, dict[str, object]]:
        """What each platform received, for a process that cannot look inside this one (``bench/``), and the
        random faults drawn (``faults``)."""
        result: dict[str, dict[str, object]] = {}
        for fake in self.platforms:
            delivered = Counter(exchange.target for exchange in fake.delivered())
            result[fake.platform] = {
                "requests": len(fake.log),
                "delivered": sum(delivered.values()),
                "targets": len(delivered),
                "most_to_one_target": max(delivered.values(), default=0),
                "errcodes": dict(Counter(str(code) for code in fake.errcodes())),
            }
        result["faults"] = dict(self.faults.drawn) if self.faults is not None else {}
        return result

    async def stats(self, _request: web.Request) -> web.Response:
        return web.json_response(self.summary())

    def set_latency(self, seconds: float) -> None:
        for fake in self.platforms:
            fake.latency = seconds

    def set_faults(self, faults: RandomFaults | None) -> None:
        """Start (or, with ``None``, stop) failing at random on every platform."""
        self.faults = faults
        for fake in self.platforms:
            fake.faults = faults

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, tls: ssl.SSLContext | None = None) -> str:
        """Listen (over TLS with ``tls``: every URL then starts ``https``, websockets ``wss``)."""
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.25)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, backlog=1024, ssl_context=tls)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.url = f"{'https' if tls else 'http'}://{host}:{bound_port}"
        for fake in self.platforms:
            fake.base_url = self.url
        self.dingtalk_stream.base_url = self.url
        self.wecom_bot_socket.base_url = self.url
        self.feishu_socket.base_url = self.url
        return self.url

    async def close(self) -> None:
        for fake in self.platforms:
            fake.release_stalls()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()
