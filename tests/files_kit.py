"""Shared by the file tests: real documents made here, settings pointing at the fakes, and one delivery step."""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import json
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docx
import openpyxl
from aiohttp.test_utils import TestClient
from handlers_kit import MEMBER_GROUP, OFFICE_GROUP, seed

from bot.cli import main
from bot.config import Settings
from bot.context import AppContext
from bot.files.fetch import Fetchers
from bot.files.worker import blob_store, drain_files, fetch_session
from bot.inbox_worker import drain
from storage.db import Database
from tests.fakes.server import FakePlatforms
from tests.inbound_kit import (
    A_AES_KEY,
    A_CORP_ID,
    A_TOKEN,
    BOT_AES_KEY,
    BOT_TOKEN,
    app_xml,
    as_json,
    bot_message,
    bot_query,
    dingtalk_headers,
    dingtalk_message,
    inbound_app,
    seal,
)
from tests.inbound_kit import settings_for as inbound_settings

DOCX_TEXT = "十月工作进展：签约重点项目3个，完成投资12.5亿元。"


def make_docx(text: str = DOCX_TEXT, *, paragraphs: int = 1) -> bytes:
    document = docx.Document()
    document.add_heading("省商务厅2026年10月工作进展", level=1)
    for _ in range(paragraphs):
        document.add_paragraph(text)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "重点项目"
    table.rows[0].cells[1].text = "进度正常"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "重点项目"
    sheet.append(["项目", "投资（亿元）"])
    sheet.append(["临港物流园", 12.5])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def make_pdf(text: str = "October progress: 3 projects signed") -> bytes:
    """A real one-page PDF with ``text`` (ASCII) in Helvetica, cross-reference table computed."""
    stream = zlib.compress(f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode())
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_settings(url: str, fakes: FakePlatforms, directory: Path, **extra: Any) -> Settings:
    """Inbound channels as in the inbound tests, platform APIs on the fakes, files under ``directory``."""
    fakes.wecom.corp_id = A_CORP_ID
    fakes.wecom.members.add("zhangwei")
    files = {"directory": str(directory), **extra.pop("files", {})}
    return inbound_settings(
        url,
        wecom={
            "api_base": fakes.url,
            "timestamp_window": 0,
            "app": {
                "corp_id": A_CORP_ID,
                "token": A_TOKEN,
                "encoding_aes_key": A_AES_KEY,
                "secret": fakes.wecom.corp_secret,
                "agent_id": fakes.wecom.agent_id,
            },
            "bot": {"token": BOT_TOKEN, "encoding_aes_key": BOT_AES_KEY},
        },
        dingtalk={"app_key": "dingkey", "app_secret": "appSecretTest", "openapi_base": fakes.url},
        files=files,
        groups=[
            {"name": OFFICE_GROUP, "platform": "sandbox", "office": True},
            {"name": MEMBER_GROUP, "platform": "sandbox"},
        ],
        **extra,
    )


async def deliver(ctx: AppContext) -> int:
    """Handle every stored callback, then fetch every due file; how many files were taken."""
    await drain(ctx)
    store = blob_store(ctx.settings)
    async with fetch_session(ctx.settings) as http:
        return await drain_files(ctx, Fetchers(http, ctx.settings, store.spool_directory()), store)


async def post_wecom_app(client: TestClient, xml: str, timestamp: str) -> int:
    sealed = seal(A_TOKEN, A_AES_KEY, A_CORP_ID, xml, timestamp=timestamp)
    response = await client.post("/wecom/app", params=bot_query(sealed), data=app_xml(sealed["encrypt"]))
    return response.status


async def post_wecom_bot(client: TestClient, message: dict[str, Any], timestamp: str) -> int:
    sealed = seal(BOT_TOKEN, BOT_AES_KEY, "", json.dumps(message, ensure_ascii=False), timestamp=timestamp)
    response = await client.post("/wecom/bot", params=bot_query(sealed), json={"encrypt": sealed["encrypt"]})
    return response.status


async def duban(config: Path, *args: str) -> int:
    """``duban …`` as a person types it (in a thread: the CLI runs its own event loop)."""
    return await asyncio.to_thread(main, ["--config", str(config), *args])


def write_config(path: Path, settings: Settings) -> Path:
    path.write_text(
        f'[database]\nurl = "{settings.database.url}"\n\n'
        f'[files]\ndirectory = "{settings.files.directory}"\nstore = "{settings.files.store}"\n',
        encoding="utf-8",
    )
    return path


Client = Callable[..., Awaitable[TestClient]]
_ids = itertools.count(1)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def send_file(channel: str, client: TestClient, fakes: FakePlatforms, data: bytes, name: str) -> None:
    """The platform's callback for a 1:1 file message from the commerce department's liaison."""
    msgid = f"file-{next(_ids)}"
    timestamp = str(int(datetime.now(UTC).timestamp()))
    if channel == "wecom_app":
        media_id = fakes.files.add_media(data, name, DOCX)
        xml = (
            f"<xml><ToUserName>{A_CORP_ID}</ToUserName><FromUserName>zhangwei</FromUserName>"
            f"<CreateTime>{timestamp}</CreateTime><MsgType>file</MsgType><MediaId>{media_id}</MediaId>"
            f"<FileName><![CDATA[{name}]]></FileName><MsgId>{msgid}</MsgId><AgentID>1000002</AgentID></xml>"
        )
        assert await post_wecom_app(client, xml, timestamp) == 200
    elif channel == "wecom_bot":
        url = fakes.files.add_bot_file(data, name, BOT_AES_KEY, DOCX)
        message = bot_message(msgid=msgid, chattype="single", msgtype="file", userid="zhangwei", file={"url": url})
        assert await post_wecom_bot(client, message, timestamp) == 200
    else:
        code = fakes.files.add_dingtalk_file(data, name, DOCX)
        content = {"downloadCode": code, "fileName": name, "fileId": "214980176385", "spaceId": "28455378906"}
        message = dingtalk_message(
            msg_id=msgid,
            msgtype="file",
            content=content,
            conversationType="1",
            senderStaffId="lina-staff",
            robotCode="dingkey",
        )
        del message["text"]
        millis = str(int(datetime.now(UTC).timestamp() * 1000))
        response = await client.post("/dingtalk/bot", data=as_json(message).encode(), headers=dingtalk_headers(millis))
        assert response.status == 200


async def send_dingtalk_text(client: TestClient, text: str) -> None:
    """The commerce department's B liaison writes ``text`` to the DingTalk robot 1:1."""
    message = dingtalk_message(
        text, msg_id=f"text-{next(_ids)}", conversationType="1", senderStaffId="lina-staff", robotCode="dingkey"
    )
    millis = str(int(datetime.now(UTC).timestamp() * 1000))
    response = await client.post("/dingtalk/bot", data=as_json(message).encode(), headers=dingtalk_headers(millis))
    assert response.status == 200


async def make_world(
    db: Database, fake_platforms: FakePlatforms, tmp_path: Path, aiohttp_client: Client, **extra: Any
) -> dict[str, Any]:
    """A roster, settings on the fakes, the inbound app as a client, and a context to run workers with."""
    roster = await seed(db)
    settings = files_settings(db.url, fake_platforms, tmp_path / "files", **extra)
    client = await aiohttp_client(inbound_app(settings, db))
    ctx = AppContext(settings=settings, db=db, instance_id="test:files")
    return {"roster": roster, "settings": settings, "client": client, "ctx": ctx, "config": tmp_path / "duban.toml"}
