"""``python -m bench.files``: files fetched, stored and exported — memory and time.

1. **One large file** (``--megabytes``, default 20): fetched from the fake DingTalk (token, downloadCode →
   downloadUrl → GET), stored, then exported in the period's zip — with each store (the directory under
   ``var/``, and the database itself, chunked). The process's resident memory is sampled every 5 ms while this
   runs; the figure is the peak above the idle process just before. Target: under 20 MB above idle.
2. **Many small files** (``--small``, default 1,000): one image each from 1,000 liaisons of 1,000 units,
   queued as the handler queues them, fetched from the fake WeCom app (``media/get`` with the cached token)
   and stored by the fetch worker: files stored per second, on SQLite and PostgreSQL (directory store;
   ``--backend``). The PostgreSQL server is the test suite's, at 127.0.0.1:5432 (a database made and dropped).

The fake platforms run in a child process so that their copy of the bytes is not counted. The figures depend
on the machine: on a shared two-core machine, run it when it is quiet and read them as an order of magnitude.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import os
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bench.standing import postgres_database
from bot.cli.export_zip import period_files, write_export_zip
from bot.config import Settings
from bot.context import AppContext
from bot.files.fetch import Fetchers
from bot.files.worker import blob_store, drain_files, fetch_session
from storage import migrate
from storage.db import Database
from storage.models import FileState, Person, Role, StoredFile, Unit

MB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")
TARGET_GROWTH_MB = 20.0
PERIOD = "2026-10"


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


@contextmanager
def peak_rss() -> Iterator[list[int]]:
    """Sample resident memory every 5 ms; the list holds [idle, peak] when the block ends."""
    result = [rss(), 0]
    stop = threading.Event()

    def sample() -> None:
        peak = result[0]
        while not stop.wait(0.005):
            peak = max(peak, rss())
        result[1] = max(peak, rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        stop.set()
        sampler.join()


def _serve_fakes(connection: Connection, megabytes: int, small: int) -> None:
    from tests.fakes.server import FakePlatforms

    async def main() -> None:
        fakes = FakePlatforms(auto_register=True)
        url = await fakes.start()
        big = os.urandom(megabytes * MB)
        code = fakes.files.add_dingtalk_file(big, "重点项目影像资料.zip", "application/zip")
        media = [fakes.files.add_media(os.urandom(2048), f"{n}.jpg", "image/jpeg") for n in range(small)]
        connection.send((url, code, hashlib.sha256(big).hexdigest(), media))
        del big
        await asyncio.Event().wait()

    asyncio.run(main())


def settings_for(url: str, fake_url: str, directory: Path, store: str) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": url},
            "wecom": {
                "api_base": fake_url,
                "app": {"corp_id": "wwfakecorp", "secret": "fake-app-secret", "agent_id": 1000002},
            },
            "dingtalk": {"app_key": "dingkey", "app_secret": "appSecretTest", "openapi_base": fake_url},
            "files": {"directory": str(directory), "store": store},
        }
    )


async def roster(db: Database, count: int) -> list[tuple[int, int]]:
    """``count`` units with one liaison each: (unit id, person id)."""
    async with db.transaction() as session:
        await session.execute(insert(Unit), [{"name": f"单位{n:04d}", "division": "综合处"} for n in range(count)])
        units = list(await session.scalars(select(Unit.id).order_by(Unit.id)))
        await session.execute(
            insert(Person),
            [{"name": f"联络员{n:04d}", "role": Role.A, "unit_id": unit} for n, unit in enumerate(units)],
        )
        people = list(await session.scalars(select(Person.id).order_by(Person.id)))
    return list(zip(units, people, strict=True))


async def queue(db: Database, channel: str, references: list[dict[str, Any]], owners: list[tuple[int, int]]) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "kind": reference.pop("kind"),
            "name": reference.get("name", "文件"),
            "original_name": reference.get("name", ""),
            "unit_id": unit,
            "person_id": person,
            "period": PERIOD,
            "sender_id": f"u{person}",
            "channel": channel,
            "reference": reference,
            "received_at": now,
            "valid_until": now + timedelta(days=1),
            "state": FileState.PENDING,
            "next_attempt_at": now,
        }
        for reference, (unit, person) in zip(references, owners, strict=True)
    ]
    async with db.transaction() as session:
        await session.execute(insert(StoredFile), rows)


async def fetch_all(ctx: AppContext) -> int:
    store = blob_store(ctx.settings)
    async with fetch_session(ctx.settings) as http:
        return await drain_files(ctx, Fetchers(http, ctx.settings, store.spool_directory()), store)


@dataclass(frozen=True)
class LargeFigures:
    store: str
    fetch_seconds: float
    fetch_growth_mb: float
    export_seconds: float
    export_growth_mb: float


async def large(workdir: Path, fake_url: str, code: str, digest: str, store: str, megabytes: int) -> LargeFigures:
    for run in ("warm-up", "measured"):  # the first run loads code and warms caches; the second is measured
        figures = await _large_once(workdir / f"{store}-{run}", fake_url, code, digest, store, megabytes)
    return figures


async def _large_once(workdir: Path, fake_url: str, code: str, digest: str, store: str, megabytes: int) -> LargeFigures:
    await asyncio.to_thread(workdir.mkdir)
    url = f"sqlite+aiosqlite:///{workdir / 'duban.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    settings = settings_for(url, fake_url, workdir / "files", store)
    db = Database(url)
    try:
        ctx = AppContext(settings=settings, db=db, instance_id="bench")
        owners = await roster(db, 1)
        await queue(db, "dingtalk_bot", [{"kind": "image", "download_code": code, "robot_code": "dingkey"}], owners)
        with peak_rss() as fetch_memory:
            started = time.perf_counter()
            await fetch_all(ctx)
            fetch_seconds = time.perf_counter() - started
        files = await period_files(db, PERIOD)
        assert files[0].sha256 == digest and files[0].size == megabytes * MB
        output = workdir / "export.zip"
        from openpyxl import Workbook

        with peak_rss() as export_memory:
            started = time.perf_counter()
            await write_export_zip(
                db,
                Path(settings.files.directory),
                output,
                workbook=Workbook(),
                ledger_name="台账.xlsx",
                files=files,
                tz=settings.tz,
            )
            export_seconds = time.perf_counter() - started
        with zipfile.ZipFile(output) as archive:
            member = next(name for name in archive.namelist() if name.endswith(".zip"))
            digest_in_zip = hashlib.sha256()
            with archive.open(member) as source:
                while chunk := source.read(MB):
                    digest_in_zip.update(chunk)
        assert digest_in_zip.hexdigest() == digest, "the export does not hold the file intact"
    finally:
        await db.close()
    return LargeFigures(
        store,
        fetch_seconds,
        (fetch_memory[1] - fetch_memory[0]) / MB,
        export_seconds,
        (export_memory[1] - export_memory[0]) / MB,
    )


async def many(workdir: Path, fake_url: str, media: list[str], backend: str = "sqlite") -> tuple[int, float]:
    if backend == "postgres":
        async with postgres_database("127.0.0.1", 5432) as db:
            return await _many(db, workdir, fake_url, media)
    url = f"sqlite+aiosqlite:///{workdir / 'many.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    try:
        return await _many(db, workdir, fake_url, media)
    finally:
        await db.close()


async def _many(db: Database, workdir: Path, fake_url: str, media: list[str]) -> tuple[int, float]:
    settings = settings_for(db.url, fake_url, workdir / f"files-many-{db.dialect}", "directory")
    ctx = AppContext(settings=settings, db=db, instance_id="bench")
    owners = await roster(db, len(media))
    references = [{"kind": "image", "media_id": media_id, "name": f"{n}.jpg"} for n, media_id in enumerate(media)]
    await queue(db, "wecom_app", references, owners)
    started = time.perf_counter()
    taken = await fetch_all(ctx)
    seconds = time.perf_counter() - started
    stored = [file for file in await period_files(db, PERIOD) if file.state is FileState.STORED]
    assert len(stored) == taken == len(media), f"{len(stored)} of {len(media)} stored"
    return len(media), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--megabytes", type=int, default=20)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both", help="for the small files")
    args = parser.parse_args()
    receiving, sending = multiprocessing.Pipe(duplex=False)
    fakes = multiprocessing.get_context("spawn").Process(
        target=_serve_fakes, args=(sending, args.megabytes, args.small), daemon=True
    )
    fakes.start()
    try:
        fake_url, code, digest, media = receiving.recv()
        with tempfile.TemporaryDirectory(prefix="duban-bench-files-") as workdir:
            results = [
                asyncio.run(large(Path(workdir), fake_url, code, digest, store, args.megabytes))
                for store in ("directory", "database")
            ]
            backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
            rates = [(backend, *asyncio.run(many(Path(workdir), fake_url, media, backend))) for backend in backends]
    finally:
        fakes.kill()
        fakes.join()
    print(f"one {args.megabytes} MB file (SQLite; target: peak memory under {TARGET_GROWTH_MB:.0f} MB above idle)")
    for figures in results:
        verdict = "met" if max(figures.fetch_growth_mb, figures.export_growth_mb) < TARGET_GROWTH_MB else "MISSED"
        print(
            f"  {figures.store:<9} store: fetched and stored in {figures.fetch_seconds:5.2f} s "
            f"(+{figures.fetch_growth_mb:4.1f} MB), exported to zip in {figures.export_seconds:5.2f} s "
            f"(+{figures.export_growth_mb:4.1f} MB): {verdict}"
        )
    for backend, count, seconds in rates:
        print(
            f"{count} small files from {count} liaisons ({backend}, directory store): stored in {seconds:.2f} s"
            f" = {count / seconds:,.0f} files/s"
        )


if __name__ == "__main__":
    main()
