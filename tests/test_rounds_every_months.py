"""Rounds declared every N months in the TOML (``[[schedules.periodic-rounds.rounds]]``, 双月一汇报) and the units a
periodic round asks (``units``): opened once on the first working day after each period, asked only of the units
named, answered like any collection; names that are no unit open nothing and tell the office — SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from handlers_kit import OFFICE_GROUP, local, say, seed
from pydantic import ValidationError
from schedules_kit import jobs, posts
from sqlalchemy import select

from schedules.jobs import run_job
from schedules.kinds.periodic_rounds import PeriodicRoundsSettings
from schedules.periodic_rounds import (
    PeriodicRoundSettings,
    RoundSeries,
    month_index,
    period_end_before,
    period_ends,
    period_label,
)
from schedules.registry import JOB_NAMES
from schedules.settings import ScheduleSettings
from storage.db import Database
from storage.models import Group, Round, RoundAnswer
from storage.rounds import round_standing

BIMONTHLY = RoundSeries(
    title="{period}书面工作汇报",
    every_months=2,
    units=("发改委", "商务厅"),
    fields=("进展", "问题"),
    instructions="请报送近两个月工作推进情况。",
)


def settings(*series: RoundSeries) -> PeriodicRoundsSettings:
    return PeriodicRoundsSettings(rounds=series)


def test_periods_of_any_length_from_any_month() -> None:
    assert period_ends(date(2026, 1, 1), date(2026, 12, 31), 2) == [
        date(2025, 12, 31),
        date(2026, 2, 28),
        date(2026, 4, 30),
        date(2026, 6, 30),
        date(2026, 8, 31),
        date(2026, 10, 31),
        date(2026, 12, 31),
    ]
    # Every 4 months from March: November–February, March–June, July–October.
    assert period_ends(date(2026, 3, 1), date(2026, 12, 31), 4, anchor=month_index(date(2025, 3, 1))) == [
        date(2026, 2, 28),
        date(2026, 6, 30),
        date(2026, 10, 31),
    ]
    assert period_end_before(date(2026, 3, 2), 2) == date(2026, 2, 28)
    assert period_end_before(date(2026, 1, 4), 2) == date(2025, 12, 31)
    assert period_end_before(date(2026, 10, 8), 3) == date(2026, 9, 30)
    assert period_end_before(date(2027, 2, 1), 5, anchor=month_index(date(2026, 3, 1))) == date(2026, 12, 31)
    assert period_label(date(2026, 2, 28), 2) == "2026年1—2月"
    assert period_label(date(2027, 1, 31), 2) == "2026年12月—2027年1月"
    assert period_label(date(2026, 3, 31), 1) == "2026年3月"


def test_the_toml_declares_rounds_every_n_months() -> None:
    parsed = ScheduleSettings.model_validate(
        {
            "periodic-rounds": {
                "at": "08:30",
                "rounds": [
                    {"title": "双月工作汇报", "every_months": 2, "units": ["发改委"], "start": "2027-01-01"},
                    {"title": "四个月一评估", "every_months": 4},
                ],
            },
            "quarterly-round": {"enabled": True, "units": ["省财政厅"]},
        }
    )
    from schedules.kinds import periodic_rounds, quarterly_round

    config = parsed.job(periodic_rounds.JOB)
    assert [(s.title, s.every_months, s.units, s.anchor) for s in config.rounds] == [
        ("双月工作汇报", 2, ("发改委",), month_index(date(2027, 1, 1))),
        ("四个月一评估", 4, (), month_index(date(2026, 1, 1))),
    ]
    assert parsed.job(quarterly_round.JOB).units == ("省财政厅",)
    assert periodic_rounds.JOB.describe is not None
    assert periodic_rounds.JOB.describe(parsed) == (
        "已声明定期征集2项（每期结束后第一个工作日08:30开启）：双月工作汇报每2个月；四个月一评估每4个月"
    )
    for wrong in ({"title": "x", "every_months": 0}, {"title": "x", "every_months": 13}, {"every_months": 2}):
        with pytest.raises(ValidationError):
            ScheduleSettings.model_validate({"periodic-rounds": {"rounds": [wrong]}})
    assert "periodic-rounds" in JOB_NAMES


async def test_a_bimonthly_round_opens_once_asks_only_its_units_and_is_answered(db: Database) -> None:
    roster = await seed(db)
    ctx = jobs(db, periodic_rounds=settings(BIMONTHLY))
    planned = ctx.env.planner.occurrences(date(2026, 4, 20), date(2026, 7, 10), jobs=["periodic-rounds"])
    # 4月30日 ends March–April; 5月1日–5日 劳动节: it opens on 5月6日.
    assert [(o.at, o.subject) for o in planned] == [
        (local(2026, 5, 6, 9), "2026年3—4月书面工作汇报"),
        (local(2026, 7, 1, 9), "2026年5—6月书面工作汇报"),
    ]
    at = local(2026, 5, 6, 9)
    with time_machine.travel(local(2026, 5, 6, 9, 1), tick=False):
        assert (await run_job(ctx, "periodic-rounds", at)).status == "posted"
        assert (await run_job(ctx, "periodic-rounds", at)).status == "taken"
        again = await run_job(ctx, "periodic-rounds", local(2026, 5, 6, 11))  # a manual run: nothing twice
    assert again.status == "nothing" and "已开启，未重复开启" in again.note
    async with db.sessions() as session:
        (round_,) = await session.scalars(select(Round))
        standing = await round_standing(session, round_)
    assert (round_.kind, round_.title, round_.fields) == ("periodic", "2026年3—4月书面工作汇报", ["进展", "问题"])
    assert round_.deadline == local(2026, 5, 18, 18)  # 10 working days after 4月30日: 5月6日–9日 (调休), 11日–18日
    assert [unit.unit_name for unit in standing.units] == ["省商务厅", "省发展改革委"]
    (post,) = await posts(db, origin="periodic-rounds")
    body = post.message["body"]
    assert body.startswith(f"**征集#{round_.id}：2026年3—4月书面工作汇报**\n请报送近两个月工作推进情况。\n")
    assert f"征集对象：省商务厅、省发展改革委（共2家）。请以上单位联络员回复“#{round_.id} 进展：… 问题：…”。" in body

    (answered,) = await say(db, roster.reform_liaison, f"#{round_.id} 进展：顺利 问题：无", local(2026, 5, 7))
    assert answered.startswith(f"已收到省发展改革委对征集#{round_.id}")
    (refused,) = await say(db, "6", f"#{round_.id} 进展：顺利 问题：无", local(2026, 5, 7))  # 省工业和信息化厅
    assert "未向省工业和信息化厅征集，您的消息已保存、未计入" in refused
    async with db.sessions() as session:
        assert [a.unit_id for a in await session.scalars(select(RoundAnswer))] == [roster.reform.id]


async def test_unit_names_that_are_no_unit_open_nothing_and_tell_the_office(db: Database) -> None:
    await seed(db)
    wrong = RoundSeries(title="双月工作汇报", every_months=2, units=("发改委", "交通运输厅"))
    at = local(2026, 3, 2, 9)
    with time_machine.travel(local(2026, 3, 2, 9, 1), tick=False):
        outcome = await run_job(jobs(db, periodic_rounds=settings(wrong)), "periodic-rounds", at)
    assert outcome.status == "posted" and "未开启" in outcome.note
    (notice,) = await posts(db, origin="periodic-rounds")
    async with db.sessions() as session:
        group = await session.get(Group, notice.group_id)
        assert group is not None and group.name == OFFICE_GROUP
        assert list(await session.scalars(select(Round))) == []
    assert notice.message["body"] == (
        "定期征集“双月工作汇报（2026年1—2月）”未开启：配置中的征集单位名称需核对（“交通运输厅”未找到）。"
        "请在配置文件中改正单位名称并重启服务后，执行 duban jobs run 补开本次征集。"
    )
    # Corrected and run again the next morning: the period's round opens, once.
    fixed = RoundSeries(title="双月工作汇报", every_months=2, units=("发改委", "财政厅"))
    with time_machine.travel(local(2026, 3, 3, 9, 1), tick=False):
        ctx = jobs(db, periodic_rounds=settings(fixed))
        assert (await run_job(ctx, "periodic-rounds", local(2026, 3, 3, 9))).status == "posted"
    async with db.sessions() as session:
        (round_,) = await session.scalars(select(Round))
    assert round_.title == "双月工作汇报（2026年1—2月）" and len(round_.units) == 2


async def test_the_quarterly_round_asks_only_the_units_named(db: Database) -> None:
    roster = await seed(db)
    ctx = jobs(db, quarterly_round=PeriodicRoundSettings(enabled=True, units=("省财政厅",)))
    with time_machine.travel(local(2026, 10, 8, 9, 1), tick=False):
        assert (await run_job(ctx, "quarterly-round", local(2026, 10, 8, 9))).status == "posted"
    async with db.sessions() as session:
        (round_,) = await session.scalars(select(Round))
        standing = await round_standing(session, round_)
    assert round_.units == [roster.finance.id]
    assert [unit.unit_name for unit in standing.units] == ["省财政厅"]
