"""The 半年评估报告 for 500 units × 6 months: time and peak memory (targets: under 5 s, under 300 MB).

``python -m bench.documents [--units 500] [--runs 3]``: loads 500 units, six months of reports (about one in
five late or missing, some corrected) and 2,000 督办 items into a fresh SQLite database, then builds the evaluation
(2026H2, the same call as ``duban doc evaluation``) in a fresh process each run, which reports its wall time and
its peak resident memory (``ru_maxrss``: the interpreter and its imports included). The CPU time is printed
too: on a shared machine the wall time grows with the load, the CPU time does not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from storage import migrate
from storage.db import Database
from storage.models import Item, ItemState, Person, Role, Submission, Unit
from storage.periods import DeadlineRule, Period
from storage.policy import Policy

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2027, 1, 27, 10, tzinfo=TZ).astimezone(UTC)  # after every H2 deadline
PERIODS = [Period(2026, month) for month in range(7, 13)]
TEXT = (
    "{month}月工作进展：牵头推进重点项目{n}个，完成投资{m}亿元，协调解决企业反映问题{k}项。"
    "一是召开专题协调会；二是开展实地督导；三是建立问题清单。\n下一步将继续抓好项目落地和要素保障。"
)


async def load(url: str, units: int, seed: int) -> None:
    rng = random.Random(seed)
    rule = DeadlineRule(tz=TZ)
    db = Database(url)
    try:
        async with db.transaction() as session:
            await session.execute(
                insert(Unit), [{"id": n, "name": f"成员单位{n:03d}", "division": "综合处"} for n in range(1, units + 1)]
            )
            await session.execute(insert(Person), [{"id": 1, "name": "办公室", "role": Role.OFFICE}])
            rows = []
            for period in PERIODS:
                due = rule.deadline(period)
                for unit in range(1, units + 1):
                    roll = rng.random()
                    if roll < 0.08:
                        continue
                    first = due - timedelta(days=rng.uniform(1, 20)) if roll < 0.85 else due + timedelta(days=2)
                    text = TEXT.format(
                        month=period.month, n=rng.randint(2, 9), m=rng.randint(1, 30), k=rng.randint(1, 9)
                    )
                    for version in range(1, 2 + (rng.random() < 0.2)):
                        rows.append(
                            {
                                "unit_id": unit,
                                "period": str(period),
                                "version": version,
                                "text": text,
                                "attachments": [],
                                "received_at": first + timedelta(days=version - 1),
                                "on_time": rule.is_on_time(period, first),
                            }
                        )
            await session.execute(insert(Submission), rows)
            items = []
            for number in range(1, 2001):
                created = datetime(2026, 7, 1, tzinfo=TZ) + timedelta(days=rng.uniform(0, 200))
                state = rng.choices([ItemState.IN_PROGRESS, ItemState.CLOSED, ItemState.RAISED], [4, 5, 1])[0]
                assigned = created + timedelta(days=1) if state is not ItemState.RAISED else None
                items.append(
                    {
                        "number": number,
                        "title": f"事项{number}：企业反映的用地问题",
                        "raised_by_id": 1,
                        "lead_unit_id": rng.randint(1, units) if assigned else None,
                        "due": (created + timedelta(days=rng.randint(10, 60))).date() if assigned else None,
                        "state": state,
                        "assigned_at": assigned,
                        "closed_at": created + timedelta(days=rng.uniform(5, 40))
                        if state is ItemState.CLOSED
                        else None,
                        "created_at": created,
                    }
                )
            await session.execute(insert(Item), items)
    finally:
        await db.close()


async def build_once(url: str) -> dict[str, float]:
    """Build the evaluation once (in this process) and report seconds and peak memory."""
    from schedules.documents import service
    from schedules.documents.service import DocumentRequest, Kind

    policy = Policy(tz=TZ, office_name="强省会工作机制办公室", deadline=DeadlineRule(tz=TZ))
    request = DocumentRequest(Kind.EVALUATION, service.parse_span(Kind.EVALUATION, "2026H2"), date(2027, 1, 27))
    db = Database(url)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        async with db.sessions() as session:
            built = await service.build_document(session, policy, request, NOW)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await db.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "cpu": cpu, "peak_mb": peak_mb, "kb": len(built.content) / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--build", help=argparse.SUPPRESS)  # the child: build once from this database URL
    args = parser.parse_args()
    if args.build:
        print(json.dumps(asyncio.run(build_once(args.build))))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        migrate.upgrade(url)
        asyncio.run(load(url, args.units, args.seed))
        samples = []
        for _ in range(args.runs):
            child = subprocess.run(
                [sys.executable, "-m", "bench.documents", "--build", url], check=True, capture_output=True, text=True
            )
            samples.append(json.loads(child.stdout.strip().splitlines()[-1]))
    seconds = [s["seconds"] for s in samples]
    cpu = [s["cpu"] for s in samples]
    peaks = [s["peak_mb"] for s in samples]
    print(
        f"半年评估报告，{args.units} 个单位 × 6 个月（SQLite，{args.runs} 次，每次新进程）："
        f"用时中位数 {statistics.median(seconds):.2f} s（最长 {max(seconds):.2f} s，目标 < 5 s；"
        f"其中 CPU {statistics.median(cpu):.2f} s，与机器负载无关）；"
        f"峰值内存 {max(peaks):.0f} MB（目标 < 300 MB）；文件 {samples[0]['kb']:.0f} KB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
