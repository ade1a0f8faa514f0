"""Hostile requests to every inbound endpoint: never a 500, nothing stored for a refusal, still healthy after.

The corpora live in ``tests/hostile_corpus.py`` (at least 30 requests per endpoint). For each request: the
status is one of those its case allows (never a 5xx), the inbox gains exactly the rows the case allows (none
for a refusal), the edge counts it once under the right ``duban_callbacks_total`` result, and ``/healthz``
still answers 200. Properly signed requests carrying injection text are stored verbatim.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.inbound.dingtalk import CHANNEL as DINGTALK
from bot.inbound.sandbox import CHANNEL as SANDBOX
from bot.inbound.wecom_app import CHANNEL as WECOM_APP
from bot.inbound.wecom_bot import CHANNEL as WECOM_BOT
from bot.metrics import REGISTRY, CallbackResult
from storage.db import Database
from tests.hostile_corpus import (
    APP_KEYS,
    BOT_KEYS,
    Hostile,
    app_plaintext,
    app_post,
    bot_post,
    dingtalk_corpus,
    dingtalk_post,
    sandbox_corpus,
    verification_corpus,
    wecom_app_post_corpus,
    wecom_bot_post_corpus,
)
from tests.inbound_kit import inbound_app, inbox, settings_for

Client = Callable[..., Awaitable[TestClient]]
MIN_CORPUS = 30


@web.middleware
async def remote_from_header(request: web.Request, handler: Any) -> web.StreamResponse:
    """Lets a case pose as a peer on another address (the test client always connects from loopback)."""
    remote = request.headers.get("X-Test-Remote")
    return await handler(request.clone(remote=remote) if remote else request)


@pytest.fixture
async def client(aiohttp_client: Client, db: Database) -> TestClient:
    settings = settings_for(db.url, wecom={"timestamp_window": 300})  # freshness on, as deployed
    app = inbound_app(settings, db)
    app.middlewares.append(remote_from_header)
    return await aiohttp_client(app)


def callbacks(channel: str) -> dict[str, float]:
    return {
        result.value: REGISTRY.get_sample_value("duban_callbacks_total", {"channel": channel, "result": result.value})
        or 0.0
        for result in CallbackResult
    }


async def chunks(body: bytes, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def send(client: TestClient, path: str, hostile: Hostile) -> int:
    headers = dict(hostile.headers)
    if hostile.remote:
        headers["X-Test-Remote"] = hostile.remote
    data: Any = chunks(hostile.body) if hostile.chunked and hostile.body is not None else hostile.body
    response = await client.request(hostile.method, path, params=hostile.params, headers=headers, data=data)
    await response.read()
    return response.status


async def run_corpus(client: TestClient, db: Database, path: str, channel: str, corpus: list[Hostile]) -> None:
    assert len(corpus) >= MIN_CORPUS, f"{path}: only {len(corpus)} hostile requests"
    assert len({hostile.name for hostile in corpus}) == len(corpus), "case names repeat"
    for hostile in corpus:
        where = f"{hostile.method} {path} [{hostile.name}]"
        rows_before = await inbox(db)
        counted_before = callbacks(channel)

        status = await send(client, path, hostile)

        assert status < 500, f"{where}: answered {status}"
        assert status in hostile.status, f"{where}: answered {status}, expected {sorted(hostile.status)}"
        rows_after = await inbox(db)
        assert len(rows_after) == len(rows_before) + hostile.stores, f"{where}: inbox rows changed wrongly"
        if hostile.text is not None:
            assert rows_after[-1].text == hostile.text, f"{where}: text not stored verbatim"
        counted = {result: count - counted_before[result] for result, count in callbacks(channel).items()}
        moved = {result: delta for result, delta in counted.items() if delta}
        if hostile.results:
            assert sum(moved.values()) == 1 and set(moved) <= hostile.results, f"{where}: counted as {moved}"
        else:
            assert moved == {}, f"{where}: answered before the edge, yet counted as {moved}"
        health = await client.get("/healthz")
        assert health.status == 200, f"after {where}: /healthz answered {health.status}"


async def test_wecom_bot_url_verification(client: TestClient, db: Database) -> None:
    await run_corpus(client, db, "/wecom/bot", WECOM_BOT, verification_corpus(BOT_KEYS))
    assert await inbox(db) == []


async def test_wecom_app_url_verification(client: TestClient, db: Database) -> None:
    await run_corpus(client, db, "/wecom/app", WECOM_APP, verification_corpus(APP_KEYS))
    assert await inbox(db) == []


async def test_wecom_bot_messages(client: TestClient, db: Database) -> None:
    stored = bot_post("10月工作进展：已完成。", msgid="h-stored")
    params, body = stored
    assert (await client.post("/wecom/bot", params=params, data=body)).status == 200
    await run_corpus(client, db, "/wecom/bot", WECOM_BOT, wecom_bot_post_corpus(stored))


async def test_wecom_app_messages(client: TestClient, db: Database) -> None:
    stored = app_post(app_plaintext("10月工作进展：已完成。", msgid="424242"))
    assert (await client.post("/wecom/app", params=stored[0], data=stored[1])).status == 200
    await run_corpus(client, db, "/wecom/app", WECOM_APP, wecom_app_post_corpus(stored))


async def test_dingtalk_messages(client: TestClient, db: Database) -> None:
    stored = dingtalk_post("10月工作进展：已完成。", msgId="dh-stored")
    assert (await client.post("/dingtalk/bot", headers=stored[0], data=stored[1])).status == 200
    await run_corpus(client, db, "/dingtalk/bot", DINGTALK, dingtalk_corpus(stored))


async def test_sandbox_messages(client: TestClient, db: Database) -> None:
    await run_corpus(client, db, "/sandbox/messages", SANDBOX, sandbox_corpus())


def test_every_corpus_has_at_least_thirty_requests() -> None:
    """The figure the issue asks for, per endpoint (``GET`` and ``POST`` counted apart)."""
    sizes = {
        "GET /wecom/bot": len(verification_corpus(BOT_KEYS)),
        "GET /wecom/app": len(verification_corpus(APP_KEYS)),
        "POST /wecom/bot": len(wecom_bot_post_corpus(bot_post("x"))),
        "POST /wecom/app": len(wecom_app_post_corpus(app_post(app_plaintext("x")))),
        "POST /dingtalk/bot": len(dingtalk_corpus(dingtalk_post("x"))),
        "POST /sandbox/messages": len(sandbox_corpus()),
    }
    assert min(sizes.values()) >= MIN_CORPUS, sizes
