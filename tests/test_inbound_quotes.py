"""Quoting through the real callbacks: a liaison quotes a round's request on the WeCom 智能机器人 (signed and
encrypted JSON with ``quote``) or on DingTalk (signed, ``text.repliedMsg``); the quoted text is stored with the
inbox row, and the inbox worker files the message as that round's answer — no ``#N`` written."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.context import AppContext
from bot.inbound.dingtalk import replied_text
from bot.inbound.wecom_bot import parse_bot_message
from bot.inbox_worker import process_one
from storage.db import Database
from storage.models import InboxState, OutboxMessage, RoundAnswer
from tests.handlers_kit import Roster, group_posts, local, say, seed
from tests.inbound_kit import (
    BOT_AES_KEY,
    BOT_TOKEN,
    as_json,
    bot_message,
    bot_query,
    dingtalk_headers,
    dingtalk_message,
    inbound_app,
    inbox,
    seal,
    settings_for,
)

Client = Callable[..., Awaitable[TestClient]]
OPENED = local(2026, 3, 10, 10)
ANSWERED = local(2026, 3, 11, 10)


@pytest.fixture
async def client(aiohttp_client: Client, db: Database) -> TestClient:
    return await aiohttp_client(inbound_app(settings_for(db.url), db))


async def open_collections(db: Database) -> tuple[Roster, int, str]:
    """Two collections open (so an unquoted answer would be asked about); the first one's number and post."""
    roster = await seed(db)  # 张伟 (省商务厅 A角) is wecom "zhangwei"; 李娜 (B角) is dingtalk "lina-staff"
    numbers = []
    for request in (
        "征集 工作专班联系人 截止 3月24日 字段 姓名、职务、手机 请确定一名工作专班联系人。",
        "征集 年度考评材料 截止 3月27日 请报送年度考评材料。",
    ):
        (preview,) = await say(db, roster.office, request, OPENED)
        code = re.findall(r"确认 ([A-Z0-9]{4})", preview)[0]
        (confirmed,) = await say(db, roster.office, f"确认 {code}", OPENED + timedelta(minutes=1))
        numbers.append(int(re.findall(r"征集#(\d+)", confirmed)[0]))
    first_post = next(p for p in await group_posts(db) if f"征集#{numbers[0]}：" in p.message["body"])
    return roster, numbers[0], str(first_post.message["body"])


async def handle_all(db: Database) -> list[str]:
    ctx = AppContext(settings=settings_for(db.url), db=db)
    for row in await inbox(db):
        if row.state == InboxState.PENDING:
            assert await process_one(ctx, row.id)
    async with db.sessions() as session:
        rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.inbox_id.is_not(None)))
        return [row.message["body"] for row in rows if row.channel != "sandbox"]


async def answers(db: Database) -> list[RoundAnswer]:
    async with db.sessions() as session:
        return list(await session.scalars(select(RoundAnswer).order_by(RoundAnswer.id)))


async def test_a_wecom_bot_quote_answers_the_quoted_round(client: TestClient, db: Database) -> None:
    _, number, post = await open_collections(db)
    quote = {"msgtype": "text", "text": {"content": post}}
    message = bot_message("@督办助手 张三，处长，13912345678", msgid="wq-1", userid="zhangwei", quote=quote)
    with time_machine.travel(ANSWERED, tick=False):
        sealed = seal(BOT_TOKEN, BOT_AES_KEY, "", as_json(message), timestamp=str(int(time.time())))
        response = await client.post("/wecom/bot", params=bot_query(sealed), json={"encrypt": sealed["encrypt"]})
        assert response.status == 200
        [row] = [row for row in await inbox(db) if row.channel == "wecom_bot"]
        assert (row.text, row.quoted) == ("张三，处长，13912345678", post)
        [reply] = await handle_all(db)
    assert reply.startswith(f"已收到省商务厅对征集#{number}“工作专班联系人”的答复。")
    [answer] = await answers(db)
    assert (answer.round_id, answer.values) == (number, {"姓名": "张三", "职务": "处长", "手机": "13912345678"})
    assert answer.inbox_id == row.id


async def test_a_dingtalk_reply_answers_the_quoted_round(client: TestClient, db: Database) -> None:
    _, number, post = await open_collections(db)
    replied = {"msgId": "msgPOST", "msgType": "markdown", "createdAt": 1773100000000, "content": {"text": post}}
    message = dingtalk_message(" 李娜 副处长 13800000002", msg_id="dq-1", senderStaffId="lina-staff")
    message["text"] |= {"isReplyMsg": True, "repliedMsg": replied}
    with time_machine.travel(ANSWERED, tick=False):
        timestamp = str(int(time.time() * 1000))
        body = as_json(message).encode()
        assert (await client.post("/dingtalk/bot", data=body, headers=dingtalk_headers(timestamp))).status == 200
        [row] = [row for row in await inbox(db) if row.channel == "dingtalk_bot"]
        assert (row.text, row.quoted) == ("李娜 副处长 13800000002", post)
        [reply] = await handle_all(db)
    assert reply.startswith(f"已收到省商务厅对征集#{number}“工作专班联系人”的答复。")
    [answer] = await answers(db)
    assert (answer.round_id, answer.values["姓名"]) == (number, "李娜")


async def test_a_quote_with_no_text_is_no_quote(client: TestClient, db: Database) -> None:
    await open_collections(db)
    image = bot_message("@督办助手 张三 处长 139", msgid="wq-2", userid="zhangwei", quote={"msgtype": "image"})
    card = dingtalk_message(" 张三 处长 139", msg_id="dq-2", senderStaffId="lina-staff")
    card["text"] |= {"isReplyMsg": True, "repliedMsg": {"msgId": "m", "msgType": "interactiveCard"}}
    with time_machine.travel(ANSWERED, tick=False):
        sealed = seal(BOT_TOKEN, BOT_AES_KEY, "", as_json(image), timestamp=str(int(time.time())))
        assert (await client.post("/wecom/bot", params=bot_query(sealed), json={"encrypt": sealed["encrypt"]})).ok
        timestamp = str(int(time.time() * 1000))
        assert (await client.post("/dingtalk/bot", data=as_json(card).encode(), headers=dingtalk_headers(timestamp))).ok
        assert [row.quoted for row in await inbox(db) if row.channel != "sandbox"] == ["", ""]
        replies = await handle_all(db)
    assert all(reply.startswith("您的消息已保存。") for reply in replies) and len(replies) == 2
    assert await answers(db) == []


def test_every_quoted_shape_the_platforms_send_is_read() -> None:
    def wecom(quote: dict[str, Any]) -> str:
        message = parse_bot_message(as_json(bot_message("@督办助手 好", quote=quote)))
        assert message is not None
        return message.quoted

    assert wecom({"msgtype": "text", "text": {"content": " 征集#7：联系人 "}}) == "征集#7：联系人"
    assert wecom({"msgtype": "voice", "voice": {"content": "征集七号"}}) == "征集七号"
    mixed = {"msg_item": [{"msgtype": "text", "text": {"content": "征集#7"}}, {"msgtype": "image", "image": {}}]}
    assert wecom({"msgtype": "mixed", "mixed": mixed}) == "征集#7"
    assert wecom({"msgtype": "file", "file": {"url": "https://x"}}) == ""
    assert wecom({"msgtype": "text", "text": "not an object"}) == ""

    def dingtalk(replied: Any, under: str = "text") -> str:
        return replied_text({"msgtype": "text", under: {"isReplyMsg": True, "repliedMsg": replied}})

    assert dingtalk({"msgType": "text", "content": {"text": "征集#7"}}) == "征集#7"
    assert dingtalk({"msgType": "text", "content": {"content": "征集#7"}}) == "征集#7"
    rich = [{"text": "征集#7"}, {"type": "picture", "downloadCode": "x"}, {"msgType": "text", "content": "：联系人"}]
    assert dingtalk({"msgType": "richText", "content": {"richText": rich}}) == "征集#7：联系人"
    assert dingtalk({"msgType": "text", "content": "征集#7"}, under="content") == "征集#7"
    assert dingtalk({"msgType": "interactiveCard", "msgId": "m"}) == ""
    assert dingtalk(["garbage"]) == "" and replied_text({"text": {"content": "x"}}) == ""
