"""``python -m bench.rounds``: a collection's standing (``统计 #N``, reminders, export) over 5,000 units.

Loads ``--units`` units (each with an A and a B liaison, all in one group) and ``--rounds`` collections with three
named fields, each answered by about 90 % of the units (one in five answers corrected by a second version), into
a fresh SQLite file and a fresh PostgreSQL database (``--backend`` picks one), then times ``round_standing`` of
one round ``--repeat`` times, for a round asking every unit and for one asking the units of a group.
Target: under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from bench.standing import CHUNK, Samples, on_each_backend, percentile, summary_line, timed
from storage.db import Database
from storage.models import Group, GroupMember, Person, Role, Round, RoundAnswer, Unit
from storage.rounds import round_standing

TARGET_MS = 100.0
DEADLINE = datetime(2026, 12, 10, 10, tzinfo=UTC)
FIELDS = ["姓名", "职务", "手机"]


async def load(db: Database, units: int, rounds: int, seed: int) -> int:
    rng = random.Random(seed)
    async with db.transaction() as session:
        await session.execute(insert(Group), [{"id": 1, "name": "强省会工作机制群", "platform": "sandbox"}])
        await session.execute(insert(Unit), [{"id": n, "name": f"成员单位{n:05d}"} for n in range(1, units + 1)])
        people = []
        for n in range(1, units + 1):
            people.append({"id": 2 * n - 1, "name": f"联络员{n}", "role": Role.A, "unit_id": n})
            people.append({"id": 2 * n, "name": f"副联络员{n}", "role": Role.B, "unit_id": n})
        await session.execute(insert(Person), people)
        await session.execute(insert(GroupMember), [{"group_id": 1, "person_id": p["id"]} for p in people])
        await session.execute(
            insert(Round),
            [
                {
                    "id": r,
                    "title": f"征集{r}",
                    "fields": FIELDS,
                    "group": "强省会工作机制群" if r % 2 == 0 else "",
                    "deadline": DEADLINE,
                    "code": f"C{r:04d}",
                }
                for r in range(1, rounds + 1)
            ],
        )
    rows = []
    for r in range(1, rounds + 1):
        for unit in range(1, units + 1):
            if rng.random() < 0.1:
                continue
            for version in range(1, (3 if rng.random() < 0.2 else 2)):
                received = DEADLINE - timedelta(days=rng.uniform(-2, 10))
                rows.append(
                    {
                        "round_id": r,
                        "unit_id": unit,
                        "version": version,
                        "text": "姓名：张三 职务：处长 手机：13900000000",
                        "values": {"姓名": "张三", "职务": "处长", "手机": "13900000000"},
                        "received_at": received,
                        "late": received > DEADLINE,
                    }
                )
    for start in range(0, len(rows), CHUNK):
        async with db.transaction() as session:
            await session.execute(insert(RoundAnswer), rows[start : start + CHUNK])
    async with db.engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    return len(rows)


@dataclass(frozen=True)
class Figures:
    backend: str
    rows: int
    every_unit: Samples
    one_group: Samples

    def missed(self) -> bool:
        return max(percentile(self.every_unit.wall_ms, 0.9), percentile(self.one_group.wall_ms, 0.9)) >= TARGET_MS

    def report(self) -> str:
        return "\n".join(
            [
                f"{self.backend}: {self.rows:,} answers loaded",
                summary_line("round_standing (all units)", self.every_unit),
                summary_line("round_standing (a group)", self.one_group),
            ]
        )


async def measure(db: Database, backend: str, units: int, rounds: int, repeat: int) -> Figures:
    count = await load(db, units, rounds, seed=2026)

    def standing(number: int) -> object:
        async def action() -> object:
            async with db.sessions() as session:
                round_ = await session.get(Round, number)
                assert round_ is not None
                result = await round_standing(session, round_)
                assert len(result.units) == units
                return result

        return action

    return Figures(
        backend, count, await timed(repeat, standing(rounds // 2 + 1)), await timed(repeat, standing(rounds // 2))
    )


async def run(args: argparse.Namespace) -> int:
    print(f"{args.units:,} units × {args.rounds} collections, {args.repeat} runs each")
    started = time.perf_counter()
    failed = await on_each_backend(args, lambda db, name: measure(db, name, args.units, args.rounds, args.repeat))
    print(f"total {time.perf_counter() - started:.1f} s")
    return 1 if failed and args.strict else 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rounds", description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a run misses the target")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
