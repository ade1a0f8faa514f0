"""``python -m bench.console``: the console's 报送矩阵 for 500 units × 24 months, served and rendered.

Loads ``--units`` units and ``--periods`` months of reports ending with the period open now (about 90 % on
time, 5 % late, 5 % missing) into a fresh SQLite file (and PostgreSQL at 127.0.0.1:5432 with ``--backend
postgres`` or ``both``), serves the application on loopback, signs in by a one-time link, and times
``GET /console/matrix?months=24`` ``--repeat`` times — the query, the statuses and the Jinja2 page of
12,000 linked cells, over HTTP, as a browser asks for it.

Target: median under 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import insert

from bench.standing import postgres_database, sqlite_database
from bot.app import create_app
from bot.config import Settings
from bot.policy import policy_from_settings
from storage.console_auth import issue_link_token
from storage.db import Database
from storage.matrix import months_ending
from storage.models import Person, Role, Submission, Unit
from storage.periods import Period

TARGET_MS = 200.0
CELL = b'class="cell '


async def load(db: Database, settings: Settings, units: int, periods: int, seed: int = 7) -> tuple[int, Person]:
    random.seed(seed)
    policy = policy_from_settings(settings)
    now = datetime.now(UTC)
    months: list[Period] = months_ending(policy.deadline.open_period(now), periods)
    async with db.transaction() as session:
        await session.execute(
            insert(Unit),
            [
                {"name": f"成员单位{n:04d}", "division": "综合处", "created_at": now - timedelta(days=1000)}
                for n in range(units)
            ],
        )
        office = Person(name="段红梅", role=Role.OFFICE, mobile="13900009901")
        session.add(office)
    rows = []
    async with db.sessions() as session:
        unit_ids = list((await session.execute(Unit.__table__.select().with_only_columns(Unit.id))).scalars())
    for unit_id in unit_ids:
        for period in months:
            draw = random.random()
            if draw < 0.05:
                continue
            due = policy.deadline.deadline(period)
            late = draw < 0.10
            rows.append(
                {
                    "unit_id": unit_id,
                    "period": str(period),
                    "version": 1,
                    "text": "本月重点推进三项工作。",
                    "received_at": due + timedelta(days=2) if late else due - timedelta(days=3),
                    "on_time": not late,
                    "attachments": [],
                }
            )
    async with db.transaction() as session:
        for start in range(0, len(rows), 5_000):
            await session.execute(insert(Submission), rows[start : start + 5_000])
    return len(rows), office


async def measure(db: Database, units: int, periods: int, repeat: int) -> list[float]:
    settings = Settings.model_validate({"database": {"url": db.url}})
    started = time.perf_counter()
    count, office = await load(db, settings, units, periods)
    print(f"  loaded {units} units, {count:,} submissions in {time.perf_counter() - started:.1f} s")
    async with db.transaction() as session:
        token = await issue_link_token(session, office, now=datetime.now(UTC), via="cli")
    server = TestServer(create_app(settings, db=db), host="127.0.0.1")
    await server.start_server()
    try:
        async with ClientSession() as client:
            base = str(server.make_url(""))
            signed = await client.post(f"{base}/console/login", data={"token": token}, allow_redirects=False)
            cookie = signed.cookies["duban_console"].value
            headers = {"Cookie": f"duban_console={cookie}"}
            samples = []
            size = 0
            for _ in range(repeat + 2):
                begin = time.perf_counter()
                async with client.get(f"{base}/console/matrix?months={periods}", headers=headers) as response:
                    body = await response.read()
                    assert response.status == 200, response.status
                samples.append((time.perf_counter() - begin) * 1000)
                size = len(body)
            cells = body.count(CELL)
            print(f"  page: {size / 1024:.0f} KiB, {cells:,} cells")
            return samples[2:]  # the first two warm the template cache and the connection pool
    finally:
        await server.close()


def report(backend: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    median = statistics.median(ordered)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    verdict = "met" if median < TARGET_MS else "MISSED"
    return (
        f"{backend}: GET /console/matrix (500 × 24) median {median:6.1f} ms   p90 {p90:6.1f} ms   "
        f"max {max(ordered):6.1f} ms   (target < {TARGET_MS:.0f} ms median: {verdict})"
    )


async def main_async(args: argparse.Namespace) -> int:
    lines = []
    if args.backend in ("sqlite", "both"):
        print("SQLite:")
        async with sqlite_database() as db:
            lines.append(report("SQLite", await measure(db, args.units, args.periods, args.repeat)))
    if args.backend in ("postgres", "both"):
        print("PostgreSQL:")
        try:
            async with postgres_database("127.0.0.1", 5432) as db:
                lines.append(report("PostgreSQL", await measure(db, args.units, args.periods, args.repeat)))
        except OSError:
            print("  no server at 127.0.0.1:5432; skipped")
    print("\n".join(lines))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--periods", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
