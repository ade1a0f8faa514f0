"""The service shell: orderly start-up and shutdown, ``/healthz``, and ``duban serve`` as a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.app import Channel, create_app
from bot.appkeys import WORKERS
from bot.config import GroupConfig, Settings
from bot.context import AppContext
from storage.db import Database
from storage.models import Group


def settings_for(url: str, **extra: object) -> Settings:
    return Settings.model_validate({"database": {"url": url}, **extra})


async def test_healthz_reports_database_and_version(aiohttp_client, db: Database) -> None:
    # On the emptied database (``db``): work other tests left waiting would rightly make it 503.
    client: TestClient = await aiohttp_client(create_app(settings_for(db.url), db=db))
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["version"]


async def test_groups_from_config_are_mirrored(aiohttp_client, database_url: str) -> None:
    settings = settings_for(
        database_url,
        groups=[{"name": "甲群", "platform": "sandbox"}, {"name": "办公室", "platform": "sandbox", "office": True}],
    )
    await aiohttp_client(create_app(settings))
    db = Database(database_url)
    try:
        async with db.sessions() as session:
            groups = {g.name: g for g in (await session.scalars(select(Group))).all()}
    finally:
        await db.close()
    assert set(groups) == {"甲群", "办公室"}
    assert groups["办公室"].is_office and not groups["甲群"].is_office
    assert GroupConfig(name="x", platform="sandbox").webhook == ""


async def test_unconfigured_channel_answers_404(aiohttp_client, sqlite_url: str) -> None:
    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="hi")

    channels = [
        Channel("on", True, [web.post("/on", hello)]),
        Channel("off", False, [web.post("/off", hello)], off_reason="未配置"),
    ]
    client: TestClient = await aiohttp_client(create_app(settings_for(sqlite_url), channels=channels))
    assert (await client.post("/on")).status == 200
    assert (await client.post("/off")).status == 404


async def test_workers_start_and_drain_on_shutdown(aiohttp_client, sqlite_url: str) -> None:
    started = asyncio.Event()
    finished = asyncio.Event()

    async def worker(_ctx: AppContext, stopping: asyncio.Event) -> None:
        started.set()
        await stopping.wait()
        finished.set()

    app = create_app(settings_for(sqlite_url), workers=[("probe", worker)])
    client: TestClient = await aiohttp_client(app)
    await started.wait()
    body = await (await client.get("/healthz")).json()
    assert body["checks"]["workers"] == {"probe": True}
    await client.close()
    assert finished.is_set()
    assert not app[WORKERS].running("probe")


async def test_a_dead_worker_makes_the_instance_unhealthy(aiohttp_client, sqlite_url: str) -> None:
    async def broken(_ctx: AppContext, _stopping: asyncio.Event) -> None:
        raise RuntimeError("boom")

    app = create_app(settings_for(sqlite_url), workers=[("broken", broken)])
    client: TestClient = await aiohttp_client(app)
    await asyncio.gather(*app[WORKERS].tasks.values())
    response = await client.get("/healthz")
    assert response.status == 503
    assert (await response.json())["status"] == "unhealthy"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_init_then_serve_as_a_process(tmp_path: Path) -> None:
    """What `make run` does: init with the demo, then serve; /healthz answers and SIGTERM stops it cleanly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    duban = [sys.executable, "-m", "bot"]
    init = subprocess.run(  # noqa: ASYNC221 - a one-off set-up step before the server starts
        [*duban, "--config", "duban.toml", "init", "--demo", "--if-missing"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "var" / "duban.db").exists()
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        *duban, "--config", "duban.toml", "serve", "--port", str(port),
        cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        body = await _wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
        assert body["status"] == "ok"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr


async def _wait_healthy(url: str, process: asyncio.subprocess.Process) -> dict[str, object]:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if process.returncode is not None:
                raise AssertionError("duban serve exited before answering /healthz")
            try:
                async with session.get(url) as response:
                    return dict(await response.json())
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise AssertionError("duban serve did not answer /healthz within 30 s")
