"""Rounds (征集): who was asked, who answered, and each unit's answers — the typed API others read.

:func:`round_standing` is what ``统计 #N``, the reminders, the export and the weekly briefing show: one row per unit
asked, with its latest answer (if any), in one grouped query. For the built-in monthly round (kind ``monthly``,
see :mod:`storage.monthly_round`) the answers are the period's reports (``submission`` rows, read by period as
the monthly standing reads them): late means no version came by the deadline, as in the monthly standing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Group, GroupMember, Person, Round, RoundAnswer, Submission, Unit
from storage.reports import find_units, fold

OPEN = "open"
CLOSED = "closed"
MONTHLY = "monthly"  # the built-in round of each period's monthly report
MEETING = "meeting"  # a meeting's 回执
_NAMES = {MONTHLY: "月报", MEETING: "会议"}


def number_label(round_: Round) -> str:
    """How every message names a round: ``月报#3`` (a period's monthly report), ``会议#8`` (a meeting's 回执),
    ``征集#7`` (any other collection)."""
    return f"{_NAMES.get(round_.kind, '征集')}#{round_.id}"


@dataclass(slots=True)
class UnitAnswer:
    """One unit asked by a round, and where its answer stands."""

    unit_id: int
    unit_name: str
    answered_at: datetime | None = None  # the latest version's time
    versions: int = 0
    late: bool = False  # the latest version came after the deadline or the close
    values: dict[str, Any] = field(default_factory=dict)
    parsed: bool = True
    text: str = ""

    @property
    def answered(self) -> bool:
        return self.versions > 0


@dataclass(frozen=True)
class RoundStanding:
    round: Round
    units: list[UnitAnswer]

    @property
    def answered(self) -> list[UnitAnswer]:
        return [unit for unit in self.units if unit.answered]

    @property
    def missing(self) -> list[UnitAnswer]:
        return [unit for unit in self.units if not unit.answered]

    @property
    def unparsed(self) -> list[UnitAnswer]:
        return [unit for unit in self.answered if not unit.parsed]


def _asked(round_: Round) -> ColumnElement[bool]:
    """The condition on ``Unit`` for the units ``round_`` asks: those listed, else (with a group) those with a
    liaison there, else every active one."""
    condition: ColumnElement[bool] = Unit.active.is_(True)
    if round_.units:
        condition = condition & Unit.id.in_([int(unit_id) for unit_id in round_.units])
    elif round_.group:
        in_group = (
            select(Person.unit_id)
            .join(GroupMember, GroupMember.person_id == Person.id)
            .join(Group, Group.id == GroupMember.group_id)
            .where(Group.name == round_.group, Person.active.is_(True), Person.unit_id.is_not(None))
        )
        condition = condition & Unit.id.in_(in_group)
    return condition


async def asked_unit_ids(session: AsyncSession, round_: Round) -> list[int]:
    """The active units ``round_`` asks, in unit order."""
    return list(await session.scalars(select(Unit.id).where(_asked(round_)).order_by(Unit.id)))


async def round_standing(session: AsyncSession, round_: Round) -> RoundStanding:
    """Every unit ``round_`` asks with its latest answer, in unit order, in one query."""
    if round_.kind == MONTHLY:
        return await _monthly_standing(session, round_)
    latest = (
        select(RoundAnswer.unit_id, func.max(RoundAnswer.version).label("version"), func.count().label("versions"))
        .where(RoundAnswer.round_id == round_.id)
        .group_by(RoundAnswer.unit_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            Unit.id,
            Unit.name,
            RoundAnswer.received_at,
            latest.c.versions,
            RoundAnswer.late,
            RoundAnswer.values,
            RoundAnswer.parsed,
            RoundAnswer.text,
        )
        .outerjoin(latest, latest.c.unit_id == Unit.id)
        .outerjoin(
            RoundAnswer,
            (RoundAnswer.round_id == round_.id)
            & (RoundAnswer.unit_id == latest.c.unit_id)
            & (RoundAnswer.version == latest.c.version),
        )
        .where(_asked(round_))
        .order_by(Unit.id)
    )
    units = [
        UnitAnswer(unit_id, name, at, versions or 0, bool(late), values or {}, parsed is not False, text or "")
        for unit_id, name, at, versions, late, values, parsed, text in rows
    ]
    return RoundStanding(round_, units)


async def _monthly_standing(session: AsyncSession, round_: Round) -> RoundStanding:
    """The monthly round's units: every active one, with its latest report version (on time: any version was)."""
    per_unit = (
        select(
            Submission.unit_id,
            func.max(Submission.version).label("version"),
            func.count().label("versions"),
            func.max(Submission.on_time.cast(type_=Submission.version.type)).label("any_on_time"),
        )
        .where(Submission.period == round_.code[1:])  # the round's period (its code without the "M")
        .group_by(Submission.unit_id)
        .subquery()
    )
    rows = await session.execute(
        select(Unit.id, Unit.name, Submission.received_at, per_unit.c.versions, per_unit.c.any_on_time, Submission.text)
        .outerjoin(per_unit, per_unit.c.unit_id == Unit.id)
        .outerjoin(
            Submission,
            (Submission.period == round_.code[1:])
            & (Submission.unit_id == per_unit.c.unit_id)
            & (Submission.version == per_unit.c.version),
        )
        .where(Unit.active.is_(True))
        .order_by(Unit.id)
    )
    units = [
        UnitAnswer(unit_id, name, at, versions or 0, bool(versions) and not any_on_time, {}, True, text or "")
        for unit_id, name, at, versions, any_on_time, text in rows
    ]
    return RoundStanding(round_, units)


async def open_rounds(session: AsyncSession) -> list[Round]:
    """Open rounds other than the monthly ones (those are the standing monthly report, always asked of all)."""
    return list(
        await session.scalars(select(Round).where(Round.state == OPEN, Round.kind != MONTHLY).order_by(Round.id))
    )


async def extended_monthly_rounds(session: AsyncSession, now: datetime) -> list[Round]:
    """Monthly rounds whose deadline the office moved (``截止 #N``) and that are still running at ``now``: the
    round reminder chases their laggards, as the deadline reminder's fixed plan does not reach past the rule."""
    return list(
        await session.scalars(
            select(Round)
            .where(Round.kind == MONTHLY, Round.state == OPEN, Round.extended_at.is_not(None), Round.deadline >= now)
            .order_by(Round.id)
        )
    )


async def extended_monthly_rounds_due_between(session: AsyncSession, start: datetime, end: datetime) -> list[Round]:
    """Monthly rounds whose extended deadline fell in ``[start, end)``: their overdue notice is due now."""
    return list(
        await session.scalars(
            select(Round)
            .where(
                Round.kind == MONTHLY,
                Round.extended_at.is_not(None),
                Round.deadline >= start,
                Round.deadline < end,
            )
            .order_by(Round.id)
        )
    )


async def add_answer(
    session: AsyncSession,
    round_: Round,
    unit: Unit,
    text: str,
    *,
    values: dict[str, str],
    parsed: bool,
    person: Person | None,
    inbox_id: int | None,
    now: datetime,
) -> RoundAnswer:
    """Keep a new version of ``unit``'s answer; late when after the deadline or the close."""
    previous = await session.scalar(
        select(func.max(RoundAnswer.version)).where(RoundAnswer.round_id == round_.id, RoundAnswer.unit_id == unit.id)
    )
    answer = RoundAnswer(
        round_id=round_.id,
        unit_id=unit.id,
        version=(previous or 0) + 1,
        text=text,
        values=values,
        parsed=parsed,
        late=round_.state == CLOSED or now > round_.deadline,
        person_id=person.id if person else None,
        inbox_id=inbox_id,
        received_at=now,
    )
    session.add(answer)
    await session.flush()
    return answer


@dataclass(frozen=True)
class UnitChoice:
    """The units named for a round's audience: those found, the names matching none, and those matching several."""

    units: list[Unit]
    unknown: list[str]
    ambiguous: dict[str, list[str]]

    @property
    def clear(self) -> bool:
        return not self.unknown and not self.ambiguous


async def choose_units(session: AsyncSession, names: list[str]) -> UnitChoice:
    """Each name as one active unit: its full name, a part of it (``商务厅``) or its usual short form, whose
    characters appear in order in the full name (``发改委`` for 省发展改革委). The units come in roster order."""
    units: list[Unit] = []
    unknown: list[str] = []
    ambiguous: dict[str, list[str]] = {}
    every: list[Unit] | None = None
    for name in names:
        found = await find_units(session, name)
        if not found:
            every = (
                every
                if every is not None
                else list(await session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.id)))
            )
            found = [unit for unit in every if _abbreviates(name, unit.name)]
        if len(found) == 1:
            units += [found[0]] if found[0] not in units else []
        elif found:
            ambiguous[name] = [unit.name for unit in found]
        else:
            unknown.append(name)
    return UnitChoice(sorted(units, key=lambda unit: unit.id), unknown, ambiguous)


def _abbreviates(short: str, name: str) -> bool:
    """``发改委`` abbreviates ``省发展改革委``: every character of the short form, in order, within the name."""
    short, letters = fold(short), iter(fold(name))
    return len(short) >= 2 and all(char in letters for char in short)


@dataclass(frozen=True)
class Remarked:
    """How many versions :func:`remark_for_deadline` marked anew: now on time, now late."""

    on_time: int
    late: int


async def remark_for_deadline(session: AsyncSession, round_: Round, deadline: datetime) -> Remarked:
    """Mark the versions kept for ``round_`` on time or late by ``deadline``, the one the office has just set
    (``截止 #N``); how many marks changed, each way. Call it before the round is reopened: a version that came while the
    round was closed (``结束 #N``) stays late, as its sender was told; every other one is on time when it came by
    ``deadline`` (whole seconds decide for a month, as when it was filed) and late after it.
    """
    if round_.kind == MONTHLY:
        cutoff = deadline.replace(microsecond=0) + timedelta(seconds=1)
        return await _remark(session, round_, Submission, Submission.received_at < cutoff, Submission.on_time, True)
    return await _remark(session, round_, RoundAnswer, RoundAnswer.received_at <= deadline, RoundAnswer.late, False)


async def _remark(
    session: AsyncSession,
    round_: Round,
    table: type[Submission] | type[RoundAnswer],
    within: ColumnElement[bool],
    flag: Any,
    flag_when_within: bool,
) -> Remarked:
    arrived = table.received_at
    if round_.state == CLOSED and round_.closed_at is not None:
        within = within & (arrived < round_.closed_at)
    changed = []
    for condition, value in ((within, flag_when_within), (~within, not flag_when_within)):
        result = await session.execute(
            update(table)
            .where(table.round_id == round_.id, condition, flag != value)
            .values({flag.key: value})
            .execution_options(synchronize_session=False)
        )
        changed.append(int(result.rowcount))  # type: ignore[attr-defined]
    return Remarked(on_time=changed[0], late=changed[1])
