"""A liaison's document through each channel, byte for byte: callback → inbox → fetch queue → blob store →
``duban files get`` and the zip export, with its text in ``查看`` and a confirmation naming file and size."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
import time_machine
from handlers_kit import Roster, local, replies_to, say, seed
from sqlalchemy import select

from bot.context import AppContext
from storage.blobs import CHUNK_BYTES
from storage.db import Database
from storage.models import Blob, BlobChunk, FileState, InboxMessage, OutboxMessage, StoredFile
from tests.fakes.server import FakePlatforms
from tests.files_kit import (
    DOCX_TEXT,
    Client,
    deliver,
    duban,
    files_settings,
    make_docx,
    make_world,
    send_file,
    sha256,
    write_config,
)
from tests.inbound_kit import (
    inbound_app,
)

NOW = local(2026, 11, 20, 10)


async def only_file(db: Database) -> StoredFile:
    async with db.sessions() as session:
        (file,) = (await session.scalars(select(StoredFile))).all()
        return file


@pytest.fixture
async def world(db: Database, fake_platforms: FakePlatforms, tmp_path: Path, aiohttp_client: Client) -> dict[str, Any]:
    return await make_world(db, fake_platforms, tmp_path, aiohttp_client)


@pytest.mark.parametrize("channel", ["wecom_app", "wecom_bot", "dingtalk"])
async def test_a_docx_arrives_byte_for_byte_through_each_channel(
    channel: str, world: dict[str, Any], db: Database, fake_platforms: FakePlatforms, tmp_path: Path
) -> None:
    roster: Roster = world["roster"]
    data = make_docx()
    name = "省商务厅2026年10月工作进展.docx"
    with time_machine.travel(NOW, tick=True):
        await send_file(channel, world["client"], fake_platforms, data, name)
        assert await deliver(world["ctx"]) == 1
    file = await only_file(db)
    assert (file.state, file.name, file.size, file.sha256) == (FileState.STORED, name, len(data), sha256(data))
    assert DOCX_TEXT in file.text
    assert file.unit_id == roster.commerce.id and file.period == "2026-10"

    # The sender is told which file arrived and how large it is.
    replies = await replies_to(db, file.inbox_id or 0)
    assert len(replies) == 1
    assert "已登记为第1版" in replies[0]
    assert f"《{name}》（{len(data) // 1024} KB）已存档，已提取文字" in replies[0]

    # Byte for byte out of the store, as a person would take it.
    config = write_config(world["config"], world["settings"])
    out = tmp_path / "取出.docx"
    assert await duban(config, "files", "get", str(file.id), "-o", str(out)) == 0
    assert sha256(out.read_bytes()) == sha256(data)

    # …and in the zip export, under the unit and its version, the name flagged as UTF-8.
    archive_path = tmp_path / "报送-2026-10.zip"
    with time_machine.travel(local(2026, 11, 28, 9), tick=False):
        assert await duban(config, "export", "--period", "2026-10", "-o", str(archive_path)) == 0
    with zipfile.ZipFile(archive_path) as archive:
        entry = archive.getinfo(f"省商务厅/第1版/{name}")
        assert entry.flag_bits & 0x800
        assert sha256(archive.read(entry)) == sha256(data)
        assert "台账-2026-10.xlsx" in archive.namelist()

    # The document's text is what 查看 shows for the version.
    shown = await say(db, roster.office, "查看 省商务厅 10月", local(2026, 11, 21, 9))
    assert DOCX_TEXT in shown[0]
    assert f"《{name}》" in shown[0]


async def test_the_database_store_keeps_the_same_bytes(
    db: Database, fake_platforms: FakePlatforms, tmp_path: Path, aiohttp_client: Client
) -> None:
    await seed(db)
    settings = files_settings(db.url, fake_platforms, tmp_path / "files", files={"store": "database"})
    client = await aiohttp_client(inbound_app(settings, db))
    ctx = AppContext(settings=settings, db=db, instance_id="test:db-store")
    data = make_docx(paragraphs=4000)  # several chunks
    with time_machine.travel(NOW, tick=True):
        await send_file("dingtalk", client, fake_platforms, data, "进展.docx")
        await deliver(ctx)
    file = await only_file(db)
    async with db.sessions() as session:
        blob = await session.get_one(Blob, file.sha256)
    assert (blob.backend, blob.size) == ("database", len(data))
    assert copies(tmp_path / "files", file.sha256 or "-") == 0
    out = tmp_path / "out.docx"
    assert (
        await duban(write_config(tmp_path / "duban.toml", settings), "files", "get", str(file.id), "-o", str(out)) == 0
    )
    assert out.read_bytes() == data


@pytest.mark.parametrize("store", ["directory", "database"])
async def test_the_same_file_twice_at_once_is_stored_once(
    store: str, db: Database, fake_platforms: FakePlatforms, tmp_path: Path, aiohttp_client: Client
) -> None:
    world = await make_world(db, fake_platforms, tmp_path, aiohttp_client, files={"store": store})
    data = make_docx(paragraphs=2000)
    with time_machine.travel(NOW, tick=True):
        for _ in range(4):  # fetched side by side by the worker's lanes
            await send_file("wecom_app", world["client"], fake_platforms, data, "a.docx")
        await deliver(world["ctx"])
    async with db.sessions() as session:
        files = list(await session.scalars(select(StoredFile).order_by(StoredFile.id)))
        blobs = list(await session.scalars(select(Blob)))
        chunks = len((await session.scalars(select(BlobChunk.seq))).all())
    assert [file.state for file in files] == [FileState.STORED] * 4
    assert len(blobs) == 1 and blobs[0].backend == store
    on_disk = copies(Path(world["settings"].files.directory), sha256(data))
    assert (on_disk, chunks) == ((1, 0) if store == "directory" else (0, -(-len(data) // CHUNK_BYTES)))


def copies(directory: Path, digest: str) -> int:
    return len(list(directory.rglob(digest)))


async def test_files_list_as_json(world: dict[str, Any], db: Database, fake_platforms: FakePlatforms) -> None:
    import json

    with time_machine.travel(NOW, tick=True):
        await send_file("wecom_bot", world["client"], fake_platforms, make_docx(), "进展.docx")
        await deliver(world["ctx"])
    config = write_config(world["config"], world["settings"])
    listed = await listing(config, "--period", "2026-10", "--unit", "商务", "--json")
    (item,) = json.loads(listed)
    assert (item["unit"], item["version"], item["name"], item["state"]) == ("省商务厅", 1, "进展.docx", "stored")
    assert json.loads(await listing(config, "--period", "2026-09", "--json")) == []


async def listing(config: Path, *args: str) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert await duban(config, "files", "list", *args) == 0
    return out.getvalue()


async def test_a_message_row_has_its_reply_only_after_the_fetch(
    world: dict[str, Any], db: Database, fake_platforms: FakePlatforms
) -> None:
    from bot.inbox_worker import drain

    with time_machine.travel(NOW, tick=True):
        await send_file("wecom_app", world["client"], fake_platforms, make_docx(), "a.docx")
        await drain(world["ctx"])
    async with db.sessions() as session:
        assert (await session.scalars(select(OutboxMessage))).all() == []
        (row,) = (await session.scalars(select(InboxMessage))).all()
    assert row.attachments[0]["name"] == "a.docx"
