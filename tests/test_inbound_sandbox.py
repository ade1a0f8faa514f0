"""The sandbox endpoint: the same pipeline as the platforms', served only where it cannot be an open door."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.config import Settings
from bot.inbound.sandbox import is_loopback, sandbox_decision
from storage.db import Database
from tests.inbound_kit import inbound_app, inbox, settings_for

Client = Callable[..., Awaitable[TestClient]]
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - a value under test, nothing binds to it


@web.middleware
async def remote_from_header(request: web.Request, handler: Any) -> web.StreamResponse:
    """Lets a test pose as a peer on another address (the test client always connects from loopback)."""
    remote = request.headers.get("X-Test-Remote")
    return await handler(request.clone(remote=remote) if remote else request)


@pytest.fixture
async def client(aiohttp_client: Client, db: Database) -> TestClient:
    app = inbound_app(settings_for(db.url), db)
    app.middlewares.append(remote_from_header)
    return await aiohttp_client(app)


async def test_group_message_is_stored(client: TestClient, db: Database) -> None:
    body = {"person_id": 7, "group": "强省会工作机制群", "text": " 10月工作进展 ", "message_id": "m1"}
    response = await client.post("/sandbox/messages", json=body)
    assert response.status == 200
    answer = await response.json()
    assert answer == {"stored": True, "inbox_id": answer["inbox_id"], "message_id": "m1", "chat": "强省会工作机制群"}
    [row] = await inbox(db)
    assert row.id == answer["inbox_id"]
    assert (row.platform, row.channel, row.sender_id, row.text) == ("sandbox", "sandbox", "7", "10月工作进展")
    assert (row.chat_id, row.chat_type) == ("强省会工作机制群", "group")
    assert row.reply == {
        "channel": "sandbox",
        "target": "强省会工作机制群",
        "rate_key": "sandbox:强省会工作机制群",
        "address": {"chat": "强省会工作机制群"},
    }


async def test_a_quoted_message_keeps_the_quoted_text(client: TestClient, db: Database) -> None:
    body = {"person_id": 7, "group": "强省会工作机制群", "text": "张三 处长", "quoted": " 征集#3：联系人 "}
    assert (await client.post("/sandbox/messages", json=body)).status == 200
    [row] = await inbox(db)
    assert (row.text, row.quoted) == ("张三 处长", "征集#3：联系人")


async def test_direct_message_and_generated_id(client: TestClient, db: Database) -> None:
    response = await client.post("/sandbox/messages", json={"person_id": 3, "group": None, "text": "帮助"})
    answer = await response.json()
    assert answer["chat"] == "dm:3" and answer["message_id"].startswith("sb-")
    [row] = await inbox(db)
    assert (row.chat_id, row.chat_type, row.reply["address"]) == ("dm:3", "single", {"chat": "dm:3"})


async def test_retry_is_a_no_op(client: TestClient, db: Database) -> None:
    body = {"person_id": 7, "text": "统计", "message_id": "same"}
    first = await (await client.post("/sandbox/messages", json=body)).json()
    again = await (await client.post("/sandbox/messages", json=body)).json()
    assert first["stored"] is True and again == {**first, "stored": False, "inbox_id": None}
    assert len(await inbox(db)) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"group": "g", "text": "x"},
        {"person_id": "7", "text": "x"},
        {"person_id": True, "text": "x"},
        {"person_id": 0, "text": "x"},
        {"person_id": 7},
        {"person_id": 7, "text": 5},
        {"person_id": 7, "text": "x", "group": ""},
        {"person_id": 7, "text": "x", "message_id": "m" * 200},
        {"person_id": 7, "text": "x", "admin": True},
        ["not", "an", "object"],
    ],
)
async def test_invalid_bodies_are_400(client: TestClient, db: Database, body: Any) -> None:
    response = await client.post("/sandbox/messages", json=body)
    assert response.status == 400
    assert await inbox(db) == []


async def test_not_json_is_400_and_other_types_415(client: TestClient, db: Database) -> None:
    headers = {"Content-Type": "application/json"}
    assert (await client.post("/sandbox/messages", data=b"{oops", headers=headers)).status == 400
    assert (await client.post("/sandbox/messages", data=b'{"text": "\xff"}', headers=headers)).status == 400
    assert (await client.post("/sandbox/messages", data={"person_id": "1", "text": "x"})).status == 415
    assert await inbox(db) == []


async def test_peers_off_this_machine_are_refused(client: TestClient, db: Database) -> None:
    body = {"person_id": 7, "text": "通知 全体"}
    response = await client.post("/sandbox/messages", json=body, headers={"X-Test-Remote": "203.0.113.9"})
    assert response.status == 403
    assert await inbox(db) == []
    ok = await client.post("/sandbox/messages", json=body, headers={"X-Test-Remote": "::1"})
    assert ok.status == 200


@pytest.mark.parametrize(
    "body",
    [
        {"text": "x"},
        {"as": 7, "text": "x"},
        {"as": "", "text": "x"},
        {"as": "张伟"},
        {"as": "张伟", "text": "x", "wait": 1000},
        {"as": "张伟", "text": "x", "wait": "5"},
        {"as": "张伟", "text": "x", "person_id": 7},
        ["not", "an", "object"],
    ],
)
async def test_say_refuses_invalid_bodies(client: TestClient, db: Database, body: Any) -> None:
    assert (await client.post("/sandbox/say", json=body)).status == 400
    assert await inbox(db) == []


async def test_say_is_for_this_machine_only_and_names_whom_it_cannot_find(client: TestClient, db: Database) -> None:
    body = {"as": "无名氏", "text": "通知 全体", "wait": 0}
    off_machine = await client.post("/sandbox/say", json=body, headers={"X-Test-Remote": "203.0.113.9"})
    assert off_machine.status == 403
    assert (await client.post("/sandbox/say", data={"as": "无名氏", "text": "x"})).status == 415
    unknown = await client.post("/sandbox/say", json=body)
    assert unknown.status == 422
    assert "名册中没有「无名氏」" in (await unknown.json())["error"]
    assert await inbox(db) == []


def settings(**values: Any) -> Settings:
    return Settings.model_validate({"database": {"url": "sqlite+aiosqlite:///x.db"}, **values})


def test_when_the_sandbox_is_served() -> None:
    assert sandbox_decision(settings()) == (True, "")  # the demo: loopback, no real channel
    on, reason = sandbox_decision(settings(server={"host": ALL_INTERFACES}))
    assert not on and ALL_INTERFACES in reason
    on, reason = sandbox_decision(settings(dingtalk={"app_secret": "s"}))
    assert not on and "dingtalk_bot" in reason
    assert sandbox_decision(settings(dingtalk={"app_secret": "s"}, sandbox={"enabled": True}))[0]
    assert not sandbox_decision(settings(sandbox={"enabled": False}))[0]


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "localhost"))
    assert not any(is_loopback(h) for h in (ALL_INTERFACES, "::", "10.0.0.1", "203.0.113.9", "", None, "example.org"))
