"""``duban backup``: a consistent copy of the database, taken while the service runs.

SQLite goes through SQLite's online backup API, which copies one consistent snapshot (the WAL's committed
pages included, anything uncommitted left out) while writers carry on; the copy is checked with
``PRAGMA integrity_check`` before it is given its final name. For PostgreSQL the right tool is ``pg_dump``:
the command prints the exact invocation for the configured database (never its password).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.base import CliError, SubParsers, settings_of

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from bot.config import Settings

PG_DEFAULT_PORT = 5432


def register(sub: SubParsers) -> None:
    backup = sub.add_parser(
        "backup", help="备份数据库（SQLite 在线备份；PostgreSQL 给出 pg_dump 命令）及联络员发送的文件"
    )
    backup.add_argument(
        "-o",
        "--output",
        help="备份文件路径（SQLite 默认 数据库所在目录/backups/duban-年月日-时分秒.db；不覆盖已有文件）",
    )
    backup.set_defaults(func=cmd_backup)


@dataclass(frozen=True)
class SqliteBackup:
    path: Path
    size: int
    revision: str | None


def backup_sqlite(source: Path, target: Path) -> SqliteBackup:
    """Copy the live database at ``source`` to ``target`` (which must not exist) and verify the copy."""
    if not source.is_file():
        raise CliError(f"数据库文件 {source} 不存在，无从备份。")
    if target.exists():
        raise CliError(f"备份文件 {target} 已存在，未覆盖。请另选文件名。")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)  # left by an interrupted run
    try:
        from storage.db import SQLITE_BUSY_TIMEOUT_MS

        # mode=rw: never create an empty database where the real one is missing.
        live = sqlite3.connect(source.resolve().as_uri() + "?mode=rw", uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        with closing(live), closing(sqlite3.connect(partial)) as copy:
            live.backup(copy)  # one step: a single consistent snapshot, writers are not blocked (WAL)
            copy.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
            verdict = [row[0] for row in copy.execute("PRAGMA integrity_check")]
            revision = _revision(copy)
        if verdict != ["ok"]:
            raise CliError(f"备份文件未通过完整性检查（{'; '.join(verdict[:3])}），已删除。请检查磁盘后重试。")
        with partial.open("rb+") as handle:
            os.fsync(handle.fileno())
        partial.replace(target)
    except sqlite3.Error as exc:
        raise CliError(f"备份失败：{exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return SqliteBackup(path=target, size=target.stat().st_size, revision=revision)


def _revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # a database never migrated has no such table
        return None
    return str(row[0]) if row else None


def _human_size(size: int) -> str:
    value, unit = size / 1024, "KB"
    for bigger in ("MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"


def cmd_backup(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    settings = settings_of(args)
    url = make_url(settings.database.url)
    stamp = datetime.now(settings.tz).strftime("%Y%m%d-%H%M%S")
    if url.get_backend_name() == "sqlite":
        code = _backup_sqlite(url, args.output, stamp)
        database_backup = Path(args.output) if args.output else Path(url.database or "").parent / "backups"
        if not args.output:
            database_backup = database_backup / f"duban-{stamp}.db"
    else:
        database_backup = Path(args.output or f"duban-{stamp}.dump")
        print_pg_commands(url, str(database_backup))
        code = 0
    _backup_files(settings, database_backup)
    return code


def _backup_files(settings: Settings, database_backup: Path) -> None:
    """The directory store's files, copied to ``<backup>.files`` (the database store's are in the database)."""
    from bot.files.backup import backup_files
    from bot.files.worker import files_directory

    root = files_directory(settings)
    target = Path(f"{database_backup}.files")
    try:
        done = backup_files(root, target)
    except OSError as exc:
        raise CliError(f"文件备份失败：{exc}") from None
    if done.copied + done.present == 0:
        return
    print(f"已备份联络员发送的文件（{root}）")
    print(f"  文件目录：{done.directory}（{done.copied + done.present} 个，{_human_size(done.size)}，逐个校验 sha256）")
    print(f"  恢复方法：停止服务后，把该目录的内容复制回 {root}（配置 [files] directory）。")


def _backup_sqlite(url: URL, output: str | None, stamp: str) -> int:
    if not url.database or url.database == ":memory:":
        raise CliError("内存数据库无法备份。")
    source = Path(url.database)
    target = Path(output) if output else source.parent / "backups" / f"duban-{stamp}.db"
    done = backup_sqlite(source, target)
    print(f"已备份 SQLite 数据库 {source}")
    print(f"  备份文件：{done.path}")
    print(f"  大小：{_human_size(done.size)}（{done.size} 字节）")
    print("  完整性检查：通过")
    print(f"  数据库结构版本：{done.revision or '（未迁移）'}")
    wal = " 和 ".join(shlex.quote(f"{source}{suffix}") for suffix in ("-wal", "-shm"))
    print(
        f"恢复方法：停止服务；把备份文件复制为 {source}；删除 {wal}（如有）；"
        "运行 `duban db upgrade`；再启动服务。详见 deploy/README.md。"
    )
    return 0


def _connection_options(url: URL) -> list[str]:
    options = []
    if url.host:
        options.append(f"--host={url.host}")
    options.append(f"--port={url.port or PG_DEFAULT_PORT}")
    if url.username:
        options.append(f"--username={url.username}")
    return options


def _ssl_prefix(url: URL) -> str:
    """asyncpg's ``?ssl=require`` (or libpq's ``sslmode``) as the ``PGSSLMODE`` the libpq tools read."""
    mode = url.query.get("sslmode") or url.query.get("ssl")
    if isinstance(mode, tuple):
        mode = mode[-1]
    return f"PGSSLMODE={shlex.quote(mode)} " if mode else ""


def print_pg_commands(url: URL, output: str) -> None:
    database = url.database or ""
    connection = _connection_options(url)
    prefix = _ssl_prefix(url)
    dump = shlex.join(["pg_dump", "--format=custom", *connection, f"--dbname={database}", f"--file={output}"])
    restore = shlex.join(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", *connection, f"--dbname={database}", output]
    )
    print("PostgreSQL 数据库请用 pg_dump 备份（自定义格式，服务运行时即可执行，得到一致的快照）：")
    print(f"  {prefix}{dump}")
    print("密码不写在命令里：请用 ~/.pgpass 文件或 PGPASSWORD 环境变量提供。")
    print("恢复时先停止所有 duban 实例，再执行下面的命令，然后运行 `duban db upgrade` 并启动服务：")
    print(f"  {prefix}{restore}")
