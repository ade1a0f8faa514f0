"""Request ids: set where requests are served (the platform endpoints' guard, the console's middleware)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.inbound.edge import guarded
from bot.logs import trace_id
from bot.request_trace import trace_requests


async def test_a_callback_is_served_under_the_callers_request_id_or_a_fresh_one() -> None:
    seen: list[str] = []

    async def endpoint(_request: web.Request) -> web.Response:
        seen.append(trace_id.get())
        return web.Response(status=200)

    guard = guarded("wecom_bot", endpoint)
    await guard(make_mocked_request("POST", "/wecom/bot", headers={"X-Request-Id": "lb-7f3a" + "x" * 100}))
    await guard(make_mocked_request("POST", "/wecom/bot"))
    await guard(make_mocked_request("POST", "/wecom/bot"))
    assert seen[0] == ("lb-7f3a" + "x" * 100)[:64]
    assert seen[1].startswith("req-") and seen[2].startswith("req-") and seen[1] != seen[2]
    assert trace_id.get() == "-"  # nothing leaks into what the loop runs next


async def test_a_console_request_is_served_under_its_request_id() -> None:
    seen: list[str] = []

    async def page(_request: web.Request) -> web.Response:
        seen.append(trace_id.get())
        return web.Response(text="ok")

    await trace_requests(make_mocked_request("GET", "/console/", headers={"X-Request-Id": "abc"}), page)
    assert seen == ["abc"] and trace_id.get() == "-"
