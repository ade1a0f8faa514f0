"""Into the console: ``登录`` in chat, ``duban console link``; the migration; no credentials in logs."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
from pathlib import Path

import pytest
from handlers_kit import MEMBER_GROUP, POLICY, audit_entries, local, say, seed
from sqlalchemy import select

from bot.cli import main
from bot.config import Settings
from bot.logs import configure_logging
from storage import migrate
from storage.console_auth import digest
from storage.db import Database
from storage.models import ConsoleLogin, OutboxMessage

CONSOLE = dataclasses.replace(POLICY, console_url="http://127.0.0.1:8080/console/")
AT = local(2026, 11, 20)


async def logins(db: Database) -> list[ConsoleLogin]:
    async with db.sessions() as session:
        return list(await session.scalars(select(ConsoleLogin)))


async def test_login_in_a_direct_chat_answers_with_a_link(db: Database) -> None:
    roster = await seed(db)
    [answer] = await say(db, roster.office, "登录", AT, policy=CONSOLE, chat="dm", chat_type="single")
    assert "10分钟内有效" in answer
    url = answer.split("\n")[1]
    assert url.startswith("http://127.0.0.1:8080/console/login/")
    [login] = await logins(db)
    token = url.rsplit("/", 1)[1]
    assert login.token_hash == digest(token) and token not in login.token_hash
    assert login.person_id == roster.office.id
    entry = (await audit_entries(db))[-1]
    assert entry.action == "控制台登录链接" and token not in entry.detail and entry.via == "chat"


async def test_login_in_a_group_goes_one_to_one_where_the_platform_allows(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "登录", AT, policy=CONSOLE)
    async with db.sessions() as session:
        rows = {row.target: row.message["body"] for row in await session.scalars(select(OutboxMessage))}
    assert set(rows) == {MEMBER_GROUP, f"dm:{roster.liaison.id}"}
    assert "已通过单聊" in rows[MEMBER_GROUP] and "http" not in rows[MEMBER_GROUP]  # never a link in a group
    assert "/console/login/" in rows[f"dm:{roster.liaison.id}"]


async def test_login_in_a_group_elsewhere_asks_to_write_one_to_one(db: Database) -> None:
    await seed(db)
    [answer] = await say(db, "lina-staff", "登录", AT, policy=CONSOLE, platform="dingtalk")
    assert "请与我单聊发送“登录”" in answer
    assert await logins(db) == []


async def test_login_when_the_console_is_off(db: Database) -> None:
    roster = await seed(db)
    [answer] = await say(db, roster.office, "登录", AT, chat="dm", chat_type="single")
    assert "未开启" in answer
    assert await logins(db) == []


def _config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "duban.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/c.db"\n{extra}', encoding="utf-8")
    return config


def test_cli_link_for_a_roster_person(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(
        tmp_path,
        '\n[[groups]]\nname = "强省会工作机制群"\nplatform = "sandbox"\n'
        '\n[[groups]]\nname = "工作机制办公室"\nplatform = "sandbox"\noffice = true\n',
    )
    assert main(["--config", str(config), "init", "--demo"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "console", "link", "--as", "段红梅"]) == 0
    out = capsys.readouterr().out
    assert "段红梅的控制台登录链接" in out and "http://127.0.0.1:8080/console/login/" in out
    assert main(["--config", str(config), "console", "link", "--as", "无此人"]) != 0
    assert "名册中没有" in capsys.readouterr().err


def test_config_check_warns_without_an_office_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(_config(tmp_path)), "config", "check"]) == 0
    out = capsys.readouterr().out
    assert "没有配置办公室群" in out and "发送队列" in out
    assert "网页控制台：http://127.0.0.1:8080/console/" in out


def test_sign_in_links_and_cookies_are_masked_in_logs(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(secrets=Settings().secret_values())
    logging.getLogger("duban.test").warning(
        "GET /console/login/AbC-123_xyz and Cookie: duban_console=SeSsIoN-id_42 seen"
    )
    err = capsys.readouterr().err
    assert "AbC-123_xyz" not in err and "SeSsIoN-id_42" not in err
    assert "/console/login/*** and Cookie: duban_console=*** seen" in err


def test_the_migration_keeps_data_and_labels_past_audit_entries(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrate.upgrade(url, "0001")
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO audit_log (at, actor, action, detail, outcome) VALUES "
            "('2026-11-01 00:00:00', '命令行（root）', 'roster.import', '', 'ok'),"
            "('2026-11-01 00:00:01', 'duban init --demo', 'roster.import', '', 'ok')"
        )
    migrate.upgrade(url)
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT actor, via FROM audit_log ORDER BY id").fetchall()
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert rows == [("命令行（root）", "cli"), ("duban init --demo", "cli")]
    assert {"console_login", "console_session"} <= tables
    asyncio.run(_check_head(url))


async def _check_head(url: str) -> None:
    db = Database(url)
    try:
        assert (await migrate.schema_state(db)).up_to_date
    finally:
        await db.close()


async def test_help_offers_login_only_where_the_console_runs(db: Database) -> None:
    roster = await seed(db)
    [with_console] = await say(db, roster.liaison, "帮助", AT, policy=CONSOLE)
    [without] = await say(db, roster.liaison, "帮助", AT)
    assert "登录" in with_console and "登录" not in without


async def test_a_link_opens_one_session_even_when_used_twice_at_once(db: Database) -> None:
    from storage.console_auth import LinkRefused, issue_link_token, redeem_link
    from storage.models import ConsoleSession, utcnow

    roster = await seed(db)
    async with db.transaction() as session:
        token = await issue_link_token(session, roster.office, now=utcnow(), via="cli")

    async def redeem() -> bool:
        try:
            async with db.transaction() as session:
                await redeem_link(session, token, now=utcnow())
        except LinkRefused:
            return False
        return True

    assert sorted(await asyncio.gather(redeem(), redeem(), redeem())) == [False, False, True]
    async with db.sessions() as session:
        assert len(list(await session.scalars(select(ConsoleSession)))) == 1


async def test_login_in_a_wecom_group_goes_through_the_self_built_app(db: Database) -> None:
    await seed(db)
    policy = dataclasses.replace(CONSOLE, direct_platforms=frozenset({"sandbox", "wecom"}))
    await say(db, "zhangwei", "登录", AT, policy=policy, platform="wecom")
    async with db.sessions() as session:
        rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    direct = [row for row in rows if row.channel == "wecom_app"]
    assert len(direct) == 1 and direct[0].address == {"touser": "zhangwei"}
    assert "/console/login/" in direct[0].message["body"]
    assert all("/console/login/" not in row.message["body"] for row in rows if row.channel != "wecom_app")
