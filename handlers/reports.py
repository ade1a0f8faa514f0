"""A liaison's report: which period it is for, which version it becomes, and the confirmation.

- The period is the open one (the month before the one the message was received in) unless the text starts
  with a marker (``10月``, ``2026-10``… see :mod:`handlers.period_marker`). A period not yet open, or more than
  12 months before the open one, is refused with an explanation and nothing is stored.
- Every message is a new version holding the text verbatim (after the bot's @-mention). Attachments of the
  previous version are carried into the new one, so the latest version always holds every file sent.
- A message starting with ``补充`` (standing alone: ``补充：``, ``补充 ``, ``补充说明：``…) makes a new version
  whose text is the previous one, a dated separator and the addition. With no earlier version it becomes
  version 1, and the confirmation says so.
- Images and files: see :mod:`handlers.files` (a message with text and images is confirmed once they are fetched).

The period is taken from when the message was *received*, not when it is handled, so a message left in the
inbox across midnight at the end of a month still counts for the month its sender meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import texts
from handlers.period_marker import Marker, leading_marker, months_between
from handlers.respond import audit_values, reply
from storage.files import record_files
from storage.models import AuditEntry, InboxMessage, Person, Round, Submission, Unit
from storage.monthly_round import is_on_time, monthly_round, period_of
from storage.periods import Period
from storage.policy import Policy
from storage.rounds import number_label
from storage.submissions import add_version, latest_version, lock_unit

MAX_PAST_MONTHS = 12
_SUPPLEMENT = re.compile(r"^补充(?:内容|说明|材料|报送)?(?:[\s:：,，、.。;；]+|$)")


# The audit log's action for a liaison's report, filed or not (handlers.dispatch uses it for refusals too).
REPORT_ACTION = "报送"


@dataclass(frozen=True)
class ParsedReport:
    marker: Marker | None
    supplement: bool
    content: str  # what to store: the whole text, or for a supplement only the addition


def parse_report(text: str) -> ParsedReport:
    """Split a report into its period marker, whether it is a supplement, and its content.

    The marker may come before or after ``补充`` (``10月补充：…`` and ``补充：10月…``).
    """
    marker = leading_marker(text)
    rest = text[marker.end :] if marker else text
    supplement = _SUPPLEMENT.match(rest)
    if supplement is None:
        return ParsedReport(marker=marker, supplement=False, content=text if rest.strip() else "")
    addition = rest[supplement.end() :]
    if marker is None:
        marker = leading_marker(addition)
        if marker is not None:
            addition = addition[marker.end :]
    return ParsedReport(marker=marker, supplement=True, content=addition.strip())


def report_period(row: InboxMessage, marker: Marker | None, policy: Policy) -> tuple[Period, str | None]:
    """The period a report is for, and the refusal to send instead when it cannot be accepted."""
    open_period = policy.deadline.open_period(row.received_at)
    if marker is None:
        return open_period, None
    current = Period.of(row.received_at.astimezone(policy.tz).date())
    period = marker.resolve(current)
    if period > open_period:
        return period, texts.future_period(period, open_period, policy.deadline)
    if months_between(period, open_period) > MAX_PAST_MONTHS:
        return period, texts.period_too_old(period, policy.office_name)
    return period, None


class Previous(Protocol):
    """What a new version takes from the unit's latest one for the period."""

    @property
    def version(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def attachments(self) -> list[Any]: ...


@dataclass(frozen=True)
class ComposedVersion:
    """A report's new version as it will be stored, and the note its confirmation carries."""

    version: int
    text: str
    is_supplement: bool
    attachments: list[Any]
    on_time: bool
    note: str


def compose_version(
    row: InboxMessage,
    parsed: ParsedReport,
    round_: Round,
    previous: Previous | None,
    policy: Policy,
    *,
    note: str = "",
) -> ComposedVersion:
    """The next version of an accepted report for the period of the monthly ``round_`` (``parsed`` has content),
    given the unit's latest version for that period: a supplement is merged into it, and its attachments are
    carried over.

    The single rule for both the one-message path (:func:`file_report`) and the batch path
    (:mod:`handlers.report_batch`)."""
    content, is_supplement = parsed.content, False
    if parsed.supplement and previous is not None:
        content = previous.text + texts.supplement_separator(row.received_at, policy.tz) + parsed.content
        is_supplement = True
    elif parsed.supplement:
        note = texts.SUPPLEMENT_WITHOUT_EARLIER + note
    carried = list(previous.attachments) if previous is not None else []
    return ComposedVersion(
        version=previous.version + 1 if previous is not None else 1,
        text=content,
        is_supplement=is_supplement,
        attachments=carried + attachment_records(row) if row.attachments else carried,
        on_time=is_on_time(round_, row.received_at),
        note=note,
    )


async def file_report(
    session: AsyncSession,
    row: InboxMessage,
    person: Person,
    unit: Unit,
    text: str,
    policy: Policy,
    *,
    now: datetime,
    note: str = "",
    period: Period | None = None,
) -> Submission | None:
    """Store ``text`` as the unit's next version, audit it and confirm it; ``None`` when refused (nothing stored).

    ``period`` is given when the liaison named the period's monthly round (``#N …``); else the text decides.
    """
    parsed = parse_report(text)
    refusal = None
    if period is None:
        period, refusal = report_period(row, parsed.marker, policy)
    if refusal is not None:
        reply(session, row, refusal)
        return None
    if not parsed.content:
        if parsed.supplement:
            reply(session, row, texts.SUPPLEMENT_WITHOUT_CONTENT)
        else:
            reply(session, row, texts.marker_without_content(period))
        return None

    await lock_unit(session, unit.id)
    previous = await latest_version(session, unit.id, period)
    round_ = await monthly_round(session, policy.deadline, period)
    version = compose_version(row, parsed, round_, previous, policy, note=note)
    submission = await add_version(
        session,
        version=version.version,
        unit_id=unit.id,
        period=period,
        round_id=round_.id,
        text=version.text,
        received_at=row.received_at,
        on_time=version.on_time,
        person_id=person.id,
        inbox_id=row.id,
        is_supplement=version.is_supplement,
        attachments=version.attachments,
    )
    session.add(AuditEntry(**report_audit(row, person, unit, round_, version, now)))
    confirmation = confirmation_text(unit, version, period, row, policy)
    if row.attachments:  # confirmed once its files are fetched (handlers.files.settle_message)
        items = [item for item in row.attachments if isinstance(item, dict)]
        record_files(
            session,
            row,
            items,
            unit_id=unit.id,
            period=str(period),
            submission_id=submission.id,
            person_id=person.id,
            reply_lead=confirmation,
        )
    else:
        reply(session, row, confirmation)
    return submission


def report_audit(
    row: InboxMessage, person: Person, unit: Unit, round_: Round, version: ComposedVersion, now: datetime
) -> dict[str, Any]:
    """The audit record of a filed version (``报送``, on time ``ok`` or ``late``), the same on the one-message path
    and the batch path: ``省商务厅 2026年10月 月报#3 第2版（补充）``."""
    supplement = "（补充）" if version.is_supplement else ""
    detail = f"{unit.name} {period_of(round_).label} {number_label(round_)} 第{version.version}版{supplement}"
    outcome = "ok" if version.on_time else "late"
    return audit_values(row, person, action=REPORT_ACTION, detail=detail, outcome=outcome, now=now)


def confirmation_text(unit: Unit, version: ComposedVersion, period: Period, row: InboxMessage, policy: Policy) -> str:
    return texts.report_received(
        unit.name,
        period,
        policy.tz,
        version=version.version,
        received_at=row.received_at,
        supplement=version.is_supplement,
        on_time=version.on_time,
        note=version.note,
    )


def attachment_records(row: InboxMessage) -> list[dict[str, Any]]:
    """What to keep of a message's attachments: the platform's ids as the adapter gave them, plus provenance."""
    provenance = {
        "inbox_id": row.id,
        "message_id": row.message_id,
        "platform": row.platform,
        "received_at": row.received_at.isoformat(),
    }
    items = [item for item in row.attachments if isinstance(item, dict)] or [{}]
    kind = "image" if row.msgtype == "picture" else row.msgtype
    return [{"kind": kind, **item, **provenance} for item in items]
