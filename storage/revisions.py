"""The head of the migrations, read from the revision files without Alembic or SQLAlchemy.

Every command checks the schema before it touches the database, and loading Alembic takes a fifth of a second
(``duban status`` on SQLite loads not even SQLAlchemy: :mod:`storage.sqlite_read`). So each file's module-level
``revision`` and ``down_revision`` lines are read as text and their values as Python literals (Alembic writes each
on one line); ``tests/test_migrations.py`` holds the head found here equal to Alembic's own.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
VERSIONS = MIGRATIONS / "versions"

# ``revision: str = "0009"`` or ``down_revision = ("0007", "0008")`` at the start of a line (module level).
_ASSIGNMENT = re.compile(r"^(revision|down_revision)[ \t]*(?::[^=\n]*)?=[ \t]*(.+?)[ \t]*$", re.MULTILINE)


def _revision_ids(path: Path) -> tuple[str, tuple[str, ...]]:
    """A revision file's own id and the ids it revises."""
    revision: str | None = None
    revises: tuple[str, ...] = ()
    for name, literal in _ASSIGNMENT.findall(path.read_text(encoding="utf-8")):
        value = ast.literal_eval(literal)
        if name == "revision":
            revision = str(value)
        else:
            revises = () if value is None else (value,) if isinstance(value, str) else tuple(value)
    if revision is None:
        raise RuntimeError(f"migration {path.name} names no revision")
    return revision, revises


def head_revision() -> str:
    """The one revision no other revises (raises when the migrations have several heads)."""
    revisions = [_revision_ids(path) for path in sorted(VERSIONS.glob("*.py"))]
    revised = {parent for _, parents in revisions for parent in parents}
    heads = [revision for revision, _ in revisions if revision not in revised]
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads; merge them")
    return heads[0]
