"""The 征集 reminder job: on working mornings, only laggards' liaisons are @-mentioned, once per occurrence."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from handlers_kit import local, say
from schedules_kit import jobs, posts
from test_rounds import open_collection

from schedules.jobs import run_job
from schedules.kinds.round_reminder import RoundReminderSettings
from schedules.registry import JOB_NAMES
from storage.db import Database

ON = RoundReminderSettings()


async def run_at(db: Database, day: int, hour: int = 10) -> str:
    at = local(2026, 3, day, hour)
    with time_machine.travel(at + timedelta(minutes=1), tick=False):
        return (await run_job(jobs(db, round_reminder=ON), "round-reminder", at)).status


async def test_only_laggards_liaisons_are_reminded_near_the_deadline(db: Database) -> None:
    roster, number = await open_collection(db)  # due 3月24日（周二）18:00
    await say(db, roster.reform_liaison, f"#{number} 李四 副处长 13812345678", local(2026, 3, 11))
    assert await run_at(db, 19) == "nothing"  # Thursday: the deadline is three working days away
    assert await run_at(db, 20) == "posted"  # Friday: two working days away
    assert await run_at(db, 20) == "taken"  # the same occurrence again (another instance): nothing more
    (post,) = await posts(db, origin="round-reminder")  # one group holds the laggards' liaisons: one post
    body = post.message["body"]
    assert body.startswith(f"征集#{number}“工作专班联系人”截止时间为3月24日（周二）18:00，以下单位尚未答复：")
    assert "省商务厅、省工业和信息化厅" in body
    assert "省发展改革委" not in body  # answered
    assert "省财政厅" not in body  # nobody of it sits in the group
    mentioned = {mention["name"] for mention in post.message["mentions"]}
    assert mentioned == {"张伟", "李娜", "周杰"}


async def test_everyone_answered_or_closed_means_no_reminder(db: Database) -> None:
    roster, number = await open_collection(db)
    await say(db, roster.office, f"结束 #{number}", local(2026, 3, 12))
    assert await run_at(db, 23) == "nothing"
    assert await posts(db, origin="round-reminder") == []


def test_the_job_is_listed_with_the_others() -> None:
    assert "round-reminder" in JOB_NAMES


async def test_the_weekly_briefing_has_a_line_per_open_collection(db: Database) -> None:
    roster, number = await open_collection(db)
    await say(db, roster.reform_liaison, f"#{number} 李四 副处长 13812345678", local(2026, 3, 11))
    at = local(2026, 3, 16, 9)
    with time_machine.travel(at + timedelta(minutes=1), tick=False):
        assert (await run_job(jobs(db), "weekly-briefing", at)).status == "posted"
    (post,) = await posts(db, origin="weekly-briefing")
    line = f"- 征集#{number}「工作专班联系人」（截止3月24日（周二））：应答复4家，已答复1家，尚未答复3家。"
    assert line in post.message["body"].splitlines()
