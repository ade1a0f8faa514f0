"""``python -m bench.handling``: liaison reports handled per second by the inbox worker.

A fresh SQLite file and a fresh PostgreSQL database (127.0.0.1:5432, dropped afterwards; ``--backend`` picks
one) get a roster of ``--units`` member units (an A and a B liaison each, WeCom accounts) and ``--reports``
reports already in the inbox, as a burst of callbacks leaves them: several liaisons of several units, some
units reporting more than once, in the order they arrived. The clock then runs while the inbox worker's own
:func:`~bot.inbox_worker.drain` handles them all, as ``duban serve`` does after a burst.

Afterwards the bench checks what handling must leave, so that speed cannot come from skipping work: every
row ``done``; one submission per message with versions 1, 2, … in arrival order within each unit and period;
one confirmation per message in the outbox (``dedupe_key`` unique); one audit record (``报送``) per message;
nothing failed.

Targets: ≥ 1,000 reports/s on SQLite, ≥ 600/s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from bench.databases import empty_postgres, sqlite_file
from bot.config import Settings
from bot.context import AppContext
from bot.inbox_worker import drain
from handlers.reports import REPORT_ACTION
from storage import migrate
from storage.db import Database
from storage.inbox import InboundMessage, ReplyRoute, store_inbound_many
from storage.models import AuditEntry, InboxMessage, InboxState, OutboxMessage, Person, Role, Submission, Unit

TARGETS = {"sqlite": 1000.0, "postgres": 600.0}
REPORT = "一、本月重点工作推进情况：第{n}项重点项目按计划推进。二、存在问题：暂无。三、下一步工作计划：继续推进。"


@dataclass(frozen=True)
class Result:
    backend: str
    reports: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.reports / self.seconds

    def line(self) -> str:
        target = TARGETS[self.backend]
        verdict = "met" if self.rate >= target else "MISSED"
        return (
            f"  {self.backend:<9} {self.reports:>6} reports in {self.seconds:6.2f} s = {self.rate:7.0f} reports/s "
            f"(CPU {self.cpu_seconds:5.2f} s in this process; target ≥ {target:.0f}/s: {verdict})"
        )


def message(n: int, units: int, received: datetime) -> InboundMessage:
    unit = n % units + 1
    liaison = f"liaison-a-{unit}" if n % 3 else f"liaison-b-{unit}"
    message_id = f"bench-{n}"
    return InboundMessage(
        platform="wecom",
        channel="wecom_bot",
        message_id=message_id,
        sender_id=liaison,
        text=REPORT.format(n=n),
        chat_id=f"wrchat{unit % 20}",
        chat_type="group",
        reply=ReplyRoute(
            channel="wecom_response_url",
            target=f"wrchat{unit % 20}",
            rate_key=f"wecom_response_url:{message_id}",
            address={"url": f"http://127.0.0.1:9/cgi-bin/aibot/response?response_code={message_id}"},
        ),
        sent_at=received,
    )


async def load(db: Database, units: int, reports: int) -> None:
    async with db.transaction() as session:
        await session.execute(
            insert(Unit), [{"id": n, "name": f"成员单位{n:05d}", "division": "综合处"} for n in range(1, units + 1)]
        )
        people = []
        for n in range(1, units + 1):
            people.append({"name": f"联络员{n}", "role": Role.A, "unit_id": n, "wecom_userid": f"liaison-a-{n}"})
            people.append({"name": f"副联络员{n}", "role": Role.B, "unit_id": n, "wecom_userid": f"liaison-b-{n}"})
        await session.execute(insert(Person), people)
    received = datetime.now(UTC) - timedelta(minutes=5)
    batch = 500
    for start in range(0, reports, batch):
        async with db.transaction() as session:
            chunk = [message(n, units, received) for n in range(start, min(start + batch, reports))]
            await store_inbound_many(session, chunk)


async def check(db: Database, reports: int) -> None:
    """What handling must leave behind; a shortfall stops the bench rather than printing a figure."""
    async with db.sessions() as session:
        states = dict(
            (await session.execute(select(InboxMessage.state, func.count()).group_by(InboxMessage.state))).all()
        )
        submissions = (
            await session.execute(
                select(Submission.unit_id, Submission.period, Submission.version, Submission.inbox_id).order_by(
                    Submission.unit_id, Submission.period, Submission.version
                )
            )
        ).all()
        confirmations = await session.scalar(
            select(func.count(func.distinct(OutboxMessage.inbox_id))).where(OutboxMessage.inbox_id.is_not(None))
        )
        outbox_rows = await session.scalar(select(func.count(OutboxMessage.id)))
        audited = await session.scalar(
            select(func.count(func.distinct(AuditEntry.inbox_id))).where(
                AuditEntry.action == REPORT_ACTION, AuditEntry.outcome.in_(["ok", "late"])
            )
        )
        audit_rows = await session.scalar(select(func.count(AuditEntry.id)))
    problems = []
    if states != {InboxState.DONE: reports}:
        problems.append(f"inbox states {states}")
    if len(submissions) != reports:
        problems.append(f"{len(submissions)} submissions for {reports} reports")
    by_unit: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    for unit_id, period, version, inbox_id in submissions:
        by_unit[(unit_id, period)].append((version, inbox_id))
    for key, rows in by_unit.items():
        if [version for version, _ in rows] != list(range(1, len(rows) + 1)):
            problems.append(f"unit {key}: versions {[v for v, _ in rows]}")
        if [inbox_id for _, inbox_id in rows] != sorted(inbox_id for _, inbox_id in rows):
            problems.append(f"unit {key}: versions out of arrival order {rows}")
    if confirmations != reports or outbox_rows != reports:
        problems.append(f"{outbox_rows} outbox rows confirming {confirmations} of {reports} reports")
    if audited != reports or audit_rows != reports:
        problems.append(f"{audit_rows} audit records naming {audited} of {reports} reports")
    if problems:
        raise SystemExit("handling left the wrong state: " + "; ".join(problems[:5]))


async def run_backend(backend: str, url: str, args: argparse.Namespace) -> Result:
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    try:
        await load(db, args.units, args.reports)
        settings = Settings(database={"url": url})
        ctx = AppContext(settings=settings, db=db, instance_id="bench")
        # A running service has loaded its handlers before the burst: their import is not part of the figure.
        for module in ("handlers.dispatch", "handlers.report_batch"):
            importlib.import_module(module)

        cpu, start = time.process_time(), time.perf_counter()
        settled = await drain(ctx)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        if settled != args.reports:
            raise SystemExit(f"{backend}: drain settled {settled} of {args.reports}")
        await check(db, args.reports)
        return Result(backend, args.reports, seconds, cpu_seconds)
    finally:
        await db.close()


def database(backend: str) -> AbstractAsyncContextManager[str]:
    return sqlite_file("duban-bench-handling-") if backend == "sqlite" else empty_postgres()


async def main_async(args: argparse.Namespace) -> int:
    results = []
    for backend in args.backends:
        async with database(backend) as url:
            results.append(await run_backend(backend, url, args))
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"inbox worker handling {args.reports} liaison reports from {args.units} units (load average {load};")
    print("shared machine: compare runs of the same moment). Every row done, one version each, in order,")
    print("confirmed and audited:")
    for result in results:
        print(result.line())
    return 0 if all(result.rate >= TARGETS[result.backend] for result in results) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.handling", description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=3000, help="reports in the inbox (3000)")
    parser.add_argument("--units", type=int, default=200, help="member units (200)")
    parser.add_argument(
        "--backends",
        type=lambda value: [b for b in value.split(",") if b],
        default=["sqlite", "postgres"],
        help="comma-separated: sqlite,postgres",
    )
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
