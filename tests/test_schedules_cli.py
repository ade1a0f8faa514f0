"""``duban jobs run``: as if at a moment, through the same claim (twice posts once), or only shown (--dry-run)."""

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from handlers_kit import MEMBER_GROUP, OFFICE_GROUP, seed
from schedules_kit import claims, file_report, posts, when
from sqlalchemy import select

from bot.cli import main
from storage.db import Database
from storage.models import SandboxMessage


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """``main`` installs a handler on the (captured) stderr; put the root logger back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def config(tmp_path: Path, sqlite_url: str) -> Path:
    path = tmp_path / "duban.toml"
    path.write_text(
        f'office_name = "强省会工作机制办公室"\n[database]\nurl = "{sqlite_url}"\n'
        f'[[groups]]\nname = "{MEMBER_GROUP}"\nplatform = "sandbox"\n'
        f'[[groups]]\nname = "{OFFICE_GROUP}"\nplatform = "sandbox"\noffice = true\n',
        encoding="utf-8",
    )
    return path


async def seeded(url: str) -> Database:
    db = Database(url)
    roster = await seed(db)
    await file_report(db, roster.commerce, "2026-10", when(2026, 11, 20))
    return db


async def transcript(db: Database) -> list[SandboxMessage]:
    async with db.sessions() as session:
        return list(await session.scalars(select(SandboxMessage).order_by(SandboxMessage.id)))


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), "jobs", "run", *args])


def test_running_twice_posts_once_to_the_sandbox_group(
    config: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = asyncio.run(seeded(sqlite_url))
    with time_machine.travel(when(2026, 11, 24, 9, 30), tick=False):
        assert run(config, "deadline-reminder", "--at", "2026-11-24T09:30") == 0
        first = capsys.readouterr().out
        assert run(config, "deadline-reminder", "--at", "2026-11-24T09:30+08:00") == 0
        second = capsys.readouterr().out
    assert first.startswith(f"已执行催报提醒（2026年11月24日（周二）09:30）：写入待发队列，发送至{MEMBER_GROUP}。")
    assert "已投递 1 条沙箱消息" in first
    assert "已于11月24日（周二）09:30执行过，认领者 cli，本次未重复发送。" in second

    async def check() -> None:
        (row,) = await posts(db)
        assert row.state == "sent"
        (said,) = await transcript(db)
        assert said.chat == MEMBER_GROUP
        assert said.mentions == ["王强", "周杰"]
        assert "省发展改革委（联络员：王强）" in said.text
        (claim,) = await claims(db, "deadline-reminder")
        assert claim.claimed_by == "cli"
        await db.close()

    asyncio.run(check())


def test_dry_run_prints_and_posts_nothing(config: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = asyncio.run(seeded(sqlite_url))
    with time_machine.travel(when(2026, 12, 1, 8), tick=False):
        assert run(config, "monthly-circular", "--at", "2026-12-01T09:00", "--dry-run") == 0
    out = capsys.readouterr().out
    assert out.startswith("【预演】月度工作通报，视作2026年12月1日（周二）09:00执行（未认领、未发送）")
    assert f"—— 发送至「{MEMBER_GROUP}」——\n强省会工作机制办公室2026年11月工作通报\n" in out
    assert "按时报送率25.0%" in out

    async def check() -> None:
        assert await posts(db) == []
        assert await claims(db) == []
        await db.close()

    asyncio.run(check())


def test_bad_moments_and_names_are_refused(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, "weekly-briefing", "--at", "下周一") == 1
    assert "ISO 8601" in capsys.readouterr().err
    assert run(config, "daily-digest", "--at", "2026-11-23T09:00") == 2
    assert "没有名为 daily-digest 的定时任务（可选：weekly-briefing、" in capsys.readouterr().err


def test_jobs_list_names_the_meeting_reminder_once(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It looks every morning, weekends included, and posts only on a meeting's day: the plan does not list it on
    every day as if a meeting were held on each, but once, with its rule and next check; ``--json`` keeps them all."""
    with time_machine.travel(when(2026, 12, 4, 20), tick=False):
        assert main(["--config", str(config), "jobs", "list", "--from", "2026-12-05", "--days", "7"]) == 0
        out = capsys.readouterr().out
        assert main(["--config", str(config), "jobs", "list", "--from", "2026-12-05", "--days", "7", "--json"]) == 0
        planned = json.loads(capsys.readouterr().out)
    timeline, checks = out.split("按需发送（每次先检查，有内容时才发送，不逐日列出）：")
    assert "会议提醒" not in timeline.split("各定时任务")[0]
    assert "12月7日（周一）09:00  每周工作通报（weekly-briefing）" in timeline
    assert "会议提醒（meeting-reminder）：每天08:30" in checks
    assert "当天有会议时才发送；下次检查 12月5日（周六）08:30" in checks
    assert sum(1 for o in planned if o["job"] == "meeting-reminder") == 7
