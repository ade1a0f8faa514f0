"""The head of the migrations, read from the revision files without Alembic or SQLAlchemy.

Each file's ``revision`` and ``down_revision`` assignments are read with :mod:`ast`: loading Alembic takes a fifth
of a second, and every command checks the schema before it touches the database (``duban status`` without
SQLAlchemy at all, :mod:`storage.quick_read`).
"""

from __future__ import annotations

import ast
from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
VERSIONS = MIGRATIONS / "versions"


def _revision_ids(path: Path) -> tuple[str, tuple[str, ...]]:
    """A revision file's own id and the ids it revises, read from its module-level assignments."""
    revision: str | None = None
    revises: tuple[str, ...] = ()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target: ast.expr
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, expression = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, expression = node.targets[0], node.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        if target.id == "revision":
            revision = str(ast.literal_eval(expression))
        elif target.id == "down_revision":
            value = ast.literal_eval(expression)
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
