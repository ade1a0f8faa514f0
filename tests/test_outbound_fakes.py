"""The fake platforms behave as PLATFORMS.md says (the other outbound tests rely on it)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import time_machine

from bot.config import GroupConfig
from bot.outbound.dispatcher import drain_once
from bot.outbound.signing import dingtalk_signed_url, feishu_sign
from storage.db import Database
from storage.models import OutboxState
from storage.outbound import OutboundMessage
from tests.fakes import FakePlatforms, Slow
from tests.outbound_kit import FAST, context, queue, row, settings_for

START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


async def post(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.post(url, json=payload) as response:
        body: dict[str, Any] = await response.json()
        return body


def text(content: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": content}}


async def test_wecom_robot_allows_twenty_a_minute(fake_platforms: FakePlatforms) -> None:
    url = fake_platforms.wecom.add_robot("k1")
    with time_machine.travel(START, tick=False) as clock:
        codes = [(await post(url, text(str(i))))["errcode"] for i in range(21)]
        assert codes == [0] * 20 + [45009]
        clock.shift(timedelta(seconds=59))
        assert (await post(url, text("still")))["errcode"] == 45009
        clock.shift(timedelta(seconds=2))
        assert (await post(url, text("again")))["errcode"] == 0
    assert (await post(url.replace("k1", "nope"), text("x")))["errcode"] == 93000
    assert (await post(url, text("长" * 683)))["errcode"] == 40058  # 2049 bytes


async def test_dingtalk_robot_blocks_for_ten_minutes(fake_platforms: FakePlatforms) -> None:
    url = fake_platforms.dingtalk.add_robot("t1", secret="SECx", keywords=("督办",))
    with time_machine.travel(START, tick=False) as clock:

        def signed() -> str:
            return dingtalk_signed_url(url, "SECx", int(time.time() * 1000))

        codes = [(await post(signed(), text(f"督办{i}")))["errcode"] for i in range(21)]
        assert codes == [0] * 20 + [130101]
        clock.shift(timedelta(minutes=9, seconds=59))
        assert (await post(signed(), text("督办")))["errcode"] == 130101
        clock.shift(timedelta(seconds=2))
        assert (await post(signed(), text("督办")))["errcode"] == 0
        refused = await post(signed(), text("没有关键词"))
        assert (refused["errcode"], refused["errmsg"].split(",")[0]) == (310000, "keywords not in content")
        wrong = await post(dingtalk_signed_url(url, "SECy", int(time.time() * 1000)), text("督办"))
        assert wrong["errmsg"].startswith("sign not match")
        stale = await post(dingtalk_signed_url(url, "SECx", int(time.time() * 1000) - 3_700_000), text("督办"))
        assert stale["errmsg"].startswith("invalid timestamp")


async def test_feishu_five_a_second(fake_platforms: FakePlatforms) -> None:
    url = fake_platforms.feishu.add_bot("f1", secret="s")
    with time_machine.travel(START, tick=False) as clock:

        def payload(n: int) -> dict[str, Any]:
            now = int(time.time())
            return {
                "timestamp": str(now),
                "sign": feishu_sign("s", now),
                "msg_type": "text",
                "content": {"text": str(n)},
            }

        codes = [(await post(url, payload(i)))["code"] for i in range(6)]
        assert codes == [0] * 5 + [11232]
        clock.shift(timedelta(seconds=1.01))
        assert (await post(url, payload(7)))["code"] == 0
        bad = payload(8) | {"sign": "x"}
        assert (await post(url, bad))["code"] == 19021


async def test_a_slow_answer_within_the_deadline_is_fine(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    fake_platforms.wecom.script("k1", Slow(0.05))
    ctx = await context(db, settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook)]))
    [outbox_id] = await queue(db, "甲群", OutboundMessage(body="慢一点"))
    await drain_once(ctx, options=FAST)
    assert (await row(db, outbox_id)).state is OutboxState.SENT
