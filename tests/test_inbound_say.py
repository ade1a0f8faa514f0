"""``duban say`` and ``duban sandbox show``: speaking as a roster person, in process and through a running service."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestServer

from bot.cli import main
from bot.cli.base import CliError
from bot.cli.sandbox_chat import sandbox_show
from bot.cli.say import say, service_url
from bot.config import Settings
from bot.service import build_app
from storage.db import Database
from storage.models import InboxState, Person, Role
from storage.sandbox import SpeakerUnclear, resolve_speaker
from tests.handlers_kit import MEMBER_GROUP, OFFICE_GROUP, seed
from tests.inbound_kit import inbox

Server = Callable[..., Awaitable[TestServer]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_for(url: str, port: int) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": url},
            "server": {"host": "127.0.0.1", "port": port},
            "office_name": "强省会工作机制办公室",
            "groups": [
                {"name": MEMBER_GROUP, "platform": "sandbox"},
                {"name": OFFICE_GROUP, "platform": "sandbox", "office": True},
            ],
        }
    )


async def test_say_without_a_service_runs_the_pipeline_here(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    await seed(db)
    settings = settings_for(db.url, free_port())  # nothing listens there
    # The command runs its own event loop, as from a shell: in a thread here, beside the test's loop.
    assert await asyncio.to_thread(say, settings, "张伟", MEMBER_GROUP, "10月工作进展：完成外贸项目3个。", 5) == 0
    out = capsys.readouterr().out
    assert f"[{MEMBER_GROUP}] 张伟：10月工作进展" in out
    assert "已收到【省商务厅】" in out and "工作进展（第1版" in out
    [row] = [r for r in await inbox(db) if r.sender_id != ""]
    assert (row.platform, row.chat_id, row.state) == ("sandbox", MEMBER_GROUP, InboxState.DONE)


async def test_say_by_mobile_or_account_in_a_direct_chat(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    roster = await seed(db)
    settings = settings_for(db.url, free_port())
    assert await asyncio.to_thread(say, settings, "13800000004", None, "帮助", 5) == 0  # 赵敏, office, by mobile
    out = capsys.readouterr().out
    assert "[单聊] 赵敏：帮助" in out and f"[dm:{roster.office.id}] 机器人" in out


async def test_say_through_a_running_service(
    aiohttp_server: Server, db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(db)
    port = free_port()
    settings = settings_for(db.url, port)
    await aiohttp_server(build_app(settings), port=port)
    text = "10月工作进展：完成外贸项目5个。"
    assert await asyncio.to_thread(say, settings, "zhangwei", MEMBER_GROUP, text, 20) == 0
    out = capsys.readouterr().out
    assert f"[{MEMBER_GROUP}] 张伟：{text}" in out
    assert f"[{MEMBER_GROUP}] 机器人" in out and "已收到【省商务厅】" in out
    assert len(await inbox(db)) == 1  # stored once, by the service


async def test_the_service_names_unclear_speakers_and_groups(
    aiohttp_server: Server, db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    """The service resolves the person; what it cannot resolve comes back as the command's own refusal, and
    nothing is stored."""
    await seed(db)
    port = free_port()
    settings = settings_for(db.url, port)
    await aiohttp_server(build_app(settings), port=port)
    with pytest.raises(CliError, match="名册中没有「无名氏」"):
        await asyncio.to_thread(say, settings, "无名氏", None, "你好", 5)
    elsewhere = settings.model_copy(
        update={"groups": [*settings.groups, settings.groups[0].model_copy(update={"name": "别的群"})]}
    )
    with pytest.raises(CliError, match="配置中没有名为「别的群」的群"):  # configured here, not in the service
        await asyncio.to_thread(say, elsewhere, "张伟", "别的群", "你好", 5)
    assert await inbox(db) == []


async def test_people_are_resolved_or_refused_clearly(db: Database) -> None:
    roster = await seed(db)

    async def resolved(who: str) -> int:
        async with db.sessions() as session:
            return (await resolve_speaker(session, who)).id

    assert await resolved("张伟") == roster.liaison.id
    assert await resolved("lina-staff") == roster.deputy.id
    assert await resolved(str(roster.office.id)) == roster.office.id
    with pytest.raises(SpeakerUnclear, match="名册中没有「无名氏」"):
        await resolved("无名氏")
    async with db.transaction() as session:
        session.add(Person(name="张伟", role=Role.B, unit_id=roster.reform.id, mobile="13800000099"))
    with pytest.raises(SpeakerUnclear, match="对应多人"):
        await resolved("张伟")


async def test_an_unconfigured_group_is_refused(db: Database) -> None:
    await seed(db)
    with pytest.raises(CliError, match="配置中没有名为「不存在的群」的群"):
        say(settings_for(db.url, free_port()), "张伟", "不存在的群", "你好", 1)


async def test_sandbox_show_interleaves_both_sides(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    await seed(db)
    settings = settings_for(db.url, free_port())
    await asyncio.to_thread(say, settings, "张伟", MEMBER_GROUP, "10月工作进展：完成外贸项目3个。", 5)
    capsys.readouterr()
    assert await sandbox_show(settings, MEMBER_GROUP, 10) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"[{MEMBER_GROUP}] 张伟：10月工作进展" in lines[0]
    assert any(f"[{MEMBER_GROUP}] 机器人：已收到【省商务厅】" in line for line in lines[1:])
    assert await sandbox_show(settings, "dm:999", 10) == 0
    assert "还没有聊天记录" in capsys.readouterr().out


def test_service_url_reaches_a_wildcard_listener_on_loopback() -> None:
    assert service_url("127.0.0.1", 8080) == "http://127.0.0.1:8080/sandbox/say"
    assert service_url("0.0.0.0", 8080) == "http://127.0.0.1:8080/sandbox/say"  # noqa: S104
    assert service_url("::", 8080) == "http://[::1]:8080/sandbox/say"
    assert service_url("::1", 8080) == "http://[::1]:8080/sandbox/say"


def test_the_command_line_registers_say_and_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["say", "--help"])
    assert "--as USER" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["sandbox", "show", "--help"])
    assert "--chat NAME" in capsys.readouterr().out
