"""SIGKILL during a fetch: ``duban serve`` dies while a liaison's document is half downloaded; another instance
takes the file over once the fetch lease runs out and stores it once, byte for byte, with one confirmation.

Two real processes on one database — PostgreSQL, and SQLite (one file shared by two processes, WAL).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from storage import migrate
from storage.db import Database
from storage.models import Blob, FileState, OutboxMessage, StoredFile
from tests.fakes import FakePlatforms
from tests.fakes.behaviour import Stall
from tests.faults_kit import (
    Callback,
    all_of,
    client,
    cluster,
    config_text,
    duban,
    eventually,
    fresh_database,
    post_callback,
    roster_csv,
    wecom_robot,
)
from tests.files_kit import make_docx, sha256
from tests.inbound_kit import BOT_AES_KEY, BOT_TOKEN, as_json, bot_message, seal

pytestmark = pytest.mark.slow

OFFICE = "工作机制办公室"
MEMBERS = "成员单位群01"
LEASE_SECONDS = 3


def file_callback(msgid: str, url: str, response_url: str) -> Callback:
    """省商务厅's liaison sends a document to the 智能机器人 1:1."""
    message = bot_message(
        msgid=msgid, chattype="single", msgtype="file", userid="zhangwei", file={"url": url}, response_url=response_url
    )
    sealed = seal(
        BOT_TOKEN, BOT_AES_KEY, "", as_json(message), timestamp=str(int(time.time())), nonce=secrets.token_hex(4)
    )
    query = urlencode({key: sealed[key] for key in ("msg_signature", "timestamp", "nonce")})
    return Callback(msgid, query, json.dumps({"encrypt": sealed["encrypt"]}).encode())


@asynccontextmanager
async def database(kind: str, tmp_path: Path, pg_url: str | None) -> AsyncIterator[str]:
    if kind == "postgres":
        async with fresh_database(pg_url) as url:
            yield url
        return
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    yield url


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_sigkill_during_a_fetch_is_resumed_by_the_other_instance(
    kind: str, tmp_path: Path, pg_url: str | None, fake_platforms: FakePlatforms
) -> None:
    for key in ("office", "members"):
        fake_platforms.wecom.add_robot(key)
    groups = [
        wecom_robot(OFFICE, fake_platforms.url, "office", office=True),
        wecom_robot(MEMBERS, fake_platforms.url, "members"),
    ]
    shared_files = tmp_path / "files"  # one directory, as instances on one host (or a shared volume) see it

    def make_config(port: int) -> str:
        extra = f'\n[files]\ndirectory = "{shared_files}"\nfetch_lease_seconds = {LEASE_SECONDS}\n'
        return config_text(url, port, fake_platforms.url, groups) + extra

    data = make_docx(paragraphs=200)
    file_url = fake_platforms.files.add_bot_file(data, "省商务厅10月工作进展.docx", BOT_AES_KEY)
    code = file_url.rsplit("/", 1)[1]
    fake_platforms.wecom.script(code, Stall(deliver=False))  # the first download never finishes
    async with database(kind, tmp_path, pg_url) as url, cluster(tmp_path, url, 2, make_config, start=False) as running:
        victim, survivor = running.instances
        roster = roster_csv(tmp_path / "roster.csv", [MEMBERS], OFFICE)
        assert (await duban(victim.config, "roster", "import", str(roster))).code == 0
        await victim.start()
        await victim.ready()
        async with client() as http:
            callback = file_callback("file-crash-1", file_url, fake_platforms.wecom.new_response_url())
            assert await post_callback(http, victim.url, callback) == 200
        db = Database(url)
        try:

            async def attempts() -> list[StoredFile]:
                return await all_of(db, StoredFile)

            await eventually(attempts, lambda rows: len(rows) == 1 and rows[0].locked_by is not None, within=30,
                             what="the victim fetching")  # fmt: skip
            await eventually(lambda: _stalled(fake_platforms), bool, within=30, what="the download under way")
            victim.kill()
            assert await victim.wait(within=10) == -9
            (file,) = await attempts()
            assert file.state is FileState.PENDING and str(victim.pid) in (file.locked_by or "")

            await survivor.start()
            await survivor.ready()
            await eventually(attempts, lambda rows: rows[0].state is FileState.STORED, within=60,
                             what="the survivor storing the file")  # fmt: skip
            (file,) = await attempts()
            assert (file.sha256, file.size, file.attempts) == (sha256(data), len(data), 2)
            assert str(survivor.pid) not in (file.locked_by or "")  # settled: no holder left
            async with db.sessions() as session:
                assert len((await session.scalars(select(Blob))).all()) == 1
            assert stored_copies(shared_files, sha256(data)) == [data]
            replies = [row for row in await all_of(db, OutboxMessage) if row.inbox_id is not None]
            assert len(replies) == 1 and "《省商务厅10月工作进展.docx》" in replies[0].message["body"]
            assert not running.tracebacks()
        finally:
            fake_platforms.wecom.release_stalls()
            await db.close()


async def _stalled(fakes: FakePlatforms) -> bool:
    return any(exchange.kind == "bot_file" for exchange in fakes.wecom.log)


def stored_copies(directory: Path, digest: str) -> list[bytes]:
    return [path.read_bytes() for path in directory.rglob(digest)]
