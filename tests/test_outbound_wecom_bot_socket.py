"""Replies on the WeCom 智能机器人 long connection: through the callback's ``req_id`` while the platform
allows it, else by active send — against the fake gateway, on a connection opened by the test. Files: uploaded
in chunks on the connection, then sent the same way; over the limit or after failed uploads, the text instead."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from bot.outbound.senders import files, wecom_bot_ws
from bot.outbound.senders.base import Kind
from bot.outbound.senders.context import SendContext
from bot.outbound.senders.wecom_bot_ws import WecomBotSocketSender
from bot.transports import wecom_socket
from bot.transports.wecom_socket import BotSocket
from storage.blobs import put_bytes, store_of
from storage.db import Database
from storage.outbound import OutboundMessage
from storage.outbox_claim import Claim, OutboxFile
from tests.fakes import FakePlatforms
from tests.fakes.wecom_bot_ws import BOT_ID, BOT_SECRET, group_message

REPLY = {"msgtype": "markdown", "markdown": {"content": "已收到【省商务厅】10月工作进展。"}}
INSTEAD = "请在控制台“文档”页下载：https://duban.example.gov.cn/console/documents"
NAME = "月度通报-2026-10.docx"


def claim(*, attempts: int = 1, file: OutboxFile | None = None, **address: Any) -> Claim:
    message = OutboundMessage(body=INSTEAD, format="text").model_dump(mode="json") if file else {}
    return Claim(
        id=1, channel="wecom_bot_ws", target="wrkSFfCgAAgroup01", rate_key="wecom_bot_ws:wrkSFfCgAAgroup01",
        address={"chatid": "wrkSFfCgAAgroup01", **address}, message=message, origin="file_reply" if file else "reply",
        group_id=None, inbox_id=1, attempts=attempts, parts_sent=0, created_at=datetime.now(UTC), file=file,
    )  # fmt: skip


def settings_for(directory: Path) -> Settings:
    return Settings.model_validate({"files": {"directory": str(directory)}})


@contextlib.asynccontextmanager
async def subscribed(
    fakes: FakePlatforms, name: str, db: Database | None = None, directory: Path | None = None
) -> AsyncIterator[tuple[WecomBotSocketSender, BotSocket, asyncio.Queue[str]]]:
    """A subscribed connection, the sender on it, and the req_ids of the message callbacks it receives."""
    callbacks: asyncio.Queue[str] = asyncio.Queue()
    async with aiohttp.ClientSession() as http, http.ws_connect(fakes.wecom_bot_socket.url) as ws:
        socket = BotSocket(ws, name)
        ctx = SendContext(settings_for(directory), http, db)

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
            yield WecomBotSocketSender(ctx, lambda: socket), socket, callbacks
        finally:
            reader.cancel()


async def test_reply_through_req_id_then_active_send_for_a_second_part(
    fake_platforms: FakePlatforms, db: Database, tmp_path: Path
) -> None:
    gateway = fake_platforms.wecom_bot_socket
    async with subscribed(fake_platforms, "me#1", db, tmp_path) as (sender, _socket, callbacks):
        await gateway.push(group_message("m1", "lina", "10月工作进展：……"))
        req_id = await asyncio.wait_for(callbacks.get(), 10)
        row = claim(req_id=req_id, connection="me#1")
        assert (await sender.send(row, REPLY)).kind is Kind.OK
        assert (await sender.send(row, REPLY)).kind is Kind.OK  # the req_id is spent: an active send
    assert [sent.cmd for sent in gateway.sent] == ["aibot_respond_msg", "aibot_send_msg"]
    assert gateway.sent[0].req_id == req_id and gateway.sent[0].body["stream"]["finish"] is True
    assert gateway.sent[1].body["chatid"] == "wrkSFfCgAAgroup01"


async def test_after_a_reconnect_or_a_refused_req_id_the_reply_is_an_active_send(
    fake_platforms: FakePlatforms, db: Database, tmp_path: Path
) -> None:
    gateway = fake_platforms.wecom_bot_socket
    async with subscribed(fake_platforms, "me#2", db, tmp_path) as (sender, _socket, _callbacks):
        # Received on an earlier connection: not even tried.
        assert (await sender.send(claim(req_id="cb_old", connection="me#1"), REPLY)).kind is Kind.OK
        # Named for this connection, but the platform does not know it (846605): sent actively instead.
        assert (await sender.send(claim(req_id="cb_unknown", connection="me#2"), REPLY)).kind is Kind.OK
    assert [sent.cmd for sent in gateway.sent] == ["aibot_send_msg", "aibot_send_msg"]


async def test_without_a_connection_the_row_waits(db: Database, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        sender = WecomBotSocketSender(SendContext(settings_for(tmp_path), http, db), lambda: None)
        outcome = await sender.send(claim(req_id="cb", connection="x#1"), REPLY)
    assert outcome.kind is Kind.RETRY and outcome.errcode == "not_connected"


def test_a_group_with_only_a_chat_id_needs_the_bots_long_connection() -> None:
    group = {"name": "企业微信工作群", "platform": "wecom", "chat_id": "wrkSFfCgAAposts01"}
    with pytest.raises(ValueError, match="须开启企业微信智能机器人长连接"):
        Settings.model_validate({"groups": [group]})
    bot = {"transport": "websocket", "bot_id": BOT_ID, "secret": BOT_SECRET}
    assert Settings.model_validate({"groups": [group], "wecom": {"bot": bot}}).groups[0].chat_id == "wrkSFfCgAAposts01"


# ---- files --------------------------------------------------------------------------------------------


async def kept(db: Database, directory: Path, content: bytes) -> OutboxFile:
    async with db.transaction() as session:
        sha256 = await put_bytes(session, store_of("directory", directory), content)
    return OutboxFile(sha256, NAME)


async def test_a_file_is_uploaded_in_chunks_then_sent_as_the_reply(
    fake_platforms: FakePlatforms, db: Database, tmp_path: Path
) -> None:
    gateway = fake_platforms.wecom_bot_socket
    content = os.urandom(wecom_bot_ws.CHUNK_BYTES * 2 + 1000)  # three chunks, the last one short
    file = await kept(db, tmp_path, content)
    async with subscribed(fake_platforms, "me#1", db, tmp_path) as (sender, _socket, callbacks):
        await gateway.push(group_message("m1", "zhaomin", "文档 通报 2026-10"))
        req_id = await asyncio.wait_for(callbacks.get(), 10)
        assert (await sender.send(claim(req_id=req_id, connection="me#1", file=file), files.FILE_PART)).kind is Kind.OK
    ((sent, media),) = gateway.files_sent()
    assert sent.cmd == "aibot_respond_msg" and sent.req_id == req_id  # passive, on the callback's req_id
    assert sent.body == {"msgtype": "file", "file": {"media_id": media.media_id}}
    assert media.chunks == 3 and media.filename == NAME and media.size == len(content)
    assert media.sha256 == hashlib.sha256(content).hexdigest() == file.sha256
    assert gateway.upload_answers == [0] and gateway.uploads == {} and gateway.problems == []


async def test_a_file_goes_by_active_send_when_the_req_id_is_spent_and_a_kept_upload_is_reused(
    fake_platforms: FakePlatforms, db: Database, tmp_path: Path
) -> None:
    gateway = fake_platforms.wecom_bot_socket
    content = os.urandom(5000)
    file = await kept(db, tmp_path, content)
    async with subscribed(fake_platforms, "me#2", db, tmp_path) as (sender, _socket, _callbacks):
        row = claim(req_id="cb_before_reconnect", connection="me#1", file=file)
        assert (await sender.send(row, files.FILE_PART)).kind is Kind.OK
        (media,) = gateway.media.values()
        uploaded = OutboxFile(file.sha256, NAME, media.media_id, datetime.now(UTC))
        assert (await sender.send(claim(file=uploaded), files.FILE_PART)).kind is Kind.OK
    assert gateway.upload_answers == [0]  # the second send reused the recorded media id
    assert [(sent.cmd, sent.body["chatid"]) for sent, _ in gateway.files_sent()] == [
        ("aibot_send_msg", "wrkSFfCgAAgroup01")
    ] * 2
    assert {upload.sha256 for _, upload in gateway.files_sent()} == {hashlib.sha256(content).hexdigest()}


async def test_a_file_over_20_mb_is_replaced_by_where_to_get_it(
    fake_platforms: FakePlatforms, db: Database, tmp_path: Path
) -> None:
    gateway = fake_platforms.wecom_bot_socket
    file = await kept(db, tmp_path, b"x" * (files.FILE_LIMIT + 1))
    async with subscribed(fake_platforms, "me#1", db, tmp_path) as (sender, _socket, _callbacks):
        assert (await sender.send(claim(file=file), files.FILE_PART)).kind is Kind.OK
    assert gateway.upload_answers == [] and gateway.files_sent() == []
    (sent,) = gateway.sent
    assert sent.cmd == "aibot_send_msg" and "超过企业微信机器人发送文件 20 MB 的上限" in sent.content
    assert "/console/documents" in sent.content


async def test_failed_uploads_are_retried_then_the_text_goes_instead(
    fake_platforms: FakePlatforms, db: Database, tmp_path: Path
) -> None:
    gateway = fake_platforms.wecom_bot_socket
    gateway.upload_failures = [45009] * files.UPLOAD_TRIES
    file = await kept(db, tmp_path, os.urandom(3000))
    async with subscribed(fake_platforms, "me#1", db, tmp_path) as (sender, _socket, _callbacks):
        for attempt in range(1, files.UPLOAD_TRIES):
            outcome = await sender.send(claim(attempts=attempt, file=file), files.FILE_PART)
            assert outcome.kind is Kind.RETRY and outcome.errcode == "45009"
            assert gateway.sent == []
        assert (await sender.send(claim(attempts=files.UPLOAD_TRIES, file=file), files.FILE_PART)).kind is Kind.OK
    assert gateway.upload_answers == [45009] * files.UPLOAD_TRIES and gateway.files_sent() == []
    (sent,) = gateway.sent
    assert "文件多次上传未成功" in sent.content and "/console/documents" in sent.content


async def test_a_file_without_a_connection_waits(db: Database, tmp_path: Path) -> None:
    file = await kept(db, tmp_path, b"document")
    async with aiohttp.ClientSession() as http:
        sender = WecomBotSocketSender(SendContext(settings_for(tmp_path), http, db), lambda: None)
        outcome = await sender.send(claim(file=file), files.FILE_PART)
    assert outcome.kind is Kind.RETRY and outcome.errcode == "not_connected"


async def test_a_refused_media_id_is_forgotten_and_an_unacknowledged_file_message_is_uncertain(
    fake_platforms: FakePlatforms, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = fake_platforms.wecom_bot_socket
    file = await kept(db, tmp_path, os.urandom(2000))
    async with subscribed(fake_platforms, "me#1", db, tmp_path) as (sender, _socket, _callbacks):
        # An id the platform no longer honours (40007): retried, to be uploaded afresh.
        gone = OutboxFile(file.sha256, NAME, "aibot_media_gone", datetime.now(UTC))
        outcome = await sender.send(claim(file=gone), files.FILE_PART)
        assert outcome.kind is Kind.RETRY and outcome.errcode == str(wecom_bot_ws.INVALID_MEDIA)
        assert gateway.upload_answers == [] and gateway.sent == []
        # The upload is acknowledged, the file message is not: it may have arrived, so it is not sent again.
        gateway.unanswered = {"aibot_send_msg"}
        monkeypatch.setattr(wecom_socket, "ACK_SECONDS", 0.5)
        assert (await sender.send(claim(file=file), files.FILE_PART)).kind is Kind.UNCERTAIN
    assert gateway.upload_answers == [0]
    (sent,) = gateway.sent
    assert sent.cmd == "aibot_send_msg" and sent.media_id in gateway.media
