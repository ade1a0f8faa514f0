"""Files as part of the report: the window rule, advice in groups, hostile names, hostile documents, backup."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
import time_machine
from handlers_kit import local, say, seed, submissions
from sqlalchemy import select

from bot.files.extract import extract_text
from handlers import file_texts
from storage.db import Database
from storage.file_names import MAX_NAME_BYTES, safe_name, unique_names
from storage.models import FileState, StoredFile
from tests.fakes.server import FakePlatforms
from tests.files_kit import (
    Client,
    deliver,
    duban,
    make_docx,
    make_pdf,
    make_world,
    make_xlsx,
    send_dingtalk_text,
    send_file,
    sha256,
    write_config,
)

NOW = local(2026, 11, 20, 10)


def document(name: str) -> dict[str, Any]:
    return {"kind": "file", "media_id": "M", "name": name}


async def held(db: Database) -> list[StoredFile]:
    async with db.sessions() as session:
        return list(await session.scalars(select(StoredFile).order_by(StoredFile.id)))


# ---- the window rule --------------------------------------------------------------------------------------


async def test_a_document_after_the_same_liaisons_text_joins_that_version(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "10月工作进展见附件", local(2026, 11, 20, 9))
    await say(db, roster.liaison, "", local(2026, 11, 20, 9, 9), msgtype="file", attachments=[document("进展.docx")])
    (version,) = await submissions(db, roster.commerce)
    assert version.text == "10月工作进展见附件"
    (file,) = await held(db)
    assert file.submission_id == version.id and file.reply_lead.endswith("已附于第1版（11月20日09:00报送）。")


async def test_a_document_outside_the_window_is_a_new_version(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "10月工作进展见附件", local(2026, 11, 20, 9))
    await say(db, roster.liaison, "", local(2026, 11, 20, 9, 11), msgtype="file", attachments=[document("进展.docx")])
    _first, second = await submissions(db, roster.commerce)
    (file,) = await held(db)
    assert (second.version, second.text, file.submission_id) == (2, "", second.id)
    assert "已登记为第2版" in file.reply_lead


async def test_another_liaisons_document_is_a_new_version(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "10月工作进展见附件", local(2026, 11, 20, 9))
    await say(db, roster.deputy, "", local(2026, 11, 20, 9, 2), msgtype="file", attachments=[document("进展.docx")])
    assert [version.version for version in await submissions(db, roster.commerce)] == [1, 2]


async def test_the_window_is_configurable(db: Database) -> None:
    from dataclasses import replace
    from datetime import timedelta

    from handlers_kit import POLICY

    roster = await seed(db)
    policy = replace(POLICY, file_join_window=timedelta(minutes=30))
    await say(db, roster.liaison, "10月工作进展见附件", local(2026, 11, 20, 9), policy=policy)
    await say(
        db,
        roster.liaison,
        "",
        local(2026, 11, 20, 9, 25),
        msgtype="file",
        attachments=[document("a.docx")],
        policy=policy,
    )
    assert len(await submissions(db, roster.commerce)) == 1


async def test_duplicate_names_in_one_version_are_numbered(db: Database) -> None:
    roster = await seed(db)
    await say(db, roster.liaison, "10月工作进展见附件", local(2026, 11, 20, 9))
    for minute in (1, 2):
        await say(
            db, roster.liaison, "", local(2026, 11, 20, 9, minute), msgtype="file", attachments=[document("进展.docx")]
        )
    assert [file.name for file in await held(db)] == ["进展.docx", "进展 (2).docx"]


async def test_voice_and_video_sent_as_media_are_kept_as_files(db: Database) -> None:
    roster = await seed(db)
    voice = {"kind": "voice", "media_id": "V1", "format": "amr"}
    video = {"kind": "video", "download_code": "DV1"}
    assert await say(db, roster.liaison, "", local(2026, 11, 20, 9), msgtype="voice", attachments=[voice]) == []
    assert await say(db, roster.liaison, "", local(2026, 11, 20, 9, 1), msgtype="video", attachments=[video]) == []
    assert [(file.kind, file.name) for file in await held(db)] == [("voice", "语音"), ("video", "视频")]
    assert len(await submissions(db, roster.commerce)) == 1


async def test_a_joined_documents_text_shows_in_the_version(
    db: Database, fake_platforms: FakePlatforms, tmp_path: Path, aiohttp_client: Client
) -> None:
    world = await make_world(db, fake_platforms, tmp_path, aiohttp_client)
    roster = world["roster"]
    with time_machine.travel(NOW, tick=True):
        await send_dingtalk_text(world["client"], "10月工作进展见附件")
        await send_file("dingtalk", world["client"], fake_platforms, make_docx(), "进展.docx")
        await deliver(world["ctx"])
    (version,) = await submissions(db, roster.commerce)
    assert version.text == "10月工作进展见附件"
    (shown,) = await say(db, roster.office, "查看 省商务厅", local(2026, 11, 21, 9))
    assert "《进展.docx》正文摘录：" in shown and "签约重点项目3个" in shown
    assert "- 第1版：" in shown and "《进展.docx》" in shown.split("- 第1版：")[1]


# ---- advice in groups ---------------------------------------------------------------------------------------


async def test_asking_in_a_group_how_to_send_a_file_gets_advice_and_files_nothing(db: Database) -> None:
    roster = await seed(db)
    replies = await say(db, roster.liaison, "请问附件怎么发给机器人？", local(2026, 11, 20, 9))
    assert replies == [file_texts.SEND_ONE_TO_ONE]
    assert await submissions(db, roster.commerce) == []


async def test_a_group_report_that_mentions_an_attachment_is_filed_with_advice(db: Database) -> None:
    roster = await seed(db)
    (reply,) = await say(db, roster.liaison, "10月工作进展见附件", local(2026, 11, 20, 9))
    assert "已收到【省商务厅】" in reply and file_texts.NOTE_SEND_FILE_ONE_TO_ONE in reply
    assert len(await submissions(db, roster.commerce)) == 1


async def test_the_liaisons_help_says_to_send_files_one_to_one(db: Database) -> None:
    roster = await seed(db)
    (reply,) = await say(db, roster.liaison, "帮助", local(2026, 11, 20, 9))
    assert "请在与本机器人的单聊中直接发送（群聊中平台不投递文件）" in reply
    assert "10分钟内发来的文件并入同一版。单个文件不超过50 MB" in reply


# ---- names from the platform ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\system.ini", "system.ini"),
        ("报告\x00\x07\u202egpj.docx", "报告gpj.docx"),
        ('a<b>c:"d|e?f*.pdf', "a_b_c__d_e_f_.pdf"),
        ("CON.txt", "_CON.txt"),
        ("", "文件"),
        ("..", "文件"),
        ("   .  ", "文件"),
        ("进展.docx.", "进展.docx"),
    ],
)
def test_hostile_names_are_made_safe(raw: str, safe: str) -> None:
    assert safe_name(raw) == safe


def test_an_over_long_name_keeps_its_extension_within_the_limit() -> None:
    name = safe_name("很" * 500 + ".docx")
    assert name.endswith(".docx") and len(name.encode()) <= MAX_NAME_BYTES


def test_duplicates_are_told_apart_case_insensitively() -> None:
    assert unique_names(["a.docx", "A.docx", "a.docx", "b"]) == ["a.docx", "A (2).docx", "a (3).docx", "b"]


# ---- hostile documents ----------------------------------------------------------------------------------------


def zip_bomb(megabytes: int = 40, entry: str = "word/media/image1.png") -> bytes:
    """A docx with one entry that inflates from a few kB to ``megabytes``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(entry, b"<w:document>" + b"A" * (megabytes * 1024 * 1024) + b"</w:document>")
    return out.getvalue()


async def extracted(tmp_path: Path, data: bytes, name: str, seconds: float = 20.0) -> tuple[str, str]:
    path = tmp_path / "doc"
    path.write_bytes(data)
    result = await extract_text(path, name, max_chars=10_000, seconds=seconds)
    return result.text, result.note


async def test_real_documents_give_their_text(tmp_path: Path) -> None:
    assert "签约重点项目3个" in (await extracted(tmp_path, make_docx(), "a.docx"))[0]
    assert "临港物流园\t12.5" in (await extracted(tmp_path, make_xlsx(), "a.xlsx"))[0]
    assert "October progress" in (await extracted(tmp_path, make_pdf(), "a.pdf"))[0]
    assert (await extracted(tmp_path, "十月进展".encode("gb18030"), "a.txt"))[0] == "十月进展"
    assert "签约" in (await extracted(tmp_path, make_docx(), "a.wps"))[0]  # WPS's extension on an OOXML file


@pytest.mark.parametrize(
    ("data", "name", "note"),
    [
        (zip_bomb(), "bomb.docx", "压缩比异常"),
        (zip_bomb(100, "word/document.xml"), "huge.docx", "文档内部内容过大"),
        (zip_bomb(300), "bigger.docx", "解压后体积过大"),
        (b"PK\x03\x04 not really a zip", "broken.docx", "压缩包损坏"),
        (make_pdf()[:200], "broken.pdf", "无法读取文档文字"),
        (b"\x00" * 100, "empty.xlsx", "压缩包损坏"),
    ],
)
async def test_hostile_documents_give_a_note_not_a_crash(tmp_path: Path, data: bytes, name: str, note: str) -> None:
    text, why = await extracted(tmp_path, data, name)
    assert text == "" and note in why


async def test_a_slow_document_is_cut_off(tmp_path: Path) -> None:
    text, why = await extracted(tmp_path, make_docx(paragraphs=2000), "a.docx", seconds=0.01)
    assert text == "" and "超时" in why


async def test_a_hostile_document_is_still_kept_byte_for_byte(
    db: Database, fake_platforms: FakePlatforms, tmp_path: Path, aiohttp_client: Client
) -> None:
    world = await make_world(db, fake_platforms, tmp_path, aiohttp_client)
    bomb = zip_bomb()
    with time_machine.travel(NOW, tick=True):
        await send_file("dingtalk", world["client"], fake_platforms, bomb, "../../恶意/进展.docx")
        await deliver(world["ctx"])
    (file,) = await held(db)
    assert (file.state, file.name, file.sha256, file.text) == (FileState.STORED, "进展.docx", sha256(bomb), "")
    assert "压缩比异常" in file.text_note
    archive = tmp_path / "out.zip"
    with time_machine.travel(local(2026, 11, 28), tick=False):
        assert (
            await duban(
                write_config(tmp_path / "duban.toml", world["settings"]),
                "export",
                "--period",
                "2026-10",
                "-o",
                str(archive),
            )
            == 0
        )
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        assert "省商务厅/第1版/进展.docx" in names
        assert all(".." not in name and not name.startswith("/") for name in names)


# ---- backup and restore ----------------------------------------------------------------------------------------


async def test_backup_includes_the_files_and_a_restore_gives_them_back(
    sqlite_url: str, fake_platforms: FakePlatforms, tmp_path: Path, aiohttp_client: Client
) -> None:
    db = Database(sqlite_url)
    try:
        world = await make_world(db, fake_platforms, tmp_path, aiohttp_client)
        data = make_docx()
        with time_machine.travel(NOW, tick=True):
            await send_file("wecom_app", world["client"], fake_platforms, data, "进展.docx")
            await deliver(world["ctx"])
        (file,) = await held(db)
    finally:
        await db.close()
    config = write_config(tmp_path / "duban.toml", world["settings"])
    backup = tmp_path / "backup" / "duban.db"
    assert await duban(config, "backup", "-o", str(backup)) == 0
    # Disaster: the database and the files are gone. Restore both as the backup says.
    restore(backup, Path(sqlite_url.removeprefix("sqlite+aiosqlite:///")), Path(world["settings"].files.directory))
    out = tmp_path / "restored.docx"
    assert await duban(config, "files", "get", str(file.id), "-o", str(out)) == 0
    assert out.read_bytes() == data


def restore(backup: Path, database: Path, files: Path) -> None:
    database.unlink()
    shutil.rmtree(files)
    shutil.copyfile(backup, database)
    shutil.copytree(Path(f"{backup}.files"), files)
