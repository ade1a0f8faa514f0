"""DingTalk enterprise robot callbacks (HTTP mode): the sign vector, stored messages, every refusal."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient

from bot.inbound.dingtalk import callback_sign, webhook_on_platform
from storage.db import Database
from tests.inbound_kit import (
    DINGTALK_SECRET,
    as_json,
    dingtalk_headers,
    dingtalk_message,
    inbound_app,
    inbox,
    settings_for,
)

Client = Callable[..., Awaitable[TestClient]]
NOW_MS = 1700000000000
FROZEN = NOW_MS / 1000


@pytest.fixture
async def client(aiohttp_client: Client, db: Database) -> TestClient:
    return await aiohttp_client(inbound_app(settings_for(db.url), db))


async def post(client: TestClient, body: dict[str, Any] | bytes, *, timestamp: int = NOW_MS, **headers: str) -> Any:
    data = body if isinstance(body, bytes) else as_json(body).encode()
    with time_machine.travel(FROZEN, tick=False):
        return await client.post("/dingtalk/bot", data=data, headers={**dingtalk_headers(str(timestamp)), **headers})


def test_sign_vectors() -> None:
    assert callback_sign("appSecretTest", "1700000000000") == "gIsxP3F3/HKSYVvEo7bTU2814+vDqd3s73S3fm9AIeM="
    # The custom robot's signing uses the same formula (before URL-encoding).
    assert callback_sign("SECtest0123456789", "1700000000000") == "yBKp5IlG6qCzcQWmgyRK/ziJBdVNJmHfFE2ST/CzT/g="


async def test_group_message_is_stored_with_its_session_webhook(client: TestClient, db: Database) -> None:
    response = await post(client, dingtalk_message())
    assert response.status == 200
    [row] = await inbox(db)
    assert (row.platform, row.channel, row.message_id) == ("dingtalk", "dingtalk_bot", "msgDT1")
    assert (row.sender_id, row.sender_name, row.chat_id, row.chat_type) == ("staff001", "李四", "cidGroup01==", "group")
    assert row.text == "10月工作进展：已完成。"
    assert row.sent_at is not None and int(row.sent_at.timestamp() * 1000) == NOW_MS
    assert row.reply == {
        "channel": "dingtalk_session",
        "target": "cidGroup01==",
        "rate_key": "dingtalk_session:cidGroup01==",
        "address": {"url": "https://oapi.dingtalk.com/robot/sendBySession?session=abc", "expires_at_ms": 1700005400000},
    }


async def test_single_chat(client: TestClient, db: Database) -> None:
    assert (await post(client, dingtalk_message(conversationType="1", conversationId="cidDM"))).status == 200
    [row] = await inbox(db)
    assert (row.chat_type, row.chat_id) == ("single", "cidDM")


async def test_retry_is_a_no_op(client: TestClient, db: Database) -> None:
    for _ in range(3):
        assert (await post(client, dingtalk_message())).status == 200
    assert len(await inbox(db)) == 1


async def test_pictures_files_and_rich_text_keep_their_codes(client: TestClient, db: Database) -> None:
    picture = dingtalk_message(msg_id="p", msgtype="picture", content={"downloadCode": "DC_PIC"})
    file = dingtalk_message(
        msg_id="f",
        msgtype="file",
        content={"downloadCode": "DC_FILE", "fileName": "进展.pdf", "fileId": "F1", "spaceId": "S1"},
    )
    rich = dingtalk_message(
        msg_id="r",
        msgtype="richText",
        content={"richText": [{"text": "10月进展"}, {"type": "picture", "downloadCode": "DC_R"}, {"text": "见图"}]},
    )
    for message in (picture, file, rich):
        del message["text"]
        assert (await post(client, message)).status == 200
    rows = {row.message_id: row for row in await inbox(db)}
    assert (rows["p"].msgtype, rows["p"].attachments) == ("picture", [{"kind": "image", "download_code": "DC_PIC"}])
    assert rows["f"].attachments == [
        {"kind": "file", "download_code": "DC_FILE", "name": "进展.pdf", "file_id": "F1", "space_id": "S1"}
    ]
    assert (rows["r"].text, rows["r"].attachments) == ("10月进展\n见图", [{"kind": "image", "download_code": "DC_R"}])


async def test_unknown_type_is_kept(client: TestClient, db: Database) -> None:
    message = dingtalk_message(msgtype="interactiveCard", content={"cardData": "…"})
    del message["text"]
    assert (await post(client, message)).status == 200
    [row] = await inbox(db)
    assert (row.msgtype, row.text) == ("interactiveCard", "")


@pytest.mark.parametrize(
    ("name", "headers", "status"),
    [
        ("no sign", {"sign": ""}, 403),
        ("no timestamp", {"timestamp": ""}, 403),
        ("tampered sign", {"sign": "gIsxP3F3/HKSYVvEo7bTU2814+vDqd3s73S3fm9AIeN="}, 403),
        ("another secret's sign", {"sign": "yBKp5IlG6qCzcQWmgyRK/ziJBdVNJmHfFE2ST/CzT/g="}, 403),
        ("sign with non-ASCII", {"sign": "签名"}, 403),
    ],
)
async def test_signature_refusals(
    client: TestClient, db: Database, name: str, headers: dict[str, str], status: int
) -> None:
    base = dingtalk_headers(str(NOW_MS))
    sent = {k: v for k, v in {**base, **headers}.items() if v}
    with time_machine.travel(FROZEN, tick=False):
        response = await client.post("/dingtalk/bot", data=as_json(dingtalk_message()).encode(), headers=sent)
    assert response.status == status, name
    assert await inbox(db) == []


async def test_stale_and_future_timestamps_are_refused(client: TestClient, db: Database) -> None:
    hour = 3600 * 1000
    assert (await post(client, dingtalk_message(), timestamp=NOW_MS - hour - 1)).status == 403
    assert (await post(client, dingtalk_message(), timestamp=NOW_MS + hour + 1)).status == 403
    assert (await post(client, dingtalk_message(), timestamp=NOW_MS - hour + 1000)).status == 200
    assert len(await inbox(db)) == 1


async def test_signed_non_numeric_timestamp_is_refused(client: TestClient, db: Database) -> None:
    headers = dingtalk_headers("yesterday")
    with time_machine.travel(FROZEN, tick=False):
        response = await client.post("/dingtalk/bot", data=as_json(dingtalk_message()).encode(), headers=headers)
    assert response.status == 403


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("malformed JSON", b'{"msgId": ', 400),
        ("JSON array", b"[]", 400),
        ("not UTF-8", b'{"msgId": "\xff"}', 400),
        ("empty", b"", 400),
    ],
)
async def test_body_refusals(client: TestClient, db: Database, name: str, body: bytes, status: int) -> None:
    assert (await post(client, body)).status == status, name
    assert await inbox(db) == []


async def test_a_reply_address_off_the_platform_is_refused(client: TestClient, db: Database) -> None:
    # The signature does not cover the body: a forged body must not redirect the bot's answers.
    forged = dingtalk_message(sessionWebhook="https://attacker.example/collect")
    assert (await post(client, forged)).status == 400
    assert await inbox(db) == []


def test_webhook_hosts() -> None:
    base = "https://oapi.dingtalk.com"
    assert webhook_on_platform("https://oapi.dingtalk.com/robot/sendBySession?session=x", base)
    assert webhook_on_platform("https://api.dingtalk.com/v1.0/robot", base)
    assert webhook_on_platform("http://127.0.0.1:9000/robot/sendBySession", "http://127.0.0.1:9000")
    assert not webhook_on_platform("https://dingtalk.com.attacker.example/x", base)
    assert not webhook_on_platform("https://evil-dingtalk.com/x", base)
    assert not webhook_on_platform("file:///etc/passwd", base)
    assert not webhook_on_platform("https://[::1", base)


async def test_private_deployment_host_is_accepted(aiohttp_client: Client, db: Database) -> None:
    settings = settings_for(db.url, dingtalk={"api_base": "https://ding.gov.example"})
    client = await aiohttp_client(inbound_app(settings, db))
    message = dingtalk_message(sessionWebhook="https://ding.gov.example/robot/sendBySession?session=s")
    assert (await post(client, message)).status == 200
    [row] = await inbox(db)
    assert row.reply["address"]["url"] == "https://ding.gov.example/robot/sendBySession?session=s"


async def test_body_over_the_limit_is_413(client: TestClient, db: Database) -> None:
    message = dingtalk_message(text="长" * 100_000)
    assert (await post(client, json.dumps(message, ensure_ascii=False).encode())).status == 413
    assert await inbox(db) == []


async def test_the_secret_never_reaches_the_log(client: TestClient, caplog: Any) -> None:
    caplog.set_level("DEBUG")
    await post(client, dingtalk_message(text="机密正文"))
    await post(client, dingtalk_message(), sign="x")
    log = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("bot", "aiohttp")))
    assert "dingtalk_bot msgDT1" in log
    assert DINGTALK_SECRET not in log and "机密正文" not in log
