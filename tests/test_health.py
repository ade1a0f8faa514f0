"""``GET /healthz``: the waiting work it reports; 503 when work waits beyond ``[health]`` or the database is gone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.appkeys import CONTEXT
from bot.config import ConfigError, Settings, load_settings
from storage.db import Database
from storage.models import InboxMessage, InboxState, OutboxMessage, OutboxState, utcnow


def settings_for(url: str, **health: int) -> Settings:
    return Settings.model_validate({"database": {"url": url}, "health": health})


async def healthz(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/healthz")
    return response.status, await response.json()


async def add_outbox(db: Database, *, due_in: timedelta, state: OutboxState = OutboxState.PENDING) -> None:
    async with db.transaction() as session:
        session.add(
            OutboxMessage(channel="sandbox", target="群", rate_key="sandbox:群", state=state, due_at=utcnow() + due_in)
        )


async def add_inbox(db: Database, *, age: timedelta, state: InboxState = InboxState.PENDING) -> None:
    async with db.transaction() as session:
        session.add(
            InboxMessage(
                platform="sandbox",
                channel="sandbox",
                message_id=f"m{utcnow().timestamp()}",
                sender_id="u1",
                state=state,
                received_at=utcnow() - age,
            )
        )


async def test_an_idle_instance_reports_no_waiting_work(aiohttp_client, db: Database) -> None:
    client: TestClient = await aiohttp_client(create_app(settings_for(db.url), db=db))
    status, body = await healthz(client)
    assert status == 200
    assert body["checks"]["outbox"] == {
        "ok": True,
        "lag_seconds": 0.0,
        "due": 0,
        "oldest_due_at": None,
        "limit_seconds": 300,
        "failed_recent": 0,
        "failed_recent_by_errcode": {},
        "failure_window_seconds": 600,
    }
    assert body["checks"]["inbox"] == {
        "ok": True,
        "oldest_pending_seconds": 0.0,
        "pending": 0,
        "oldest_pending_at": None,
        "limit_seconds": 300,
    }


async def test_dispatcher_lag_beyond_the_limit_is_unhealthy(aiohttp_client, db: Database) -> None:
    client: TestClient = await aiohttp_client(create_app(settings_for(db.url, max_outbox_lag_seconds=60), db=db))
    await add_outbox(db, due_in=timedelta(seconds=-20))
    status, body = await healthz(client)
    assert status == 200
    assert body["checks"]["outbox"]["due"] == 1
    assert 20 <= body["checks"]["outbox"]["lag_seconds"] < 60

    await add_outbox(db, due_in=timedelta(minutes=-10))
    status, body = await healthz(client)
    assert status == 503
    assert body["status"] == "unhealthy"
    assert body["checks"]["outbox"]["ok"] is False
    assert body["checks"]["outbox"]["due"] == 2
    assert body["checks"]["outbox"]["lag_seconds"] >= 600
    assert body["checks"]["inbox"]["ok"] is True
    assert body["checks"]["database"]["ok"] is True


async def test_rows_not_yet_due_or_no_longer_pending_are_not_lag(aiohttp_client, db: Database) -> None:
    client: TestClient = await aiohttp_client(create_app(settings_for(db.url, max_outbox_lag_seconds=60), db=db))
    await add_outbox(db, due_in=timedelta(minutes=30))  # backing off after a failure, or paced by the rate limit
    await add_outbox(db, due_in=timedelta(hours=-2), state=OutboxState.UNCERTAIN)
    await add_outbox(db, due_in=timedelta(hours=-2), state=OutboxState.SENT)
    status, body = await healthz(client)
    assert status == 200
    assert body["checks"]["outbox"]["lag_seconds"] == 0
    assert body["checks"]["outbox"]["due"] == 0


async def test_an_old_pending_inbox_row_is_unhealthy(aiohttp_client, db: Database) -> None:
    client: TestClient = await aiohttp_client(create_app(settings_for(db.url, max_inbox_age_seconds=120), db=db))
    await add_inbox(db, age=timedelta(hours=5), state=InboxState.DONE)
    await add_inbox(db, age=timedelta(hours=5), state=InboxState.FAILED)
    assert (await healthz(client))[0] == 200

    await add_inbox(db, age=timedelta(minutes=5))
    status, body = await healthz(client)
    assert status == 503
    assert body["checks"]["inbox"]["ok"] is False
    assert body["checks"]["inbox"]["pending"] == 1
    assert body["checks"]["inbox"]["oldest_pending_seconds"] >= 300
    assert body["checks"]["inbox"]["oldest_pending_at"] is not None


async def test_a_zero_limit_turns_the_check_off(aiohttp_client, db: Database) -> None:
    settings = settings_for(db.url, max_outbox_lag_seconds=0, max_inbox_age_seconds=0)
    client: TestClient = await aiohttp_client(create_app(settings, db=db))
    await add_outbox(db, due_in=timedelta(days=-1))
    await add_inbox(db, age=timedelta(days=1))
    status, body = await healthz(client)
    assert status == 200
    assert body["checks"]["outbox"]["lag_seconds"] >= 86400
    assert body["checks"]["inbox"]["oldest_pending_seconds"] >= 86400


async def test_an_unreachable_database_is_unhealthy(aiohttp_client, sqlite_url: str) -> None:
    client: TestClient = await aiohttp_client(create_app(settings_for(sqlite_url)))
    ctx = client.app[CONTEXT]
    reachable = ctx.db
    ctx.db = Database("postgresql+asyncpg://duban@127.0.0.1:1/duban")  # nothing listens on port 1
    try:
        status, body = await healthz(client)
    finally:
        await ctx.db.close()
        ctx.db = reachable
    assert status == 503
    assert body["checks"]["database"] == {"ok": False, "dialect": "postgresql", "error": "ConnectionRefusedError"}
    assert "outbox" not in body["checks"]


def test_health_limits_are_read_and_checked(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text("[health]\nmax_outbox_lag_seconds = 90\n", encoding="utf-8")
    settings = load_settings(good)
    assert settings.health.max_outbox_lag_seconds == 90
    assert settings.health.max_inbox_age_seconds == 300

    bad = tmp_path / "bad.toml"
    bad.write_text('[health]\nmax_outbox_lag_seconds = -1\nmax_inbox_age_seconds = "soon"\nlag = 5\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(bad)
    assert sorted(caught.value.problems) == [
        "health.lag: 未知的配置项（请检查拼写）",
        "health.max_inbox_age_seconds: 应为整数（当前值 'soon'）",
        "health.max_outbox_lag_seconds: 不能小于 0（当前值 -1）",
    ]
