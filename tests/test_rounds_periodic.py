"""Quarterly and half-year rounds switched on in the TOML: opened once on the first working day after the period,
due on the 10th working day after it, answered like any collection."""

from __future__ import annotations

from datetime import date

import time_machine
from handlers_kit import local, say, seed
from schedules_kit import jobs, posts
from sqlalchemy import select

from schedules.jobs import run_job
from schedules.periodic_rounds import PeriodicRoundSettings
from storage.db import Database
from storage.models import Round, RoundAnswer

ON = PeriodicRoundSettings(enabled=True, fields=("完成情况", "存在问题"))


async def test_the_quarterly_round_opens_once_after_national_day(db: Database) -> None:
    roster = await seed(db)
    ctx = jobs(db, quarterly_round=ON, half_year_round=PeriodicRoundSettings(enabled=True))
    planned = ctx.env.planner.occurrences(date(2026, 9, 28), date(2026, 10, 12), jobs=["quarterly-round"])
    assert [(o.at, o.subject) for o in planned] == [(local(2026, 10, 8, 9), "Q2026-3")]  # 10月1日–7日 国庆节
    with time_machine.travel(local(2026, 10, 8, 9, 1), tick=False):
        assert (await run_job(ctx, "quarterly-round", local(2026, 10, 8, 9))).status == "posted"
        assert (await run_job(ctx, "quarterly-round", local(2026, 10, 8, 9))).status == "taken"
    async with db.sessions() as session:
        (round_,) = await session.scalars(select(Round))
    assert round_.title == "2026年第三季度工作情况"
    assert round_.kind == "quarterly"
    # Ten working days after 9月30日: 10月8日, 9日, 10日 (调休上班), 12日 … 20日.
    assert round_.deadline == local(2026, 10, 20, 18)
    (post,) = await posts(db, origin="quarterly-round")
    assert f"请各成员单位联络员回复“#{round_.id} 完成情况：… 存在问题：…”" in post.message["body"]
    (reply,) = await say(db, roster.liaison, f"#{round_.id} 完成情况：全部完成 存在问题：无", local(2026, 10, 9))
    assert "完成情况：全部完成；存在问题：无" in reply
    async with db.sessions() as session:
        assert len(list(await session.scalars(select(RoundAnswer)))) == 1
    half = ctx.env.planner.occurrences(date(2026, 6, 29), date(2026, 7, 10), jobs=["half-year-round"])
    assert [(o.at, o.subject) for o in half] == [(local(2026, 7, 1, 9), "H2026-1")]


async def test_off_unless_switched_on(db: Database) -> None:
    ctx = jobs(db)
    found = ctx.env.planner.occurrences(date(2026, 9, 1), date(2027, 1, 31))
    assert not {o.job for o in found} & {"quarterly-round", "half-year-round"}
