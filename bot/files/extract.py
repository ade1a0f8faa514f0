"""The text of a document (docx, pdf, xlsx, txt), read in a child process bounded in memory, CPU and time.

A docx or xlsx is a zip of XML: a zip bomb or a gigabyte of XML could exhaust memory, and a broken PDF can
send a parser into a long loop. So the parsing runs in ``python -m bot.files.extract PATH KIND MAX_CHARS``
under ``RLIMIT_AS``/``RLIMIT_CPU`` and a wall-clock timeout, after zip entries were checked for their declared
sizes and compression ratios. Whatever happens, the file itself is already stored: a failure only leaves the
text empty with a note saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MEMORY_LIMIT = 768 * 1024 * 1024
MAX_ZIP_TOTAL = 200 * 1024 * 1024  # declared uncompressed size of all entries
MAX_XML_ENTRY = 50 * 1024 * 1024
MAX_RATIO = 200  # uncompressed / compressed, per entry over 1 MB
MAX_PDF_PAGES = 500
TEXT_KINDS = {"docx": "docx", "pdf": "pdf", "xlsx": "xlsx", "xlsm": "xlsx", "txt": "txt", "csv": "txt", "md": "txt"}


@dataclass(frozen=True)
class Extracted:
    text: str
    note: str = ""  # why there is no (or only partial) text


class Unreadable(Exception):
    """The document cannot be read safely (the message is the note shown to people)."""


def document_kind(name: str, head: bytes) -> str | None:
    """Which reader fits: by extension, and for ``.wps``/``.et``/unnamed files by what the bytes are."""
    extension = name.rpartition(".")[2].casefold() if "." in name else ""
    if extension in TEXT_KINDS:
        return TEXT_KINDS[extension]
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"PK\x03\x04") and extension in ("wps", "et", ""):
        return "zip-office"  # WPS saves OOXML under its own extensions at times
    return None


def check_zip(path: Path) -> None:
    """Refuse zip bombs and huge XML before any parser sees them."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise Unreadable("文件不是有效的 Office 文档（压缩包损坏）") from exc
    total = sum(entry.file_size for entry in entries)
    if total > MAX_ZIP_TOTAL:
        raise Unreadable("文档解压后体积过大，未提取文字")
    for entry in entries:
        if entry.file_size > MAX_XML_ENTRY and entry.filename.endswith(".xml"):
            raise Unreadable("文档内部内容过大，未提取文字")
        if entry.file_size > 1024 * 1024 and entry.file_size > MAX_RATIO * max(entry.compress_size, 1):
            raise Unreadable("文档压缩比异常（疑似压缩炸弹），未提取文字")


def _docx(path: Path) -> Iterator[str]:
    import docx

    document = docx.Document(str(path))
    for paragraph in document.paragraphs:
        yield paragraph.text
    for table in document.tables:
        for row in table.rows:
            yield "\t".join(cell.text for cell in row.cells)


def _xlsx(path: Path) -> Iterator[str]:
    import openpyxl

    source = path.open("rb")  # a file object: openpyxl refuses paths without an Excel extension
    workbook = openpyxl.load_workbook(source, read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            yield f"【{sheet.title}】"
            for row in sheet.iter_rows(values_only=True):
                cells = ["" if value is None else str(value) for value in row]
                if any(cells):
                    yield "\t".join(cells).rstrip()
    finally:
        workbook.close()
        source.close()


def _pdf(path: Path) -> Iterator[str]:
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(str(path))
    for number, page in enumerate(reader.pages):
        if number >= MAX_PDF_PAGES:
            break
        yield page.extract_text() or ""


def _txt(path: Path, max_chars: int) -> Iterator[str]:
    with path.open("rb") as source:
        raw = source.read(max_chars * 4)
    for encoding in ("utf-8-sig", "gb18030"):
        with contextlib.suppress(UnicodeDecodeError):
            yield raw.decode(encoding)
            return
    yield raw.decode("utf-8", errors="replace")


def read_text(path: Path, kind: str, max_chars: int) -> str:
    """The text, at most ``max_chars`` characters (runs in the bounded child)."""
    if kind in ("docx", "xlsx", "zip-office"):
        check_zip(path)
    if kind == "zip-office":
        with zipfile.ZipFile(path) as archive:
            kind = "xlsx" if "xl/workbook.xml" in archive.namelist() else "docx"
    parts = {"docx": _docx, "xlsx": _xlsx, "pdf": _pdf}.get(kind)
    lines = parts(path) if parts is not None else _txt(path, max_chars)
    collected: list[str] = []
    size = 0
    for line in lines:
        collected.append(line)
        size += len(line) + 1
        if size >= max_chars:
            break
    return "\n".join(collected).strip()[:max_chars]


async def extract_text(path: Path, name: str, *, max_chars: int, seconds: float) -> Extracted:
    """The document's text, or an empty text and a note; never raises for a bad document."""
    with path.open("rb") as handle:
        head = handle.read(8)
    kind = document_kind(name, head)
    if kind is None:
        return Extracted("", "")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.files.extract",
        str(path),
        kind,
        str(max_chars),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), seconds)
    except TimeoutError:
        process.kill()
        await process.wait()
        return Extracted("", f"读取文档文字超时（超过{seconds:g}秒），文件已完整保存")
    if process.returncode == 0:
        return Extracted(out.decode("utf-8", errors="replace"))
    if process.returncode == 3:
        return Extracted("", err.decode("utf-8", errors="replace").strip()[:200])
    return Extracted("", "无法读取文档文字（文档可能已损坏或格式异常），文件已完整保存")


def main(argv: list[str]) -> int:
    path, kind, max_chars = Path(argv[0]), argv[1], int(argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
    try:
        text = read_text(path, kind, max_chars)
    except Unreadable as exc:
        sys.stderr.buffer.write(str(exc).encode())
        return 3
    sys.stdout.buffer.write(text.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
