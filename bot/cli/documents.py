"""``duban doc KIND … -o FILE.docx``: the documents the office signs, as Word files laid out as 公文."""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.base import CliError, SubParsers, checked_database, run_async, settings_of
from schedules.documents.kinds import Kind

if TYPE_CHECKING:
    from bot.config import Settings
    from schedules.documents.service import BuiltDocument, DocumentRequest


def register(sub: SubParsers) -> None:
    doc = sub.add_parser("doc", help="生成 Word 公文：月度通报、快报、季度通报、半年评估报告")
    kinds = doc.add_subparsers(dest="doc_kind", required=True, metavar="KIND")
    spans = {
        Kind.CIRCULAR: ("--period", "期别 YYYY-MM（默认当前报送期，即上个月）", False),
        Kind.FLASH: ("--period", "期别 YYYY-MM（默认当前报送期，即上个月）", False),
        Kind.QUARTERLY: ("--quarter", "季度，如 2026Q4（10—12月报送期）", True),
        Kind.EVALUATION: ("--half", "半年，如 2026H2（7—12月报送期）", True),
    }
    for kind, (flag, text, required) in spans.items():
        parser = kinds.add_parser(kind.value, help=kind.label)
        parser.add_argument(flag, dest="span", required=required, help=text)
        parser.add_argument("-o", "--output", required=True, help="输出文件，如 通报-2026-10.docx")
        parser.add_argument("--number", type=int, help="发文字号中的序号，如 12（默认留空，签发时填写）")
        parser.add_argument("--date", help="成文日期 YYYY-MM-DD（默认今天）")
        parser.set_defaults(func=cmd_doc, kind=kind)
    letterhead = kinds.add_parser("letterhead", help="生成一份示例红头模板，供修改后在 [documents] template 中使用")
    letterhead.add_argument("-o", "--output", required=True, help="输出文件，如 红头模板.docx")
    letterhead.set_defaults(func=cmd_letterhead)


def _output(text: str) -> Path:
    output = Path(text)
    if output.suffix.lower() != ".docx":
        raise CliError(f"输出文件应以 .docx 结尾（收到 {output}）。", code=2)
    if not output.parent.is_dir():
        raise CliError(f"目录 {output.parent} 不存在，请先创建。", code=2)
    return output


def _write(output: Path, content: bytes) -> None:
    temporary = output.with_name(output.name + ".part")
    try:
        temporary.write_bytes(content)
        temporary.replace(output)
    except OSError as exc:
        raise CliError(f"无法写入 {output}：{exc.strerror}") from None


def _request(args: argparse.Namespace, settings: Settings, now: datetime) -> DocumentRequest:
    from bot.policy import policy_from_settings
    from schedules.documents import service

    policy = policy_from_settings(settings)
    kind: Kind = args.kind
    text = args.span or str(policy.deadline.open_period(now))
    try:
        span = service.parse_span(kind, text)
    except ValueError as exc:
        raise CliError(str(exc), code=2) from None
    try:
        day = date.fromisoformat(args.date) if args.date else now.astimezone(policy.tz).date()
    except ValueError:
        raise CliError(f"成文日期应写作 YYYY-MM-DD，例如 2026-12-04；收到“{args.date}”。", code=2) from None
    if args.number is not None and args.number < 1:
        raise CliError("发文字号中的序号应为正整数。", code=2)
    return service.DocumentRequest(kind, span, day, args.number)


async def _build(settings: Settings, request: DocumentRequest, now: datetime) -> BuiltDocument:
    from bot.policy import policy_from_settings
    from schedules.documents import service

    policy = policy_from_settings(settings)
    async with checked_database(settings) as db, db.sessions() as session:
        built = await service.build_document(session, policy, request, now)
        service.record_made(session, built, actor=f"命令行（{getpass.getuser()}）", now=now)
        await session.commit()
    return built


def cmd_doc(args: argparse.Namespace) -> int:
    from schedules.documents.charts import ChartFontMissing
    from schedules.documents.letterhead import TemplateError

    settings = settings_of(args)
    output = _output(args.output)
    now = datetime.now(UTC)
    request = _request(args, settings, now)
    try:
        built = run_async(_build(settings, request, now))
    except (TemplateError, ChartFontMissing) as exc:
        raise CliError(str(exc)) from None
    _write(output, built.content)
    print(f"已生成{request.kind.label}《{built.title}》：{output}（{built.size_kb} KB；{built.summary}）")
    return 0


def cmd_letterhead(args: argparse.Namespace) -> int:
    from schedules.documents.letterhead import example_letterhead

    settings = settings_of(args)
    output = _output(args.output)
    _write(output, example_letterhead(settings.documents.issuer or settings.office_name))
    print(
        f"已生成示例红头模板：{output}。可在 Word 或 WPS 中修改红头，再在配置文件 [documents] 中设置 "
        f'template = "{output}"。'
    )
    return 0
