"""``python -m bench.broadcast``: one announcement to 2,000 groups, and 200 messages queued for one robot.

Runs the real dispatcher (claim → send → settle, the database's send log as rate limiter) against the fake
WeCom server answering after ``--latency`` seconds, on SQLite (default, a temporary file) or PostgreSQL
(``--pg``: a temporary database on 127.0.0.1:5432, dropped afterwards; or ``--database-url``). For the
broadcast the fake runs in a process of its own (``python -m tests.fakes``), as a real platform would
(``--fake-in-process`` shares the event loop instead); the pacing run needs the fake's clock in this process.

Broadcast: the floor is what latency and concurrency allow, ``ceil(groups / concurrency) × latency``; the
report gives the time to all delivered, deliveries per second and how close to the floor that is. With
``--instances N`` (PostgreSQL) the announcement is queued for N running ``duban serve`` processes instead, whose
dispatchers share it (``FOR UPDATE SKIP LOCKED``): the floor divides by N, and the report says how many rows each
instance sent.

Pacing: 200 messages for one robot cannot go faster than 20 a minute; the clock is simulated
(``time_machine``) so the ten minutes pass at once, and the report shows each minute's sends and that the
platform refused nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import time_machine
from sqlalchemy import func, select

from bench.databases import empty_postgres, migrated, sqlite_file
from bench.inbound import HOST, free_port, process
from bot.config import GroupConfig, Settings, WecomConfig
from bot.context import AppContext
from bot.outbound.dispatcher import DispatchOptions, Pump, http_session
from storage import migrate
from storage.db import Database
from storage.models import Group, OutboxMessage, OutboxState
from storage.outbound import OutboundMessage, enqueue_to_group
from storage.sync import sync_groups
from tests.fakes import FakePlatforms

REPO = Path(__file__).resolve().parent.parent
ANNOUNCEMENT = OutboundMessage(
    title="关于报送2026年11月工作进展的通知",
    body=(
        "各成员单位：\n请于12月25日前报送11月工作进展和重点项目推进情况。\n"
        "- 报送方式：在本群 @督办 发送\n- 联系人：办公室"
    ),
)


@asynccontextmanager
async def database(args: argparse.Namespace) -> AsyncIterator[Database]:
    """A fresh, migrated database for one run (temporary unless ``--database-url`` names one)."""
    if args.database_url:
        migrate.upgrade(args.database_url)
        db = Database(args.database_url)
        try:
            yield db
        finally:
            await db.close()
        return
    async with empty_postgres() if args.pg else sqlite_file() as url, migrated(url) as db:
        yield db


@dataclass(frozen=True)
class BroadcastResult:
    groups: int
    enqueue_seconds: float
    seconds: float
    delivered: int
    refused: int
    floor_seconds: float
    dispatchers: int = 1
    shares: tuple[int, ...] = ()  # rows each instance sent (several instances)

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds

    def report(self, options: DispatchOptions, latency: float) -> str:
        floor_rate = options.concurrency * self.dispatchers / latency
        by = f"，{self.dispatchers} 个实例各自发送 {' / '.join(map(str, self.shares))} 条" if self.shares else ""
        divisor = f"（并发 × {self.dispatchers}）" if self.dispatchers > 1 else "并发"
        return "\n".join(
            [
                f"广播：{self.groups} 个群，平台答复延迟 {latency * 1000:.0f} ms，"
                f"每个实例并发 {options.concurrency}{by}",
                f"  入队（一个事务）：{self.enqueue_seconds:.2f} s",
                f"  全部送达用时：{self.seconds:.2f} s，{self.rate:.0f} 条/秒；"
                f"送达 {self.delivered}，平台拒绝 {self.refused}",
                f"  下限（延迟 × ⌈群数/{divisor}⌉）：{self.floor_seconds:.2f} s，即 {floor_rate:.0f} 条/秒；"
                f"达到下限的 {self.floor_seconds / self.seconds:.0%}",
            ]
        )


@asynccontextmanager
async def fake_process(latency: float) -> AsyncIterator[str]:
    """``python -m tests.fakes`` on a free port; yields its base URL."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes",
        "--port",
        "0",
        "--latency",
        str(latency),
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert child.stdout is not None
        first = (await child.stdout.readline()).decode()
        match = re.search(r"http://[\d.]+:\d+", first)
        if match is None:
            raise RuntimeError(f"the fake platforms did not start: {first!r}")
        yield match[0]
    finally:
        child.terminate()
        await child.wait()


async def fake_summary(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/_fake/stats") as response:
        summary: dict[str, dict[str, Any]] = await response.json()
        return summary["wecom"]


async def broadcast(db: Database, url: str, groups: int, options: DispatchOptions, latency: float) -> BroadcastResult:
    tag = secrets.token_hex(3)  # fresh robot keys, should the fake serve several runs
    configs = [
        GroupConfig(name=f"成员单位群{n:04d}", platform="wecom", webhook=f"{url}/cgi-bin/webhook/send?key={tag}{n}")
        for n in range(groups)
    ]
    settings = Settings(wecom=WecomConfig(api_base=url), groups=configs)
    await sync_groups(db, settings.groups)
    ctx = AppContext(settings=settings, db=db)
    before = await fake_summary(url)
    started = time.perf_counter()
    async with db.transaction() as session:
        for group in (await session.scalars(select(Group).order_by(Group.id))).all():
            enqueue_to_group(session, group, ANNOUNCEMENT, origin="announcement")
    enqueued = time.perf_counter()
    async with http_session(options) as http:
        await Pump(ctx, http, options).run_until_idle()
    finished = time.perf_counter()
    async with db.sessions() as session:
        sent = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == OutboxState.SENT)
        )
    after = await fake_summary(url)
    delivered = after["delivered"] - before["delivered"]
    if not (sent == groups == delivered and after["most_to_one_target"] == 1):
        raise RuntimeError(f"not every group got the announcement exactly once: {sent=}, {delivered=}, {after=}")
    return BroadcastResult(
        groups=groups,
        enqueue_seconds=enqueued - started,
        seconds=finished - enqueued,
        delivered=delivered,
        refused=sum(after["errcodes"].values()) - sum(before["errcodes"].values()),
        floor_seconds=math.ceil(groups / options.concurrency) * latency,
    )


def service_config(url: str, port: int, fake_url: str, groups: list[GroupConfig], concurrency: int) -> str:
    lines = [
        f'[database]\nurl = "{url}"',
        f'[server]\nhost = "{HOST}"\nport = {port}',
        f'[wecom]\napi_base = "{fake_url}"',
        f"[outbound]\nconcurrency = {concurrency}",
        "[sandbox]\nenabled = false",
    ]
    lines += [f'[[groups]]\nname = "{g.name}"\nplatform = "wecom"\nwebhook = "{g.webhook}"' for g in groups]
    return "\n".join(lines) + "\n"


async def broadcast_by_services(
    db: Database, url: str, groups: int, options: DispatchOptions, latency: float, instances: int
) -> BroadcastResult:
    """The announcement queued for ``instances`` running ``duban serve`` processes, which share its sending."""
    tag = secrets.token_hex(3)
    configs = [
        GroupConfig(name=f"成员单位群{n:04d}", platform="wecom", webhook=f"{url}/cgi-bin/webhook/send?key={tag}{n}")
        for n in range(groups)
    ]
    async with AsyncExitStack() as running:
        workdir = Path(running.enter_context(tempfile.TemporaryDirectory(prefix="duban-broadcast-")))
        for n in range(instances):
            port = free_port()
            folder = workdir / f"duban{n + 1}"
            folder.mkdir()
            config = folder / "duban.toml"
            config.write_text(service_config(db.url, port, url, configs, options.concurrency), encoding="utf-8")
            serve = [sys.executable, "-m", "bot", "--config", str(config), "serve"]
            await running.enter_async_context(process(serve, f"http://{HOST}:{port}/healthz", cwd=REPO))
        before = await fake_summary(url)
        started = time.perf_counter()
        async with db.transaction() as session:
            for group in (await session.scalars(select(Group).order_by(Group.id))).all():
                enqueue_to_group(session, group, ANNOUNCEMENT, origin="announcement")
        enqueued = time.perf_counter()
        sent = 0
        while sent < groups and time.perf_counter() - enqueued < 600:
            await asyncio.sleep(0.02)
            async with db.sessions() as session:
                sent = (
                    await session.scalar(
                        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == OutboxState.SENT)
                    )
                    or 0
                )
        finished = time.perf_counter()
        async with db.sessions() as session:
            shares = Counter((await session.scalars(select(OutboxMessage.sending_by))).all())
    after = await fake_summary(url)
    delivered = after["delivered"] - before["delivered"]
    if not (sent == groups == delivered and after["most_to_one_target"] == 1):
        raise RuntimeError(f"not every group got the announcement exactly once: {sent=}, {delivered=}, {after=}")
    return BroadcastResult(
        groups=groups,
        enqueue_seconds=enqueued - started,
        seconds=finished - enqueued,
        delivered=delivered,
        refused=sum(after["errcodes"].values()) - sum(before["errcodes"].values()),
        floor_seconds=math.ceil(groups / (options.concurrency * instances)) * latency,
        dispatchers=instances,
        shares=tuple(sorted(shares.values(), reverse=True)),
    )


async def pacing(db: Database, fakes: FakePlatforms, messages: int, options: DispatchOptions) -> str:
    """``messages`` for one robot, on a simulated clock; returns the report."""
    fakes.wecom.log.clear()
    webhook = fakes.wecom.add_robot("paced")
    settings = Settings(
        wecom=WecomConfig(api_base=fakes.url), groups=[GroupConfig(name="办公室群", platform="wecom", webhook=webhook)]
    )
    await sync_groups(db, settings.groups)
    ctx = AppContext(settings=settings, db=db)
    start = datetime.now(UTC).replace(microsecond=0)
    wall = time.perf_counter()
    with time_machine.travel(start, tick=False) as clock:
        async with db.transaction() as session:
            group = (await session.scalars(select(Group).where(Group.name == "办公室群"))).one()
            for index in range(messages):
                enqueue_to_group(session, group, OutboundMessage(body=f"第{index + 1}条"), origin="bench")
        async with http_session(options) as http:
            pump = Pump(ctx, http, options)
            while True:
                await pump.run_until_idle()
                async with db.sessions() as session:
                    due = await session.scalar(
                        select(func.min(OutboxMessage.due_at)).where(OutboxMessage.state == OutboxState.PENDING)
                    )
                if due is None:
                    break
                clock.move_to(due)
        simulated = datetime.now(UTC) - start
    delivered = fakes.wecom.delivered("paced")
    per_minute = Counter(int((e.at - start.timestamp()) // 60) for e in delivered)
    window = fakes.wecom.robots["paced"].window
    order_kept = [e.payload["markdown"]["content"] for e in delivered] == [f"第{i + 1}条" for i in range(messages)]
    return "\n".join(
        [
            f"限速：同一机器人排队 {messages} 条（模拟时钟）",
            f"  送达 {len(delivered)} 条，顺序{'不变' if order_kept else '错乱'}；"
            f"平台拒绝 {len(fakes.wecom.errcodes())} 次（45009 {fakes.wecom.errcodes().count(45009)} 次）",
            f"  模拟用时 {simulated.total_seconds() / 60:.1f} 分钟（实耗 {time.perf_counter() - wall:.1f} s）；"
            f"任意 60 秒内最多 {window.peak} 条（上限 20）",
            "  每分钟送达：" + " ".join(f"{per_minute[m]}" for m in range(max(per_minute) + 1)),
        ]
    )


async def run(args: argparse.Namespace) -> None:
    options = replace(DispatchOptions(), concurrency=args.concurrency)
    async with database(args) as db, FakePlatforms(latency=args.latency, auto_register=True) as fakes:
        print(f"数据库：{db.dialect}")
        if args.instances > 1:
            if db.dialect != "postgresql":
                raise SystemExit("--instances needs PostgreSQL (--pg or --database-url)")
            async with fake_process(args.latency) as url:
                result = await broadcast_by_services(db, url, args.groups, options, args.latency, args.instances)
        elif args.fake_in_process:
            result = await broadcast(db, fakes.url, args.groups, options, args.latency)
        else:
            async with fake_process(args.latency) as url:
                result = await broadcast(db, url, args.groups, options, args.latency)
        print(result.report(options, args.latency))
        if args.paced:
            print(await pacing(db, fakes, args.paced, options))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast", description=__doc__.splitlines()[0])
    backend = parser.add_mutually_exclusive_group()
    backend.add_argument("--pg", action="store_true", help="a temporary PostgreSQL database on 127.0.0.1:5432")
    backend.add_argument("--database-url", help="an existing database (migrated first)")
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake platform takes to answer")
    parser.add_argument("--concurrency", type=int, default=DispatchOptions().concurrency)
    parser.add_argument("--paced", type=int, default=200, help="messages queued for one robot (0: skip)")
    parser.add_argument("--fake-in-process", action="store_true", help="serve the fake from this process")
    parser.add_argument("--instances", type=int, default=1, help="running duban serve processes that send (PostgreSQL)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
