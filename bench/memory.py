"""``python -m bench.memory``: memory per ``duban serve`` instance with a 100,000-person roster on PostgreSQL.

Starts ``--instances`` services on one temporary PostgreSQL database, with ``--groups`` WeCom groups at a fake
platform (in this process), and reads each process's resident memory from ``/proc/PID/status``:

1. with an empty roster, once the services are idle;
2. after the roster is loaded: ``--units`` member units of ``--persons / --units`` people each (one A角, the rest
   B角), spread over the groups. ``duban roster import`` refuses files of more than 20,000 rows (a larger file is
   not taken for a roster), so a 20,000-row file goes through the command (timed) and the whole roster through
   the same validation and storage code (``parse_sheets`` + ``storage.roster.import_roster``), also timed;
3. after load: ``--reports`` signed, encrypted report callbacks from liaisons, spread over the instances, and
   the office's ``统计`` (on each instance) and ``催办`` (reminders to every group) — until every callback is
   handled and every reply sent. ``VmHWM`` is each process's peak.

    python -m bench.memory [--persons 100000] [--units 10000] [--groups 100] [--instances 3] [--reports 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import xmltodict
from sqlalchemy import func, select
from wechatpy.enterprise.crypto import WeChatCrypto

from bench.databases import empty_postgres
from bench.inbound import AES_KEY, HOST, TOKEN, free_port, process
from bot.roster.tables import Sheet
from bot.roster.validation import parse_sheets
from storage.db import Database
from storage.models import InboxMessage, InboxState, OutboxMessage, OutboxState, Person
from storage.roster import import_roster
from tests.fakes import FakePlatforms

OFFICE = "工作机制办公室"
OFFICE_USER = "bench-office"
HEADER = ["单位", "责任处室", "姓名", "角色", "手机", "企业微信账号", "钉钉账号", "所在群"]
CLI_ROWS = 20_000  # the most rows (header included) ``duban roster import`` takes from one file


@dataclass(frozen=True)
class Memory:
    rss_mb: float
    peak_mb: float


def memory_of(pid: int) -> Memory:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return Memory(int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def group_names(count: int) -> list[str]:
    return [f"成员单位群{n:03d}" for n in range(count)]


def roster_rows(persons: int, units: int, groups: Sequence[str]) -> list[list[str]]:
    """One A角 and ``persons / units - 1`` B角 per unit, each unit in one group; one office member."""
    per_unit = max(1, persons // units)
    rows = []
    for u in range(units):
        for k in range(per_unit):
            n = u * per_unit + k
            role = "A角" if k == 0 else "B角"
            rows.append(
                [
                    f"成员单位{u:05d}",
                    "综合处",
                    f"联络员{n:06d}",
                    role,
                    f"139{n:08d}",
                    f"u{n:06d}",
                    "",
                    groups[u % len(groups)],
                ]
            )
    rows.append([OFFICE, "", "段红梅", "办公室", "13800000001", OFFICE_USER, "", OFFICE])
    return rows


def write_csv(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    path.write_text("\n".join(",".join(row) for row in [HEADER, *rows]) + "\n", encoding="utf-8-sig")
    return path


def config_text(url: str, port: int, fake_url: str, groups: Sequence[str]) -> str:
    lines = [
        f'[database]\nurl = "{url}"',
        f'[server]\nhost = "{HOST}"\nport = {port}',
        f'[wecom]\napi_base = "{fake_url}"\ntimestamp_window = 600',
        f'[wecom.bot]\ntoken = "{TOKEN}"\nencoding_aes_key = "{AES_KEY}"',
        "[sandbox]\nenabled = false",
    ]
    robots = [(name, f"g{n:03d}", False) for n, name in enumerate(groups)] + [(OFFICE, "office", True)]
    for name, key, office in robots:
        webhook = f"{fake_url}/cgi-bin/webhook/send?key={key}"
        lines.append(
            f'[[groups]]\nname = "{name}"\nplatform = "wecom"\nwebhook = "{webhook}"\noffice = {str(office).lower()}'
        )
    return "\n".join(lines) + "\n"


def callback(crypto: WeChatCrypto, msgid: str, userid: str, text: str, response_url: str) -> tuple[str, bytes]:
    message = {
        "msgid": msgid,
        "aibotid": "aibench",
        "chatid": "wrbench",
        "chattype": "group",
        "from": {"userid": userid},
        "response_url": response_url,
        "msgtype": "text",
        "text": {"content": f"@督办助手 {text}"},
    }
    nonce, timestamp = secrets.token_hex(5), str(int(time.time()))
    sealed = xmltodict.parse(crypto.encrypt_message(json.dumps(message, ensure_ascii=False), nonce, timestamp))["xml"]
    query = urlencode({"msg_signature": sealed["MsgSignature"], "timestamp": timestamp, "nonce": nonce})
    return query, json.dumps({"encrypt": sealed["Encrypt"]}).encode()


async def wait_handled(db: Database, expected: int, *, within: float = 600.0) -> tuple[float, float]:
    """Until ``expected`` callbacks are handled, then until every reply is sent: the seconds each took."""
    began = time.perf_counter()
    handled: float | None = None
    while time.perf_counter() - began < within:
        async with db.sessions() as session:
            done = await session.scalar(
                select(func.count(InboxMessage.id)).where(InboxMessage.state.in_([InboxState.DONE, InboxState.FAILED]))
            )
            replying = await session.scalar(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.channel == "wecom_response_url",
                    OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]),
                )
            )
        if done == expected and handled is None:
            handled = time.perf_counter() - began
        if handled is not None and not replying:
            return handled, time.perf_counter() - began
        await asyncio.sleep(0.2)
    raise RuntimeError(f"not all {expected} callbacks were handled and answered within {within:.0f} s")


def rss_line(label: str, pids: Sequence[int]) -> str:
    readings = [memory_of(pid) for pid in pids]
    cells = " / ".join(f"{m.rss_mb:.0f}" for m in readings)
    peaks = " / ".join(f"{m.peak_mb:.0f}" for m in readings)
    return f"  {label}：常驻内存 {cells} MB（峰值 {peaks} MB）"


async def run(args: argparse.Namespace) -> None:
    groups = group_names(args.groups)
    rows = roster_rows(args.persons, args.units, groups)
    async with (
        empty_postgres() as url,
        FakePlatforms(latency=0.05, auto_register=True) as fakes,
        AsyncExitStack() as running,
    ):
        workdir = Path(running.enter_context(tempfile.TemporaryDirectory(prefix="duban-memory-")))
        ports = [free_port() for _ in range(args.instances)]
        configs = []
        for n, port in enumerate(ports):
            folder = workdir / f"duban{n + 1}"
            folder.mkdir()
            configs.append(folder / "duban.toml")
            configs[-1].write_text(config_text(url, port, fakes.url, groups), encoding="utf-8")
        duban = [sys.executable, "-m", "bot", "--config", str(configs[0])]
        subprocess.run([*duban, "db", "upgrade"], check=True, capture_output=True)  # noqa: ASYNC221
        pids = []
        for config, port in zip(configs, ports, strict=True):
            serve = [sys.executable, "-m", "bot", "--config", str(config), "serve"]
            child = await running.enter_async_context(
                process(serve, f"http://{HOST}:{port}/healthz", cwd=config.parent)
            )
            pids.append(child.pid)
        await asyncio.sleep(3)
        print(f"duban 内存：{args.instances} 个实例，PostgreSQL，{args.groups} 个群")
        print(rss_line("空名册、空闲", pids))

        cli_rows = [*rows[:-1][: CLI_ROWS - 2], rows[-1]]  # the first units and the office member, under the header
        cli_file = write_csv(workdir / "roster-cli.csv", cli_rows)
        began = time.perf_counter()
        imported = subprocess.run([*duban, "roster", "import", str(cli_file)], capture_output=True, text=True)  # noqa: ASYNC221
        cli_seconds = time.perf_counter() - began
        if imported.returncode != 0:
            raise RuntimeError(imported.stderr or imported.stdout)
        cli_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"  名册导入（duban roster import，{len(cli_rows):,} 人）：{cli_seconds:.1f} s，"
            f"命令进程峰值 {cli_peak:.0f} MB"
        )

        db = Database(url)
        try:
            known = {name: "wecom" for name in [*groups, OFFICE]}
            began = time.perf_counter()
            parsed = parse_sheets([Sheet(None, list(enumerate([HEADER, *rows], start=1)))], known)
            checked = time.perf_counter() - began
            await import_roster(db, parsed.entries, actor="bench", source="bench.memory")
            stored = time.perf_counter() - began - checked
            async with db.sessions() as session:
                people = await session.scalar(select(func.count(Person.id)).where(Person.active.is_(True)))
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"  全量名册 {people:,} 人（与导入命令同一校验与入库代码）：校验 {checked:.1f} s，入库 {stored:.1f} s，"
                f"本进程峰值 {peak:.0f} MB"
            )
            await asyncio.sleep(3)
            print(rss_line(f"{people:,} 人名册、空闲", pids))

            crypto = WeChatCrypto(TOKEN, AES_KEY, "")
            liaisons = [row[5] for row in rows if row[3] == "A角"]
            texts = [
                (liaisons[(n * 7919) % len(liaisons)], f"10月工作进展：第{n}次报送，完成重点项目{n % 7}个。")
                for n in range(args.reports)
            ]
            texts += [(OFFICE_USER, "统计")] * args.instances + [(OFFICE_USER, "催办")]
            sealed = [
                callback(crypto, f"mem-{n}", userid, text, fakes.wecom.new_response_url())
                for n, (userid, text) in enumerate(texts)
            ]
            began = time.perf_counter()
            await post_all(sealed, ports)
            posted = time.perf_counter() - began
            handled, answered = await wait_handled(db, len(sealed))
            print(
                f"  负载：{args.reports} 条报送 + 统计 {args.instances} 次 + 催办 1 次，轮流发往各实例："
                f"{posted:.1f} s 内全部入库，其后 {handled:.1f} s 全部处理，{answered:.1f} s 全部回复"
            )
            print(rss_line("负载之后", pids))
        finally:
            await db.close()


async def post_all(sealed: Sequence[tuple[str, bytes]], ports: Sequence[int]) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as http:

        async def one(n: int, query: str, body: bytes) -> None:
            url = f"http://{HOST}:{ports[n % len(ports)]}/wecom/bot?{query}"
            async with http.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"callback {n} answered {response.status}")

        await asyncio.gather(*(one(n, query, body) for n, (query, body) in enumerate(sealed)))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--reports", type=int, default=2000)
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
