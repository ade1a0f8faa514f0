"""The console in a real browser (Playwright driving Debian's Chromium) against a served app on loopback.

One browser for the module, one story: an office member signs in by link, reads the matrix, opens a unit's
report, downloads the 台账, uploads a roster with a bad row, fixes it and imports it, resends a failed message
and signs out; a liaison sees only their unit; a form stripped of its CSRF token is refused. Screenshots at
1366×768 and at phone width are written to the test's temporary directory (printed at the end).
"""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from console_kit import Office, add_file, console_settings, link_token, seed_office, seed_rounds
from docx import Document
from handlers_kit import MEMBER_GROUP, OFFICE_GROUP
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import create_app
from storage.db import Database
from storage.models import OutboxMessage, Person

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (deploy/system-packages.txt installs it: make test)"
)
playwright = pytest.importorskip("playwright.async_api")

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
FILE_CONTENT = "项目一：已签约\n项目二：已开工\n".encode()
HEADER = "单位,责任处室,姓名,角色,手机,企业微信账号,钉钉账号,所在群\n"


@pytest.fixture
async def served(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[str, Database, Office]]:
    db = Database(sqlite_url)
    office = await seed_office(db)
    files = tmp_path / "files"
    await add_file(db, files, office.roster.commerce, office.periods[-2], "10月项目清单.txt", FILE_CONTENT)
    runner = web.AppRunner(create_app(console_settings(sqlite_url, files=files), db=db))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", db, office
    finally:
        await runner.cleanup()
        await db.close()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with playwright.async_playwright() as driver:
        launched = await driver.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            yield launched
        finally:
            await launched.close()


async def sign_in(browser: Any, base: str, db: Database, person: Person, viewport: dict[str, int]) -> Any:
    context = await browser.new_context(viewport=viewport, accept_downloads=True, locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{base}/console/login/{await link_token(db, person)}")
    await page.get_by_role("button", name="登录", exact=True).click()
    await page.wait_for_load_state()
    return page


async def test_an_office_month_in_the_browser(
    served: tuple[str, Database, Office], browser: Any, tmp_path: Path
) -> None:
    base, db, office = served
    roster = office.roster
    shots = tmp_path / "screens"
    shots.mkdir()
    asked, _closed = await seed_rounds(db, office)

    page = await sign_in(browser, base, db, roster.office, DESKTOP)
    assert await page.locator("h1").inner_text() == f"总览：{office.periods[-1].label}工作进展报送"
    await page.screenshot(path=shots / "01-overview-1366.png", full_page=True)

    await page.get_by_role("link", name="重点项目联系人", exact=True).click()
    assert await page.locator("h1").inner_text() == f"征集#{asked} · 重点项目联系人"
    commerce_row = page.locator(f"tr#u{roster.commerce.id}")
    assert "按时答复" in await commerce_row.inner_text() and "第2版" in await commerce_row.inner_text()
    assert await page.locator("td.s-missing", has_text="尚未答复").count() == 2
    await page.screenshot(path=shots / "01-round-1366.png", full_page=True)

    await page.get_by_role("link", name="报送矩阵", exact=True).click()
    last_closed = office.periods[-2]
    cell = page.locator(f'a[href="/console/units/{roster.commerce.id}/reports/{last_closed}"]')
    assert await cell.inner_text() == "按时"
    reform_cell = page.locator(f'a[href="/console/units/{roster.reform.id}/reports/{last_closed}"]')
    assert await reform_cell.inner_text() == "逾期"
    await page.screenshot(path=shots / "02-matrix-1366.png", full_page=True)

    await cell.click()
    assert "第1版 → 第2版" in await page.locator("h2").first.inner_text()
    assert await page.locator("td.add", has_text="另有2个项目完成落地。").count() == 1
    await page.screenshot(path=shots / "03-report-diff-1366.png", full_page=True)
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="10月项目清单.txt", exact=False).click()
    sent = await saved(await waiting.value, tmp_path, "10月项目清单.txt")
    assert await asyncio.to_thread(sent.read_bytes) == FILE_CONTENT

    await page.get_by_role("link", name="文档", exact=True).click()
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name=f"台账-{last_closed}.xlsx").click()
    ledger = load_workbook(await saved(await waiting.value, tmp_path, f"台账-{last_closed}.xlsx")).active
    assert any(row[1] == "省商务厅" and row[3] == "按时" for row in ledger.iter_rows(values_only=True))
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name=f"报送归档-{last_closed}.zip", exact=True).click()
    with zipfile.ZipFile(await saved(await waiting.value, tmp_path, f"报送归档-{last_closed}.zip")) as archive:
        assert "报送原文/001-省商务厅.txt" in archive.namelist()
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name=f"月度通报-{last_closed}.docx", exact=True).click()
    circular = Document(str(await saved(await waiting.value, tmp_path, f"月度通报-{last_closed}.docx")))
    assert any("工作进展报送情况的通报" in paragraph.text for paragraph in circular.paragraphs)
    await page.screenshot(path=shots / "09-documents-1366.png", full_page=True)
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="下载当前名册（.xlsx）", exact=True).click()
    exported = load_workbook(await saved(await waiting.value, tmp_path, "名册.xlsx")).active
    assert exported.max_row == 7  # the header and six people

    good = (
        HEADER + f"省商务厅,对外贸易处,张伟,A角,13800000001,zhangwei,,{MEMBER_GROUP}\n"
        f"省发展改革委,综合处,王强,A角,13800000003,,,{MEMBER_GROUP}\n"
        f"工作机制办公室,,赵敏,办公室,13800000004,zhaomin,,{OFFICE_GROUP}\n"
    )
    bad = good.replace("王强,A角,13800000003", "王强,处长,13800000003")
    await page.get_by_role("link", name="名册", exact=True).click()
    await upload(page, tmp_path / "名册-有误.csv", bad)
    assert "整份文件未导入" in await page.locator(".msg.err").inner_text()
    assert "第3行" in await page.locator("ol.problems").inner_text()
    await page.screenshot(path=shots / "04-roster-error-1366.png", full_page=True)
    await page.get_by_role("link", name="重新上传", exact=True).click()
    await upload(page, tmp_path / "名册.csv", good)
    assert "校验通过" in await page.locator(".msg.ok").inner_text()
    await page.screenshot(path=shots / "05-roster-dry-run-1366.png", full_page=True)
    await page.get_by_role("button", name="确认导入", exact=True).click()
    assert "已导入" in await page.locator(".msg.ok").inner_text()

    await page.get_by_role("link", name="发送队列", exact=True).click()
    await page.screenshot(path=shots / "06-outbox-1366.png", full_page=True)
    await page.get_by_role("link", name="重发…", exact=True).click()
    await page.get_by_role("button", name="确认重发", exact=True).click()
    assert f"已将消息 {office.failed_id} 重新排队" in await page.locator(".msg.ok").inner_text()
    async with db.sessions() as session:
        copies = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.resent_from == office.failed_id)))
    assert len(copies) == 1

    await page.goto(f"{base}/console/items/{office.item_number}")
    await page.screenshot(path=shots / "07-item-1366.png", full_page=True)
    for name in ("jobs", "audit"):
        await page.goto(f"{base}/console/{name}")
        await page.screenshot(path=shots / f"08-{name}-1366.png", full_page=True)

    await page.get_by_role("button", name="退出登录", exact=True).click()
    assert await page.locator("h1").inner_text() == "请登录"
    await page.goto(f"{base}/console/matrix")
    assert await page.locator("h1").inner_text() == "请登录"

    phone = await sign_in(browser, base, db, roster.office, PHONE)
    await phone.screenshot(path=shots / "11-overview-phone.png", full_page=True)
    for name, path in (
        ("matrix", "/console/matrix"),
        ("item", f"/console/items/{office.item_number}"),
        ("report", f"/console/units/{roster.commerce.id}/reports/{last_closed}"),
    ):
        await phone.goto(f"{base}{path}")
        await phone.screenshot(path=shots / f"12-{name}-phone.png", full_page=True)

    # A form stripped of its CSRF token (as a forged page would send it) is refused and changes nothing.
    await phone.goto(f"{base}/console/outbox/{office.failed_id}/resend")
    await phone.evaluate("document.querySelector('main form input[name=csrf]').remove()")
    await phone.get_by_role("button", name="确认重发", exact=True).click()
    assert "缺少安全校验码" in await phone.locator(".msg.err").inner_text()
    async with db.sessions() as session:
        copies = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.resent_from == office.failed_id)))
    assert len(copies) == 1

    liaison = await sign_in(browser, base, db, roster.liaison, PHONE)
    assert await liaison.locator("h1").inner_text() == "省商务厅"
    await liaison.screenshot(path=shots / "13-liaison-unit-phone.png", full_page=True)
    await liaison.goto(f"{base}/console/units/{roster.reform.id}")
    assert "页面不存在，或您无权查看" in await liaison.locator(".msg.err").inner_text()
    await liaison.goto(f"{base}/console/matrix")
    assert "仅限办公室成员" in await liaison.locator(".msg.err").inner_text()
    await liaison.get_by_role("link", name="征集", exact=True).click()
    await liaison.get_by_role("link", name="重点项目联系人", exact=True).click()
    assert await liaison.locator("main table tr").count() == 2  # the header and their own unit
    await liaison.screenshot(path=shots / "14-liaison-round-phone.png", full_page=True)
    print(f"\nscreenshots: {shots}")


async def saved(download: Any, folder: Path, name: str) -> Path:
    """The downloaded file, saved under the name the server gave it (which must be ``name``)."""
    assert download.suggested_filename == name
    path = folder / name
    await download.save_as(path)
    return path


async def upload(page: Any, path: Path, text: str) -> None:
    await asyncio.to_thread(path.write_text, text, encoding="utf-8")
    await page.locator("input[type=file]").set_input_files(str(path))
    await page.get_by_role("button", name="校验", exact=True).click()
    await page.wait_for_load_state()
