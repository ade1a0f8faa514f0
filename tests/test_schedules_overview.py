"""``duban jobs list`` ends with every kind of job and round: each job on or off with its rule and next run, the
built-in monthly report round with its standing, and the collections and meetings open now."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from handlers_kit import MEMBER_GROUP, OFFICE_GROUP, seed
from schedules_kit import file_report, local

from bot.cli import main
from storage import meetings, rounds
from storage.db import Database
from storage.models import Round


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def write_config(tmp_path: Path, url: str, extra: str = "") -> Path:
    path = tmp_path / "duban.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n'
        f'[[groups]]\nname = "{MEMBER_GROUP}"\nplatform = "sandbox"\n'
        f'[[groups]]\nname = "{OFFICE_GROUP}"\nplatform = "sandbox"\noffice = true\n' + extra,
        encoding="utf-8",
    )
    return path


async def open_rounds_of_every_kind(url: str) -> tuple[int, int]:
    """An ad-hoc collection answered by one unit, and a meeting whose 回执 are still out; a report for November."""
    db = Database(url)
    roster = await seed(db)
    await file_report(db, roster.commerce, "2026-11", local(2026, 12, 3, 10))
    now = local(2026, 12, 3, 9)
    async with db.transaction() as session:
        collection = Round(title="工作专班联系人", deadline=local(2026, 12, 10, 18), code="K7Q2", created_at=now)
        session.add(collection)
        await session.flush()
        await rounds.add_answer(
            session,
            collection,
            roster.reform,
            "姓名：李明",
            values={},
            parsed=True,
            person=None,
            inbox_id=None,
            now=now,
        )
        meeting = await meetings.open_meeting(
            session,
            title="周会商",
            details=["时间：12月9日（周三）15:00"],
            starts_at=local(2026, 12, 9, 15),
            place="第三会议室",
            attendees="分管负责同志",
            deadline=local(2026, 12, 8, 18),
            code="M3X9",
            now=now,
        )
        numbers = collection.id, meeting.round.id
    await db.close()
    return numbers


def test_every_kind_of_round_is_listed(tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    collection, meeting = asyncio.run(open_rounds_of_every_kind(sqlite_url))
    config = write_config(
        tmp_path,
        sqlite_url,
        "[schedules.quarterly-round]\nenabled = true\n"
        '[[schedules.meetings]]\ntitle = "周会商"\nweekday = 3\nat = "15:00"\n',
    )
    with time_machine.travel(local(2026, 12, 4, 10), tick=False):
        assert main(["--config", str(config), "jobs", "list", "--days", "3"]) == 0
    out = capsys.readouterr().out
    overview = out.split("各定时任务与报送、征集轮次：\n")[1].splitlines()
    assert overview[0] == (
        "  月度工作进展报送（内置）：各成员单位每月报送上月工作进展，截止次月25日23:59（遇休息日不调整）；"
        "本期2026年11月，截止2026年12月25日（周五）23:59，已报送1家（按时1、逾期0），未报送3家"
    )
    assert (
        "  季度报送征集：已开启；每季度结束后第一个工作日09:00开启征集，截止为季度结束后第10个工作日18:00；"
        "下次：2027年1月4日（周一）09:00"
    ) in overview
    assert (
        "  半年评估报送征集：未开启；每半年结束后第一个工作日09:00开启征集，截止为半年结束后第10个工作日18:00"
        "（在配置 [schedules.half-year-round] 中设 enabled = true 即开启）；若开启，下次：2027年1月4日（周一）09:00"
    ) in overview
    assert any(line.startswith("  征集催报：已开启；每个工作日10:00，截止前2个工作日内") for line in overview)
    assert (
        "  例会通知：已开启；已声明例会1个（会议通知于09:00发布）：周会商：每周周三15:00，提前3个工作日通知；"
        "下次：2026年12月11日（周五）09:00"
    ) in overview
    assert any(line.startswith("  会议提醒：已开启；每天08:30，提醒当天召开的会议的参会单位") for line in overview)
    assert [line for line in overview if line.startswith("  ") and "：" in line][-2:] == [
        f"  征集#{collection}“工作专班联系人”：截止2026年12月10日（周四）18:00，已答复1家/共4家，未答复3家",
        f"  会议#{meeting}“周会商”：回执截止2026年12月8日（周二）18:00，已回执0家/共4家，未回执4家",
    ]


def test_the_plan_is_listed_without_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/never-initialised.db")
    with time_machine.travel(local(2026, 12, 4, 10), tick=False):
        assert main(["--config", str(config), "jobs", "list", "--days", "4"]) == 0
    out = capsys.readouterr().out
    assert "12月7日（周一）09:00  每周工作通报（weekly-briefing）" in out
    assert "月度工作进展报送（内置）" in out and "已报送" not in out
    assert out.rstrip().endswith("进行中的征集与会议：\n  （数据库尚未初始化或不是当前版本，未列出）")
