"""Handling a claimed batch of inbox rows: the liaisons' plain reports filed together, every other row alone.

A burst of reports at a deadline is mostly one kind of message: a liaison's text, to be stored as the unit's
next version and confirmed. One at a time, each costs half a dozen statements (who sent it, is a collection
asking, lock, latest version, insert, confirmation); in a batch, the same work is one query for all senders, one
for the open collections, one for the latest versions of every (unit, period) concerned, and one multi-row
insert each for the versions and the confirmations.

The rules are those of the one-message path and live there: :func:`handlers.dispatch.plain_report` says which
rows :func:`~handlers.dispatch.handle` would file as they are, :func:`handlers.reports.parse_report`,
:func:`~handlers.reports.report_period` and :func:`~handlers.reports.compose_version` what the version holds,
:func:`~handlers.reports.confirmation_text` what the confirmation says. A sender who is not on the roster is
answered in the same inserts, in its place (:func:`handlers.dispatch.unknown_sender_answer`), with no query of its
own: the batch's one roster query already says who is unknown, and the answer changes nothing the rows after it
depend on (a burst from an unregistered group costs a few statements, not a look-up and two inserts a message).
Every other row (a command, a file, a refused period, text that may answer a collection…) goes to ``one``, the
one-message handler, in its place: the reports gathered before it are filed first, so the rows take effect
exactly in arrival order and a unit's versions are numbered in the order its messages came. Because ``one`` may
change the roster or open a collection, senders and collections are looked up again for the rows after it.

Everything happens in the caller's transaction: the batch commits whole or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.dispatch import plain_report, unknown_sender_answer
from handlers.identity import identify_many
from handlers.reports import (
    ParsedReport,
    compose_version,
    confirmation_text,
    parse_report,
    report_audit,
    report_period,
)
from handlers.round_answers import units_asked
from storage.models import AuditEntry, InboxMessage, OutboxMessage, Person, Round, Submission, Unit
from storage.monthly_round import monthly_round
from storage.outbound import OutboundMessage, reply_values
from storage.periods import Period
from storage.policy import Policy
from storage.submissions import latest_versions, lock_units

HandleOne = Callable[[AsyncSession, InboxMessage, Policy, datetime], Awaitable[None]]


@dataclass(frozen=True)
class _Report:
    row: InboxMessage
    person: Person
    unit: Unit
    parsed: ParsedReport
    period: Period
    note: str


@dataclass(frozen=True)
class _Stranger:
    """A message from a sender who is not on the roster, answered together with the reports around it."""

    row: InboxMessage


@dataclass(frozen=True)
class _Stored:
    """A version filed earlier in this batch, as the next one of its unit and period sees it."""

    version: int
    text: str
    attachments: list[Any]


async def handle_rows(
    session: AsyncSession, rows: Sequence[InboxMessage], policy: Policy, now: datetime, *, one: HandleOne
) -> None:
    """Handle ``rows`` in arrival order within the caller's transaction (which then marks them done)."""
    gathered: list[_Report | _Stranger] = []
    people: dict[tuple[str, str], Person] | None = None
    asked: set[int] | None = None
    for index, row in enumerate(rows):
        if people is None:
            people = await _senders(session, rows[index:])
        person = people.get((row.platform, row.sender_id))
        entry: _Report | _Stranger | None = None
        if person is None:
            entry = _Stranger(row)
        elif (found := plain_report(row, person)) is not None:
            if asked is None:
                asked = await units_asked(session)
            entry = _accepted(row, person, *found, asked, policy)
        if entry is not None:
            gathered.append(entry)
            continue
        await _file(session, gathered, policy, now)
        gathered = []
        await one(session, row, policy, now)
        people = asked = None
    await _file(session, gathered, policy, now)


async def _senders(session: AsyncSession, rows: Sequence[InboxMessage]) -> dict[tuple[str, str], Person]:
    by_platform: dict[str, set[str]] = {}
    for row in rows:
        by_platform.setdefault(row.platform, set()).add(row.sender_id)
    people: dict[tuple[str, str], Person] = {}
    for platform, sender_ids in by_platform.items():
        for sender_id, person in (await identify_many(session, platform, sender_ids)).items():
            people[(platform, sender_id)] = person
    return people


def _accepted(
    row: InboxMessage, person: Person, unit: Unit, text: str, note: str, asked: set[int], policy: Policy
) -> _Report | None:
    """The report to file together with the others; ``None`` when the one-message path must answer it (a
    collection asks the unit, a period that cannot be accepted, a marker or ``补充`` with nothing after it)."""
    if unit.id in asked:
        return None
    parsed = parse_report(text)
    period, refusal = report_period(row, parsed.marker, policy)
    if refusal is not None or not parsed.content:
        return None
    return _Report(row, person, unit, parsed, period, note)


async def _file(session: AsyncSession, entries: list[_Report | _Stranger], policy: Policy, now: datetime) -> None:
    """Store each report as its unit's next version, audit it and queue its confirmation, and answer and audit each
    stranger, in arrival order: three multi-row inserts."""
    reports = [entry for entry in entries if isinstance(entry, _Report)]
    latest: dict[tuple[int, str], Any] = {}
    if reports:
        await lock_units(session, (report.unit.id for report in reports))
        latest.update(await latest_versions(session, ((report.unit.id, str(report.period)) for report in reports)))
    rounds: dict[Period, Round] = {}
    for report in reports:
        if report.period not in rounds:
            rounds[report.period] = await monthly_round(session, policy.deadline, report.period)
    versions: list[dict[str, Any]] = []
    replies: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    for entry in entries:
        if isinstance(entry, _Stranger):
            answer, record = unknown_sender_answer(entry.row, policy, now)
        else:
            version, answer, record = _filed(entry, rounds[entry.period], latest, policy, now)
            versions.append(version)
        replies.append(answer)
        audits.append(record)
    if versions:
        await session.execute(insert(Submission), versions)
    if replies:
        await session.execute(insert(OutboxMessage), replies)
        await session.execute(insert(AuditEntry), audits)
    for report in reports:  # after the inserts, so that it is flushed with the caller's "done": one UPDATE
        report.row.person_id = report.person.id


def _filed(
    report: _Report, round_: Round, latest: dict[tuple[int, str], Any], policy: Policy, now: datetime
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The version ``report`` is filed as (the next after ``latest``, which it then becomes), its confirmation and
    its audit record, as rows' values."""
    row, key = report.row, (report.unit.id, str(report.period))
    version = compose_version(row, report.parsed, round_, latest.get(key), policy, note=report.note)
    latest[key] = _Stored(version.version, version.text, version.attachments)
    values = {
        "unit_id": report.unit.id,
        "period": key[1],
        "round_id": round_.id,
        "version": version.version,
        "text": version.text,
        "attachments": version.attachments,
        "is_supplement": version.is_supplement,
        "person_id": report.person.id,
        "inbox_id": row.id,
        "received_at": row.received_at,
        "on_time": version.on_time,
    }
    body = confirmation_text(report.unit, version, report.period, row, policy)
    answer = reply_values(row, OutboundMessage(body=body))
    return values, answer, report_audit(row, report.person, report.unit, round_, version, now)
