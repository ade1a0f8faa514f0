"""Alembic, driven from code: ``duban db upgrade`` and the start-up check of the schema's version."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.db import Database, ensure_sqlite_directory

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = url
    return config


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config("")).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads; merge them")
    return heads[0]


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking: call it outside the event loop or in a thread)."""
    ensure_sqlite_directory(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def schema_state(db: Database) -> SchemaState:
    async with db.engine.connect() as connection:
        current = await connection.run_sync(_current_revision)
    return SchemaState(current=current, head=head_revision())
