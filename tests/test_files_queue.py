"""The fetch queue: retries while the reference is valid, lost and refused files told to sender and office, JSON
errors never stored, a crash mid-fetch resumed by another instance, and two instances sharing the queue."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from handlers_kit import local
from sqlalchemy import select

from bot.context import AppContext
from bot.files.fetch import Fetchers
from bot.files.worker import blob_store, drain_files, fetch_session, process_file, sweep_spool
from bot.inbox_worker import drain
from storage.blobs import Spool
from storage.db import Database
from storage.files import claim_next_file
from storage.models import Blob, FileState, OutboxMessage, StoredFile
from tests.fakes.behaviour import Reply
from tests.fakes.server import FakePlatforms
from tests.files_kit import Client, deliver, duban, make_docx, make_pdf, make_world, send_file, sha256, write_config

NOW = local(2026, 11, 20, 10)


@pytest.fixture
async def world(db: Database, fake_platforms: FakePlatforms, tmp_path: Path, aiohttp_client: Client) -> dict[str, Any]:
    return await make_world(db, fake_platforms, tmp_path, aiohttp_client)


async def files_of(db: Database) -> list[StoredFile]:
    async with db.sessions() as session:
        return list(await session.scalars(select(StoredFile).order_by(StoredFile.id)))


async def bodies(db: Database, *, office: bool) -> list[str]:
    async with db.sessions() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [row.message["body"] for row in rows if (row.group_id is not None) == office]


async def blobs(db: Database) -> list[Blob]:
    async with db.sessions() as session:
        return list(await session.scalars(select(Blob)))


def only_reference(fakes: FakePlatforms) -> str:
    (code,) = fakes.files.bot_files
    return code


async def test_an_expired_url_is_lost_and_sender_and_office_are_told(
    world: dict[str, Any], db: Database, fake_platforms: FakePlatforms
) -> None:
    with time_machine.travel(NOW, tick=True):
        await send_file("wecom_bot", world["client"], fake_platforms, make_docx(), "十月进展.docx")
        await drain(world["ctx"])
    # The service was down for ten minutes: the 智能机器人's url (valid 5 minutes) has run out.
    with time_machine.travel(NOW + timedelta(minutes=10), tick=True):
        await deliver(world["ctx"])
    (file,) = await files_of(db)
    assert file.state is FileState.LOST and "HTTP 403" in file.reason
    assert await blobs(db) == []
    (reply,) = await bodies(db, office=False)
    assert "未能接收" in reply and "请您重新发送该文件" in reply
    (notice,) = await bodies(db, office=True)
    assert "文件未能接收" in notice and "省商务厅" in notice and "张伟" in notice


async def test_files_get_refuses_what_has_no_bytes(
    world: dict[str, Any],
    db: Database,
    fake_platforms: FakePlatforms,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with time_machine.travel(NOW, tick=True):
        await send_file("wecom_app", world["client"], fake_platforms, make_docx(), "进展.docx")
        fake_platforms.files.media.clear()
        await deliver(world["ctx"])
    (file,) = await files_of(db)
    config = write_config(tmp_path / "duban.toml", world["settings"])
    out = tmp_path / "out.docx"
    assert await duban(config, "files", "get", str(file.id), "-o", str(out)) == 2
    assert "未能接收，没有可取出的内容" in capsys.readouterr().err
    assert await duban(config, "files", "get", "999", "-o", str(out)) == 2
    assert "没有编号为 999 的文件" in capsys.readouterr().err
    assert not out.exists()
    assert await duban(config, "files", "list", "--unit", "不存在的单位") == 2
    assert "应恰好对应一个在册单位" in capsys.readouterr().err


async def test_retries_with_back_off_until_the_reference_runs_out(
    world: dict[str, Any], db: Database, fake_platforms: FakePlatforms
) -> None:
    with time_machine.travel(NOW, tick=True):
        await send_file("wecom_bot", world["client"], fake_platforms, make_docx(), "十月进展.docx")
        code = only_reference(fake_platforms)
        fake_platforms.wecom.script(code, Reply(status=503), Reply(status=502))
        await deliver(world["ctx"])
    (file,) = await files_of(db)
    assert file.state is FileState.PENDING and "HTTP 503" in file.reason
    with time_machine.travel(NOW + timedelta(seconds=5), tick=True):
        assert await deliver(world["ctx"]) == 0  # not due yet
    # The second failure's back-off (20 s) would end past the url's 5 minutes: lost, with the reason.
    with time_machine.travel(NOW + timedelta(minutes=4, seconds=50), tick=True):
        assert await deliver(world["ctx"]) == 1
    (file,) = await files_of(db)
    assert file.state is FileState.LOST
    assert file.reason.startswith("平台提供文件的时限已过") and "HTTP 502" in file.reason
    assert file.attempts == 2


async def test_metrics_count_files_by_state(world: dict[str, Any], db: Database, fake_platforms: FakePlatforms) -> None:
    from bot.metrics import read_queues

    with time_machine.travel(NOW, tick=True):
        await send_file("wecom_app", world["client"], fake_platforms, make_docx(), "a.docx")
        await drain(world["ctx"])
        assert (await read_queues(db)).files[FileState.PENDING] == 1
        await deliver(world["ctx"])
        counts = (await read_queues(db)).files
    assert (counts[FileState.PENDING], counts[FileState.STORED]) == (0, 1)
    response = await world["client"].get("/metrics")
    assert 'duban_files{state="stored"} 1.0' in await response.text()


async def test_a_retry_that_succeeds_stores_the_file(
    world: dict[str, Any], db: Database, fake_platforms: FakePlatforms
) -> None:
    data = make_docx()
    with time_machine.travel(NOW, tick=True):
        await send_file("dingtalk", world["client"], fake_platforms, data, "进展.docx")
        (code,) = fake_platforms.files.dingtalk_codes
        fake_platforms.dingtalk.script(code, Reply(status=500))
        await deliver(world["ctx"])
    with time_machine.travel(NOW + timedelta(seconds=15), tick=True):
        assert await deliver(world["ctx"]) == 1
    (file,) = await files_of(db)
    assert (file.state, file.sha256, file.attempts) == (FileState.STORED, sha256(data), 2)


async def test_a_json_error_on_http_200_is_never_stored_as_the_file(
    world: dict[str, Any], db: Database, fake_platforms: FakePlatforms
) -> None:
    with time_machine.travel(NOW, tick=True):
        await send_file("wecom_app", world["client"], fake_platforms, make_docx(), "进展.docx")
        fake_platforms.files.media.clear()  # WeCom no longer knows the media_id: 40007 as JSON, HTTP 200
        await deliver(world["ctx"])
    (file,) = await files_of(db)
    assert file.state is FileState.LOST and "40007" in file.reason
    assert file.sha256 is None and await blobs(db) == []


async def test_an_expired_app_token_is_refreshed_once(
    world: dict[str, Any], db: Database, fake_platforms: FakePlatforms
) -> None:
    data = make_docx()
    with time_machine.travel(NOW, tick=True):
        await send_file("wecom_app", world["client"], fake_platforms, data, "a.docx")
        await send_file("wecom_app", world["client"], fake_platforms, data + b"\0", "b.docx")
        await drain(world["ctx"])
        store = blob_store(world["settings"])
        async with fetch_session(world["settings"]) as http:
            fetchers = Fetchers(http, world["settings"], store.spool_directory())
            first = await claim_next_file(db, "test:files", now=datetime.now(UTC))
            assert first is not None
            await process_file(world["ctx"], fetchers, store, first)
            fake_platforms.wecom.expire_tokens()
            await drain_files(world["ctx"], fetchers, store)
    assert [file.state for file in await files_of(db)] == [FileState.STORED, FileState.STORED]
    assert fake_platforms.wecom.tokens_issued == 2


async def test_a_large_wecom_file_comes_in_range_pieces(
    world: dict[str, Any], db: Database, fake_platforms: FakePlatforms, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.files.fetch

    monkeypatch.setattr(bot.files.fetch, "WECOM_RANGE_BYTES", 8 * 1024)  # WeCom's 20 MB pieces, scaled down
    data = make_docx(paragraphs=300)
    with time_machine.travel(NOW, tick=True):
        await send_file("wecom_app", world["client"], fake_platforms, data, "a.docx")
        await deliver(world["ctx"])
    (file,) = await files_of(db)
    assert (file.state, file.sha256) == (FileState.STORED, sha256(data))
    pieces = [reference for channel, reference in fake_platforms.files.downloads if channel == "wecom_app"]
    assert len(pieces) == -(-len(data) // (8 * 1024)) > 2


async def test_dingtalk_fetches_share_one_token(
    world: dict[str, Any], db: Database, fake_platforms: FakePlatforms
) -> None:
    with time_machine.travel(NOW, tick=True):
        for number in range(6):
            await send_file("dingtalk", world["client"], fake_platforms, make_docx(f"报告{number}"), f"{number}.docx")
        await deliver(world["ctx"])
    assert all(file.state is FileState.STORED for file in await files_of(db))
    assert len(fake_platforms.files.dingtalk_tokens) == 1


async def test_a_file_over_the_limit_is_refused_and_told(
    db: Database, fake_platforms: FakePlatforms, tmp_path: Path, aiohttp_client: Client
) -> None:
    world = await make_world(db, fake_platforms, tmp_path, aiohttp_client, files={"max_megabytes": 0.01})
    with time_machine.travel(NOW, tick=True):
        await send_file("dingtalk", world["client"], fake_platforms, make_docx(), "很大的文件.docx")
        await deliver(world["ctx"])
    (file,) = await files_of(db)
    assert file.state is FileState.REFUSED and await blobs(db) == []
    (reply,) = await bodies(db, office=False)
    assert "《很大的文件.docx》超过0.01 MB 的大小上限，未能接收" in reply
    (notice,) = await bodies(db, office=True)
    assert "超过0.01 MB 上限，已拒收" in notice
    assert list((tmp_path / "files" / ".spool").glob("*")) == []


async def test_a_crash_mid_fetch_is_resumed_by_another_instance(
    world: dict[str, Any], db: Database, fake_platforms: FakePlatforms, tmp_path: Path
) -> None:
    data = make_docx()
    settings = world["settings"]
    with time_machine.travel(NOW, tick=True):
        await send_file("wecom_app", world["client"], fake_platforms, data, "进展.docx")
        await drain(world["ctx"])
        # Instance A claims the file, writes half of it to its spool, and dies.
        assert await claim_next_file(db, "instance-a", now=datetime.now(UTC)) is not None
        spool = Spool(blob_store(settings).spool_directory(), settings.files.max_bytes)
        spool.write(data[: len(data) // 2])
        left = spool.finish().path  # the process is gone; its half-written spool stays on disk
        os.utime(left, (NOW.timestamp(), NOW.timestamp()))
        other = AppContext(settings=settings, db=db, instance_id="instance-b")
        assert await deliver(other) == 0  # A's lease holds: B does not fetch the same file
    # The lease runs out; B takes the file over and fetches it from the start.
    with time_machine.travel(NOW + timedelta(minutes=6), tick=True):
        assert await deliver(other) == 1
        assert sweep_spool(blob_store(settings).spool_directory(), older_than=timedelta(minutes=5)) == 1
    (file,) = await files_of(db)
    assert (file.state, file.sha256, file.attempts) == (FileState.STORED, sha256(data), 2)
    assert len(await bodies(db, office=False)) == 1  # one confirmation


async def test_a_crash_after_storing_but_before_settling_stores_once(
    world: dict[str, Any], db: Database, fake_platforms: FakePlatforms, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.files.worker

    data = make_docx()
    with time_machine.travel(NOW, tick=True):
        await send_file("dingtalk", world["client"], fake_platforms, data, "进展.docx")

        async def die(*_args: object, **_kwargs: object) -> None:
            raise ConnectionError("instance killed between the blob and the queue row")

        monkeypatch.setattr(bot.files.worker, "lock_held", die)
        await deliver(world["ctx"])
        monkeypatch.undo()
        assert copies(Path(world["settings"].files.directory), sha256(data)) == 1  # the bytes were in place
        (file,) = await files_of(db)
        assert file.state is FileState.PENDING and await blobs(db) == []
    with time_machine.travel(NOW + timedelta(minutes=6), tick=True):
        await deliver(AppContext(settings=world["settings"], db=db, instance_id="instance-b"))
    (file,) = await files_of(db)
    assert file.state is FileState.STORED and len(await blobs(db)) == 1
    assert copies(Path(world["settings"].files.directory), sha256(data)) == 1


def copies(directory: Path, digest: str) -> int:
    return len(list(directory.rglob(digest)))


async def test_two_instances_share_the_queue_and_fetch_each_file_once(
    world: dict[str, Any], db: Database, fake_platforms: FakePlatforms
) -> None:
    documents = [make_docx(f"第{n}份报告") for n in range(12)]
    with time_machine.travel(NOW, tick=True):
        for number, data in enumerate(documents):
            await send_file("wecom_app", world["client"], fake_platforms, data, f"报告{number}.docx")
        await drain(world["ctx"])
        first = AppContext(settings=world["settings"], db=db, instance_id="instance-1")
        second = AppContext(settings=world["settings"], db=db, instance_id="instance-2")
        taken = await asyncio.gather(deliver(first), deliver(second))
    assert sum(taken) == len(documents)
    files = await files_of(db)
    assert all(file.state is FileState.STORED for file in files)
    assert sorted(file.sha256 or "" for file in files) == sorted(sha256(data) for data in documents)
    served = [reference for channel, reference in fake_platforms.files.downloads if channel == "wecom_app"]
    assert len(served) == len(set(served)) == len(documents)


async def queued_feishu_file(db: Database, reference: dict[str, str]) -> None:
    """A Feishu file as the handler queues it (Feishu messages arrive over the long connection)."""
    async with db.transaction() as session:
        session.add(
            StoredFile(
                kind="file",
                name="进展.pdf",
                original_name="进展.pdf",
                channel="feishu_ws",
                reference=reference,
                received_at=NOW,
                valid_until=NOW + timedelta(days=1),
                next_attempt_at=NOW,
            )
        )


async def test_a_feishu_file_is_fetched_with_the_tenant_token(
    db: Database, fake_platforms: FakePlatforms, tmp_path: Path, aiohttp_client: Client
) -> None:
    from tests.fakes.feishu_ws import APP_ID, APP_SECRET

    feishu = {"api_base": fake_platforms.url, "app_id": APP_ID, "app_secret": APP_SECRET}
    world = await make_world(db, fake_platforms, tmp_path, aiohttp_client, feishu=feishu)
    data = make_pdf()
    key = fake_platforms.files.add_feishu_file("om_1", data, "进展.pdf")
    await queued_feishu_file(db, {"kind": "file", "file_key": key, "message_id": "om_1"})
    await queued_feishu_file(db, {"kind": "file", "file_key": "file_v3_unknown", "message_id": "om_1"})
    with time_machine.travel(NOW, tick=True):
        await deliver(world["ctx"])
    stored, unknown = await files_of(db)
    assert (stored.state, stored.sha256) == (FileState.STORED, sha256(data))
    assert "October progress" in stored.text
    assert unknown.state is FileState.LOST and "234003" in unknown.reason
