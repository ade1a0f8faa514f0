"""The four jobs against a real database: claimed once, composed from storage, written to the outbox."""

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
import time_machine
from handlers_kit import MEMBER_GROUP, OFFICE_GROUP, seed
from schedules_kit import bodies, claims, file_report, jobs, policy, posts, when, with_settings
from sqlalchemy import delete, select

from schedules import registry
from schedules.context import JobContext
from schedules.drafts import add_draft
from schedules.job import JobSettings
from schedules.jobs import JobOutcome, preview, run_job
from schedules.kinds.deadline_reminder import ReminderSettings
from schedules.reminders import enqueue_reminders
from storage.db import Database
from storage.models import Draft, Group, GroupMember, JobClaim, OutboxMessage, PendingAction, Person
from storage.monthly_round import find_monthly_round
from storage.outbound import OutboundMessage, enqueue_to_group
from storage.periods import Period
from storage.policy import DocumentSettings


async def run_at(ctx: JobContext, job: str, at: datetime, *, late: bool = False) -> JobOutcome:
    with time_machine.travel(at, tick=False):
        return await run_job(ctx, job, at, late=late)


async def announce(db: Database, code: str, text: str, at: datetime) -> None:
    """An announcement as the 通知/确认 commands leave it: a confirmed action and one outbox row per group."""
    async with db.transaction() as session:
        session.add(
            PendingAction(
                code=code, kind="announce", payload={"text": text}, created_at=at, expires_at=at, confirmed_at=at
            )
        )
        for group in await session.scalars(select(Group).where(Group.is_office.is_(False))):
            row = enqueue_to_group(
                session, group, OutboundMessage(body=f"**通知**\n{text}", title="通知"), origin=f"announce:{code}"
            )
            row.created_at = at


# ---- once, whoever runs it ----


@pytest.mark.parametrize(
    ("job", "at"),
    [
        ("weekly-briefing", when(2026, 11, 23)),
        ("monthly-circular", when(2026, 12, 1)),
        ("deadline-reminder", when(2026, 11, 24, 9, 30)),
        ("overdue-notice", when(2026, 11, 26)),
    ],
)
async def test_every_job_posts_once_however_often_it_runs(db: Database, job: str, at: datetime) -> None:
    await seed(db)
    ctx = jobs(db)
    first = await run_at(ctx, job, at)
    again = await run_at(ctx, job, at)
    other = await run_at(jobs(db, instance="other"), job, at)
    assert first.status == "posted"
    assert (again.status, other.status) == ("taken", "taken")
    assert other.claimed_by == "test"
    rows = await posts(db, origin=job)
    assert len(rows) == len(first.groups) >= 1
    assert {row.dedupe_key for row in rows} == {f"{job}:{at.isoformat()}:{name}" for name in first.groups}
    (claim,) = await claims(db, job)
    assert claim.occurrence == at.astimezone(UTC)
    assert claim.status == "posted"
    assert claim.claimed_by == "test"


async def test_jobs_post_to_their_default_groups(db: Database) -> None:
    await seed(db)
    ctx = jobs(db)
    assert (await run_at(ctx, "weekly-briefing", when(2026, 11, 23))).groups == (MEMBER_GROUP,)
    assert (await run_at(ctx, "monthly-circular", when(2026, 12, 1))).groups == (MEMBER_GROUP,)
    assert (await run_at(ctx, "overdue-notice", when(2026, 11, 26))).groups == (OFFICE_GROUP,)


async def test_configured_target_groups(db: Database) -> None:
    await seed(db)
    ctx = jobs(db, weekly_briefing=JobSettings(groups=(OFFICE_GROUP, MEMBER_GROUP)))
    outcome = await run_at(ctx, "weekly-briefing", when(2026, 11, 23))
    assert outcome.groups == (MEMBER_GROUP, OFFICE_GROUP)  # in the order the groups were configured


async def test_no_target_group_is_recorded_not_posted(db: Database) -> None:
    ctx = jobs(db)  # no groups at all
    outcome = await run_at(ctx, "monthly-circular", when(2026, 12, 1))
    assert outcome.status == "nothing"
    assert "没有可发送的群" in outcome.note
    (claim,) = await claims(db, "monthly-circular")
    assert claim.status == "nothing"


async def test_a_failing_composition_leaves_no_claim(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Claim and messages commit together: a crash mid-way leaves the occurrence free for the catch-up."""
    await seed(db)
    ctx = jobs(db)

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("database went away")

    weekly = registry.job_named("weekly-briefing")
    monkeypatch.setitem(registry._BY_NAME, "weekly-briefing", dataclasses.replace(weekly, compose=broken))
    with pytest.raises(RuntimeError):
        await run_at(ctx, "weekly-briefing", when(2026, 11, 23))
    assert await claims(db, "weekly-briefing") == []
    assert await posts(db) == []


# ---- weekly briefing ----


async def test_weekly_briefing_reports_last_week_and_plans_the_coming_one(db: Database) -> None:
    roster = await seed(db)
    await file_report(db, roster.commerce, "2026-10", when(2026, 11, 17, 10))
    await file_report(db, roster.commerce, "2026-10", when(2026, 11, 19, 16), version=2)
    await file_report(db, roster.reform, "2026-10", when(2026, 11, 20, 11))
    await file_report(db, roster.industry, "2026-10", when(2026, 11, 9, 11))  # the week before: not counted
    await announce(db, "K7QX", "关于召开第三季度联席会议的通知\n请各单位准时参会。", when(2026, 11, 18, 15))
    ctx = jobs(db)
    async with db.transaction() as session:
        office = await session.get(Person, roster.office.id)
        await add_draft(
            session, "weekly", "2026-W48", "11月27日召开重点项目调度会。", person=office, now=when(2026, 11, 20)
        )
        await add_draft(session, "weekly", "2026-W49", "下下周的事项。", person=office, now=when(2026, 11, 20))
    outcome = await run_at(ctx, "weekly-briefing", when(2026, 11, 23))
    (row,) = await posts(db, origin="weekly-briefing")
    message = OutboundMessage.model_validate(row.message)
    assert message.title == "强省会工作机制办公室每周工作通报（11月23日）"
    assert message.late_post is False
    body = message.body
    assert "一、上周工作情况（11月16日至11月22日）" in body
    assert "收到成员单位报送3份，涉及2家单位：省商务厅、省发展改革委。" in body
    assert "11月18日（周三）发布通知：关于召开第三季度联席会议的通知（发送至1个群）。" in body
    assert (
        "2026年10月工作进展报送情况（截止日11月25日（周三））：应报送4家，已报送3家（按时3家），尚未报送1家。" in body
    )
    assert "二、下周安排（11月23日至11月29日）" in body
    assert "11月25日（周三）：2026年10月工作进展和重点项目推进情况报送截止" in body
    assert "- 11月27日召开重点项目调度会。" in body
    assert "下下周的事项" not in body
    assert body.endswith("强省会工作机制办公室\n2026年11月23日")
    assert outcome.note == "2026-W48：报送3份，补充事项1条"
    async with db.sessions() as session:
        used = {d.text: d.used_by_occurrence for d in await session.scalars(select(Draft))}
    assert used == {
        "11月27日召开重点项目调度会。": "weekly-briefing:2026-11-23T09:00:00+08:00",
        "下下周的事项。": None,
    }


async def test_an_empty_week(db: Database) -> None:
    await seed(db)
    await run_at(jobs(db), "weekly-briefing", when(2026, 11, 9))
    (body,) = bodies(await posts(db))
    assert "- 上周未收到成员单位报送。" in body
    assert "- 上周未发布通知。" in body
    assert "尚未报送4家" in body
    assert "- 暂无集中安排事项。" in body


async def test_briefing_after_the_deadline_names_late_and_missing_units_and_the_coming_circular(db: Database) -> None:
    roster = await seed(db)
    await file_report(db, roster.commerce, "2026-10", when(2026, 11, 20))
    await file_report(db, roster.reform, "2026-10", when(2026, 11, 26))
    await run_at(jobs(db), "weekly-briefing", when(2026, 11, 30))
    (body,) = bodies(await posts(db))
    assert "逾期报送单位：省发展改革委。" in body
    assert "未报送单位：省工业和信息化厅、省财政厅。" in body
    assert "12月1日（周二）：发布2026年11月工作通报。" in body


async def test_a_briefing_after_a_week_without_one_covers_both_weeks(db: Database) -> None:
    roster = await seed(db)
    await file_report(db, roster.commerce, "2026-01", when(2026, 2, 12))  # the week of 9 February
    await file_report(db, roster.reform, "2026-01", when(2026, 2, 18))  # Spring Festival week: no briefing
    await run_at(jobs(db), "weekly-briefing", when(2026, 2, 24))
    (body,) = bodies(await posts(db))
    assert "一、上周工作情况（2月9日至2月22日）" in body
    assert "涉及2家单位：省商务厅、省发展改革委" in body


# ---- monthly circular ----


async def test_monthly_circular_names_late_and_missing_units(db: Database) -> None:
    roster = await seed(db)
    await file_report(db, roster.commerce, "2026-10", when(2026, 11, 20))
    await file_report(db, roster.reform, "2026-10", when(2026, 11, 27))
    async with db.transaction() as session:
        await add_draft(session, "monthly", "2026-12", "12月中旬开展年度考评。", person=None, now=when(2026, 11, 28))
    await run_at(jobs(db), "monthly-circular", when(2026, 12, 1))
    (row,) = await posts(db)
    assert row.message["title"] == "强省会工作机制办公室2026年11月工作通报"
    body = row.message["body"]
    async with db.sessions() as session:  # the circular names each period's monthly round by its number
        october = await find_monthly_round(session, Period(2026, 10))
        november = await find_monthly_round(session, Period(2026, 11))
    assert october is not None and november is not None and october.id != november.id
    assert (
        f"11月，各成员单位报送2026年10月工作进展和重点项目推进情况（月报#{october.id}，截止日11月25日（周三））："
        "应报送4家，按时报送1家，逾期报送1家，未报送2家，按时报送率25.0%。"
    ) in body
    on_time = body.index("- 按时报送（1家，按首次报送先后）：省商务厅。")
    assert on_time < body.index("- 逾期报送（1家）：省发展改革委。")
    assert body.index("- 逾期报送（1家）：") < body.index("- 未报送（2家）：省工业和信息化厅、省财政厅。")
    assert f"- 请各成员单位于12月25日（周五）前报送2026年11月工作进展和重点项目推进情况（月报#{november.id}）。" in body
    assert "- 12月中旬开展年度考评。" in body


async def test_monthly_circular_counts_on_time_units_above_the_configured_number(db: Database) -> None:
    roster = await seed(db)
    await file_report(db, roster.reform, "2026-10", when(2026, 11, 21))
    await file_report(db, roster.commerce, "2026-10", when(2026, 11, 20))
    ctx = jobs(db)
    await run_at(ctx, "monthly-circular", when(2026, 12, 1))
    (body,) = bodies(await posts(db))
    assert "- 按时报送（2家，按首次报送先后）：省商务厅、省发展改革委。" in body
    async with db.transaction() as session:
        await session.execute(delete(JobClaim))
        await session.execute(delete(OutboxMessage))
    limited = dataclasses.replace(ctx.policy, documents=DocumentSettings(on_time_names_up_to=1))
    await run_at(JobContext.create(db, limited, "test"), "monthly-circular", when(2026, 12, 1))
    (body,) = bodies(await posts(db))
    assert "- 按时报送2家。" in body and "省商务厅" not in body


async def test_circular_shifted_by_national_day(db: Database) -> None:
    roster = await seed(db)
    for unit in (roster.commerce, roster.reform, roster.industry, roster.finance):
        await file_report(db, unit, "2026-08", when(2026, 9, 21))
    await run_at(jobs(db), "monthly-circular", when(2026, 10, 8))
    (body,) = bodies(await posts(db))
    assert "9月，各成员单位报送2026年8月工作进展" in body
    assert "截止日9月25日（周五））" in body
    assert "按时报送率100.0%" in body
    assert "- 各成员单位均按时报送。" in body
    assert "于10月25日（周日）前报送2026年9月工作进展" in body


# ---- reminders ----


async def test_reminder_lists_and_mentions_only_the_liaisons_of_missing_units(db: Database) -> None:
    roster = await seed(db)
    await file_report(db, roster.reform, "2026-10", when(2026, 11, 20))
    outcome = await run_at(jobs(db), "deadline-reminder", when(2026, 11, 24, 9, 30))
    assert outcome.groups == (MEMBER_GROUP,)
    (row,) = await posts(db)
    message = OutboundMessage.model_validate(row.message)
    assert message.title == "催报提醒（2026年10月）"
    assert [mention.name for mention in message.mentions] == ["张伟", "李娜", "周杰"]
    assert message.mentions[0].wecom_userid == "zhangwei"
    assert "2026年10月工作进展报送截止日为11月25日（周三），距截止还有1个工作日。" in message.body
    assert "截至11月24日（周二）09:30，以下2家成员单位尚未报送：" in message.body
    assert "- 省商务厅（联络员：张伟、李娜）" in message.body
    assert "- 省工业和信息化厅（联络员：周杰）" in message.body
    assert "省发展改革委" not in message.body  # reported
    assert "省财政厅" not in message.body  # nobody of it sits in a group
    assert "11月25日（周三）24时前" in message.body


async def test_deadline_day_reminder_says_so(db: Database) -> None:
    await seed(db)
    await run_at(jobs(db), "deadline-reminder", when(2026, 11, 25, 15))
    (body,) = bodies(await posts(db))
    assert body.startswith("今天（11月25日（周三））是2026年10月工作进展报送截止日。")


async def test_no_reminder_when_everyone_has_reported(db: Database) -> None:
    roster = await seed(db)
    for unit in (roster.commerce, roster.reform, roster.industry, roster.finance):
        await file_report(db, unit, "2026-10", when(2026, 11, 20))
    outcome = await run_at(jobs(db), "deadline-reminder", when(2026, 11, 24, 9, 30))
    assert outcome.status == "nothing"
    assert await posts(db) == []
    (claim,) = await claims(db, "deadline-reminder")
    assert claim.status == "nothing"


async def test_a_late_reminder_after_its_deadline_is_dropped(db: Database) -> None:
    await seed(db)
    ctx = jobs(db)
    with time_machine.travel(when(2026, 11, 26, 0, 30), tick=False):
        outcome = await run_job(ctx, "deadline-reminder", when(2026, 11, 25, 15), late=True)
    assert outcome.status == "dropped"
    assert await posts(db) == []
    (claim,) = await claims(db, "deadline-reminder")
    assert claim.status == "dropped"


async def test_reminders_only_to_the_configured_groups(db: Database) -> None:
    await seed(db)
    ctx = jobs(db, deadline_reminder=ReminderSettings(groups=(OFFICE_GROUP,)))
    outcome = await run_at(ctx, "deadline-reminder", when(2026, 11, 24, 9, 30))
    assert outcome.status == "nothing"  # no liaison sits in the office group


async def test_enqueue_reminders_for_the_remind_command(db: Database) -> None:
    roster = await seed(db)
    async with db.transaction() as session:
        second = Group(name="第二工作群", platform="sandbox")
        session.add(second)
    async with db.transaction() as session:
        session.add(GroupMember(group_id=second.id, person_id=roster.reform_liaison.id))
    now = when(2026, 11, 20, 14, 30)
    async with db.transaction() as session:
        reminded = await enqueue_reminders(session, policy(), Period(2026, 10), now=now, origin="command:催办:1")
    assert reminded == ["省商务厅", "省发展改革委", "省工业和信息化厅"]
    rows = await posts(db)
    assert [(row.target, row.origin, row.dedupe_key) for row in rows] == [
        (MEMBER_GROUP, "command:催办:1", None),
        ("第二工作群", "command:催办:1", None),
    ]
    assert [m["name"] for m in rows[1].message["mentions"]] == ["王强"]
    assert "- 省发展改革委（联络员：王强）" in rows[1].message["body"]
    assert "距截止还有3个工作日" in rows[0].message["body"]
    await file_report(db, roster.commerce, "2026-10", now)
    await file_report(db, roster.reform, "2026-10", now)
    await file_report(db, roster.industry, "2026-10", now)
    async with db.transaction() as session:
        assert await enqueue_reminders(session, policy(), Period(2026, 10), now=now, origin="command:催办:2") == []
    assert len(await posts(db)) == 2


# ---- overdue notice ----


async def test_overdue_notice_tells_the_office_who_is_missing(db: Database) -> None:
    roster = await seed(db)
    await file_report(db, roster.commerce, "2026-10", when(2026, 11, 20))
    await file_report(db, roster.reform, "2026-10", when(2026, 11, 26, 8))
    await run_at(jobs(db), "overdue-notice", when(2026, 11, 26))
    (row,) = await posts(db)
    assert row.target == OFFICE_GROUP
    body = row.message["body"]
    assert body.startswith("2026年10月工作进展报送已于11月25日（周三）24时截止。截至11月26日（周四）09:00：")
    assert "仍有2家成员单位未报送（按时报送1家，逾期报送1家）：" in body
    assert "- 省工业和信息化厅（规划处）：A角周杰 13800000006" in body
    assert "- 省财政厅（预算处）：名册中无联络员" in body
    assert "催办 2026-10" in body


async def test_overdue_notice_when_nobody_is_missing(db: Database) -> None:
    roster = await seed(db)
    for unit in (roster.commerce, roster.reform, roster.industry, roster.finance):
        await file_report(db, unit, "2026-10", when(2026, 11, 20))
    await run_at(jobs(db), "overdue-notice", when(2026, 11, 26))
    (body,) = bodies(await posts(db))
    assert "各成员单位均已报送（按时报送4家，逾期报送0家），无逾期未报单位。" in body


# ---- preview, templates directory ----


async def test_preview_claims_and_writes_nothing(db: Database) -> None:
    await seed(db)
    ctx = jobs(db)
    with time_machine.travel(when(2026, 11, 30, 8), tick=False):
        composition = await preview(ctx, "monthly-circular", when(2026, 12, 1))
    assert [delivery.group.name for delivery in composition.deliveries] == [MEMBER_GROUP]
    assert "2026年11月工作通报" in composition.deliveries[0].message.title
    assert await claims(db) == []
    assert await posts(db) == []


async def test_an_office_template_overrides_the_packaged_one(db: Database, tmp_path: Path) -> None:
    await seed(db)
    (tmp_path / "weekly_briefing.j2").write_text(
        '{% set title = "本办周报" %}本周（{{ monday|day }}起）共收到{{ reports|length }}份报送。\n', encoding="utf-8"
    )
    ctx = with_settings(jobs(db), templates_dir=tmp_path)
    await run_at(ctx, "weekly-briefing", when(2026, 11, 23))
    await run_at(ctx, "monthly-circular", when(2026, 12, 1))
    weekly, monthly = await posts(db)
    assert (weekly.message["title"], weekly.message["body"]) == (
        "本办周报",
        "本周（11月23日（周一）起）共收到0份报送。",
    )
    assert monthly.message["title"] == "强省会工作机制办公室2026年11月工作通报"  # not overridden: packaged


async def test_the_deadline_policy_reaches_on_time_judgement(db: Database) -> None:
    """With deadline "next", a report on Monday 26 October (the 25th was a Sunday) is on time."""
    office = policy(deadline_policy="next")
    assert office.deadline.is_on_time(Period(2026, 9), when(2026, 10, 26, 18))
    assert not policy().deadline.is_on_time(Period(2026, 9), when(2026, 10, 26, 18))
    assert office.deadline.due_date(Period(2026, 10)) == date(2026, 11, 25)
    assert office.deadline.deadline(Period(2026, 9)).astimezone(office.tz).time() == time(23, 59, 59)
    assert office.deadline.open_period(when(2026, 10, 26)) == Period(2026, 9)
    assert timedelta(0) < office.deadline.deadline(Period(2026, 9)) - policy().deadline.deadline(Period(2026, 9))


async def test_a_run_ahead_of_time_speaks_for_its_occurrence(db: Database) -> None:
    """``duban jobs run … --at`` a later moment: the message is written as of that moment."""
    await seed(db)
    with time_machine.travel(when(2026, 11, 22, 8), tick=False):
        await run_job(jobs(db), "overdue-notice", when(2026, 11, 26), late=False)
        await run_job(jobs(db), "deadline-reminder", when(2026, 11, 25, 15), late=False)
    overdue, reminder = bodies(await posts(db))
    assert "截至11月26日（周四）09:00" in overdue
    assert "截至11月25日（周三）15:00" in reminder
    (claim, _) = await claims(db)
    assert claim.claimed_at == when(2026, 11, 22, 8).astimezone(UTC)
