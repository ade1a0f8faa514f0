"""``duban backup``: an online, verified SQLite copy; the documented restore; the pg_dump command for PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
import shlex
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import asyncpg
import pytest
import time_machine
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from bot.cli import main
from storage import migrate
from storage.db import Database
from storage.models import Unit

CONFIG = '[database]\nurl = "{url}"\n'


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "duban.toml"
    path.write_text(CONFIG.format(url=url), encoding="utf-8")
    return path


def database_file(url: str) -> Path:
    return Path(str(make_url(url).database))


def unit_names(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as connection:
        return {row[0] for row in connection.execute("SELECT name FROM unit")}


def add_unit(connection: sqlite3.Connection, name: str) -> None:
    connection.execute(
        "INSERT INTO unit (name, division, active, created_at, updated_at) "
        "VALUES (?, '', 1, '2026-10-01 00:00:00', '2026-10-01 00:00:00')",
        (name,),
    )


def test_backup_while_a_writer_holds_the_lock(tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]):
    path = database_file(sqlite_url)
    config = write_config(tmp_path, sqlite_url)
    # A committed row that still lives only in the WAL (this connection stays open: no checkpoint) …
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("PRAGMA journal_mode=WAL")
    add_unit(reader, "省发展改革委")
    main_file_alone = tmp_path / "main-file-alone.db"
    shutil.copyfile(path, main_file_alone)
    assert unit_names(main_file_alone) == set()
    # … and a writer in the middle of a transaction, holding the write lock, while the backup runs.
    writer = sqlite3.connect(path, isolation_level=None, timeout=15)
    writer.execute("BEGIN IMMEDIATE")
    add_unit(writer, "未提交单位")
    target = tmp_path / "copies" / "copy.db"
    try:
        assert main(["--config", str(config), "backup", "-o", str(target)]) == 0
        writer.execute("COMMIT")  # the writer was not disturbed
    finally:
        writer.close()
        reader.close()

    assert unit_names(target) == {"省发展改革委"}
    with closing(sqlite3.connect(target)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert not target.with_name("copy.db-wal").exists()
    assert not target.with_name("copy.db.partial").exists()
    printed = capsys.readouterr().out
    assert f"备份文件：{target}" in printed
    assert f"（{target.stat().st_size} 字节）" in printed
    assert "完整性检查：通过" in printed
    assert f"数据库结构版本：{migrate.head_revision()}" in printed
    assert unit_names(path) == {"省发展改革委", "未提交单位"}


def test_default_name_is_stamped_in_the_office_zone(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path, sqlite_url)
    with time_machine.travel("2026-11-20T02:32:05+00:00", tick=False):
        assert main(["--config", str(config), "backup"]) == 0
    expected = database_file(sqlite_url).parent / "backups" / "duban-20261120-103205.db"
    assert expected.is_file()


def test_restore_brings_the_data_back(tmp_path: Path, sqlite_url: str) -> None:
    path = database_file(sqlite_url)
    config = write_config(tmp_path, sqlite_url)

    async def rename(old: str, new: str) -> None:
        db = Database(sqlite_url)
        try:
            async with db.transaction() as session:
                await session.execute(update(Unit).where(Unit.name == old).values(name=new))
        finally:
            await db.close()

    async def names() -> set[str]:
        db = Database(sqlite_url)
        try:
            async with db.sessions() as session:
                return set((await session.scalars(select(Unit.name))).all())
        finally:
            await db.close()

    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        add_unit(connection, "省发展改革委")
    target = tmp_path / "before.db"
    assert main(["--config", str(config), "backup", "-o", str(target)]) == 0
    asyncio.run(rename("省发展改革委", "改错的名称"))
    assert asyncio.run(names()) == {"改错的名称"}

    # The documented restore: service stopped; copy the backup over; drop stale -wal/-shm; upgrade; start.
    shutil.copyfile(target, path)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert main(["--config", str(config), "db", "current"]) == 0
    assert asyncio.run(names()) == {"省发展改革委"}


def test_an_existing_file_is_never_overwritten(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sqlite_url)
    target = tmp_path / "taken.db"
    target.write_bytes(b"an earlier backup")
    assert main(["--config", str(config), "backup", "-o", str(target)]) == 1
    assert target.read_bytes() == b"an earlier backup"
    assert "已存在，未覆盖" in capsys.readouterr().err


def test_a_missing_database_is_reported_not_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "var" / "nowhere.db"
    config = write_config(tmp_path, f"sqlite+aiosqlite:///{missing}")
    assert main(["--config", str(config), "backup", "-o", str(tmp_path / "copy.db")]) == 1
    assert "不存在" in capsys.readouterr().err
    assert not missing.exists()
    assert not (tmp_path / "copy.db").exists()


def test_postgresql_gets_the_pg_dump_command_without_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+asyncpg://duban:s3cret-pw@db.internal:6543/duban_prod?ssl=require"
    config = write_config(tmp_path, url)
    with time_machine.travel("2026-11-20T02:32:05+00:00", tick=False):
        assert main(["--config", str(config), "backup"]) == 0
    printed = capsys.readouterr().out
    assert "s3cret-pw" not in printed
    assert (
        "PGSSLMODE=require pg_dump --format=custom --host=db.internal --port=6543 --username=duban "
        "--dbname=duban_prod --file=duban-20261120-103205.dump"
    ) in printed
    assert (
        "PGSSLMODE=require pg_restore --clean --if-exists --no-owner --host=db.internal --port=6543 "
        "--username=duban --dbname=duban_prod duban-20261120-103205.dump"
    ) in printed


def _printed_command(printed: str, tool: str) -> list[str]:
    line = next(line for line in printed.splitlines() if line.strip().startswith(tool))
    return shlex.split(line)


async def _admin(url: str) -> asyncpg.Connection:
    parsed = make_url(url)
    return await asyncpg.connect(host=parsed.host, port=parsed.port, user=parsed.username, database="postgres")


@pytest.mark.postgres
def test_the_printed_pg_commands_dump_and_restore(
    tmp_path: Path, pg_url: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    if pg_url is None or shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("needs a PostgreSQL server and the pg_dump/pg_restore client tools")
    source = Database(pg_url)

    async def add(name: str) -> None:
        async with source.transaction() as session:
            session.add(Unit(name=name))
        await source.close()

    name = f"备份演练单位-{secrets.token_hex(3)}"
    asyncio.run(add(name))
    dump = tmp_path / "duban.dump"
    assert main(["--config", str(write_config(tmp_path, pg_url)), "backup", "-o", str(dump)]) == 0
    printed = capsys.readouterr().out
    subprocess.run(_printed_command(printed, "pg_dump"), check=True, capture_output=True)
    assert dump.stat().st_size > 0

    restored_db = f"duban_restore_{secrets.token_hex(4)}"
    restored_url = make_url(pg_url).set(database=restored_db).render_as_string(hide_password=False)

    async def create_then_read() -> set[str]:
        admin = await _admin(pg_url)
        try:
            await admin.execute(f'CREATE DATABASE "{restored_db}"')
        finally:
            await admin.close()
        restore = [
            arg if not arg.startswith("--dbname=") else f"--dbname={restored_db}"
            for arg in _printed_command(printed, "pg_restore")
        ]
        await asyncio.to_thread(subprocess.run, restore, check=True, capture_output=True)
        copy = Database(restored_url)
        try:
            async with copy.sessions() as session:
                return set((await session.scalars(select(Unit.name))).all())
        finally:
            await copy.close()

    async def drop() -> None:
        admin = await _admin(pg_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{restored_db}" WITH (FORCE)')
        finally:
            await admin.close()

    try:
        assert name in asyncio.run(create_then_read())
    finally:
        asyncio.run(drop())
