"""A small office for the console tests: the handler tests' roster, a year of reports, an item, a failed send."""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from handlers_kit import MEMBER_GROUP, OFFICE_GROUP, POLICY, Roster, seed
from sqlalchemy import update

from bot.config import Settings
from storage.blobs import DirectoryStore
from storage.console_auth import issue_link_token
from storage.db import Database
from storage.models import (
    Blob,
    FileState,
    Item,
    ItemState,
    OutboxMessage,
    OutboxState,
    Person,
    Round,
    RoundAnswer,
    StoredFile,
    Submission,
    Unit,
    utcnow,
)
from storage.periods import Period


def console_settings(url: str, files: Path | None = None, **console: Any) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": url},
            "files": {"directory": str(files or Path(tempfile.gettempdir()) / "duban-console-test-files")},
            "office_name": "强省会工作机制办公室",
            "groups": [
                {"name": MEMBER_GROUP, "platform": "sandbox"},
                {"name": OFFICE_GROUP, "platform": "sandbox", "office": True},
            ],
            "console": console,
        }
    )


@dataclass
class Office:
    roster: Roster
    periods: list[Period]  # the last six periods, oldest first; the last is the one open now
    item_number: int
    failed_id: int


async def seed_office(db: Database) -> Office:
    """Four units on the roster since a year ago; 省商务厅 reported every month on time (twice in the last
    closed one, to have versions to compare), 省发展改革委 late, the others never; item #1 assigned to
    省商务厅; one failed message in the outbox."""
    roster = await seed(db)
    now = utcnow()
    open_period = POLICY.deadline.open_period(now)
    periods = [open_period]
    while len(periods) < 6:
        periods.append(periods[-1].previous())
    periods.reverse()
    async with db.transaction() as session:
        await session.execute(update(Unit).values(created_at=now - timedelta(days=400)))
        for period in periods[:-1]:
            due = POLICY.deadline.deadline(period)
            session.add(
                Submission(
                    unit_id=roster.commerce.id,
                    period=str(period),
                    version=1,
                    text=f"{period.label}我厅完成三项工作：\n一是外贸稳增长；\n二是招商引资；\n三是口岸建设。",
                    person_id=roster.liaison.id,
                    received_at=due - timedelta(days=3),
                    on_time=True,
                )
            )
            session.add(
                Submission(
                    unit_id=roster.reform.id,
                    period=str(period),
                    version=1,
                    text=f"{period.label}我委工作进展：项目审批提速。",
                    person_id=roster.reform_liaison.id,
                    received_at=due + timedelta(days=2),
                    on_time=False,
                )
            )
        last_closed = periods[-2]
        session.add(
            Submission(
                unit_id=roster.commerce.id,
                period=str(last_closed),
                version=2,
                text=f"{last_closed.label}我厅完成三项工作：\n一是外贸稳增长，出口增长8%；\n二是招商引资；\n"
                "三是口岸建设。\n另有2个项目完成落地。",
                person_id=roster.deputy.id,
                received_at=POLICY.deadline.deadline(last_closed) - timedelta(days=1),
                on_time=True,
            )
        )
        item = Item(
            number=1,
            title="外贸企业用地审批慢",
            description="某园区3家企业用地手续已报送两月未批复。",
            raised_by_id=roster.office.id,
            raised_by_office=True,
            lead_unit_id=roster.commerce.id,
            due=(now + timedelta(days=30)).date(),
            state=ItemState.ASSIGNED,
            assigned_at=now,
        )
        session.add(item)
        failed = OutboxMessage(
            channel="sandbox",
            target=MEMBER_GROUP,
            rate_key=f"group:{MEMBER_GROUP}",
            address={"chat": MEMBER_GROUP},
            message={"body": "请各成员单位于25日前报送工作进展。", "title": "", "mentions": []},
            origin="announce",
            group_id=roster.members.id,
            state=OutboxState.FAILED,
            errcode="93000",
            last_error="机器人 Webhook 地址无效或已删除（93000）：请在群设置中重新添加机器人并更新配置。",
        )
        session.add(failed)
        await session.flush()
        failed_id = failed.id
    return Office(roster=roster, periods=periods, item_number=1, failed_id=failed_id)


async def link_token(db: Database, person: Person, *, now: datetime | None = None) -> str:
    async with db.transaction() as session:
        return await issue_link_token(session, person, now=now or datetime.now(UTC), via="cli")


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found is not None, "the page has no form with a CSRF token"
    return found[1]


async def add_file(db: Database, directory: Path, unit: Unit, period: Period, name: str, data: bytes | None) -> int:
    """A file sent with the unit's latest version of ``period``: stored in the directory store, or (``data`` None)
    lost before it could be fetched."""
    from sqlalchemy import select

    digest = hashlib.sha256(data).hexdigest() if data is not None else None
    if data is not None and digest is not None:
        target = DirectoryStore(directory).path_of(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    async with db.transaction() as session:
        version = await session.scalar(
            select(Submission)
            .where(Submission.unit_id == unit.id, Submission.period == str(period))
            .order_by(Submission.version.desc())
            .limit(1)
        )
        if digest is not None and data is not None and await session.get(Blob, digest) is None:
            session.add(Blob(sha256=digest, size=len(data), backend="directory"))
        row = StoredFile(
            kind="file",
            name=name,
            original_name=name,
            size=len(data) if data is not None else None,
            sha256=digest,
            unit_id=unit.id,
            period=str(period),
            submission_id=version.id if version is not None else None,
            channel="sandbox",
            valid_until=utcnow() + timedelta(days=3),
            state=FileState.STORED if data is not None else FileState.LOST,
            reason="" if data is not None else "平台的文件链接已过期",
        )
        session.add(row)
        await session.flush()
        return row.id


async def seed_rounds(db: Database, office: Office) -> tuple[int, int]:
    """An open round asking every unit for 姓名/职务 — 省商务厅 on time (two versions), 省发展改革委 late and
    unparseable, the others not yet — and a closed one no unit answered."""
    roster = office.roster
    now = datetime.now(UTC)
    async with db.transaction() as session:
        asked = Round(title="重点项目联系人", fields=["姓名", "职务"], deadline=now + timedelta(days=3), code="R2TEST")
        closed = Round(
            title="年度工作要点", deadline=now - timedelta(days=9), state="closed", closed_at=now, code="R3TEST"
        )
        session.add_all([asked, closed])
        await session.flush()
        session.add_all(
            [
                RoundAnswer(
                    round_id=asked.id,
                    unit_id=roster.commerce.id,
                    version=1,
                    text="姓名：张伟",
                    values={"姓名": "张伟"},
                    received_at=now - timedelta(hours=5),
                ),
                RoundAnswer(
                    round_id=asked.id,
                    unit_id=roster.commerce.id,
                    version=2,
                    text="姓名：张伟 职务：处长",
                    values={"姓名": "张伟", "职务": "处长"},
                    received_at=now - timedelta(hours=2),
                ),
                RoundAnswer(
                    round_id=asked.id,
                    unit_id=roster.reform.id,
                    version=1,
                    text="联系人王强同志",
                    parsed=False,
                    late=True,
                    received_at=now - timedelta(hours=1),
                ),
            ]
        )
        return asked.id, closed.id
