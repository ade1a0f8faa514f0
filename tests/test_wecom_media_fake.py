"""The fake WeCom's media uploads behave as PLATFORMS.md §2 says, so the file senders can be tested against it."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import time_machine

from tests.fakes import FakePlatforms
from tests.fakes.wecom_media import MAX_SIZE

START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
DOCX = b"PK\x03\x04 a Word document's bytes"


async def upload(url: str, content: bytes, *, field: str = "media", filename: str = "月度通报.docx") -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field(field, io.BytesIO(content), filename=filename, content_type="application/octet-stream")
    async with aiohttp.ClientSession() as http, http.post(url, data=form) as response:
        body: dict[str, Any] = await response.json()
        return body


async def post(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.post(url, json=payload) as response:
        body: dict[str, Any] = await response.json()
        return body


def file_message(media_id: str) -> dict[str, Any]:
    return {"msgtype": "file", "file": {"media_id": media_id}}


async def test_a_robot_uploads_then_sends_the_exact_file(fake_platforms: FakePlatforms) -> None:
    wecom = fake_platforms.wecom
    send = wecom.add_robot("k1")
    other = wecom.add_robot("k2")
    upload_url = f"{fake_platforms.url}/cgi-bin/webhook/upload_media?key=k1&type=file"
    with time_machine.travel(START, tick=False) as clock:
        answer = await upload(upload_url, DOCX)
        assert answer["errcode"] == 0 and answer["type"] == "file"
        media_id = answer["media_id"]
        stored = wecom.media.uploads[media_id]
        assert stored.sha256 == hashlib.sha256(DOCX).hexdigest() and stored.filename == "月度通报.docx"
        assert (await post(other, file_message(media_id)))["errcode"] == 40007  # only the uploading robot
        assert (await post(send, file_message("nope")))["errcode"] == 40007
        assert (await post(send, file_message(media_id)))["errcode"] == 0
        delivered = [e for e in wecom.log if e.delivered]
        assert len(delivered) == 1 and wecom.media.sent(delivered[0].payload) == stored
        clock.shift(timedelta(days=3))
        assert (await post(send, file_message(media_id)))["errcode"] == 40007  # valid for 3 days


async def test_uploads_outside_the_limits_are_refused(fake_platforms: FakePlatforms) -> None:
    fake_platforms.wecom.add_robot("k1")
    url = f"{fake_platforms.url}/cgi-bin/webhook/upload_media?key=k1&type=file"
    assert (await upload(url, b"12345"))["errcode"] == 40006  # more than 5 B
    assert (await upload(url, b"123456"))["errcode"] == 0
    assert (await upload(url, b"x" * MAX_SIZE))["errcode"] == 0
    assert (await upload(url, b"x" * (MAX_SIZE + 1)))["errcode"] == 40006
    assert (await upload(url, DOCX, field="file"))["errcode"] == 44001  # the field is named media
    assert (await upload(url.replace("type=file", "type=docx"), DOCX))["errcode"] == 40004
    assert (await upload(url.replace("key=k1", "key=nope"), DOCX))["errcode"] == 93000
    assert len(fake_platforms.wecom.media.uploads) == 2


async def test_the_app_uploads_with_its_token_then_sends_to_a_member(fake_platforms: FakePlatforms) -> None:
    wecom = fake_platforms.wecom
    wecom.members.add("zhangsan")
    base = fake_platforms.url
    got = await post_get(f"{base}/cgi-bin/gettoken?corpid={wecom.corp_id}&corpsecret={wecom.corp_secret}")
    token = got["access_token"]
    assert (await upload(f"{base}/cgi-bin/media/upload?access_token=bad&type=file", DOCX))["errcode"] == 40014
    answer = await upload(f"{base}/cgi-bin/media/upload?access_token={token}&type=file", DOCX)
    assert answer["errcode"] == 0
    fake_platforms.wecom.add_robot("k1")
    robot_only = await upload(f"{base}/cgi-bin/webhook/upload_media?key=k1&type=file", DOCX)
    message = {"touser": "zhangsan", "agentid": wecom.agent_id, **file_message(answer["media_id"])}
    send = f"{base}/cgi-bin/message/send?access_token={token}"
    assert (await post(send, {**message, "file": {"media_id": robot_only["media_id"]}}))["errcode"] == 40007
    assert (await post(send, message))["errcode"] == 0
    assert wecom.media.uploads[answer["media_id"]].content == DOCX


async def post_get(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        body: dict[str, Any] = await response.json()
        return body
