"""Names from a platform are data, never paths: what a stored file may be called on disk, in a zip, in a reply.

A name is reduced to its last path component, stripped of control and format characters and of characters
Windows refuses (``<>:"/\\|?*``), never ``.``/``..`` or a reserved device name (``CON``, ``NUL``, ``COM1``…),
and cut to a length every file system takes (UTF-8 bytes, keeping the extension). An empty result gets a name
from the kind of file. Within one report version a name that repeats gets `` (2)``, `` (3)``… before its
extension, so no file hides another in an export.
"""

from __future__ import annotations

import mimetypes
import unicodedata
from collections.abc import Iterable

MAX_NAME_BYTES = 180  # under every common file system's 255 bytes, leaving room for a version prefix
_FORBIDDEN = set('<>:"/\\|?*')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)), *(f"LPT{n}" for n in range(1, 10))}
KIND_NAMES = {"file": "文件", "image": "图片", "voice": "语音", "video": "视频"}


def _clean_char(char: str) -> str:
    if char in _FORBIDDEN:
        return "_"
    category = unicodedata.category(char)
    if category[0] == "C":  # control, format (bidi overrides), surrogates, private use, unassigned
        return ""
    if category[0] == "Z":
        return " "
    return char


def _cut(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode(errors="ignore")


def safe_name(raw: str, *, kind: str = "file", content_type: str = "") -> str:
    """A name safe to use as one path component anywhere, as close to ``raw`` as that allows."""
    text = unicodedata.normalize("NFC", raw or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(_clean_char(char) for char in text)
    text = " ".join(text.split()).strip(" .")
    stem, dot, extension = text.rpartition(".")
    if not dot:
        stem, extension = text, ""
    extension = _cut(extension, 16) if extension else ""
    if not stem:
        stem = KIND_NAMES.get(kind, "文件")
        if not extension and content_type:
            guessed = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""
            extension = guessed.lstrip(".")
    if stem.split(".")[0].upper() in _RESERVED:
        stem = "_" + stem
    suffix = f".{extension}" if extension else ""
    stem = _cut(stem, MAX_NAME_BYTES - len(suffix.encode())).rstrip(" .") or "_"
    return stem + suffix


def unique_names(names: Iterable[str]) -> list[str]:
    """``names`` with repeats (compared case-insensitively, as Windows does) numbered `` (2)``, `` (3)``…"""
    taken: set[str] = set()
    result: list[str] = []
    for name in names:
        candidate, number = name, 1
        stem, dot, extension = name.rpartition(".")
        if not dot or not stem:
            stem, extension = name, ""
        while candidate.casefold() in taken:
            number += 1
            candidate = f"{stem} ({number})" + (f".{extension}" if extension else "")
        taken.add(candidate.casefold())
        result.append(candidate)
    return result


def human_size(size: int | None) -> str:
    """``1.2 MB``, ``35 KB``, ``512 字节``."""
    if size is None:
        return "大小未知"
    if size < 1024:
        return f"{size} 字节"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
