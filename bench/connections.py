"""``python -m bench.connections``: how quickly the long connections recover, and whether anything is lost.

Real ``duban serve`` processes against the fake gateways (``tests.fakes``) on loopback:

- **reconnect** (SQLite, one instance, DingTalk Stream and the WeCom 智能机器人 connection): ``--drops`` times,
  the gateway cuts the live connection (DingTalk alternately with a ``disconnect`` frame and without a word);
  a liaison's message is pushed at that moment, and the time until it is handled (stored by the new
  connection and through the inbox worker) is measured.
- **takeover** (PostgreSQL, two instances, WeCom): ``--kills`` times, the instance holding the connection is
  SIGKILLed with a message pushed right after; the time until the other instance has subscribed, and until
  the message is handled. The killed instance is started again and stands by for the next round.

Every message pushed must be in the inbox exactly once: ``lost`` counts those that are not (target 0). The
reconnect wait is back-off with jitter (0.5–1 s after a healthy connection); a takeover waits for the lease to
lapse (20 s after the last renewal) and the standby's next attempt (every 4–5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from sqlalchemy import select

from storage.db import Database
from storage.models import InboxMessage, InboxState
from tests.fakes import FakePlatforms
from tests.fakes.wecom_bot_ws import group_message
from tests.faults_kit import Instance, fresh_database
from tests.transports_kit import (
    dingtalk_group_message,
    dingtalk_stream_section,
    prepared_instances,
    wecom_bot_socket_section,
)

PG_URL = os.environ.get("DUBAN_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def line(name: str, seconds: list[float]) -> str:
    return (
        f"  {name:<34} n={len(seconds):<3} median {statistics.median(seconds):6.2f} s   "
        f"p99 {percentile(seconds, 0.99):6.2f} s   max {max(seconds):6.2f} s"
    )


async def until(probe: Callable[[], Awaitable[bool]], *, within: float = 120.0, every: float = 0.02) -> None:
    deadline = time.monotonic() + within
    while not await probe():
        if time.monotonic() > deadline:
            raise TimeoutError("not reached")
        await asyncio.sleep(every)


def handled(db: Database, msgid: str) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        async with db.sessions() as session:
            state = await session.scalar(select(InboxMessage.state).where(InboxMessage.message_id == msgid))
        return state is InboxState.DONE

    return probe


async def lost(db: Database, pushed: set[str]) -> int:
    async with db.sessions() as session:
        stored = list(await session.scalars(select(InboxMessage.message_id)))
    assert len(stored) == len(set(stored))
    return len(pushed - set(stored))


async def reconnects(workdir: Path, fakes: FakePlatforms, drops: int) -> tuple[list[float], list[float], int]:
    stream, socket = fakes.dingtalk_stream, fakes.wecom_bot_socket
    url = f"sqlite+aiosqlite:///{workdir / 'duban.db'}"
    sections = dingtalk_stream_section(fakes.url, stream.app_key, stream.app_secret) + wecom_bot_socket_section(
        socket.url, socket.bot_id, socket.secret
    )
    [instance] = await prepared_instances(workdir, url, 1, sections, fakes.url)
    db = Database(url)
    dingtalk: list[float] = []
    wecom: list[float] = []
    pushed: set[str] = set()
    await instance.start()
    try:
        await instance.ready()
        await socket.wait_for(lambda: socket.current is not None)
        for n in range(drops):
            connection = await stream.any_connection()
            session_url, expires = fakes.dingtalk.new_session()
            msgid = f"bench-dt-{n}"
            began = time.monotonic()
            await (stream.disconnect(connection) if n % 2 else stream.drop(connection))
            await stream.push(dingtalk_group_message(msgid, "帮助", session_url, expires))
            pushed.add(msgid)
            await until(handled(db, msgid))
            dingtalk.append(time.monotonic() - began)

            await socket.wait_for(lambda: socket.current is not None)
            msgid = f"bench-wc-{n}"
            began = time.monotonic()
            await socket.drop()
            await socket.push(group_message(msgid, "lina", "帮助"))
            pushed.add(msgid)
            await until(handled(db, msgid))
            wecom.append(time.monotonic() - began)
        missing = await lost(db, pushed)
    finally:
        await db.close()
        await instance.terminate()
    return dingtalk, wecom, missing


async def takeovers(workdir: Path, fakes: FakePlatforms, kills: int) -> tuple[list[float], list[float], int]:
    socket = fakes.wecom_bot_socket
    took: list[float] = []
    handled_after: list[float] = []
    pushed: set[str] = set()
    async with fresh_database(PG_URL) as url:
        section = wecom_bot_socket_section(socket.url, socket.bot_id, socket.secret)
        instances = await prepared_instances(workdir, url, 2, section, fakes.url)
        db = Database(url)
        try:
            for instance in instances:
                await instance.start()
            for instance in instances:
                await instance.ready()
            for n in range(kills):
                await socket.wait_for(lambda: socket.current is not None, within=60)
                subscriptions = socket.subscriptions
                holder = await holder_of(instances)
                began = time.monotonic()
                holder.kill()
                await holder.wait(within=10)
                msgid = f"bench-takeover-{n}"
                await socket.push(group_message(msgid, "lina", "帮助"))
                pushed.add(msgid)
                await socket.wait_for(lambda before=subscriptions: socket.subscriptions > before, within=60)
                took.append(time.monotonic() - began)
                await until(handled(db, msgid))
                handled_after.append(time.monotonic() - began)
                await holder.start()
                await holder.ready()
            missing = await lost(db, pushed)
        finally:
            await db.close()
            for instance in instances:
                if instance.running:
                    await instance.terminate()
    return took, handled_after, missing


async def holder_of(instances: list[Instance]) -> Instance:
    """The instance whose ``/healthz`` says it holds the connection (its peer stands by)."""
    async with aiohttp.ClientSession() as http:
        for instance in instances:
            async with http.get(f"{instance.url}/healthz") as response:
                body = await response.json()
            if body["checks"]["connections"]["wecom_bot_ws"]["holder"] == body["instance"]:
                return instance
    raise AssertionError("no instance holds the connection")


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.connections", description=__doc__)
    parser.add_argument("--drops", type=int, default=20)
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="duban-bench-connections-") as folder:
        workdir = Path(folder)
        async with FakePlatforms() as fakes:
            fakes.dingtalk.auto_register = True
            dingtalk, wecom, lost_reconnect = await reconnects(workdir / "reconnect", fakes, args.drops)
        print("drop → next message handled (SQLite, one instance):")
        print(line("DingTalk Stream", dingtalk))
        print(line("WeCom 智能机器人 long connection", wecom))
        print(f"  messages lost: {lost_reconnect} of {2 * args.drops}")
        async with FakePlatforms() as fakes:
            took, handled_after, lost_takeover = await takeovers(workdir / "takeover", fakes, args.kills)
        print("SIGKILL of the holder → takeover (PostgreSQL, two instances, WeCom):")
        print(line("other instance subscribed", took))
        print(line("message pushed at the kill handled", handled_after))
        print(f"  messages lost: {lost_takeover} of {args.kills}")
    return 0 if lost_reconnect == lost_takeover == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
