"""Shared by the fault tests: real ``duban serve`` processes on one PostgreSQL database, signed callbacks, and
bounded waits on conditions.

Every instance is ``python -m bot --config … serve`` on a loopback port, with its own log file; the database is
created for the test and dropped after it. The fake platforms run in the test's own event loop (their log tells
exactly what was posted) and the instances reach them over loopback HTTP like any platform.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode

import aiohttp
import asyncpg
from sqlalchemy import select
from sqlalchemy.engine import make_url

from storage import migrate
from storage.db import Database
from storage.models import Group, InboxMessage, OutboxMessage, Submission
from storage.outbound import OutboundMessage, enqueue_to_group
from tests.conftest import require_pg
from tests.fakes import Exchange, FakePlatforms
from tests.inbound_kit import BOT_AES_KEY, BOT_TOKEN, as_json, bot_message, seal

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --- the database --------------------------------------------------------------------------------------


@asynccontextmanager
async def fresh_database(pg_url: str | None) -> AsyncIterator[str]:
    """A new, migrated PostgreSQL database on the suite's server, dropped afterwards (skips without a server)."""
    server = make_url(require_pg(pg_url))
    name = f"duban_faults_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(host=server.host, port=server.port, user=server.username, database="postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = server.set(database=name).render_as_string(hide_password=False)
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# --- configuration -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupSpec:
    name: str
    platform: str
    webhook: str = ""
    office: bool = False

    def toml(self) -> str:
        lines = ["[[groups]]", f"name = {json.dumps(self.name, ensure_ascii=False)}", f'platform = "{self.platform}"']
        if self.webhook:
            lines.append(f"webhook = {json.dumps(self.webhook)}")
        if self.office:
            lines.append("office = true")
        return "\n".join(lines)


def wecom_robot(name: str, fake_url: str, key: str, *, office: bool = False) -> GroupSpec:
    return GroupSpec(name, "wecom", f"{fake_url}/cgi-bin/webhook/send?key={key}", office)


def dingtalk_robot(name: str, fake_url: str, token: str, *, office: bool = False) -> GroupSpec:
    return GroupSpec(name, "dingtalk", f"{fake_url}/robot/send?access_token={token}", office)


def config_text(
    url: str,
    port: int,
    fake_url: str,
    groups: Sequence[GroupSpec],
    *,
    read_timeout: float = 10.0,
    disabled_jobs: Sequence[str] = (),
) -> str:
    """A complete ``duban.toml``: the 智能机器人 channel on, every platform at the fake, the given groups."""
    jobs = "".join(f"[schedules.{job}]\nenabled = false\n" for job in disabled_jobs)
    return f"""office_name = "强省会工作机制办公室"

[database]
url = "{url}"

[server]
host = "{HOST}"
port = {port}

[wecom]
api_base = "{fake_url}"

[wecom.bot]
token = "{BOT_TOKEN}"
encoding_aes_key = "{BOT_AES_KEY}"

[dingtalk]
api_base = "{fake_url}"

[feishu]
api_base = "{fake_url}"

[sandbox]
enabled = false

[outbound]
read_timeout_seconds = {read_timeout}

{jobs}
{chr(10).join(group.toml() for group in groups)}
"""


def clean_env() -> dict[str, str]:
    """The environment without any ``DUBAN_`` override the developer's shell may carry."""
    return {key: value for key, value in os.environ.items() if not key.startswith("DUBAN_")}


# --- the roster ---------------------------------------------------------------------------------------

# Four member units, each with an A角 and a B角 known by their WeCom userid.
UNITS = [
    ("省发展改革委", "区域协调发展处", "zhangmy", "lijy"),
    ("省工业和信息化厅", "运行监测协调局", "wangjh", "liuxy"),
    ("省商务厅", "对外贸易处", "zhangwei", "lina"),
    ("省财政厅", "预算处", "chenqiang", "zhoumin"),
]
LIAISONS = [userid for unit in UNITS for userid in unit[2:]]


def roster_csv(path: Path, member_groups: Sequence[str], office_group: str) -> Path:
    """The roster file ``duban roster import`` takes: the units spread in order over ``member_groups``, and one
    office member in ``office_group``."""
    lines = ["单位,责任处室,姓名,角色,手机,企业微信账号,钉钉账号,所在群"]
    for n, (unit, division, a, b) in enumerate(UNITS):
        group = member_groups[n * len(member_groups) // len(UNITS)]
        for k, (userid, role) in enumerate(((a, "A角"), (b, "B角"))):
            lines.append(f"{unit},{division},联络员{userid},{role},1390000{n:02d}{k:02d},{userid},,{group}")
    lines.append(f"工作机制办公室,,段红梅,办公室,13900009901,duanhm,,{office_group}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return path


# --- instances -----------------------------------------------------------------------------------------


@dataclass
class Instance:
    """One ``duban serve`` process; it can be started again after it stopped or was killed."""

    name: str
    config: Path
    port: int
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    pids: list[int] = field(default_factory=list)  # every process this instance has been, oldest first
    env: dict[str, str] = field(default_factory=dict)  # added to the next start's environment (a fake clock…)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"==== {self.name}: start at {time.strftime('%H:%M:%S')} ====\n".encode())
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "--config", str(self.config), "serve",
                cwd=self.config.parent, env={**clean_env(), **self.env}, stdout=log, stderr=log,
            )  # fmt: skip
        self.pids.append(self.process.pid)

    async def ready(self, *, within: float = 60.0) -> None:
        """Until ``/healthz`` answers (a fresh instance may report a backlog as 503: it still serves)."""
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            while time.monotonic() < deadline:
                if not self.running:
                    raise AssertionError(f"{self.name} exited before it answered:\n{self.log_tail()}")
                try:
                    async with http.get(f"{self.url}/healthz") as response:
                        if response.status in (200, 503):
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} did not answer /healthz within {within:.0f} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: the process dies at once, mid-whatever."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    async def wait(self, *, within: float) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), within)

    async def terminate(self, *, within: float = 30.0) -> tuple[int, float]:
        """SIGTERM and wait: the exit code and the seconds it took."""
        assert self.process is not None
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = await self.wait(within=within)
        return code, time.monotonic() - began

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


@dataclass
class Cluster:
    """Several instances with one configuration (each its own port) on one database."""

    url: str
    instances: list[Instance]

    @property
    def db_url(self) -> str:
        return self.url

    async def start(self) -> None:
        for instance in self.instances:
            await instance.start()
        await asyncio.gather(*(instance.ready() for instance in self.instances))

    async def close(self) -> None:
        for instance in self.instances:
            if instance.running:
                instance.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        for instance in self.instances:
            if instance.process is not None and instance.process.returncode is None:
                try:
                    await instance.wait(within=30)
                except TimeoutError:
                    instance.kill()
                    await instance.wait(within=10)

    def tracebacks(self) -> list[str]:
        """Every instance whose log holds a traceback (an unforeseen failure), with the log's end."""
        return [f"{i.name}:\n{i.log_tail(80)}" for i in self.instances if "Traceback" in i.log()]


def write_instances(
    workdir: Path, count: int, make_config: Callable[[int], str], *, prefix: str = "duban"
) -> list[Instance]:
    instances = []
    for n in range(count):
        port = free_port()
        folder = workdir / f"{prefix}{n + 1}"
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "duban.toml"
        config.write_text(make_config(port), encoding="utf-8")
        instances.append(Instance(f"{prefix}{n + 1}", config, port, folder / "serve.log"))
    return instances


@asynccontextmanager
async def cluster(
    workdir: Path, url: str, count: int, make_config: Callable[[int], str], *, start: bool = True
) -> AsyncIterator[Cluster]:
    """``count`` instances configured by ``make_config(port)``, started (and ready) unless ``start`` is false."""
    running = Cluster(url, write_instances(workdir, count, make_config))
    try:
        if start:
            await running.start()
        yield running
    finally:
        await running.close()


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


async def duban(config: Path, *args: str, within: float = 120.0) -> Ran:
    """Run one ``duban`` command against ``config``'s database (it must finish ``within`` seconds)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), *args,
        cwd=config.parent, env=clean_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(child.communicate(), within)
    assert child.returncode is not None
    return Ran(child.returncode, out.decode(), err.decode())


# --- waiting -------------------------------------------------------------------------------------------


async def eventually(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], *, within: float, what: str, every: float = 0.25
) -> T:
    """Poll ``probe`` until ``ok`` holds; fail after ``within`` seconds, saying what was awaited and the last value."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if ok(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not reached within {within:.0f} s: {what}; last seen: {describe(value)}")
        await asyncio.sleep(every)


def describe(value: object) -> str:
    """Rows summed up by state, with the unsettled and failed ones named (and why); anything else as its repr."""
    if not isinstance(value, list) or not value or not all(hasattr(item, "state") for item in value):
        return repr(value)
    states = Counter(str(item.state) for item in value)
    open_rows = [item for item in value if str(item.state) in ("pending", "sending", "processing")][:10]
    fields = ("id", "state", "attempts", "due_at", "sending_by", "locked_by", "last_error", "error")
    details = [{k: getattr(item, k, None) for k in fields} for item in open_rows]
    failed = [{k: getattr(item, k, None) for k in fields} for item in value if str(item.state) == "failed"][:10]
    return f"{dict(states)}; open: {details}" + (f"; failed: {failed}" if failed else "")


# --- callbacks -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Callback:
    """A signed, encrypted WeCom 智能机器人 callback, ready to post (to any instance, any number of times)."""

    msgid: str
    query: str
    body: bytes


def bot_callback(msgid: str, userid: str, text: str, response_url: str, *, chatid: str = "wrchat01") -> Callback:
    plaintext = as_json(
        bot_message(f"@督办助手 {text}", msgid=msgid, userid=userid, chatid=chatid, response_url=response_url)
    )
    sealed = seal(BOT_TOKEN, BOT_AES_KEY, "", plaintext, timestamp=str(int(time.time())), nonce=secrets.token_hex(4))
    query = urlencode({key: sealed[key] for key in ("msg_signature", "timestamp", "nonce")})
    return Callback(msgid, query, json.dumps({"encrypt": sealed["encrypt"]}).encode())


async def post_callback(http: aiohttp.ClientSession, base_url: str, callback: Callback) -> int | None:
    """The HTTP status the instance answered, or ``None`` when no answer came (refused, reset, killed)."""
    try:
        async with http.post(
            f"{base_url}/wecom/bot?{callback.query}", data=callback.body, headers={"Content-Type": "application/json"}
        ) as response:
            await response.read()
            return response.status
    except (aiohttp.ClientError, TimeoutError, OSError):
        return None


def client(limit: int = 64) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit), timeout=aiohttp.ClientTimeout(total=30, sock_connect=5)
    )


# --- looking into the database -------------------------------------------------------------------------


async def all_of(db: Database, model: type[T]) -> list[T]:
    async with db.sessions() as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())  # type: ignore[attr-defined]


async def inbox(db: Database) -> list[InboxMessage]:
    return await all_of(db, InboxMessage)


async def outbox(db: Database) -> list[OutboxMessage]:
    return await all_of(db, OutboxMessage)


async def submissions(db: Database) -> list[Submission]:
    return await all_of(db, Submission)


async def queue_numbered(db: Database, group_names: Iterable[str], per_group: int, *, origin: str) -> dict[str, int]:
    """``per_group`` messages to each group, each body carrying a unique marker; marker → outbox id."""
    markers: dict[str, int] = {}
    async with db.transaction() as session:
        groups = {g.name: g for g in (await session.scalars(select(Group))).all()}
        rows = []
        for name in group_names:
            for n in range(per_group):
                marker = f"M{len(rows):05d}号"
                message = OutboundMessage(title="工作提示", body=f"{name}：第{n + 1}条测试通知，编号{marker}。")
                rows.append((marker, enqueue_to_group(session, groups[name], message, origin=origin)))
        await session.flush()
        markers = {marker: row.id for marker, row in rows}
    return markers


MARKER = re.compile(r"M\d{5}号")


def deliveries_by_marker(exchanges: Iterable[Exchange], markers: Iterable[str]) -> dict[str, int]:
    """How many delivered requests carried each marker (from :func:`queue_numbered`)."""
    counts = dict.fromkeys(markers, 0)
    for exchange in exchanges:
        if exchange.delivered:
            for marker in set(MARKER.findall(json.dumps(exchange.payload, ensure_ascii=False))):
                if marker in counts:
                    counts[marker] += 1
    return counts


def delivered_anywhere(fakes: FakePlatforms) -> list[Exchange]:
    """What every fake platform posted."""
    return [exchange for fake in fakes.platforms for exchange in fake.delivered()]
