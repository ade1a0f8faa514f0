"""The office asks for a document in chat and gets the file: callback → inbox → 文档 → blob store → outbox →
upload → file message at the fake platform, byte for byte; or, where the file cannot go, where to get it."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from handlers_kit import local
from sqlalchemy import select, update

from bot.config import GroupConfig, Settings
from bot.context import AppContext
from bot.inbound.edge import Inbox
from bot.inbox_signal import InboxSignal
from bot.inbox_worker import drain
from bot.outbound.dispatcher import DispatchOptions, Pump, drain_once, http_session
from bot.outbound.senders import files, wecom_bot_ws
from bot.outbound.senders.wecom_app import WecomAppSender
from bot.transports.feishu_ws import parse_receive_event
from bot.transports.status import LinkStatus
from bot.transports.wecom_bot_ws import WecomBotLink
from storage.db import Database
from storage.inbox import store_inbound
from storage.models import Blob, OutboxMessage, OutboxState, Person
from storage.outbox_ops import resend
from storage.sync import sync_groups
from tests.fakes.behaviour import Pass, Reply, Stall
from tests.fakes.server import FakePlatforms
from tests.fakes.wecom_bot_ws import group_message
from tests.files_kit import Client, files_settings, post_wecom_app, post_wecom_bot
from tests.handlers_kit import OFFICE_GROUP, seed
from tests.inbound_kit import A_CORP_ID, as_json, bot_message, dingtalk_headers, dingtalk_message, inbound_app

NOW = local(2026, 11, 20, 10)
ASK = "文档 通报 2026-10"
CONSOLE = "https://duban.example.gov.cn"
WECOM_CHAT = "wrchat01"
DINGTALK_GROUP = "cidGroup01=="
OPTIONS = DispatchOptions(retry_base=1.0, read_timeout=5.0)
_ids = itertools.count(1)


@dataclasses.dataclass
class Office:
    ctx: AppContext
    client: Any
    fakes: FakePlatforms
    documents: Path
    robot_key: str


@pytest.fixture
async def office(
    db: Database, fake_platforms: FakePlatforms, tmp_path: Path, aiohttp_client: Client, monkeypatch: pytest.MonkeyPatch
) -> Office:
    """The roster with its office members on WeCom (赵敏) and DingTalk (孙丽), a WeCom group whose robot posts to
    the 智能机器人's chat, the DingTalk app robot in a group, and the console on."""
    monkeypatch.chdir(tmp_path)
    await seed(db)
    async with db.transaction() as session:
        await session.execute(
            update(Person).where(Person.name == "孙丽").values(dingtalk_userid="sunli-staff", feishu_userid="sunli-fs")
        )
    fake_platforms.wecom.members.add("zhaomin")
    fake_platforms.dingtalk_media.groups.add(DINGTALK_GROUP)
    robot_key = "robotkey01"
    webhook = fake_platforms.wecom.add_robot(robot_key)
    base = files_settings(db.url, fake_platforms, tmp_path / "files", console={"public_url": CONSOLE})
    group = GroupConfig(name="工作机制群", platform="wecom", webhook=webhook, chat_id=WECOM_CHAT)
    values = base.model_dump(mode="python")
    values["dingtalk"]["api_base"] = fake_platforms.url  # the app robot's uploads (oapi), the session webhooks
    gateway = fake_platforms.feishu_socket
    values["feishu"] = {
        "api_base": fake_platforms.url,
        "transport": "websocket",
        "app_id": gateway.app_id,
        "app_secret": gateway.app_secret,
    }
    settings = Settings.model_validate({**values, "groups": [*base.groups, group]})
    await sync_groups(db, settings.groups)
    client = await aiohttp_client(inbound_app(settings, db))
    ctx = AppContext(settings=settings, db=db, instance_id="test:documents")
    return Office(ctx, client, fake_platforms, tmp_path / "var" / "documents", robot_key)


# ---- the office asks ----------------------------------------------------------------------------------


async def ask_wecom_app(office: Office, text: str = ASK) -> None:
    stamp = str(int(datetime.now(UTC).timestamp()))
    xml = (
        f"<xml><ToUserName>{A_CORP_ID}</ToUserName><FromUserName>zhaomin</FromUserName>"
        f"<CreateTime>{stamp}</CreateTime><MsgType>text</MsgType><Content><![CDATA[{text}]]></Content>"
        f"<MsgId>ask-{next(_ids)}</MsgId><AgentID>1000002</AgentID></xml>"
    )
    assert await post_wecom_app(office.client, xml, stamp) == 200


async def ask_wecom_group(office: Office, text: str = ASK) -> None:
    stamp = str(int(datetime.now(UTC).timestamp()))
    message = bot_message(
        f"@督办助手 {text}",
        msgid=f"ask-{next(_ids)}",
        chattype="group",
        userid="zhaomin",
        chatid=WECOM_CHAT,
        response_url=office.fakes.wecom.new_response_url(),
    )
    assert await post_wecom_bot(office.client, message, stamp) == 200


async def ask_dingtalk(office: Office, *, group: bool, text: str = ASK) -> None:
    url, expires = office.fakes.dingtalk.new_session()
    millis = int(datetime.now(UTC).timestamp() * 1000)
    message = dingtalk_message(
        f" {text}",
        msg_id=f"ask-{next(_ids)}",
        conversationType="2" if group else "1",
        conversationId=DINGTALK_GROUP if group else "cidSingle01==",
        senderStaffId="sunli-staff",
        senderNick="孙丽",
        robotCode="dingkey",
        sessionWebhook=url,
        sessionWebhookExpiredTime=expires,
        createAt=millis,
    )
    response = await office.client.post(
        "/dingtalk/bot", data=as_json(message).encode(), headers=dingtalk_headers(str(millis))
    )
    assert response.status == 200


async def ask_feishu(office: Office, *, group: bool, text: str = ASK) -> str:
    """The long connection's event for 孙丽's message, stored as its transport stores it; the chat's id."""
    chat = "oc_group01" if group else "oc_p2p01"
    event = office.fakes.feishu_socket.group_message(text, user_id="sunli-fs", chat_id=chat)
    if not group:
        event["event"]["message"]["chat_type"] = "p2p"
        event["event"]["message"]["content"] = json.dumps({"text": text}, ensure_ascii=False)
    message = parse_receive_event(event, json.dumps(event))
    assert message is not None
    async with office.ctx.db.transaction() as session:
        assert await store_inbound(session, message) is not None
    return chat


async def answer(office: Office) -> None:
    """The inbox worker handles the request; the dispatcher sends what it queued."""
    await drain(office.ctx)
    await drain_once(office.ctx, options=OPTIONS)


def kept_document(office: Office) -> bytes:
    (path,) = office.documents.glob("*.docx")
    return path.read_bytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def file_rows(db: Database) -> list[OutboxMessage]:
    async with db.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.file_sha256.is_not(None)).order_by(OutboxMessage.id)
        return list((await session.scalars(query)).all())


def texts_to_member(fakes: FakePlatforms, member: str) -> list[str]:
    return [
        e.payload.get(e.payload.get("msgtype", ""), {}).get("content", "")
        for e in fakes.wecom.delivered(member)
        if e.kind == "app" and e.payload.get("msgtype") != "file"
    ]


# ---- the file arrives ---------------------------------------------------------------------------------


async def test_wecom_one_to_one_the_app_uploads_then_sends_the_document(office: Office, db: Database) -> None:
    wecom = office.fakes.wecom
    with time_machine.travel(NOW, tick=True):
        await ask_wecom_app(office)
        await answer(office)
    document = kept_document(office)
    kinds = [e.kind for e in wecom.log if e.kind in ("app", "app_upload")]
    assert kinds == ["app", "app_upload", "app"]  # the announcement, the upload, the file
    assert "文件将随后在本会话中发送" in texts_to_member(office.fakes, "zhaomin")[0]
    (sent,) = [e for e in wecom.delivered("zhaomin") if e.payload.get("msgtype") == "file"]
    upload = wecom.media.sent(sent.payload)
    assert upload is not None and upload.owner == "app" and upload.filename == "月度通报-2026-10.docx"
    assert upload.sha256 == sha256(document)
    (row,) = await file_rows(db)
    assert row.state is OutboxState.SENT and row.file_sha256 == sha256(document) and row.media_id == upload.media_id
    async with db.sessions() as session:
        assert await session.get(Blob, sha256(document)) is not None


async def test_wecom_group_the_chats_robot_uploads_then_sends_the_document(office: Office) -> None:
    wecom = office.fakes.wecom
    with time_machine.travel(NOW, tick=True):
        await ask_wecom_group(office)
        await answer(office)
    (announced,) = [e for e in wecom.log if e.kind == "response_url" and e.delivered]
    assert "文件将随后由本群的群机器人发送" in announced.payload["markdown"]["content"]
    (uploaded,) = [e for e in wecom.log if e.kind == "robot_upload"]
    assert uploaded.target == office.robot_key and uploaded.errcode == 0
    (sent,) = wecom.delivered(office.robot_key)
    upload = wecom.media.sent(sent.payload)
    assert upload is not None and upload.owner == office.robot_key
    assert upload.sha256 == sha256(kept_document(office))


@pytest.mark.parametrize("group", [False, True], ids=["one_to_one", "group"])
async def test_dingtalk_the_app_robot_uploads_then_sends_the_document(office: Office, group: bool) -> None:
    media = office.fakes.dingtalk_media
    with time_machine.travel(NOW, tick=True):
        await ask_dingtalk(office, group=group)
        await answer(office)
    (announced,) = [e for e in office.fakes.dingtalk.delivered() if e.kind == "session"]
    assert "文件将随后在本会话中发送" in as_json(announced.payload)
    ((message, upload),) = media.files_sent()
    assert message.group is group and message.to == (DINGTALK_GROUP if group else "sunli-staff")
    assert message.param["fileName"] == "月度通报-2026-10.docx" and message.param["fileType"] == "docx"
    assert upload.sha256 == sha256(kept_document(office))
    assert [e.kind for e in office.fakes.dingtalk.log if e.kind in ("media_upload", "oto", "group")] == [
        "media_upload",
        "group" if group else "oto",
    ]


@pytest.mark.parametrize("group", [False, True], ids=["one_to_one", "group"])
async def test_feishu_the_app_uploads_then_sends_the_document(office: Office, group: bool) -> None:
    gateway = office.fakes.feishu_socket
    with time_machine.travel(NOW, tick=True):
        chat = await ask_feishu(office, group=group)
        await answer(office)
    (announced,) = gateway.replies
    assert "文件将随后在本会话中发送" in as_json(announced.content)
    assert gateway.upload_answers == [0]
    ((to, upload),) = gateway.sent_files
    assert to == chat and upload.filename == "月度通报-2026-10.docx"
    assert upload.sha256 == sha256(kept_document(office))


async def test_wecom_long_connection_the_robot_uploads_in_chunks_then_sends_the_document(
    office: Office, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """赵敏 asks in the group over the 智能机器人's long connection: the announcement answers her req_id, the
    file goes up in chunks on the same connection and comes into the chat (the req_id spent: an active send),
    rather than through the group's robot webhook."""
    monkeypatch.setattr(wecom_bot_ws, "CHUNK_BYTES", 4096)  # the document in several chunks
    gateway = office.fakes.wecom_bot_socket
    values = office.ctx.settings.model_dump(mode="python")
    bot = {"transport": "websocket", "bot_id": gateway.bot_id, "secret": gateway.secret, "ws_url": gateway.url}
    values["wecom"]["bot"] = bot
    ctx = dataclasses.replace(office.ctx, settings=Settings.model_validate(values))
    signal, stopping = InboxSignal(), asyncio.Event()
    link = WecomBotLink(ctx, Inbox(signal), LinkStatus("wecom_bot_ws"))
    with time_machine.travel(NOW, tick=True):
        running = asyncio.create_task(link.run(stopping))
        try:
            await gateway.wait_for(lambda: gateway.subscriptions == 1)
            await gateway.push(group_message(f"ask-{next(_ids)}", "zhaomin", ASK, chatid=WECOM_CHAT))
            await asyncio.wait_for(signal.stored.wait(), 30)
            await drain(ctx)
            await gateway.wait_for(lambda: len(gateway.files_sent()) == 1)
        finally:
            stopping.set()
            await running
    document = kept_document(office)
    announced, sent = gateway.sent
    assert announced.cmd == "aibot_respond_msg" and "文件将随后在本会话中发送" in announced.content
    assert sent.cmd == "aibot_send_msg" and sent.body["chatid"] == WECOM_CHAT and sent.body["msgtype"] == "file"
    ((_, upload),) = gateway.files_sent()
    assert upload.filename == "月度通报-2026-10.docx" and upload.chunks == -(-len(document) // 4096) > 1
    assert upload.sha256 == sha256(document)
    assert gateway.problems == [] and office.fakes.wecom.delivered(office.robot_key) == []
    (row,) = await file_rows(db)
    assert row.channel == "wecom_bot_ws" and row.state is OutboxState.SENT and row.media_id == upload.media_id


# ---- where the file cannot go -------------------------------------------------------------------------


async def test_a_file_over_the_limit_is_replaced_by_where_to_get_it(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(WecomAppSender, "size_limit", 1024)  # every document is larger than 1 KB
    with time_machine.travel(NOW, tick=True):
        await ask_wecom_app(office)
        await answer(office)
    wecom = office.fakes.wecom
    assert not [e for e in wecom.log if e.kind == "app_upload"]
    announcement, instead = texts_to_member(office.fakes, "zhaomin")
    assert "文件将随后在本会话中发送" in announcement
    assert "超过企业微信机器人发送文件 1 KB 的上限" in instead
    assert f"{CONSOLE}/console/documents" in instead
    assert "duban doc circular --period 2026-10 -o 月度通报-2026-10.docx" in instead
    assert len(kept_document(office)) > 1024


async def test_upload_errors_are_retried_then_the_text_goes_instead(office: Office, db: Database) -> None:
    wecom = office.fakes.wecom
    wecom.script(office.robot_key, *[Reply(errcode=45009, errmsg="api freq out of limit")] * files.UPLOAD_TRIES)
    with time_machine.travel(NOW, tick=True) as clock:
        await ask_wecom_group(office)
        await answer(office)
        for _ in range(files.UPLOAD_TRIES - 1):
            (row,) = await file_rows(db)
            assert row.state is OutboxState.PENDING and row.errcode == "45009"
            clock.shift(timedelta(minutes=20))
            await drain_once(office.ctx, options=OPTIONS)
    uploads = [e for e in wecom.log if e.kind == "robot_upload"]
    assert [e.errcode for e in uploads] == [45009] * files.UPLOAD_TRIES
    (delivered,) = wecom.delivered(office.robot_key)
    assert delivered.payload["msgtype"] != "file"
    text = as_json(delivered.payload)
    assert "文件多次上传未成功" in text and "duban doc circular" in text and f"{CONSOLE}/console/documents" in text
    (row,) = await file_rows(db)
    assert row.state is OutboxState.SENT and row.media_id is None


async def test_an_upload_the_platform_refuses_is_answered_with_where_to_get_it(office: Office) -> None:
    office.fakes.dingtalk.script("media_upload", Reply(errcode=40006, errmsg="无效的文件大小"))
    with time_machine.travel(NOW, tick=True):
        await ask_dingtalk(office, group=False)
        await answer(office)
    media = office.fakes.dingtalk_media
    assert media.files_sent() == []
    (instead,) = [m for m in media.messages if m.msg_key != "sampleFile"]
    assert instead.to == "sunli-staff"
    words = as_json(instead.param)
    assert "文件上传被钉钉拒绝" in words and "40006" in words and "duban doc circular" in words


async def test_a_refused_upload_is_reported_to_the_office_once_a_day(office: Office, db: Database) -> None:
    """The person gets where to get the document; the office is told the channel refuses files, and why — once per
    channel, cause and day, however many documents are asked for meanwhile."""
    office.fakes.dingtalk.script("media_upload", *[Reply(errcode=40006, errmsg="无效的文件大小")] * 2)
    with time_machine.travel(NOW, tick=True):
        await ask_dingtalk(office, group=False)
        await answer(office)
        await ask_dingtalk(office, group=False)
        await answer(office)
    async with db.sessions() as session:
        alerts = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.origin == "alert")))
    (alert,) = alerts
    assert alert.target == OFFICE_GROUP and alert.message["title"] == "文件未能直接发送"
    body = alert.message["body"]
    assert "（钉钉应用机器人消息）" in body and "平台拒绝上传文件" in body and "40006" in body
    assert "对方已收到文字说明" in body and "处理完毕后，再发送的文件即可直接送达。" in body


# ---- crash safety -------------------------------------------------------------------------------------


async def test_a_crash_between_upload_and_send_never_sends_twice(office: Office, db: Database) -> None:
    """The process dies while the file message is in flight: the row becomes uncertain and is not sent again on
    its own; the office's resend reuses the upload (valid 3 days) and the file arrives once."""
    wecom = office.fakes.wecom
    with time_machine.travel(NOW, tick=True) as clock:
        await ask_wecom_group(office)
        await drain(office.ctx)
        await drain_once(office.ctx, channels={"wecom_response_url"}, options=OPTIONS)  # the announcement
        wecom.script(office.robot_key, Pass(), Stall(deliver=False))
        async with http_session(OPTIONS) as http:
            pump = Pump(office.ctx, http, OPTIONS, channels={"wecom_webhook"})
            assert await pump.claim_and_launch() == 1
            (in_flight,) = pump.in_flight
            while not [e for e in wecom.log if e.kind == "robot" and e.status == 0]:
                await asyncio.wait([in_flight], timeout=0.05)
            in_flight.cancel()  # the process is gone, mid-request: nothing is recorded
            await asyncio.gather(in_flight, return_exceptions=True)
        (row,) = await file_rows(db)
        assert row.state is OutboxState.SENDING and row.media_id is not None
        clock.shift(OPTIONS.lease + timedelta(minutes=1))
        await drain_once(dataclasses.replace(office.ctx, instance_id="test:other"), options=OPTIONS)
        (row,) = await file_rows(db)
        assert row.state is OutboxState.UNCERTAIN
        assert [e.kind for e in wecom.log if e.kind in ("robot_upload", "robot")] == ["robot_upload", "robot"]
        assert wecom.delivered(office.robot_key) == []
        async with db.transaction() as session:
            copy = await resend(session, row.id, actor="赵敏")
        await drain_once(office.ctx, options=OPTIONS)
    assert [e.kind for e in wecom.log if e.kind == "robot_upload"] == ["robot_upload"]  # the upload is reused
    (sent,) = wecom.delivered(office.robot_key)
    upload = wecom.media.sent(sent.payload)
    assert upload is not None and upload.sha256 == sha256(kept_document(office))
    (_, copied) = await file_rows(db)
    assert copied.id == copy.id and copied.state is OutboxState.SENT and copied.media_id == row.media_id
