"""The one entry point for documents and charts: the CLI (``duban doc``), the chat command (``文档``) and the
console call these functions, so a document reads the same wherever it is asked for."""

from __future__ import annotations

import asyncio
import enum
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from schedules.context import ScheduleEnv
from schedules.documents import charts, data, letterhead
from schedules.documents.gongwen import GongwenWriter
from schedules.documents.kinds import Kind as Kind  # re-exported: callers name kinds through the service
from schedules.documents.monthly import write_circular, write_flash
from schedules.documents.periodic import write_evaluation, write_quarterly
from schedules.documents.spans import Span, month_span, parse_half, parse_quarter
from storage.models import AuditEntry
from storage.periods import Period
from storage.policy import DocumentSettings, Policy

# The words an office uses in chat for each document.
KIND_WORDS = {
    "通报": Kind.CIRCULAR,
    "月度通报": Kind.CIRCULAR,
    "月报": Kind.CIRCULAR,
    "快报": Kind.FLASH,
    "季度通报": Kind.QUARTERLY,
    "季报": Kind.QUARTERLY,
    "评估": Kind.EVALUATION,
    "评估报告": Kind.EVALUATION,
    "半年评估": Kind.EVALUATION,
    **{kind.value: kind for kind in Kind},
}


@dataclass(frozen=True)
class DocumentRequest:
    kind: Kind
    span: Span
    day: date  # 成文日期
    number: int | None = None  # the document's number in the office's sequence; None: left blank to fill in


def parse_span(kind: Kind, text: str) -> Span:
    """``2026-10`` for the monthly documents, ``2026Q4`` for the quarterly, ``2026H2`` for the evaluation."""
    if kind is Kind.QUARTERLY:
        return parse_quarter(text)
    if kind is Kind.EVALUATION:
        return parse_half(text)
    return month_span(Period.parse(text))


@dataclass(frozen=True)
class BuiltDocument:
    request: DocumentRequest
    title: str
    filename: str
    content: bytes
    summary: str  # for the audit log and the answer

    @property
    def size_kb(self) -> int:
        return max(1, round(len(self.content) / 1024))


def title_of(request: DocumentRequest, policy: Policy) -> str:
    span = request.span
    match request.kind:
        case Kind.CIRCULAR:
            return f"关于{span.label}工作进展报送情况的通报"
        case Kind.FLASH:
            return f"{span.label}工作进展快报"
        case Kind.QUARTERLY:
            return f"关于{span.label}工作进展报送和督办事项办理情况的通报"
        case Kind.EVALUATION:
            return f"关于{span.label}推进落实情况的评估报告"


_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\s]+')


def filename_of(request: DocumentRequest) -> str:
    return _UNSAFE_NAME.sub("_", f"{request.kind.label}-{request.span.key}.docx")


async def build_document(
    session: AsyncSession, policy: Policy, request: DocumentRequest, now: datetime
) -> BuiltDocument:
    """The Word file of ``request``, read from the database at ``now``."""
    env = ScheduleEnv.of(policy)
    settings = policy.documents
    tz = policy.tz
    span = request.span
    day = request.day
    summary: str
    match request.kind:
        case Kind.CIRCULAR:
            circular = await data.circular_data(session, env, span.first, now)
            standing = circular.standing

            def write(writer: GongwenWriter) -> None:
                write_circular(writer, circular, tz, day)

            summary = (
                f"{span.key}：应报{len(standing.units)}，按时{len(standing.on_time)}，逾期{len(standing.late)}，"
                f"未报{len(standing.missing)}"
            )
        case Kind.FLASH:
            flash = await data.flash_data(session, env, span.first)

            def write(writer: GongwenWriter) -> None:
                write_flash(writer, flash, day)

            summary = (
                f"{span.key}：{len(flash.entries)}个单位，已报送{sum(e.standing.versions > 0 for e in flash.entries)}"
            )
        case Kind.QUARTERLY | Kind.EVALUATION:
            across = await data.span_data(session, env, span, now)
            evaluation = request.kind is Kind.EVALUATION

            def write(writer: GongwenWriter) -> None:
                if evaluation:
                    write_evaluation(writer, across, day, settings.report_to)
                else:
                    write_quarterly(writer, across, day)

            summary = f"{span.key}：{len(across.units)}个单位，{len(span.periods)}个月，按时率{across.on_time_rate:.1%}"
    heading = letterhead.Heading(
        title=title_of(request, policy),
        issuer=settings.issuer or policy.office_name,
        day=day,
        doc_number=_number(settings, request),
    )
    # Charts and Word layout are CPU work (about 3 s for 500 units): off the event loop, so that the service
    # keeps acknowledging callbacks within the platforms' deadlines while a document is made.
    content = await asyncio.to_thread(letterhead.render, settings.template, heading, write)
    return BuiltDocument(request, heading.title, filename_of(request), content, summary)


def _number(settings: DocumentSettings, request: DocumentRequest) -> str:
    """The document number where the office numbers its documents (a prefix configured or a number given)."""
    if request.number is None and not settings.number_prefix:
        return ""
    return settings.document_number(request.day.year, request.number)


def keep(built: BuiltDocument, policy: Policy, now: datetime) -> Path:
    """Store ``built`` under ``[documents] output_dir`` (the file a chat request leaves for the office to fetch)."""
    folder = policy.documents.output_dir
    folder.mkdir(parents=True, exist_ok=True)
    stamp = now.astimezone(policy.tz).strftime("%Y%m%d-%H%M%S")
    path = folder / f"{Path(built.filename).stem}-{stamp}.docx"
    temporary = path.with_suffix(".docx.part")
    temporary.write_bytes(built.content)
    temporary.replace(path)
    return path


class Chart(enum.StrEnum):
    ON_TIME = "on_time"
    HEATMAP = "heatmap"
    LIGHTS = "lights"


async def chart_images(session: AsyncSession, policy: Policy, chart: Chart, span: Span, now: datetime) -> list[bytes]:
    """The PNG images of ``chart`` over ``span`` (the heat map: one per 50 units), as the documents embed them."""
    env = ScheduleEnv.of(policy)
    if chart is Chart.LIGHTS:
        items = await data.items_now(session, env, now)
        return [await asyncio.to_thread(charts.lights_chart, items.by_light(), "在办事项灯号")]
    across = await data.span_data(session, env, span, now)
    months = [f"{period.month}月" for period in span.periods]
    if chart is Chart.ON_TIME:
        rates = [charts.MonthRate(months[i], s.on_time_rate) for i, s in enumerate(across.standings)]
        return [await asyncio.to_thread(charts.on_time_chart, rates, f"{span.label}各月按时报送率")]
    names, statuses = [u.name for u in across.units], [u.statuses for u in across.units]
    return await asyncio.to_thread(charts.heatmap_charts, names, months, statuses)


AUDIT_ACTION = "文档"


def audit_detail(built: BuiltDocument) -> str:
    return f"{built.request.kind.label} {built.summary}（{built.size_kb} KB）"


def record_made(
    session: AsyncSession,
    built: BuiltDocument,
    *,
    actor: str,
    now: datetime,
    via: str = "cli",
    person_id: int | None = None,
) -> None:
    """Audit a document made outside the chat (the chat command audits through its context)."""
    session.add(
        AuditEntry(
            person_id=person_id,
            actor=actor[:128],
            action=AUDIT_ACTION,
            detail=audit_detail(built),
            outcome="ok",
            at=now,
            via=via,
        )
    )
