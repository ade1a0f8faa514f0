"""Inbound benchmark: signed, encrypted WeCom 智能机器人 callbacks against a running ``duban serve``.

For each backend (SQLite, and PostgreSQL in a database created and dropped here) the service is started as a
subprocess on loopback, and two phases are driven with an aiohttp client:

- **paced**: callbacks at a fixed rate (default 500/s) for a bounded time; acknowledgement latency p50/p99 is
  measured from each callback's *scheduled* send time (so a slow client or server cannot hide queueing), and
  stored messages per second are counted in the inbox afterwards;
- **saturation**: a fixed number of concurrent senders as fast as the service answers, for a bounded time:
  sustained stored messages per second.

Two references in processes of their own are measured the same way in the same run: a bare aiohttp handler (read
the body, answer 200), which also stands in for WeCom's ``response_url`` so that the whole service runs as in
production (inbox worker, outbound dispatcher, scheduler) while the edge is measured; and a crypto-only handler
that verifies, decrypts and parses with duban's own functions but stores nothing — the ceiling the service is
judged against (stored/s ≥ 0.70 of it at saturation, p99 acknowledgement < 25 ms at 500/s, no errors). Every
callback is sealed (AES + signature) before the clock starts, with a distinct msgid, so each is a new message
the service must verify, decrypt, parse and store. After a warm-up of 300 callbacks the bench waits until the
service has handled them and sent every answer, so that the phases start from a steady state (every code path
loaded).

Beside the rates, each target's server CPU per callback in the saturation phase is read from ``/proc`` (user and
system time of every thread). On a machine whose cores the load generator shares, a reference that answers as
fast as the load generator can send is bounded by the generator, not by its own cost, so the CPU ratio says what
the throughput ratio cannot. After the saturation phase the bench also times how long the service takes to handle
that phase's backlog and send every answer.

With ``--instances N`` (N > 1) the PostgreSQL run starts N services on the one database and sends the callbacks
to them in turn, as a load balancer would; stored messages are counted in the shared inbox.

    python -m bench.inbound [--rate 500] [--seconds 10] [--concurrency 32] [--backends sqlite,postgres]
                            [--instances 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import xmltodict
from aiohttp import web
from sqlalchemy import func, select
from wechatpy.enterprise.crypto import WeChatCrypto

from bench.databases import empty_postgres, sqlite_file
from storage.db import Database
from storage.models import InboxMessage, InboxState, OutboxMessage, OutboxState

TOKEN = "benchToken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
HOST = "127.0.0.1"
WARMUP = 300
TARGET_P99_MS = 25.0  # acknowledgement at the paced rate
TARGET_RATIO = 0.70  # stored/s against the crypto-only reference's answered/s
DRAIN_LIMIT = 600.0  # seconds a phase's backlog may take to be handled and answered before the bench gives up


@dataclass
class Phase:
    name: str
    sent: int = 0
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    stored: int | None = None
    server_cpu_seconds: float | None = None  # user + system time of the server process(es) during the phase
    drained_seconds: float | None = None  # after the phase: until every stored message is handled and answered
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def answered_per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def stored_per_second(self) -> float | None:
        return None if self.stored is None or not self.seconds else self.stored / self.seconds

    @property
    def cpu_us_per_callback(self) -> float | None:
        """Server CPU per stored callback (per answered one where nothing is stored): what a callback costs,
        whichever process the load generator leaves short of a core."""
        count = self.ok if self.stored is None else self.stored
        return None if self.server_cpu_seconds is None or not count else 1e6 * self.server_cpu_seconds / count

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "latencies_ms"}
        data |= {
            "answered_per_second": round(self.answered_per_second, 1),
            "stored_per_second": None if self.stored_per_second is None else round(self.stored_per_second, 1),
            "p50_ms": round(self.percentile(0.50), 2),
            "p99_ms": round(self.percentile(0.99), 2),
            "max_ms": round(max(self.latencies_ms), 2) if self.latencies_ms else None,
            "mean_ms": round(statistics.fmean(self.latencies_ms), 2) if self.latencies_ms else None,
            "cpu_us_per_callback": None if self.cpu_us_per_callback is None else round(self.cpu_us_per_callback, 1),
        }
        return data


@dataclass(frozen=True)
class Callback:
    query: str
    body: bytes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def seal_callbacks(count: int, *, run: str, sink: str) -> list[Callback]:
    """``count`` distinct bot callbacks, encrypted and signed as WeCom would send them."""
    crypto = WeChatCrypto(TOKEN, AES_KEY, "")
    timestamp = str(int(time.time()))
    sealed = []
    for n in range(count):
        msgid = f"bench-{run}-{n}"
        message = {
            "msgid": msgid,
            "aibotid": "aibench",
            "chatid": f"wrbench{n % 20}",
            "chattype": "group",
            "from": {"userid": f"bench{n % 50}"},
            "response_url": f"{sink}/cgi-bin/aibot/response?response_code={msgid}",
            "msgtype": "text",
            "text": {"content": f"@督办助手 10月工作进展：第{n}条测试报送，完成重点项目{n % 7}个。"},
        }
        nonce = secrets.token_hex(5)
        envelope = xmltodict.parse(crypto.encrypt_message(json.dumps(message, ensure_ascii=False), nonce, timestamp))
        fields = envelope["xml"]
        query = urlencode({"msg_signature": fields["MsgSignature"], "timestamp": timestamp, "nonce": nonce})
        sealed.append(Callback(query, json.dumps({"encrypt": fields["Encrypt"]}).encode()))
    return sealed


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time so far of the processes ``pids`` (all their threads), from ``/proc``."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def instance_url(urls: Sequence[str], n: int) -> str:
    """The instance the ``n``-th callback goes to: in turn, as a round-robin load balancer sends them."""
    return urls[n % len(urls)]


async def send(session: aiohttp.ClientSession, url: str, callback: Callback) -> bool:
    try:
        async with session.post(
            f"{url}?{callback.query}", data=callback.body, headers={"Content-Type": "application/json"}
        ) as response:
            await response.read()
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError, OSError):
        return False


@asynccontextmanager
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def paced(urls: Sequence[str], callbacks: Sequence[Callback], *, rate: float, seconds: float) -> Phase:
    """Send at ``rate`` per second for ``seconds`` (bounded by the callbacks given); latency from schedule."""
    phase = Phase("paced")
    count = min(len(callbacks), int(rate * seconds))
    tasks: set[asyncio.Task[None]] = set()

    async with client() as session:

        async def one(url: str, callback: Callback, due: float) -> None:
            ok = await send(session, url, callback)
            phase.latencies_ms.append((time.perf_counter() - due) * 1000)
            if ok:
                phase.ok += 1
            else:
                phase.failed += 1

        start = time.perf_counter()
        for n in range(count):
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(instance_url(urls, n), callbacks[n], due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            phase.sent += 1
        if tasks:
            await asyncio.wait(tasks, timeout=30)
        phase.seconds = time.perf_counter() - start
    return phase


async def saturate(urls: Sequence[str], callbacks: Sequence[Callback], *, concurrency: int, seconds: float) -> Phase:
    """``concurrency`` senders, each sending as soon as its previous callback is answered, for ``seconds``."""
    phase = Phase("saturation")
    pending = iter(enumerate(callbacks))
    deadline = time.perf_counter() + seconds

    async with client() as session:

        async def sender() -> None:
            for n, callback in pending:
                if time.perf_counter() >= deadline:
                    return
                phase.sent += 1
                began = time.perf_counter()
                if await send(session, instance_url(urls, n), callback):
                    phase.ok += 1
                else:
                    phase.failed += 1
                phase.latencies_ms.append((time.perf_counter() - began) * 1000)

        start = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        phase.seconds = time.perf_counter() - start
    return phase


# --- the references: a bare aiohttp handler, and one that also verifies, decrypts and parses ----------------


def serve_bare(port: int) -> None:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


def serve_crypto(port: int) -> None:
    """The ceiling of the edge: duban's own signature check, decryption and parsing, and nothing stored.

    The same functions the ``/wecom/bot`` endpoint calls (:mod:`bot.inbound.wecom_callback`,
    :func:`~bot.inbound.wecom_bot.parse_bot_message`), on a plain aiohttp application: what is left between
    this and the service is storing, the worker beside it, and the service's own overhead.
    """
    from bot.inbound.edge import decode_utf8, parse_json_object
    from bot.inbound.wecom_bot import parse_bot_message
    from bot.inbound.wecom_callback import open_payload, signed_query
    from bot.inbound.wecom_crypto import WecomCallbackCrypto

    crypto = WecomCallbackCrypto(token=TOKEN, encoding_aes_key=AES_KEY, receive_id="", window=300)

    async def handler(request: web.Request) -> web.Response:
        query = signed_query(request)
        payload = str(parse_json_object(decode_utf8(await request.read()))["encrypt"])
        if parse_bot_message(open_payload(crypto, query, payload)) is None:
            return web.Response(status=400)
        return web.Response(status=200)

    async def ready(_: web.Request) -> web.Response:
        return web.Response(text="ready")

    app = web.Application()
    app.router.add_post("/wecom/bot", handler)
    app.router.add_get("/ready", ready)
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


@asynccontextmanager
async def process(
    args: Sequence[str], ready_url: str, *, cwd: Path | None = None
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """Run ``args`` until the block ends (then SIGTERM); enter the block once ``ready_url`` answers."""
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(args, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220
        try:
            await _ready(child, ready_url, log)
            yield child
        finally:
            child.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(child.wait, 30)
            except subprocess.TimeoutExpired:
                child.kill()


async def _ready(child: subprocess.Popen[bytes], url: str, log: Any) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if child.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"{child.args!r} exited:\n{log.read().decode(errors='replace')[-3000:]}")
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{child.args!r} did not answer {url}")


# --- the service on each backend ------------------------------------------------------------------------


def config_text(url: str, port: int, sink: str) -> str:
    return f"""
[database]
url = "{url}"
[server]
host = "{HOST}"
port = {port}
[wecom]
api_base = "{sink}"
timestamp_window = 300
[wecom.bot]
token = "{TOKEN}"
encoding_aes_key = "{AES_KEY}"
[sandbox]
enabled = false
"""


async def stored_count(url: str) -> int:
    db = Database(url)
    try:
        async with db.sessions() as session:
            return int(await session.scalar(select(func.count(InboxMessage.id))) or 0)
    finally:
        await db.close()


async def settle(url: str, *, within: float = 60.0) -> bool:
    """Wait until the service has handled every stored message and sent every answer (after the warm-up, so that
    the phases start from a steady state with every code path loaded once; after the saturation phase, to time how
    long its backlog takes); whether it did within ``within`` seconds."""
    db = Database(url)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            async with db.sessions() as session:
                unhandled = await session.scalar(
                    select(func.count(InboxMessage.id)).where(
                        InboxMessage.state.in_([InboxState.PENDING, InboxState.PROCESSING])
                    )
                )
                unsent = await session.scalar(
                    select(func.count(OutboxMessage.id)).where(
                        OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING])
                    )
                )
            if not unhandled and not unsent:
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await db.close()


async def measure(
    urls: Sequence[str],
    *,
    args: argparse.Namespace,
    count_url: str | None,
    run: str,
    sink: str,
    pids: Sequence[int],
) -> list[Phase]:
    needed = WARMUP + int(args.rate * args.seconds) + int(args.saturation_cap)
    callbacks = seal_callbacks(needed, run=run, sink=sink)
    warm = callbacks[:WARMUP]
    paced_set = callbacks[WARMUP : WARMUP + int(args.rate * args.seconds)]
    saturation_set = callbacks[WARMUP + len(paced_set) :]
    await saturate(urls, warm, concurrency=8, seconds=30)
    if count_url:
        await settle(count_url)

    async def counted(phase_coro: Any, *, drain: bool = False) -> Phase:
        before = await stored_count(count_url) if count_url else 0
        cpu_before = cpu_seconds(pids)
        phase: Phase = await phase_coro
        phase.server_cpu_seconds = cpu_seconds(pids) - cpu_before
        if count_url:
            phase.stored = await stored_count(count_url) - before
        if count_url and drain:
            began = time.perf_counter()
            if await settle(count_url, within=DRAIN_LIMIT):
                phase.drained_seconds = time.perf_counter() - began
        return phase

    first = await counted(paced(urls, paced_set, rate=args.rate, seconds=args.seconds))
    second = await counted(
        saturate(urls, saturation_set, concurrency=args.concurrency, seconds=args.saturation_seconds), drain=True
    )
    return [first, second]


def instances_for(backend: str, args: argparse.Namespace) -> int:
    """Several services share a database on PostgreSQL only (SQLite is the one-process embedded default)."""
    return args.instances if backend == "postgres" else 1


async def bench_service(backend: str, args: argparse.Namespace, sink: str) -> list[Phase]:
    async with _database(backend) as url, AsyncExitStack() as running:
        workdir = Path(running.enter_context(tempfile.TemporaryDirectory(prefix="duban-bench-")))
        urls: list[str] = []
        pids: list[int] = []
        for n in range(instances_for(backend, args)):
            port = free_port()
            folder = workdir / f"duban{n + 1}"
            folder.mkdir()
            config = folder / "duban.toml"
            config.write_text(config_text(url, port, sink), encoding="utf-8")
            duban = [sys.executable, "-m", "bot", "--config", str(config)]
            if n == 0:
                subprocess.run([*duban, "db", "upgrade"], cwd=folder, check=True, capture_output=True)  # noqa: ASYNC221
            served = process([*duban, "serve"], f"http://{HOST}:{port}/healthz", cwd=folder)
            pids.append((await running.enter_async_context(served)).pid)
            urls.append(f"http://{HOST}:{port}/wecom/bot")
        return await measure(urls, args=args, count_url=url, run=backend, sink=sink, pids=pids)


def _database(backend: str) -> AbstractAsyncContextManager[str]:
    return empty_postgres() if backend == "postgres" else sqlite_file("duban-bench-db-")


def report(results: dict[str, list[Phase]], args: argparse.Namespace) -> dict[str, Any]:
    bare = {phase.name: phase for phase in results["bare"]}
    bare_rate = bare["saturation"].answered_per_second
    crypto = {phase.name: phase for phase in results["crypto"]}
    crypto_rate = crypto["saturation"].answered_per_second
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\nduban inbound benchmark — {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, load {load}")
    print(f"paced: {args.rate:.0f} callbacks/s for {args.seconds:.0f} s; saturation: {args.concurrency} senders")
    if args.instances > 1:
        print(f"postgres: {args.instances} services on one database, callbacks sent to them in turn")
    print()
    header = (
        f"{'target':<10} {'phase':<11} {'sent':>6} {'ok':>6} {'fail':>5} {'answered/s':>10} "
        f"{'stored/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'cpu µs':>7}"
    )
    print(header)
    print("-" * len(header))
    summary: dict[str, Any] = {
        "rate": args.rate,
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "instances": args.instances,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    for target, phases in results.items():
        summary[target] = {}
        for phase in phases:
            data = phase.summary()
            summary[target][phase.name] = data
            stored = "-" if data["stored_per_second"] is None else f"{data['stored_per_second']:.0f}"
            cpu = "-" if data["cpu_us_per_callback"] is None else f"{data['cpu_us_per_callback']:.0f}"
            print(
                f"{target:<10} {phase.name:<11} {phase.sent:>6} {phase.ok:>6} {phase.failed:>5} "
                f"{data['answered_per_second']:>10.0f} {stored:>9} {data['p50_ms']:>7.1f} {data['p99_ms']:>7.1f} "
                f"{(data['max_ms'] or 0):>7.1f} {cpu:>7}"
            )
    print("cpu µs: server CPU (user + system, every thread) per stored callback, or per answered one for a reference")
    print()
    for target, phases in results.items():
        if target in ("bare", "crypto"):
            continue
        by_name = {phase.name: phase for phase in phases}
        p99 = by_name["paced"].percentile(0.99)
        sustained = by_name["saturation"].stored_per_second or 0.0
        ratio = sustained / crypto_rate if crypto_rate else 0.0
        errors = sum(phase.failed for phase in phases)
        verdict_latency = "met" if p99 < TARGET_P99_MS else "MISSED"
        verdict_rate = "met" if ratio >= TARGET_RATIO else "MISSED"
        print(
            f"{target}: p99 ack {p99:.1f} ms at {args.rate:.0f}/s "
            f"(target < {TARGET_P99_MS:.0f} ms: {verdict_latency}); "
            f"sustained {sustained:.0f} stored/s = {ratio:.2f} × crypto-only {crypto_rate:.0f}/s "
            f"(target ≥ {TARGET_RATIO:.2f}: {verdict_rate}); {sustained / bare_rate if bare_rate else 0:.2f} × bare; "
            f"errors {errors} ({'met' if errors == 0 else 'MISSED'})"
        )
        saturation = by_name["saturation"]
        cost = saturation.cpu_us_per_callback
        reference_cost = crypto["saturation"].cpu_us_per_callback
        if cost and reference_cost:
            print(
                f"  server CPU per stored callback {cost:.0f} µs against the crypto-only reference's "
                f"{reference_cost:.0f} µs per answered one ({reference_cost / cost:.2f})"
            )
            summary[target]["cpu_ratio_to_crypto"] = round(reference_cost / cost, 3)
        if saturation.drained_seconds is None:
            print(f"  the saturation phase's backlog was not handled and answered within {DRAIN_LIMIT:.0f} s")
        else:
            print(
                f"  the saturation phase's backlog was handled and every answer sent "
                f"{saturation.drained_seconds:.1f} s after its last callback"
            )
        summary[target]["ratio_to_crypto"] = round(ratio, 3)
        summary[target]["ratio_to_bare"] = round(sustained / bare_rate if bare_rate else 0.0, 3)
    return summary


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    bare_port = free_port()
    sink = f"http://{HOST}:{bare_port}"
    results: dict[str, list[Phase]] = {}
    bare_cmd = [sys.executable, "-m", "bench.inbound", "--serve-bare", str(bare_port)]
    crypto_port = free_port()
    crypto_url = f"http://{HOST}:{crypto_port}"
    crypto_cmd = [sys.executable, "-m", "bench.inbound", "--serve-crypto", str(crypto_port)]
    async with process(bare_cmd, f"{sink}/ready") as bare:
        results["bare"] = await measure(
            [f"{sink}/wecom/bot"], args=args, count_url=None, run="bare", sink=sink, pids=[bare.pid]
        )
        async with process(crypto_cmd, f"{crypto_url}/ready") as crypto:
            results["crypto"] = await measure(
                [f"{crypto_url}/wecom/bot"], args=args, count_url=None, run="crypto", sink=sink, pids=[crypto.pid]
            )
        for backend in args.backends:
            print(f"… {backend}", file=sys.stderr)
            count = instances_for(backend, args)
            results[backend if count == 1 else f"{backend}×{count}"] = await bench_service(backend, args, sink)
    return report(results, args)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.inbound", description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=500.0, help="paced callbacks per second (500)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the paced phase (10)")
    parser.add_argument("--concurrency", type=int, default=32, help="senders in the saturation phase (32)")
    parser.add_argument("--saturation-seconds", type=float, default=8.0, help="length of the saturation phase (8)")
    parser.add_argument("--saturation-cap", type=int, default=40000, help="callbacks sealed for saturation")
    parser.add_argument(
        "--backends",
        type=lambda value: [b for b in value.split(",") if b],
        default=["sqlite", "postgres"],
        help="comma-separated: sqlite,postgres",
    )
    parser.add_argument("--instances", type=int, default=1, help="services on the PostgreSQL database (1)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-crypto", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.serve_crypto:
        serve_crypto(args.serve_crypto)
        return 0
    summary = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
