"""``python -m bench.standing``: a period's standing and the monthly circular with 5,000 units × 24 periods.

Loads a roster of ``--units`` units (each with an A and a B liaison) and ``--periods`` months of reports
(about 90 % on time, 5 % late, 5 % missing; one report in five corrected by a second version) into a fresh
SQLite file and a fresh PostgreSQL database (127.0.0.1:5432, dropped afterwards; ``--backend`` picks one),
then times, ``--repeat`` times each:

- ``period_standing`` for a period in the middle of the range (the query every circular, briefing, 统计
  and overdue notice makes);
- composing the monthly circular that reports on that period (standing, drafts, target groups, template).

Target: under 100 ms each. The figures printed are the median, the 90th percentile (judged against the
target: a shared machine has outliers that say nothing about the query) and the slowest run.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text

from bench.databases import empty_postgres, migrated, sqlite_file
from schedules.context import ScheduleEnv
from schedules.kinds import monthly_circular
from schedules.settings import ScheduleSettings, with_schedules
from storage.db import Database
from storage.models import Group, Person, Role, Submission, Unit
from storage.periods import DeadlineRule, Period
from storage.policy import Policy
from storage.standing import period_standing

SHANGHAI = ZoneInfo("Asia/Shanghai")
SHANGHAI_POLICY = Policy(tz=SHANGHAI, office_name="强省会工作机制办公室", deadline=DeadlineRule(tz=SHANGHAI))
TARGET_MS = 100.0
CHUNK = 5_000


def summary_line(name: str, samples: Samples) -> str:
    """One timed measure: median, p90, worst and CPU time, against the 100 ms target at p90."""
    wall = samples.wall_ms
    median, p90, worst = statistics.median(wall), percentile(wall, 0.9), max(wall)
    verdict = "met" if p90 < TARGET_MS else "MISSED"
    cpu = statistics.median(samples.cpu_ms)
    return (
        f"  {name:<26} median {median:6.1f} ms   p90 {p90:6.1f} ms   max {worst:6.1f} ms"
        f"   cpu median {cpu:6.1f} ms   (target < {TARGET_MS:.0f} ms at p90: {verdict})"
    )


@dataclass(frozen=True)
class Figures:
    backend: str
    rows: int
    load_seconds: float
    standing: Samples
    circular: Samples

    def missed(self) -> bool:
        return max(percentile(self.standing.wall_ms, 0.9), percentile(self.circular.wall_ms, 0.9)) >= TARGET_MS

    def report(self) -> str:
        return "\n".join(
            [
                f"{self.backend}: {self.rows:,} submissions loaded in {self.load_seconds:.1f} s",
                summary_line("period_standing", self.standing),
                summary_line("compose monthly circular", self.circular),
            ]
        )


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def periods(count: int, last: Period) -> list[Period]:
    found = [last]
    while len(found) < count:
        found.append(found[-1].previous())
    return list(reversed(found))


async def load(db: Database, units: int, months: list[Period], seed: int) -> int:
    """The roster and every period's reports, inserted in bulk; returns the number of submissions."""
    rng = random.Random(seed)
    deadline = SHANGHAI_POLICY.deadline
    async with db.transaction() as session:
        await session.execute(
            insert(Group),
            [
                {"name": "强省会工作机制群", "platform": "sandbox", "is_office": False},
                {"name": "工作机制办公室", "platform": "sandbox", "is_office": True},
            ],
        )
        await session.execute(
            insert(Unit), [{"id": n, "name": f"成员单位{n:05d}", "division": "综合处"} for n in range(1, units + 1)]
        )
        people = []
        for n in range(1, units + 1):
            people.append({"name": f"联络员{n}", "role": Role.A, "unit_id": n, "mobile": f"13{n:09d}"})
            people.append({"name": f"副联络员{n}", "role": Role.B, "unit_id": n})
        await session.execute(insert(Person), people)
    rows = []
    for period in months:
        due = deadline.deadline(period)
        for unit in range(1, units + 1):
            roll = rng.random()
            if roll < 0.05:
                continue  # missing
            first = (
                due - timedelta(days=rng.uniform(0.1, 20)) if roll < 0.95 else due + timedelta(days=rng.uniform(0.1, 5))
            )
            versions = 2 if rng.random() < 0.2 else 1
            for version in range(1, versions + 1):
                received = first + timedelta(hours=(version - 1) * rng.uniform(1, 48))
                rows.append(
                    {
                        "unit_id": unit,
                        "period": str(period),
                        "version": version,
                        "text": "一、重点工作推进情况……二、存在问题……三、下一步工作计划……",
                        "received_at": received,
                        "on_time": received <= due,
                    }
                )
    for start in range(0, len(rows), CHUNK):
        async with db.transaction() as session:
            await session.execute(insert(Submission), rows[start : start + CHUNK])
    async with db.engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    return len(rows)


@dataclass(frozen=True)
class Samples:
    wall_ms: list[float]
    cpu_ms: list[float]  # this process only (PostgreSQL's own work is not in it): steadier on a busy machine


async def timed(repeat: int, action: Callable[[], Awaitable[object]]) -> Samples:
    await action()  # warm the connection pool and the statement caches
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        await action()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return Samples(wall, cpu)


async def measure(db: Database, backend: str, units: int, months: list[Period], repeat: int) -> Figures:
    started = time.perf_counter()
    count = await load(db, units, months, seed=2026)
    load_seconds = time.perf_counter() - started
    period = months[len(months) // 2]
    circular_at = datetime.combine(period.next().next().first_day, datetime.min.time(), tzinfo=UTC)
    env = ScheduleEnv.of(with_schedules(SHANGHAI_POLICY, ScheduleSettings()))

    async def standing() -> object:
        async with db.sessions() as session:
            result = await period_standing(session, period)
            assert len(result.units) == units
            return result

    async def circular() -> object:
        async with db.sessions() as session:
            composition = await monthly_circular.compose(session, env, circular_at, late=False, now=circular_at)
            assert composition.deliveries
            return composition

    return Figures(backend, count, load_seconds, await timed(repeat, standing), await timed(repeat, circular))


@asynccontextmanager
async def sqlite_database() -> AsyncIterator[Database]:
    async with sqlite_file() as url, migrated(url) as db:
        yield db


@asynccontextmanager
async def postgres_database(host: str, port: int) -> AsyncIterator[Database]:
    async with empty_postgres(host, port) as url, migrated(url) as db:
        yield db


class Reported(Protocol):
    """What a bench's measure returns: its report, and whether it missed its target."""

    def report(self) -> str: ...

    def missed(self) -> bool: ...


async def on_each_backend(args: argparse.Namespace, measure: Callable[[Database, str], Awaitable[Reported]]) -> bool:
    """Measure on SQLite and on PostgreSQL as ``--backend`` asks (PostgreSQL skipped, said so, when unreachable) and
    print each report; whether any run missed its target."""
    failed = False
    if args.backend in ("sqlite", "both"):
        async with sqlite_database() as db:
            figures = await measure(db, "SQLite")
        print(figures.report())
        failed |= figures.missed()
    if args.backend in ("postgres", "both"):
        try:
            async with postgres_database(args.pg_host, args.pg_port) as db:
                figures = await measure(db, "PostgreSQL")
        except OSError as exc:
            print(f"PostgreSQL at {args.pg_host}:{args.pg_port} unreachable ({exc}); skipped", file=sys.stderr)
        else:
            print(figures.report())
            failed |= figures.missed()
    return failed


async def run(args: argparse.Namespace) -> int:
    months = periods(args.periods, Period(2026, 10))
    print(f"{args.units:,} units × {len(months)} periods ({months[0]} … {months[-1]}), {args.repeat} runs each")
    failed = await on_each_backend(args, lambda db, name: measure(db, name, args.units, months, args.repeat))
    return 1 if failed and args.strict else 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.standing", description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=5_000)
    parser.add_argument("--periods", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a run misses the target")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
