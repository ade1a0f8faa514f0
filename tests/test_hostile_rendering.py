"""Report text with markup is stored verbatim and can never inject a mention, a link or markup into what the bot posts.

A liaison files reports carrying injection text through the real signed channels (WeCom 智能机器人, WeCom app,
DingTalk); the real handlers confirm them, an office member asks ``查看`` for the unit, and every reply is
rendered by the real renderer in every platform dialect. What people read contains nothing live from the
report: no ``<@…>``, no ``@all`` / ``isAtAll``, no ``at`` lists, no ``](http``, no ``<font>``, no Feishu
``<at>``, no scheme that a client would open, no bidi or zero-width trick — while an intended mention still
works.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from sqlalchemy import select, text

from bot.context import AppContext
from bot.inbox_worker import process_one
from bot.outbound.render import Payload, render, wire_json
from storage.db import Database
from storage.models import InboxState, OutboxMessage, Submission
from storage.outbound import Mention, OutboundMessage, quote
from tests.handlers_kit import local, seed
from tests.hostile_corpus import INJECTIONS, app_plaintext, app_post, bot_post
from tests.inbound_kit import as_json, dingtalk_headers, dingtalk_message, inbound_app, inbox, settings_for

CHANNELS = (
    "wecom_webhook",
    "dingtalk_robot",
    "dingtalk_session",
    "feishu_bot",
    "wecom_response_url",
    "wecom_app",
    "sandbox",
)
KEYWORDS = ("督办",)
LIVE_SCHEME = re.compile(r"(?i)\b(?:https?|ftp|javascript|data|dingtalk|wxwork|weixin|mailto):")
INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ue000\ue001]")


def strings(value: Any) -> Iterator[str]:
    """Every string a payload carries (what a platform may display or interpret)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def feishu_tags(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if "tag" in value:
            yield str(value["tag"])
        for item in value.values():
            yield from feishu_tags(item)
    elif isinstance(value, list):
        for item in value:
            yield from feishu_tags(item)


def assert_no_live_text(payload: Payload, *, where: str) -> None:
    """No mention, link, tag or invisible trick in any displayed string."""
    for shown in strings(payload):
        assert "<" not in shown and ">" not in shown, f"{where}: a tag or <@mention> in {shown!r}"
        assert "@" not in shown, f"{where}: an @-mention in {shown!r}"
        assert "[" not in shown and "](" not in shown, f"{where}: a link in {shown!r}"
        assert not LIVE_SCHEME.search(shown), f"{where}: a live URL scheme in {shown!r}"
        assert not INVISIBLE.search(shown), f"{where}: an invisible or bidi character in {shown!r}"


def assert_no_mentions(payload: Payload, channel: str, *, where: str) -> None:
    """The payload's own mention fields name nobody."""
    at = payload.get("at")
    if at is not None:
        assert (at["atUserIds"], at["atMobiles"], at["isAtAll"]) == ([], [], False), f"{where}: {at}"
    text_part = payload.get("text")
    if isinstance(text_part, dict):
        assert "mentioned_list" not in text_part and "mentioned_mobile_list" not in text_part, where
    if channel == "feishu_bot":
        assert not {"at", "a"} & set(feishu_tags(payload)), f"{where}: a Feishu at/link element"
    if channel == "sandbox":
        assert payload["mentions"] == [], where


def every_rendering(message: OutboundMessage) -> Iterator[tuple[str, Payload]]:
    for message_format in ("markdown", "text"):
        variant = message.model_copy(update={"format": message_format})
        for channel in CHANNELS:
            for payload in render(variant, channel, keywords=KEYWORDS):
                yield f"{channel}/{message_format}", payload


@pytest.fixture
async def client(aiohttp_client: Any, db: Database) -> TestClient:
    await seed(
        db
    )  # 张伟 (省商务厅 A角): wecom "zhangwei"; 李娜 (B角): dingtalk "lina-staff"; 赵敏: office, wecom "zhaomin"
    return await aiohttp_client(inbound_app(settings_for(db.url), db))


async def handle_pending(db: Database) -> list[OutboxMessage]:
    """Run the real handlers over every pending inbox row; the replies they queued, in order."""
    ctx = AppContext(settings=settings_for(db.url), db=db)
    async with db.sessions() as session:
        already = set(await session.scalars(select(OutboxMessage.id)))
    for row in await inbox(db):
        if row.state == InboxState.PENDING:
            assert await process_one(ctx, row.id)
    async with db.sessions() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [row for row in rows if row.id not in already]


async def file_report(client: TestClient, channel: str, report: str) -> None:
    if channel == "wecom_bot":
        params, body = bot_post(report, userid="zhangwei")
        response = await client.post("/wecom/bot", params=params, data=body)
    elif channel == "wecom_app":
        params, body = app_post(app_plaintext(report, sender="zhangwei"))
        response = await client.post("/wecom/app", params=params, data=body)
    else:
        headers = dingtalk_headers(str(int(time.time() * 1000)))
        body = as_json(dingtalk_message(report, senderStaffId="lina-staff", msgId=f"inj-{time.time_ns()}")).encode()
        response = await client.post("/dingtalk/bot", headers=headers, data=body)
    assert response.status == 200


async def latest_submission(db: Database) -> Submission:
    async with db.sessions() as session:
        found = (await session.scalars(select(Submission).order_by(Submission.id.desc()).limit(1))).first()
    assert found is not None
    return found


@pytest.mark.parametrize("channel", ["wecom_bot", "wecom_app", "dingtalk_bot"])
async def test_injected_reports_are_stored_verbatim_and_rendered_inert(
    client: TestClient, db: Database, channel: str
) -> None:
    replies: list[OutboxMessage] = []
    with time_machine.travel(local(2026, 11, 20, 10), tick=True):
        for report in INJECTIONS:
            await file_report(client, channel, report)
            [row] = [row for row in await inbox(db) if row.state == InboxState.PENDING]
            assert row.text == report.strip()  # the edge keeps the words as written
            [confirmation] = await handle_pending(db)
            assert "已收到【省商务厅】" in confirmation.message["body"], confirmation.message["body"]
            assert (await latest_submission(db)).text == report.strip()  # filed verbatim

            params, body = app_post(app_plaintext("查看 省商务厅", sender="zhaomin"))
            assert (await client.post("/wecom/app", params=params, data=body)).status == 200
            [shown] = await handle_pending(db)
            assert "工作进展" in shown.message["body"] and "版本记录" in shown.message["body"]
            replies += [confirmation, shown]

    async with db.sessions() as session:  # the SQL in the text was data, nothing more
        assert await session.scalar(text("SELECT COUNT(*) FROM submission")) == len(INJECTIONS)
    for reply in replies:
        message = OutboundMessage.model_validate(reply.message)
        assert message.mentions == [] and message.at_all is False
        for where, payload in every_rendering(message):
            assert_no_live_text(payload, where=f"{reply.origin} #{reply.id} {where}")
            assert_no_mentions(payload, where.split("/")[0], where=f"{reply.origin} #{reply.id} {where}")


@pytest.mark.parametrize("injection", INJECTIONS)
def test_the_renderer_alone_defuses_raw_text(injection: str) -> None:
    """A template that interpolated a person's words without ``quote`` still cannot mention or link."""
    message = OutboundMessage(title=injection[:40], body=f"来文摘录：\n{injection}")
    for where, payload in every_rendering(message):
        if where.startswith("sandbox"):
            continue  # the local sandbox shows text as written: it has no platform to inject into
        assert_no_mentions(payload, where.split("/")[0], where=where)
        for shown in strings(payload):
            assert "<@" not in shown and "<font" not in shown and "<at " not in shown and "<a " not in shown, where
            assert "@" not in shown and "](" not in shown, f"{where}: {shown!r}"
            assert not LIVE_SCHEME.search(shown), f"{where}: {shown!r}"
            assert not INVISIBLE.search(shown), f"{where}: {shown!r}"


def test_an_intended_mention_is_the_only_live_one() -> None:
    """Quoted words next to a real mention: exactly the intended person is notified, on every platform."""
    zhang = Mention(
        name="张伟", person_id=1, wecom_userid="zhangwei", dingtalk_userid="ding-zhang", mobile="13800000001"
    )
    body = "\n".join(quote(injection) for injection in INJECTIONS)
    message = OutboundMessage(title="催办", body=body, mentions=[zhang])

    [wecom] = render(message, "wecom_webhook")
    assert re.findall(r"<@[^>]*>", wecom["markdown"]["content"]) == ["<@zhangwei>"]
    [dingtalk] = render(message, "dingtalk_robot", keywords=KEYWORDS)
    assert dingtalk["at"] == {"atUserIds": ["ding-zhang"], "atMobiles": [], "isAtAll": False}
    assert re.findall(r"@\S+", dingtalk["markdown"]["text"]) == ["@ding-zhang"]
    [feishu] = render(message, "feishu_bot", keywords=KEYWORDS)
    assert not {"at", "a"} & set(feishu_tags(feishu))
    [as_text] = render(message.model_copy(update={"format": "text"}), "wecom_webhook")
    assert as_text["text"]["mentioned_list"] == ["zhangwei"] and "@" not in as_text["text"]["content"]
    for payload in (wecom, dingtalk, feishu, as_text):
        assert "](" not in wire_json(payload).decode() and not LIVE_SCHEME.search(wire_json(payload).decode())
