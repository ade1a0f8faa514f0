"""``python -m bench.items``: the 督办 ledger with 10,000 items over 500 units.

Loads ``--units`` units (each with an A and a B liaison in the member group) and ``--items`` items spread over
the past year — by default 40 % still open (assigned, in progress or awaiting review, due dates around today so
that every light occurs), the rest closed, stopped or waiting for assignment — each with a timeline of three
to six steps, into a fresh SQLite file and a fresh PostgreSQL database (127.0.0.1:5432, dropped afterwards;
``--backend`` picks one), then times, ``--repeat`` times each:

- listing the open items by standing (``storage.items.by_standing``: the query, the loading and the lights on
  the working calendar, red first);
- composing the weekly briefing (reports, standing, drafts, the items section, the template).

Target: under 100 ms each, judged at the 90th percentile (median, p90 and slowest are printed).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, text

from bench.standing import (
    SHANGHAI,
    SHANGHAI_POLICY,
    Samples,
    on_each_backend,
    percentile,
    summary_line,
    timed,
)
from schedules.context import ScheduleEnv
from schedules.kinds import weekly_briefing
from schedules.settings import ScheduleSettings, with_schedules
from storage import items as ledger
from storage.db import Database
from storage.items import Light
from storage.models import Group, GroupMember, Item, ItemEvent, ItemState, ItemSupport, Person, Role, Unit

TARGET_MS = 100.0
CHUNK = 5_000
NOW = datetime(2026, 11, 23, 9, tzinfo=SHANGHAI)  # a Monday: the briefing's morning


@dataclass(frozen=True)
class Figures:
    backend: str
    items: int
    open_items: int
    lights: dict[Light, int]
    load_seconds: float
    listing: Samples
    briefing: Samples

    def missed(self) -> bool:
        return max(percentile(self.listing.wall_ms, 0.9), percentile(self.briefing.wall_ms, 0.9)) >= TARGET_MS

    def report(self) -> str:
        lights = "、".join(f"{light.label}{self.lights.get(light, 0)}" for light in Light)
        return "\n".join(
            [
                f"{self.backend}: {self.items:,} items ({self.open_items:,} open: {lights}) "
                f"loaded in {self.load_seconds:.1f} s",
                summary_line("list by standing", self.listing),
                summary_line("compose weekly briefing", self.briefing),
            ]
        )


def _state(rng: random.Random, open_share: float) -> ItemState:
    roll = rng.random()
    if roll < open_share:
        return rng.choices([ItemState.ASSIGNED, ItemState.IN_PROGRESS, ItemState.REVIEW], [2, 7, 1])[0]
    return rng.choices([ItemState.CLOSED, ItemState.STOPPED, ItemState.RAISED], [17, 1, 2])[0]


async def load(db: Database, units: int, count: int, open_share: float, seed: int) -> None:
    rng = random.Random(seed)
    today = NOW.date()
    async with db.transaction() as session:
        await session.execute(
            insert(Group),
            [
                {"id": 1, "name": "强省会工作机制群", "platform": "sandbox", "is_office": False},
                {"id": 2, "name": "工作机制办公室", "platform": "sandbox", "is_office": True},
            ],
        )
        await session.execute(insert(Unit), [{"id": n, "name": f"成员单位{n:04d}"} for n in range(1, units + 1)])
        people = [{"id": 1, "name": "办公室", "role": Role.OFFICE, "unit_id": None}]
        for n in range(1, units + 1):
            people.append({"id": 2 * n, "name": f"联络员{n}", "role": Role.A, "unit_id": n})
            people.append({"id": 2 * n + 1, "name": f"副联络员{n}", "role": Role.B, "unit_id": n})
        await session.execute(insert(Person), people)
        members = [{"group_id": 1, "person_id": p["id"]} for p in people[1:]] + [{"group_id": 2, "person_id": 1}]
        await session.execute(insert(GroupMember), members)
    items, supports, events = [], [], []
    for number in range(1, count + 1):
        state = _state(rng, open_share)
        unit = rng.randint(1, units)
        created = (
            NOW - timedelta(days=rng.uniform(1, 365)) if not state.is_open else NOW - timedelta(days=rng.uniform(1, 60))
        )
        assigned = created + timedelta(hours=rng.uniform(2, 72)) if state is not ItemState.RAISED else None
        due: date | None = None
        if assigned is not None:
            due = today + timedelta(days=rng.randint(-20, 40)) if state.is_open else assigned.date() + timedelta(30)
        signed = (
            assigned + timedelta(hours=rng.uniform(1, 48)) if assigned and state is not ItemState.ASSIGNED else None
        )
        closed = (signed or created) + timedelta(days=rng.uniform(3, 40)) if not state.is_open and signed else None
        items.append(
            {
                "id": number,
                "number": number,
                "title": f"事项{number}：企业反映的问题",
                "description": "园区企业反映用地、用能、融资等方面的问题，需协调有关部门研究解决。",
                "raised_by_id": 2 * rng.randint(1, units),
                "raised_by_office": False,
                "lead_unit_id": unit if assigned else None,
                "due": due,
                "state": state,
                "assigned_at": assigned,
                "signed_at": signed,
                "closed_at": closed,
                "created_at": created,
            }
        )
        if assigned is not None:
            for other in {rng.randint(1, units) for _ in range(rng.randint(0, 2))} - {unit}:
                supports.append({"item_id": number, "unit_id": other})
        steps = [("raise", created), ("assign", assigned), ("sign", signed), ("close", closed)]
        for action, at in steps:
            if at is not None:
                events.append({"item_id": number, "at": at, "actor": "联络员", "action": action, "text": ""})
    for table, rows in ((Item, items), (ItemSupport, supports), (ItemEvent, events)):
        for start in range(0, len(rows), CHUNK):
            async with db.transaction() as session:
                await session.execute(insert(table), rows[start : start + CHUNK])
    async with db.engine.begin() as connection:
        await connection.execute(text("ANALYZE"))


async def measure(db: Database, backend: str, args: argparse.Namespace) -> Figures:
    started = time.perf_counter()
    await load(db, args.units, args.items, args.open_share, seed=2026)
    load_seconds = time.perf_counter() - started
    env = ScheduleEnv.of(with_schedules(SHANGHAI_POLICY, ScheduleSettings()))
    now = NOW.astimezone(UTC)
    async with db.sessions() as session:
        standing = await ledger.by_standing(session, env.calendar, now, SHANGHAI)
        open_count = len(await ledger.open_items(session))
    lights = {light: sum(1 for s in standing if s.light is light) for light in Light}

    async def listing() -> object:
        async with db.sessions() as session:
            found = await ledger.by_standing(session, env.calendar, now, SHANGHAI)
            assert found and found[0].light is Light.RED
            return found

    async def briefing() -> object:
        async with db.sessions() as session:
            composition = await weekly_briefing.compose(session, env, now, late=False, now=now)
            assert composition.deliveries and "【红灯】" in composition.deliveries[0].message.body
            return composition

    return Figures(
        backend,
        args.items,
        open_count,
        lights,
        load_seconds,
        await timed(args.repeat, listing),
        await timed(args.repeat, briefing),
    )


async def run(args: argparse.Namespace) -> int:
    print(f"{args.items:,} items over {args.units:,} units, {args.open_share:.0%} open, {args.repeat} runs each")
    failed = await on_each_backend(args, lambda db, name: measure(db, name, args))
    return 1 if failed and args.strict else 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.items", description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--open-share", type=float, default=0.4, help="share of items still open (0–1)")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a run misses the target")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
