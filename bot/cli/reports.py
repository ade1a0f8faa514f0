"""``duban status [--period YYYY-MM] [--json]``, ``duban export --period YYYY-MM -o FILE.xlsx|FILE.zip`` and
``duban export --round N -o FILE.xlsx`` (a collection's answers)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.base import (
    SCHEMA_ADVICE,
    SCHEMA_OUT_OF_DATE,
    CliError,
    SubParsers,
    checked_database,
    run_async,
    settings_of,
)
from bot.cli.roster import render_table

if TYPE_CHECKING:
    from bot.config import Settings
    from storage.periods import Period
    from storage.policy import Policy
    from storage.reports import Ledger
    from storage.standing import PeriodStanding

TIME = "%Y-%m-%d %H:%M"


def register(sub: SubParsers) -> None:
    status = sub.add_parser("status", help="查看某期工作进展报送情况")
    status.add_argument("--period", help="期别，写作 YYYY-MM（默认当前报送期，即上个月）")
    status.add_argument("--json", action="store_true", help="以 JSON 输出")
    status.set_defaults(func=cmd_status)

    export = sub.add_parser(
        "export", help="导出某期工作进展报送台账（.xlsx），或台账连同各单位文件（.zip）；或某次征集的答复（.xlsx）"
    )
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("--period", help="期别，写作 YYYY-MM")
    which.add_argument("--round", type=int, help="征集编号（如 7，即“征集#7”），导出各单位答复")
    export.add_argument("-o", "--output", required=True, help="输出文件路径，如 台账-2026-10.xlsx 或 报送-2026-10.zip")
    export.set_defaults(func=cmd_export)


def _period(text: str | None, policy: Policy) -> Period:
    from storage.periods import Period

    if not text:
        return policy.deadline.open_period(datetime.now(UTC))
    try:
        return Period.parse(text)
    except ValueError:
        raise CliError(f"期别应写作 YYYY-MM（月份 01–12），例如 2026-10；收到“{text}”。", code=2) from None


# The office's extension of a period's deadline (``截止 #N``, :mod:`storage.monthly_round`), read as the standing is.
EXTENDED_DEADLINE_SQL = "SELECT deadline FROM round WHERE code = :code AND extended_at IS NOT NULL"


def _load_standing(settings: Settings, policy: Policy, period: Period) -> tuple[PeriodStanding, datetime]:
    """The period's standing and deadline: on SQLite read with ``sqlite3`` alone (:mod:`storage.sqlite_read`),
    elsewhere through the service's own database layer (the standing's statement is the same either way)."""
    from storage.sqlite_read import sqlite_file

    path = sqlite_file(settings.database.url)
    if path is None:
        return run_async(_standing_through_engine(settings, policy, period))
    from storage.revisions import head_revision
    from storage.sqlite_read import NoDatabase, reading, schema_revision
    from storage.standing import STANDING_SQL, standing_of_rows

    try:
        with reading(path) as connection:
            if schema_revision(connection) != head_revision():
                raise CliError(SCHEMA_ADVICE, code=SCHEMA_OUT_OF_DATE)
            standing = standing_of_rows(period, connection.execute(STANDING_SQL, {"period": str(period)}))
            extended = connection.execute(EXTENDED_DEADLINE_SQL, {"code": f"M{period}"}).fetchone()
    except NoDatabase:
        raise CliError(SCHEMA_ADVICE, code=SCHEMA_OUT_OF_DATE) from None
    if extended is None:
        return standing, policy.deadline.deadline(period)
    return standing, datetime.fromisoformat(str(extended[0])).replace(tzinfo=UTC)  # stored as naive UTC


async def _standing_through_engine(
    settings: Settings, policy: Policy, period: Period
) -> tuple[PeriodStanding, datetime]:
    from storage.monthly_round import deadline_of
    from storage.standing import period_standing

    async with checked_database(settings) as db, db.sessions() as session:
        return await period_standing(session, period), await deadline_of(session, policy.deadline, period)


def _local(moment: datetime | None, policy: Policy) -> str:
    return moment.astimezone(policy.tz).strftime(TIME) if moment is not None else ""


def status_document(
    standing: PeriodStanding, policy: Policy, now: datetime, deadline: datetime | None = None
) -> dict[str, Any]:
    """The period's standing as plain data (``--json``); ``deadline``: the office's extension, if any."""
    deadline = deadline or policy.deadline.deadline(standing.period)
    return {
        "period": str(standing.period),
        "deadline": deadline.astimezone(policy.tz).isoformat(),
        "closed": now > deadline,
        "counts": {
            "units": len(standing.units),
            "on_time": len(standing.on_time),
            "late": len(standing.late),
            "missing": len(standing.missing),
        },
        "on_time_rate": round(standing.on_time_rate, 4),
        "units": [
            {
                "name": unit.unit_name,
                "division": unit.division,
                "status": unit.status,
                "label": unit.label,
                "first_at": unit.first_at.astimezone(policy.tz).isoformat() if unit.first_at else None,
                "latest_at": unit.latest_at.astimezone(policy.tz).isoformat() if unit.latest_at else None,
                "versions": unit.versions,
            }
            for unit in standing.units
        ],
    }


def status_text(standing: PeriodStanding, policy: Policy, now: datetime, deadline: datetime | None = None) -> str:
    """The period's standing as a table for a terminal; ``deadline``: the office's extension, if any."""
    deadline = deadline or policy.deadline.deadline(standing.period)
    closed = "已截止" if now > deadline else "尚未截止"
    lines = [
        f"{standing.period.label}工作进展报送情况（截止 {_local(deadline, policy)}，{closed}）",
        f"应报 {len(standing.units)} 个单位：按时 {len(standing.on_time)}，逾期 {len(standing.late)}，"
        f"未报送 {len(standing.missing)}；按时报送率 {standing.on_time_rate:.1%}",
    ]
    if standing.units:
        rows = [
            [
                str(number),
                unit.unit_name,
                unit.division,
                unit.label,
                _local(unit.first_at, policy),
                _local(unit.latest_at, policy),
                str(unit.versions),
            ]
            for number, unit in enumerate(standing.units, start=1)
        ]
        headers = ["序号", "单位", "责任处室", "报送情况", "首次报送", "最新报送", "版本数"]
        lines += ["", render_table(headers, rows)]
    else:
        lines.append("名册中暂无在册成员单位。")
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    from bot.policy import policy_from_settings

    settings = settings_of(args)
    policy = policy_from_settings(settings)
    period = _period(args.period, policy)
    standing, deadline = _load_standing(settings, policy, period)
    now = datetime.now(UTC)
    if args.json:
        print(json.dumps(status_document(standing, policy, now, deadline), ensure_ascii=False, indent=2))
    else:
        print(status_text(standing, policy, now, deadline))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from bot.policy import policy_from_settings

    settings = settings_of(args)
    policy = policy_from_settings(settings)
    output = Path(args.output)
    if args.round is not None:
        return _export_round(settings, policy, args.round, output)
    period = _period(args.period, policy)
    suffix = output.suffix.lower()
    if suffix not in (".xlsx", ".zip"):
        raise CliError(f"输出文件应以 .xlsx 或 .zip 结尾（收到 {output}）。", code=2)
    if not output.parent.is_dir():
        raise CliError(f"目录 {output.parent} 不存在，请先创建。", code=2)
    if suffix == ".zip" and output.exists():
        raise CliError(f"{output} 已存在，未覆盖。请另选文件名。", code=2)
    ledger, count = run_async(_export(settings, policy, period, output))
    standing = ledger.standing
    files = f"，文件 {count} 个" if suffix == ".zip" else ""
    print(
        f"已导出 {period.label}报送台账：{output}（{len(standing.units)} 个单位，按时 {len(standing.on_time)}，"
        f"逾期 {len(standing.late)}，未报送 {len(standing.missing)}{files}）"
    )
    return 0


async def _export(settings: Settings, policy: Policy, period: Period, output: Path) -> tuple[Ledger, int]:
    from bot.cli.export_zip import file_names_by_unit, period_files, write_export_zip
    from bot.files.worker import files_directory
    from bot.workbooks.ledger import build_workbook
    from bot.workbooks.sheet import save_workbook
    from storage.reports import period_ledger

    async with checked_database(settings) as db:
        async with db.sessions() as session:
            ledger = await period_ledger(session, period)
        files = await period_files(db, str(period))
        workbook = build_workbook(
            ledger, tz=policy.tz, office_name=settings.office_name, files=file_names_by_unit(files)
        )
        try:
            if output.suffix.lower() == ".xlsx":
                save_workbook(workbook, output)
                return ledger, 0
            count = await write_export_zip(
                db,
                files_directory(settings),
                output,
                workbook=workbook,
                ledger_name=f"台账-{period}.xlsx",
                files=files,
                tz=policy.tz,
            )
        except OSError as exc:
            raise CliError(f"无法写入 {output}：{exc.strerror}") from None
        return ledger, count


def _export_round(settings: Settings, policy: Policy, number: int, output: Path) -> int:
    if output.suffix.lower() != ".xlsx":
        raise CliError(f"征集答复导出为 .xlsx 文件（收到 {output}）。", code=2)
    if not output.parent.is_dir():
        raise CliError(f"目录 {output.parent} 不存在，请先创建。", code=2)
    label, answered, missing = run_async(_write_round(settings, policy, number, output))
    print(f"已导出{label}的答复：{output}（已答复 {answered} 个单位，未答复 {missing} 个）")
    return 0


async def _write_round(settings: Settings, policy: Policy, number: int, output: Path) -> tuple[str, int, int]:
    """Write round ``number``'s answers to ``output``; how messages name the round (月报#N, 征集#N, 会议#N), and how
    many units answered and did not."""
    from bot.workbooks.rounds import build_round_workbook
    from bot.workbooks.sheet import save_workbook
    from storage.models import Round
    from storage.rounds import number_label, round_standing

    async with checked_database(settings) as db, db.sessions() as session:
        round_ = await session.get(Round, number)
        if round_ is None:
            raise CliError(f"没有编号为 {number} 的征集。", code=2)
        standing = await round_standing(session, round_)
    workbook = build_round_workbook(standing, tz=policy.tz, office_name=settings.office_name, now=datetime.now(UTC))
    try:
        save_workbook(workbook, output)
    except OSError as exc:
        raise CliError(f"无法写入 {output}：{exc.strerror}") from None
    return number_label(round_), len(standing.answered), len(standing.missing)
