"""The directory store's files in a backup: every blob copied beside the database backup, each one verified.

Blobs are immutable and named by their sha256, so a copy is complete when every name is present with its
content hashing to its name; copying into an existing backup directory adds only what is missing. The
database store needs nothing here: its bytes are in the database backup.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

READ_BYTES = 1024 * 1024


@dataclass(frozen=True)
class FilesBackup:
    directory: Path
    copied: int
    present: int
    size: int


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(READ_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def blob_paths(root: Path) -> list[Path]:
    """Every stored blob under ``root`` (``ab/cd/<sha256>``; the spool is left out)."""
    if not root.is_dir():
        return []
    return sorted(path for path in root.glob("??/??/*") if path.is_file() and len(path.name) == 64)


def backup_files(root: Path, target: Path) -> FilesBackup:
    """Copy the blobs under ``root`` to ``target`` (same layout), verifying each copy's hash."""
    copied = present = size = 0
    for source in blob_paths(root):
        relative = source.relative_to(root)
        destination = target / relative
        size += source.stat().st_size
        if destination.is_file() and destination.stat().st_size == source.stat().st_size:
            present += 1
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".partial")
        shutil.copyfile(source, partial)
        with partial.open("rb+") as handle:
            os.fsync(handle.fileno())
        if _digest(partial) != source.name:
            partial.unlink()
            raise OSError(f"{relative}: the copy does not match its hash")
        partial.replace(destination)
        copied += 1
    return FilesBackup(target, copied, present, size)
