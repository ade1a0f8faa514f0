"""``duban`` answers at once: building the parser (all that ``duban --help`` does) loads none of the heavy
libraries; each command loads what it needs when it runs. ``duban status`` on SQLite and ``duban say`` through a
running service load no database layer at all (SQLAlchemy, a driver, the models), nor asyncio, nor
pydantic-settings; ``say`` not even pydantic. Speed itself is measured by ``python -m bench.cli``; these tests
catch the imports that would undo it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp.test_utils import TestServer

from bot.config import Settings
from bot.sandbox_address import SERVING_FILE
from bot.service import build_app
from storage.db import Database
from tests.faults_kit import Instance
from tests.handlers_kit import MEMBER_GROUP, seed

HEAVY = ("sqlalchemy", "pydantic", "aiohttp", "alembic", "openpyxl", "jinja2", "matplotlib", "docx", "wechatpy")
PARSER_MUST_NOT_LOAD = (*HEAVY, "asyncio", "urllib.request")
# What a command that only reads the standing, or only talks to the service, must not load.
DATABASE_LAYER = ("sqlalchemy", "aiosqlite", "asyncpg", "storage.models", "storage.db", "alembic")
NOT_FOR_QUICK_COMMANDS = (*DATABASE_LAYER, "asyncio", "pydantic_settings", "aiohttp", "jinja2", "openpyxl")
# ``say`` through a service reads only the service's address: not even pydantic.
NOT_FOR_SAY = (*NOT_FOR_QUICK_COMMANDS, "pydantic", "pydantic_core", "bot.config")

Server = Callable[..., Awaitable[TestServer]]


def loaded_by(command: list[str], forbidden: tuple[str, ...]) -> tuple[list[str], str]:
    """Run ``duban COMMAND`` in a fresh interpreter, without ``DUBAN_`` variables; which of ``forbidden`` it
    loaded, and what it printed."""
    script = (
        "import contextlib, io, json, sys\n"
        "from bot.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    code = main({command!r})\n"
        f"print(json.dumps([code, sorted(n for n in {forbidden!r} if n in sys.modules), out.getvalue()]))\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("DUBAN_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    code, loaded, printed = json.loads(done.stdout)
    assert code == 0, done.stderr
    return loaded, printed


def test_the_parser_loads_no_heavy_library() -> None:
    script = (
        "import json, sys\n"
        "from bot.cli import build_parser\n"
        "build_parser()\n"
        f"print(json.dumps(sorted(name for name in {PARSER_MUST_NOT_LOAD!r} if name in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_help_lists_every_command() -> None:
    done = subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=True)
    for command in ("init", "serve", "roster", "say", "status", "export", "items", "jobs", "backup", "outbox", "doc"):
        assert command in done.stdout


def test_status_on_sqlite_reads_without_the_database_layer(sqlite_url: str, tmp_path: Path) -> None:
    async def prepare() -> None:
        db = Database(sqlite_url)
        try:
            await seed(db)
        finally:
            await db.close()

    asyncio.run(prepare())
    config = tmp_path / "duban.toml"
    config.write_text(f'[database]\nurl = "{sqlite_url}"\n', encoding="utf-8")
    loaded, printed = loaded_by(
        ["--config", str(config), "status", "--period", "2026-10", "--json"], NOT_FOR_QUICK_COMMANDS
    )
    assert loaded == []
    assert json.loads(printed)["counts"]["units"] == 4  # the seeded roster's active units, read for real


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_say_through_a_service_loads_no_database_layer(
    aiohttp_server: Server, sqlite_url: str, tmp_path: Path
) -> None:
    db = Database(sqlite_url)
    try:
        await seed(db)
    finally:
        await db.close()
    port = _free_port()
    groups = [{"name": MEMBER_GROUP, "platform": "sandbox"}]
    settings = Settings.model_validate({"database": {"url": sqlite_url}, "server": {"port": port}, "groups": groups})
    await aiohttp_server(build_app(settings), port=port)
    config = tmp_path / "duban.toml"
    config.write_text(
        f'[database]\nurl = "{sqlite_url}"\n[server]\nport = {port}\n'
        f'[[groups]]\nname = "{MEMBER_GROUP}"\nplatform = "sandbox"\n',
        encoding="utf-8",
    )
    command = ["--config", str(config), "say", "--as", "张伟", "--group", MEMBER_GROUP, "10月工作进展：完成项目2个。"]
    loaded, printed = await asyncio.to_thread(loaded_by, command, NOT_FOR_SAY)
    assert loaded == []
    assert f"[{MEMBER_GROUP}] 张伟：10月工作进展" in printed and "已收到【省商务厅】" in printed


async def test_say_finds_a_service_listening_elsewhere_than_the_configuration_says(
    sqlite_url: str, tmp_path: Path
) -> None:
    """``make run PORT=…`` serves on a port the configuration does not name (``DUBAN_SERVER__PORT`` for ``serve``
    alone): the service notes its address beside the configuration, and ``duban say`` in another shell goes through
    it (loading no database layer) rather than running the pipeline again in its own process. The note goes with
    the service."""
    db = Database(sqlite_url)
    try:
        await seed(db)
    finally:
        await db.close()
    configured, listening = _free_port(), _free_port()
    config = tmp_path / "duban.toml"
    config.write_text(
        f'[database]\nurl = "{sqlite_url}"\n[server]\nport = {configured}\n'
        f'[[groups]]\nname = "{MEMBER_GROUP}"\nplatform = "sandbox"\n',
        encoding="utf-8",
    )
    service = Instance(
        "make-run", config, listening, tmp_path / "serve.log", env={"DUBAN_SERVER__PORT": str(listening)}
    )
    await service.start()
    try:
        await service.ready()
        assert json.loads((tmp_path / SERVING_FILE).read_text(encoding="utf-8"))["port"] == listening
        command = ["--config", str(config), "say", "--as", "张伟", "--group", MEMBER_GROUP, "10月工作进展：完成2项。"]
        loaded, printed = await asyncio.to_thread(loaded_by, command, NOT_FOR_SAY)
        assert loaded == []
        assert "已收到【省商务厅】" in printed
    finally:
        await service.terminate()
    assert not (tmp_path / SERVING_FILE).exists()
