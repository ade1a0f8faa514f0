"""Replies on the WeCom 智能机器人 long connection: through the callback's ``req_id`` while the platform
allows it, else by active send — against the fake gateway, on a connection opened by the test."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from bot.outbound.senders.base import Kind
from bot.outbound.senders.wecom_bot_ws import WecomBotSocketSender
from bot.transports.wecom_socket import BotSocket
from storage.outbox_claim import Claim
from tests.fakes import FakePlatforms
from tests.fakes.wecom_bot_ws import BOT_ID, BOT_SECRET, group_message

REPLY = {"msgtype": "markdown", "markdown": {"content": "已收到【省商务厅】10月工作进展。"}}


def claim(**address: Any) -> Claim:
    return Claim(
        id=1, channel="wecom_bot_ws", target="wrkSFfCgAAgroup01", rate_key="wecom_bot_ws:wrkSFfCgAAgroup01",
        address={"chatid": "wrkSFfCgAAgroup01", **address}, message={}, origin="reply", group_id=None, inbox_id=1,
        attempts=1, parts_sent=0, created_at=datetime.now(UTC),
    )  # fmt: skip


@contextlib.asynccontextmanager
async def subscribed(fakes: FakePlatforms, name: str) -> AsyncIterator[tuple[BotSocket, asyncio.Queue[str]]]:
    """A subscribed connection; the req_ids of the message callbacks it receives."""
    callbacks: asyncio.Queue[str] = asyncio.Queue()
    async with aiohttp.ClientSession() as http, http.ws_connect(fakes.wecom_bot_socket.url) as ws:
        socket = BotSocket(ws, name)

        async def read() -> None:
            async for message in ws:
                frame = json.loads(message.data)
                if "cmd" not in frame:
                    socket.acknowledged(frame)
                elif frame["cmd"] == "aibot_msg_callback":
                    callbacks.put_nowait(frame["headers"]["req_id"])

        reader = asyncio.create_task(read())
        await socket.command("aibot_subscribe", {"bot_id": BOT_ID, "secret": BOT_SECRET})
        try:
            yield socket, callbacks
        finally:
            reader.cancel()


async def test_reply_through_req_id_then_active_send_for_a_second_part(fake_platforms: FakePlatforms) -> None:
    gateway = fake_platforms.wecom_bot_socket
    async with subscribed(fake_platforms, "me#1") as (socket, callbacks):
        await gateway.push(group_message("m1", "lina", "10月工作进展：……"))
        req_id = await asyncio.wait_for(callbacks.get(), 10)
        sender = WecomBotSocketSender(lambda: socket)
        row = claim(req_id=req_id, connection="me#1")
        assert (await sender.send(row, REPLY)).kind is Kind.OK
        assert (await sender.send(row, REPLY)).kind is Kind.OK  # the req_id is spent: an active send
    assert [sent.cmd for sent in gateway.sent] == ["aibot_respond_msg", "aibot_send_msg"]
    assert gateway.sent[0].req_id == req_id and gateway.sent[0].body["stream"]["finish"] is True
    assert gateway.sent[1].body["chatid"] == "wrkSFfCgAAgroup01"


async def test_after_a_reconnect_or_a_refused_req_id_the_reply_is_an_active_send(fake_platforms: FakePlatforms) -> None:
    gateway = fake_platforms.wecom_bot_socket
    async with subscribed(fake_platforms, "me#2") as (socket, _callbacks):
        sender = WecomBotSocketSender(lambda: socket)
        # Received on an earlier connection: not even tried.
        assert (await sender.send(claim(req_id="cb_old", connection="me#1"), REPLY)).kind is Kind.OK
        # Named for this connection, but the platform does not know it (846605): sent actively instead.
        assert (await sender.send(claim(req_id="cb_unknown", connection="me#2"), REPLY)).kind is Kind.OK
    assert [sent.cmd for sent in gateway.sent] == ["aibot_send_msg", "aibot_send_msg"]


async def test_without_a_connection_the_row_waits() -> None:
    sender = WecomBotSocketSender(lambda: None)
    outcome = await sender.send(claim(req_id="cb", connection="x#1"), REPLY)
    assert outcome.kind is Kind.RETRY and outcome.errcode == "not_connected"


def test_a_group_with_only_a_chat_id_needs_the_bots_long_connection() -> None:
    group = {"name": "企业微信工作群", "platform": "wecom", "chat_id": "wrkSFfCgAAposts01"}
    with pytest.raises(ValueError, match="须开启企业微信智能机器人长连接"):
        Settings.model_validate({"groups": [group]})
    bot = {"transport": "websocket", "bot_id": BOT_ID, "secret": BOT_SECRET}
    assert Settings.model_validate({"groups": [group], "wecom": {"bot": bot}}).groups[0].chat_id == "wrkSFfCgAAposts01"
