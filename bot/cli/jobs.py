"""``duban jobs list|run``: the timed jobs' coming occurrences, and running one by hand.

``list`` asks the same planner the scheduler uses, so what it shows is what fires ("what happens over
National Day?"); it ends with every job, on or off, with its rule and next run, the built-in monthly report
round, and the collections and meetings open now (:mod:`schedules.overview`). ``run`` goes through the same
claim as the scheduler: running an occurrence twice posts it once, and ``--dry-run`` only prints the messages.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.cli.base import CliError, SubParsers, checked_database, open_checked, run_async, settings_of
from schedules.dates import day_label, moment_label

if TYPE_CHECKING:
    from bot.config import Settings
    from schedules.context import ScheduleEnv
    from schedules.jobs import JobOutcome
    from schedules.occurrences import Occurrence
    from schedules.overview import OpenNow

DEFAULT_DAYS = 31
MAX_DAYS = 400


def register(sub: SubParsers) -> None:
    jobs = sub.add_parser("jobs", help="定时任务：查看执行计划、手动执行").add_subparsers(
        dest="jobs_command", required=True, metavar="ACTION"
    )
    listing = jobs.add_parser("list", help="列出各定时任务的执行时间（注明节假日顺延）")
    listing.add_argument("--from", dest="start", type=_date, help="起始日期 YYYY-MM-DD（默认今天）")
    listing.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"天数（默认 {DEFAULT_DAYS}）")
    listing.add_argument("--json", action="store_true", help="以 JSON 输出")
    listing.set_defaults(func=cmd_list)

    run = jobs.add_parser("run", help="按指定时刻执行一次定时任务（与自动执行共用认领，重复执行只发送一次）")
    run.add_argument("name", help="任务名（见 duban jobs list）")
    run.add_argument("--at", required=True, help="视作执行的时刻，ISO 8601，如 2026-12-01T09:00（未写时区按配置时区）")
    run.add_argument("--dry-run", action="store_true", help="只显示将发送的消息，不认领、不发送")
    run.set_defaults(func=cmd_run)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期应写作 YYYY-MM-DD，例如 2026-10-01（收到 {text!r}）") from None


def parse_moment(text: str, tz: ZoneInfo) -> datetime:
    """An ISO 8601 moment; one written without an offset is in the office's zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"时刻应写作 ISO 8601，例如 2026-12-01T09:00 或 2026-12-01T09:00+08:00（收到 {text!r}）"
        ) from None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)


# --- list ---------------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from bot.policy import policy_from_settings
    from schedules.context import ScheduleEnv
    from schedules.overview import overview_lines

    settings = settings_of(args)
    if not 1 <= args.days <= MAX_DAYS:
        raise CliError(f"--days 应在 1 到 {MAX_DAYS} 之间")
    env = ScheduleEnv.of(policy_from_settings(settings))
    start = args.start or datetime.now(settings.tz).date()
    end = start + timedelta(days=args.days - 1)
    occurrences = env.planner.occurrences(start, end)
    if args.json:
        print(json.dumps([occurrence_json(o) for o in occurrences], ensure_ascii=False, indent=2))
    else:
        now = datetime.now(settings.tz)
        found, why_not = run_async(_open_now(settings, env, now))
        lines = list_lines(env, settings, start, end, occurrences) + overview_lines(env, now, found, why_not)
        print("\n".join(lines))
    return 0


async def _open_now(settings: Settings, env: ScheduleEnv, now: datetime) -> tuple[OpenNow | None, str]:
    """The monthly standing and the open rounds, or why the database could not tell (the plan is shown anyway)."""
    from sqlalchemy.exc import SQLAlchemyError

    from schedules.overview import open_now

    try:
        db = await open_checked(settings)
    except CliError:
        return None, "数据库尚未初始化或不是当前版本"
    except (OSError, SQLAlchemyError):
        return None, "无法连接数据库"
    try:
        async with db.sessions() as session:
            return await open_now(session, env, now), ""
    finally:
        await db.close()


def occurrence_json(occurrence: Occurrence) -> dict[str, object]:
    return {
        "job": occurrence.job,
        "title": occurrence.title,
        "at": occurrence.at.isoformat(),
        "subject": occurrence.subject,
        "skipped": occurrence.skipped,
        "note": occurrence.note,
    }


def _subject(occurrence: Occurrence) -> str:
    from storage.periods import Period

    if occurrence.job in ("deadline-reminder", "overdue-notice"):
        return f"，{Period.parse(occurrence.subject).label}"
    return ""


def list_lines(
    env: ScheduleEnv, settings: Settings, start: date, end: date, occurrences: list[Occurrence]
) -> list[str]:
    from schedules.listing import fold_checks
    from schedules.special_days import special_days

    tz = env.policy.tz
    lines = [f"定时任务计划：{day_label(start, year=True)}至{day_label(end, year=True)}（时区 {settings.timezone}）"]
    for year in env.calendar.unofficial_years(start, end):
        lines.append(
            f"注意：尚未收录国务院办公厅公布的{year}年节假日安排，该年按法定节假日规则推算，不含调休上班日；"
            "可升级 chinesecalendar，或在配置 [schedules] extra_workdays / extra_holidays 中列出。"
        )
    from schedules.registry import JOBS

    disabled = [job.title for job in JOBS if not env.settings.job(job).enabled]
    if disabled:
        lines.append(f"已停用：{'、'.join(disabled)}")
    special = special_days(env.calendar, start, end)
    if special:
        lines += ["", "节假日与调休："] + [f"  {text}" for text in special]
    lines.append("")
    now = datetime.now(tz)
    occurrences, checks = fold_checks(occurrences, env.settings, now=now)
    if not occurrences and not checks:
        lines.append("此期间没有定时任务。")
    for occurrence in occurrences:
        head = f"{moment_label(occurrence.at, tz)}  {occurrence.title}（{occurrence.job}{_subject(occurrence)}）"
        if occurrence.skipped:
            head = (
                f"{day_label(occurrence.nominal)}  {occurrence.title}（{occurrence.job}{_subject(occurrence)}）不发送"
            )
        lines.append(head + (f"  —— {occurrence.note}" if occurrence.note else ""))
    if checks:
        lines += ["", "按需发送（每次先检查，有内容时才发送，不逐日列出）："]
        for check in checks:
            which = "下次检查" if check.next.at >= now else "首次检查"
            lines.append(f"  {check.title}（{check.job}）：{check.rule}；{which} {moment_label(check.next.at, tz)}")
    return lines


# --- run ----------------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from schedules.registry import job_named

    try:
        job_named(args.name)
    except KeyError as exc:
        raise CliError(str(exc.args[0]), code=2) from None
    settings = settings_of(args)
    at = parse_moment(args.at, settings.tz)
    return run_async(_run(settings, args.name, at, dry_run=args.dry_run))


async def _run(settings: Settings, job: str, at: datetime, *, dry_run: bool) -> int:
    from bot.context import AppContext
    from bot.outbound.dispatcher import drain_once
    from bot.policy import policy_from_settings
    from schedules.context import JobContext
    from schedules.jobs import preview, run_job
    from schedules.registry import job_named
    from storage.sync import sync_groups

    async with checked_database(settings) as db:
        await sync_groups(db, settings.groups)
        ctx = JobContext.create(db, policy_from_settings(settings), instance_id="cli")
        if not ctx.settings.job(job_named(job)).enabled:
            print(f"提示：{job_named(job).title}已在配置中停用，本次为手动执行。")
        when = moment_label(at, settings.tz, year=True)
        if dry_run:
            composition = await preview(ctx, job, at)
            print(f"【预演】{job_named(job).title}，视作{when}执行（未认领、未发送）：{composition.note}")
            for delivery in composition.deliveries:
                message = delivery.message
                print(f"\n—— 发送至「{delivery.group.name}」——")
                print(message.title)
                print(message.body)
                if message.mentions:
                    print("提及：" + " ".join(f"@{mention.name}" for mention in message.mentions))
            return 0
        outcome = await run_job(ctx, job, at, late=False)
        print(describe(outcome, settings.tz))
        if outcome.status == "posted":
            # Sandbox groups have no service of their own: deliver them here, as ``duban say`` does. The
            # dispatcher takes each row once, so a running service cannot send them a second time.
            delivered = await drain_once(AppContext(settings=settings, db=db), channels={"sandbox"})
            if delivered:
                print(f"已投递 {delivered} 条沙箱消息（可运行 `duban sandbox show` 查看）。")
    return 0


def describe(outcome: JobOutcome, tz: ZoneInfo) -> str:
    from schedules.registry import job_named

    title = job_named(outcome.job).title
    when = moment_label(outcome.occurrence, tz, year=True)
    if outcome.status == "taken":
        by = f"，认领者 {outcome.claimed_by}" if outcome.claimed_by else ""
        at = f"于{moment_label(outcome.claimed_at, tz)}" if outcome.claimed_at else ""
        return f"{title}（{when}）已{at}执行过{by}，本次未重复发送。{outcome.note}"
    if outcome.status == "posted":
        return f"已执行{title}（{when}）：写入待发队列，发送至{'、'.join(outcome.groups)}。{outcome.note}"
    if outcome.status == "dropped":
        return f"{title}（{when}）未发送：{outcome.note}"
    return f"已执行{title}（{when}），无需发送：{outcome.note}"
