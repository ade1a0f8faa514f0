"""Several instances running ``duban db upgrade`` at once (each unit's ExecStartPre) on one PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from storage import migrate
from storage.db import Database


async def upgrade_process(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "db",
        "upgrade",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.postgres
async def test_concurrent_upgrades_all_succeed(pg_url: str | None) -> None:
    if pg_url is None:
        pytest.skip("needs a PostgreSQL server")
    server = make_url(pg_url)
    name = f"duban_upgrade_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(host=server.host, port=server.port, user=server.username, database="postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}, "DUBAN_DATABASE__URL": url}
    try:
        processes = [await upgrade_process(env) for _ in range(3)]  # all three started before any is awaited
        results = [await process.communicate() for process in processes]
        for process, (_out, err) in zip(processes, results, strict=True):
            assert process.returncode == 0, err.decode()
        db = Database(url)
        try:
            state = await migrate.schema_state(db)
        finally:
            await db.close()
        assert state.up_to_date
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
