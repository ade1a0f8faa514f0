"""The whole inbound pipeline for each real channel: a signed, encrypted callback from a roster liaison is stored,
handled by the real handlers, and answered through the reply route its channel recorded."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.context import AppContext
from bot.inbox_worker import process_one
from storage.db import Database
from storage.models import InboxState, OutboxMessage, Submission
from tests.handlers_kit import seed
from tests.inbound_kit import (
    A_AES_KEY,
    A_CORP_ID,
    A_TOKEN,
    BOT_AES_KEY,
    BOT_TOKEN,
    app_xml,
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
REPORT = "10月工作进展：一是完成外贸项目3个；二是新增出口企业12家。"


@pytest.fixture
async def client(aiohttp_client: Client, db: Database) -> TestClient:
    await seed(db)  # 张伟 (省商务厅 A角) is wecom "zhangwei"; 李娜 (B角) is dingtalk "lina-staff"
    return await aiohttp_client(inbound_app(settings_for(db.url), db))


async def send_wecom_bot(client: TestClient, **message: Any) -> None:
    sealed = seal(BOT_TOKEN, BOT_AES_KEY, "", as_json(bot_message(**message)), timestamp="1763600000")
    response = await client.post("/wecom/bot", params=bot_query(sealed), json={"encrypt": sealed["encrypt"]})
    assert response.status == 200


async def send_wecom_app(client: TestClient, content: str, *, msgtype: str = "text", msgid: str = "9001") -> None:
    plaintext = (
        f"<xml><ToUserName><![CDATA[{A_CORP_ID}]]></ToUserName><FromUserName><![CDATA[zhangwei]]></FromUserName>"
        f"<CreateTime>1763600000</CreateTime><MsgType><![CDATA[{msgtype}]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msgid}</MsgId><AgentID>1000002</AgentID></xml>"
    )
    sealed = seal(A_TOKEN, A_AES_KEY, A_CORP_ID, plaintext, timestamp="1763600000")
    assert (await client.post("/wecom/app", params=bot_query(sealed), data=app_xml(sealed["encrypt"]))).status == 200


async def send_dingtalk(client: TestClient, text: str) -> None:
    timestamp = str(int(time.time() * 1000))
    body = as_json(dingtalk_message(text, senderStaffId="lina-staff")).encode()
    assert (await client.post("/dingtalk/bot", data=body, headers=dingtalk_headers(timestamp))).status == 200


async def handle_all(db: Database) -> list[OutboxMessage]:
    ctx = AppContext(settings=settings_for(db.url), db=db)
    for row in await inbox(db):
        if row.state == InboxState.PENDING:
            assert await process_one(ctx, row.id)
    assert {row.state for row in await inbox(db)} == {InboxState.DONE}
    async with db.sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def submissions(db: Database) -> list[Submission]:
    async with db.sessions() as session:
        return list((await session.scalars(select(Submission).order_by(Submission.id))).all())


async def test_a_report_through_the_wecom_bot_is_filed_and_confirmed(client: TestClient, db: Database) -> None:
    await send_wecom_bot(client, text=f"@督办助手 {REPORT}", userid="zhangwei", msgid="wb-1")
    [reply] = await handle_all(db)
    assert reply.channel == "wecom_response_url" and reply.rate_key == "wecom_response_url:wb-1"
    assert reply.address == {"url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=wb-1"}
    assert "已收到【省商务厅】" in reply.message["body"]
    [filed] = await submissions(db)
    assert filed.text.startswith("10月工作进展") and "@督办助手" not in filed.text


async def test_a_report_through_the_wecom_app_is_filed_and_confirmed(client: TestClient, db: Database) -> None:
    await send_wecom_app(client, REPORT)
    [reply] = await handle_all(db)
    assert (reply.channel, reply.address, reply.rate_key) == ("wecom_app", {"touser": "zhangwei"}, "wecom_app:zhangwei")
    assert "已收到【省商务厅】" in reply.message["body"]
    assert len(await submissions(db)) == 1


async def test_a_report_through_dingtalk_is_filed_and_confirmed(client: TestClient, db: Database) -> None:
    await send_dingtalk(client, f" {REPORT}")
    [reply] = await handle_all(db)
    assert reply.channel == "dingtalk_session" and reply.rate_key == "dingtalk_session:cidGroup01=="
    assert reply.address["url"].startswith("https://oapi.dingtalk.com/robot/sendBySession")
    assert "已收到【省商务厅】" in reply.message["body"]
    assert len(await submissions(db)) == 1


async def test_an_unknown_type_is_kept_and_answered_politely(client: TestClient, db: Database) -> None:
    await send_wecom_bot(client, msgtype="hologram", hologram={"x": 1}, userid="zhangwei", msgid="wb-x")
    [reply] = await handle_all(db)
    assert reply.channel == "wecom_response_url"
    assert reply.message["body"]  # a courteous answer naming what the bot understands
    assert await submissions(db) == []


async def test_an_unknown_sender_is_kept_and_told_whom_to_ask(client: TestClient, db: Database) -> None:
    await send_wecom_bot(client, text=f"@督办助手 {REPORT}", userid="stranger", msgid="wb-s")
    [reply] = await handle_all(db)
    assert "名册" in reply.message["body"]
    [row] = await inbox(db)
    assert (row.sender_id, row.text) == ("stranger", REPORT)
    assert await submissions(db) == []
