"""Migration 0014 (the monthly round) on a database made by the previous head, holding reports of several periods
with versions and files: every report is kept and linked to its period's round, the standings do not change, and
``统计``, ``统计 #N`` and ``duban export --round N`` work on the result; down again, nothing is lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from handlers_kit import local, say
from openpyxl import load_workbook
from sqlalchemy import select, text
from test_cli_reports import CONFIG

from bot.cli import main
from storage import migrate
from storage.db import Database
from storage.models import Person, Round
from storage.periods import Period
from storage.standing import PeriodStanding, period_standing

PREVIOUS = "0013"
PERIODS = [Period(2026, 8), Period(2026, 9), Period(2026, 10)]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, not migrated: SQLite, or a PostgreSQL database of this test's own."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'release.db'}"
    return str(request.getfixturevalue("empty_pg_url"))


def _at(period: Period, day: int, hour: int = 10) -> datetime:
    """A moment in the month after ``period`` (when its reports come in), as aware UTC."""
    following = period.next()
    return local(following.year, following.month, day, hour).astimezone(UTC)


async def _fill(db: Database) -> None:
    """What the current release leaves behind: units, liaisons, reports with versions, and their files."""
    async with db.engine.begin() as connection:

        async def run(sql: str, **values: Any) -> None:
            await connection.execute(text(sql), values)

        for unit_id, name in ((1, "省商务厅"), (2, "省发展改革委"), (3, "省财政厅")):
            await run(
                "INSERT INTO unit (id, name, division, active, created_at, updated_at)"
                " VALUES (:id, :name, '综合处', true, :t, :t)",
                id=unit_id,
                name=name,
                t=datetime(2026, 1, 1, tzinfo=UTC),
            )
        await run(
            "INSERT INTO person (id, name, role, unit_id, mobile, active, created_at, updated_at)"
            " VALUES (1, '张伟', 'A', 1, '13800000001', true, :t, :t),"
            " (2, '王强', 'A', 2, '13800000003', true, :t, :t),"
            " (3, '赵敏', 'office', NULL, '13800000004', true, :t, :t)",
            t=datetime(2026, 1, 1, tzinfo=UTC),
        )
        for period in PERIODS:
            # 省商务厅: two versions on time; 省发展改革委: one late version; 省财政厅: nothing.
            rows = [(1, 1, _at(period, 10), True), (1, 2, _at(period, 20), True), (2, 1, _at(period, 27), False)]
            for unit_id, version, at, on_time in rows:
                submission_id = (
                    await connection.execute(
                        text(
                            "INSERT INTO submission (unit_id, period, version, text, attachments, is_supplement,"
                            " person_id, received_at, on_time) VALUES (:unit, :period, :version, :text, '[]', false,"
                            " :unit, :at, :on_time) RETURNING id"
                        ),
                        {
                            "unit": unit_id,
                            "period": str(period),
                            "version": version,
                            "text": f"{period.label}工作进展第{version}版",
                            "at": at,
                            "on_time": on_time,
                        },
                    )
                ).scalar_one()
                await run(
                    "INSERT INTO stored_file (kind, name, original_name, content_type, unit_id, period,"
                    " submission_id, person_id, sender_id, channel, reference, received_at, valid_until, state,"
                    " reason, attempts, next_attempt_at, text, text_note, reply_lead) VALUES ('file', :name, :original,"
                    " '', :unit, :period, :submission, :unit, '', 'wecom_bot', '{}', :at, :at, 'lost', '', 0, :at,"
                    " '', '', '')",
                    name=f"附件{submission_id}.docx",
                    original=f"附件{submission_id}.docx",
                    unit=unit_id,
                    period=str(period),
                    submission=submission_id,
                    at=at,
                )


async def _standings(db: Database) -> dict[Period, PeriodStanding]:
    async with db.sessions() as session:
        return {period: await period_standing(session, period) for period in PERIODS}


async def _links(db: Database) -> list[tuple[Any, ...]]:
    async with db.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT id, submission_id, period FROM stored_file ORDER BY id"),
        )
        return [tuple(row) for row in rows]


def test_reports_of_the_release_become_the_monthly_rounds(empty_url: str, tmp_path: Path) -> None:
    migrate.upgrade(empty_url, PREVIOUS)
    before, files_before = asyncio.run(_release_data(empty_url))
    migrate.upgrade(empty_url)
    september = asyncio.run(_check_upgraded(empty_url, before, files_before))

    config = tmp_path / "duban.toml"
    config.write_text(CONFIG.format(url=empty_url), encoding="utf-8")
    output = tmp_path / "九月.xlsx"
    with time_machine.travel(local(2026, 12, 2, 9), tick=False):
        assert main(["--config", str(config), "export", "--round", str(september), "-o", str(output)]) == 0
    sheet = load_workbook(output).active
    assert sheet is not None
    exported = {row[1]: row[2:6] for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert exported["省商务厅"][0] == "2026年9月工作进展第2版" and exported["省商务厅"][2:] == ("2", "按时")
    assert exported["省发展改革委"][2:] == ("1", "逾期")
    assert exported["省财政厅"][3] == "未答复"

    migrate.downgrade(empty_url, PREVIOUS)
    asyncio.run(_check_downgraded(empty_url, before, files_before))


async def _release_data(url: str) -> tuple[dict[Period, PeriodStanding], list[tuple[Any, ...]]]:
    db = Database(url)
    try:
        await _fill(db)
        return await _standings(db), await _links(db)
    finally:
        await db.close()


async def _check_upgraded(url: str, before: dict[Period, PeriodStanding], files_before: list[tuple[Any, ...]]) -> int:
    """Every report kept and linked, standings and files unchanged, ``统计`` working; September's round number."""
    db = Database(url)
    try:
        assert (await migrate.schema_state(db)).up_to_date
        assert await _standings(db) == before  # every unit's standing, first and latest times, versions
        assert await _links(db) == files_before
        async with db.engine.connect() as connection:
            rounds = {
                code: (round_id, kind, title, state)
                for round_id, code, kind, title, state in await connection.execute(
                    text("SELECT id, code, kind, title, state FROM round ORDER BY id")
                )
            }
            links = (await connection.execute(text("SELECT period, round_id, text FROM submission ORDER BY id"))).all()
        assert set(rounds) == {f"M{period}" for period in PERIODS}
        assert {(kind, state) for _, kind, _, state in rounds.values()} == {("monthly", "open")}
        assert rounds["M2026-09"][2] == "2026年9月工作进展"
        assert len(links) == 9
        assert all(round_id == rounds[f"M{period}"][0] for period, round_id, _ in links)

        async with db.sessions() as session:
            office = (await session.scalars(select(Person).where(Person.name == "赵敏"))).one()
            liaison = (await session.scalars(select(Person).where(Person.name == "张伟"))).one()
        september = int(rounds["M2026-09"][0])
        (status,) = await say(db, office, "统计 9月", local(2026, 12, 2))
        assert status.startswith(f"**2026年9月工作进展报送情况**（月报#{september}）\n截止时间：2026年10月25日23:59")
        assert "应报3个单位：按时报送1个，逾期报送1个，未报送1个" in status
        assert await say(db, office, f"统计 #{september}", local(2026, 12, 2)) == [status]
        await say(db, liaison, "十一月工作进展。", local(2026, 12, 3))  # a new period: a new round, after the others
        async with db.sessions() as session:
            november = (await session.scalars(select(Round).where(Round.code == "M2026-11"))).one()
        assert november.id > max(round_id for round_id, *_ in rounds.values())
        return september
    finally:
        await db.close()


async def _check_downgraded(
    url: str, before: dict[Period, PeriodStanding], files_before: list[tuple[Any, ...]]
) -> None:
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM submission"))).scalar() == 10
            assert (await connection.execute(text("SELECT count(*) FROM round"))).scalar() == 0
        assert await _links(db) == files_before
        assert await _standings(db) == before
    finally:
        await db.close()
