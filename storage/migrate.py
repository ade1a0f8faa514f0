"""Alembic, driven from code: ``duban db upgrade`` and the start-up check of the schema's version.

The check runs before every command that touches the database, so it does not load Alembic (a fifth of a
second): it reads the head from the revision files (:mod:`storage.revisions`) and the current version from
``alembic_version``. ``tests/test_migrations.py`` holds that head equal to Alembic's own answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from storage.db import Database, ensure_sqlite_directory
from storage.revisions import MIGRATIONS
from storage.revisions import head_revision as head_revision  # re-exported: the start-up check's head

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking: call it outside the event loop or in a thread)."""
    from alembic import command

    ensure_sqlite_directory(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(versions) > 1:
        raise RuntimeError(f"alembic_version holds {len(versions)} rows; the database has several heads")
    return str(versions[0]) if versions else None


async def schema_state(db: Database) -> SchemaState:
    async with db.engine.connect() as connection:
        current = await connection.run_sync(_current_revision)
    return SchemaState(current=current, head=head_revision())


class SchemaOutOfDate(RuntimeError):
    """The database is behind the code: the operator must run ``duban db upgrade`` first."""


async def check_schema(db: Database) -> None:
    state = await schema_state(db)
    if not state.up_to_date:
        current = state.current or "（空库）"
        raise SchemaOutOfDate(
            f"数据库结构版本为 {current}，程序需要 {state.head}。请先运行 `duban db upgrade`，再启动服务。"
        )
