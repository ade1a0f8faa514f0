"""What each document says, read with the very queries behind ``统计``, ``duban status``, the 台账 and ``事项``.

Nothing here decides who is on time or which item is overdue: the standing comes from
:func:`storage.reports.period_ledger` (which is :func:`storage.standing.period_standing` plus the latest texts),
the lights from :func:`storage.items.by_standing`, the month's item figures from
:func:`storage.items.month_figures`. This module only arranges them for a document.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy.ext.asyncio import AsyncSession

from schedules.context import ScheduleEnv
from schedules.documents.spans import Span
from storage import items as ledger_items
from storage.files import FileFilter, list_files
from storage.items import ItemStanding, Light, MonthFigures
from storage.models import FileState, Item
from storage.periods import Period
from storage.reports import Ledger, period_ledger
from storage.standing import PeriodStanding, UnitStanding

LEAD_CHARS = 80
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")
# "11月工作进展：" and the like at the head of a report say nothing a document's lead needs.
_PERIOD_HEAD = re.compile(r"^(?:\d{4}\s*年)?\s*\d{1,2}\s*月份?(?:工作进展|工作情况|进展情况|进展)?\s*[：:，,]\s*")
ATTACHMENT_KINDS = {"image": "图片", "file": "文件", "voice": "语音", "video": "视频", "mixed": "图文"}


def split_lead(text: str) -> tuple[str, str]:
    """A report's lead (its first sentence, at most :data:`LEAD_CHARS` characters) and the rest."""
    cleaned = _PERIOD_HEAD.sub("", text.strip(), count=1)
    if not cleaned:
        return "", ""
    end = _SENTENCE_END.search(cleaned)
    cut = end.end() if end else len(cleaned)
    if cut > LEAD_CHARS:
        return cleaned[:LEAD_CHARS] + "……", cleaned[LEAD_CHARS:].strip()
    lead = cleaned[:cut].strip()
    if lead and lead[-1] in "；;\n":
        lead = lead[:-1] + "。"
    elif lead and lead[-1] not in "。！？!?":
        lead += "。"
    return lead, cleaned[cut:].strip()


@dataclass(frozen=True)
class Attachment:
    kind: str  # 图片, 文件…
    name: str  # the file's name as kept
    note: str = ""  # why there are no bytes: still being fetched, lost, refused

    @property
    def label(self) -> str:
        named = f"{self.kind}：{self.name}" if self.name else self.kind
        return f"{named}（{self.note}）" if self.note else named


FILE_NOTES = {FileState.PENDING: "正在取回", FileState.LOST: "未能取回", FileState.REFUSED: "超过大小限制，未保存"}


async def period_attachments(session: AsyncSession, period: Period) -> dict[int, list[Attachment]]:
    """Every file each unit sent with its reports for ``period`` (:func:`storage.files.list_files`), in order."""
    found: dict[int, list[Attachment]] = {}
    for file in await list_files(session, FileFilter(period=str(period))):
        if file.unit_id is None:
            continue
        kind = ATTACHMENT_KINDS.get(file.kind, file.kind or "附件")
        found.setdefault(file.unit_id, []).append(Attachment(kind, file.name, FILE_NOTES.get(file.state, "")))
    return found


@dataclass(frozen=True)
class LeadItems:
    """The open items one unit leads, and how many of them are overdue (红灯)."""

    unit_name: str
    open: int
    overdue: int


@dataclass(frozen=True)
class ItemsNow:
    """The 督办 ledger as it stands on the document's date."""

    day: date
    standings: list[ItemStanding]  # lit items, red first (as ``事项`` lists them)
    open_total: int
    waiting: int  # raised, not yet assigned
    review: int  # reported done, awaiting the office
    by_lead: list[LeadItems]  # most overdue first

    def count(self, light: Light) -> int:
        return sum(1 for standing in self.standings if standing.light is light)

    @property
    def overdue(self) -> int:
        return self.count(Light.RED)

    def by_light(self) -> dict[str, int]:
        return {light.label: self.count(light) for light in Light}

    def due_between(self, first: date, last: date) -> list[ItemStanding]:
        return sorted(
            (s for s in self.standings if s.item.due is not None and first <= s.item.due <= last),
            key=lambda s: (s.item.due, s.item.number),
        )


async def items_now(session: AsyncSession, env: ScheduleEnv, now: datetime) -> ItemsNow:
    standings = await ledger_items.by_standing(session, env.calendar, now, env.policy.tz)
    open_items = await ledger_items.open_items(session)
    states = Counter(item.state.value for item in open_items)
    leads = Counter(item.lead_unit.name for item in open_items if item.lead_unit is not None)
    overdue = Counter(s.item.lead_unit.name for s in standings if s.light is Light.RED and s.item.lead_unit is not None)
    by_lead = [LeadItems(name, count, overdue[name]) for name, count in leads.items()]
    by_lead.sort(key=lambda row: (-row.overdue, -row.open, row.unit_name))
    return ItemsNow(
        day=now.astimezone(env.policy.tz).date(),
        standings=standings,
        open_total=len(open_items),
        waiting=states["raised"],
        review=states["review"],
        by_lead=by_lead,
    )


def _midnight(day: date, env: ScheduleEnv) -> datetime:
    return datetime.combine(day, time(0), tzinfo=env.policy.tz).astimezone(UTC)


async def figures_between(session: AsyncSession, env: ScheduleEnv, first: date, next_first: date) -> MonthFigures:
    """The ledger's figures (raised, assigned, closed, overdue at the end) from ``first`` up to ``next_first``."""
    return await ledger_items.month_figures(session, _midnight(first, env), _midnight(next_first, env), env.policy.tz)


def _figures(items: list[Item], env: ScheduleEnv, first: date, next_first: date) -> MonthFigures:
    return ledger_items.figures_of(items, _midnight(first, env), _midnight(next_first, env), env.policy.tz)


@dataclass(frozen=True)
class CircularData:
    """月度通报: the standing of one period's reports, the items, and next month's arrangements."""

    ledger: Ledger
    due: date
    collected: Period  # the month the reports came in (the period's following month)
    month_items: MonthFigures  # the ledger's figures for that month
    items: ItemsNow
    next_period: Period
    next_due: date

    @property
    def standing(self) -> PeriodStanding:
        return self.ledger.standing


async def circular_data(session: AsyncSession, env: ScheduleEnv, period: Period, now: datetime) -> CircularData:
    deadline = env.policy.deadline
    collected = period.next()
    return CircularData(
        ledger=await period_ledger(session, period),
        due=deadline.due_date(period),
        collected=collected,
        month_items=await figures_between(session, env, collected.first_day, collected.next().first_day),
        items=await items_now(session, env, now),
        next_period=period.next(),
        next_due=deadline.due_date(period.next()),
    )


@dataclass(frozen=True)
class FlashEntry:
    standing: UnitStanding
    lead: str
    rest: str
    attachments: list[Attachment]


@dataclass(frozen=True)
class FlashData:
    """快报: every unit's latest report for the period, in roster order."""

    ledger: Ledger
    entries: list[FlashEntry]
    due: date


async def flash_data(session: AsyncSession, env: ScheduleEnv, period: Period) -> FlashData:
    found = await period_ledger(session, period)
    attachments = await period_attachments(session, period)
    entries = []
    for row in found.rows:
        lead, rest = split_lead(row.latest_text)
        entries.append(FlashEntry(row.standing, lead, rest, attachments.get(row.standing.unit_id, [])))
    return FlashData(found, entries, env.policy.deadline.due_date(period))


@dataclass(frozen=True)
class UnitAcross:
    """One unit over the months of a span: its standing and its report's lead each month."""

    unit_id: int
    name: str
    division: str
    standings: tuple[UnitStanding, ...]
    leads: tuple[str, ...]

    @property
    def statuses(self) -> tuple[str, ...]:
        return tuple(standing.status for standing in self.standings)

    @property
    def on_time(self) -> int:
        return self.statuses.count("on_time")

    @property
    def rate(self) -> float:
        return self.on_time / len(self.standings) if self.standings else 0.0


@dataclass(frozen=True)
class SpanData:
    """季度通报 and 半年评估报告: the months side by side, per unit, and the ledger over the span."""

    span: Span
    standings: list[PeriodStanding]
    units: list[UnitAcross]
    figures: MonthFigures  # items over the span's calendar months
    monthly: list[MonthFigures]  # the same, month by month
    items: ItemsNow

    @property
    def on_time_rate(self) -> float:
        """On-time reports over reports due, across the span."""
        due = sum(len(standing.units) for standing in self.standings)
        return sum(len(standing.on_time) for standing in self.standings) / due if due else 0.0


async def span_data(session: AsyncSession, env: ScheduleEnv, span: Span, now: datetime) -> SpanData:
    ledgers = [await period_ledger(session, period) for period in span.periods]
    standings = [found.standing for found in ledgers]
    per_period = [{row.standing.unit_id: row for row in found.rows} for found in ledgers]
    units = []
    for standing in standings[-1].units if standings else []:
        rows = [rows_by_unit.get(standing.unit_id) for rows_by_unit in per_period]
        months = tuple(
            row.standing if row is not None else UnitStanding(standing.unit_id, standing.unit_name, "", "missing")
            for row in rows
        )
        leads = tuple(split_lead(row.latest_text)[0] if row is not None else "" for row in rows)
        units.append(UnitAcross(standing.unit_id, standing.unit_name, standing.division, months, leads))
    firsts = [period.first_day for period in span.periods] + [span.last.next().first_day]
    every_item = await ledger_items.all_items(session)  # read once for the span and each of its months
    monthly = [_figures(every_item, env, firsts[i], firsts[i + 1]) for i in range(len(span.periods))]
    return SpanData(
        span=span,
        standings=standings,
        units=units,
        figures=_figures(every_item, env, firsts[0], firsts[-1]),
        monthly=monthly,
        items=await items_now(session, env, now),
    )
