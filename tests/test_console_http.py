"""The console over HTTP: sign-in by link, the pages, CSRF, headers, and what a liaison cannot reach."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from console_kit import add_file, console_settings, csrf_of, link_token, seed_office, seed_rounds
from handlers_kit import MEMBER_GROUP, OFFICE_GROUP
from openpyxl import load_workbook
from sqlalchemy import select, update

from bot.app import create_app
from storage.db import Database
from storage.models import AuditEntry, ConsoleSession, Item, ItemState, OutboxMessage, OutboxState, Person

OFFICE_PAGES = (
    "/console/",
    "/console/matrix",
    "/console/outbox",
    "/console/roster",
    "/console/documents",
    "/console/jobs",
    "/console/audit",
    "/console/sessions",
)


async def client_for(aiohttp_client: Any, db: Database, **console: Any) -> TestClient:
    return await aiohttp_client(create_app(console_settings(db.url, **console), db=db))  # type: ignore[no-any-return]


async def sign_in(client: TestClient, db: Database, person: Person, **headers: str) -> str:
    """Sign ``person`` in by a fresh link; the CSRF token of their session."""
    token = await link_token(db, person)
    page = await client.get(f"/console/login/{token}")
    assert page.status == 200 and "登录控制台" in await page.text()
    response = await client.post("/console/login", data={"token": token}, allow_redirects=False, headers=headers)
    assert response.status == 303, await response.text()
    home = await client.get("/console/items")
    return csrf_of(await home.text())


async def audit(db: Database) -> list[AuditEntry]:
    async with db.sessions() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


async def test_a_link_signs_in_once_and_the_cookie_is_locked_down(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    client = await client_for(aiohttp_client, db)
    token = await link_token(db, office.roster.office)
    for _ in range(2):  # a chat app's link preview fetches the page: that must not use the link up
        assert (await client.get(f"/console/login/{token}")).status == 200
    response = await client.post("/console/login", data={"token": token}, allow_redirects=False)
    assert response.status == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console/" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    assert "Max-Age" not in cookie and "expires" not in cookie.lower()  # an active user is never cut off at 8 h
    session_id = response.cookies["duban_console"].value
    async with db.sessions() as session:
        stored = await session.scalars(select(ConsoleSession.id_hash))
        assert session_id not in list(stored)  # only the hash is kept
    again = await client.post("/console/login", data={"token": token}, allow_redirects=False)
    assert again.status == 403 and "已使用过" in await again.text()
    old = await link_token(db, office.roster.office, now=datetime.now(UTC) - timedelta(minutes=11))
    expired = await client.post("/console/login", data={"token": old}, allow_redirects=False)
    assert expired.status == 403 and "已过期" in await expired.text()
    bogus = await client.post("/console/login", data={"token": "x" * 43}, allow_redirects=False)
    assert bogus.status == 403 and "无效" in await bogus.text()


async def test_behind_https_the_cookie_is_secure(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    client = await client_for(aiohttp_client, db)
    token = await link_token(db, office.roster.office)
    response = await client.post(
        "/console/login", data={"token": token}, allow_redirects=False, headers={"X-Forwarded-Proto": "https"}
    )
    assert "Secure" in response.headers["Set-Cookie"]


async def test_every_office_page_renders_with_its_security_headers(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    client = await client_for(aiohttp_client, db)
    await sign_in(client, db, office.roster.office)
    for path in OFFICE_PAGES:
        response = await client.get(path)
        assert response.status == 200, path
        assert "script" not in response.headers["Content-Security-Policy"].replace("'none'", "")
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        assert "<script" not in await response.text()
    matrix = await (await client.get("/console/matrix")).text()
    commerce, reform = office.roster.commerce.id, office.roster.reform.id
    last_closed = office.periods[-2]
    assert f'class="cell s-on_time"><a href="/console/units/{commerce}/reports/{last_closed}"' in matrix
    assert f'class="cell s-late"><a href="/console/units/{reform}/reports/{last_closed}"' in matrix
    assert "s-missing" in matrix and "s-not_due" in matrix
    grouped = await (await client.get(f"/console/matrix?group={office.roster.office_group.id}")).text()
    assert "省商务厅" not in grouped  # no unit's liaison sits in the office group
    overview = await (await client.get("/console/")).text()
    assert "省财政厅" in overview  # never reported: among the missing
    assert "发送失败 1 条" in overview


async def test_a_report_shows_every_version_and_their_difference(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    client = await client_for(aiohttp_client, db)
    await sign_in(client, db, office.roster.office)
    page = await (await client.get(f"/console/units/{office.roster.commerce.id}/reports/{office.periods[-2]}")).text()
    assert "第1版 → 第2版" in page
    assert '<td class="add">一是外贸稳增长，出口增长8%；</td>' in page
    assert '<td class="add">另有2个项目完成落地。</td>' in page
    assert page.count('class="panel" id="v') == 2


async def test_downloads_are_real_workbooks(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    client = await client_for(aiohttp_client, db)
    await sign_in(client, db, office.roster.office)
    period = office.periods[-2]
    response = await client.get(f"/console/documents/ledger/{period}.xlsx")
    assert response.status == 200
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(await response.read())).active
    values = [row for row in sheet.iter_rows(values_only=True) if row[1] == "省商务厅"]
    assert values and values[0][3] == "按时" and values[0][6] == 2
    items = load_workbook(io.BytesIO(await (await client.get("/console/documents/items.xlsx")).read())).active
    assert any("外贸企业用地审批慢" in str(cell) for row in items.iter_rows(values_only=True) for cell in row)
    roster = load_workbook(io.BytesIO(await (await client.get("/console/roster/export.xlsx")).read())).active
    assert [cell.value for cell in roster[1]][:3] == ["单位", "责任处室", "姓名"]


async def test_a_form_without_the_csrf_token_is_refused(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    client = await client_for(aiohttp_client, db)
    await sign_in(client, db, office.roster.office)
    for data in ({}, {"csrf": "forged"}):
        response = await client.post(f"/console/outbox/{office.failed_id}/resend", data=data)
        assert response.status == 403
        assert "缺少安全校验码" in await response.text()
    async with db.sessions() as session:
        copies = await session.scalars(select(OutboxMessage).where(OutboxMessage.resent_from == office.failed_id))
        assert list(copies) == []


async def test_resend_goes_through_a_confirmation_and_the_shared_rule(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    client = await client_for(aiohttp_client, db)
    csrf = await sign_in(client, db, office.roster.office)
    listing = await (await client.get("/console/outbox")).text()
    assert "93000" in listing and f"/console/outbox/{office.failed_id}/resend" in listing
    confirm = await (await client.get(f"/console/outbox/{office.failed_id}/resend")).text()
    assert "确认重发" in confirm and "请各成员单位于25日前报送工作进展。" in confirm
    done = await client.post(f"/console/outbox/{office.failed_id}/resend", data={"csrf": csrf})
    assert done.status == 200 and "已将消息" in await done.text()
    async with db.sessions() as session:
        [copy] = await session.scalars(select(OutboxMessage).where(OutboxMessage.resent_from == office.failed_id))
    assert copy.state is OutboxState.PENDING and copy.target == MEMBER_GROUP
    entry = (await audit(db))[-1]
    assert (entry.action, entry.via, entry.actor, entry.outcome) == ("重发", "console", "赵敏", "ok")


async def test_office_actions_on_an_item_use_the_chat_rules(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    client = await client_for(aiohttp_client, db)
    csrf = await sign_in(client, db, office.roster.office)
    due = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
    page = await client.post("/console/items/1/extend", data={"csrf": csrf, "due": due, "text": "需会商"})
    text = await page.text()
    assert page.status == 200 and "截止日期" in text and "需会商" in text
    refused = await client.post("/console/items/1/close", data={"csrf": csrf, "text": ""})
    assert "msg err" in await refused.text()  # only an item awaiting review can be closed
    entries = [(e.action, e.outcome, e.via) for e in await audit(db)]
    assert ("延期", "ok", "console") in entries and ("销号", "wrong_state", "console") in entries
    async with db.sessions() as session:
        item = await session.scalar(select(Item).where(Item.number == 1))
    assert item is not None and item.due is not None and item.due.isoformat() == due


async def test_a_liaison_sees_only_their_own_unit(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    roster = office.roster
    async with db.transaction() as session:
        session.add(Item(number=2, title="别的单位的事项", lead_unit_id=roster.reform.id, state=ItemState.RAISED))
    client = await client_for(aiohttp_client, db)
    csrf = await sign_in(client, db, roster.liaison)
    home = await client.get("/console/", allow_redirects=False)
    assert home.status == 303 and home.headers["Location"] == f"/console/units/{roster.commerce.id}"
    own = await client.get(f"/console/units/{roster.commerce.id}/reports/{office.periods[-2]}")
    assert own.status == 200
    other, period = roster.reform.id, office.periods[-2]
    for path in (
        f"/console/units/{other}",
        f"/console/units/{other}/reports/{period}",
        "/console/items/2",
        "/console/units/999999",
        "/console/items/999",
    ):
        assert (await client.get(path)).status == 404, path
    for path in (*OFFICE_PAGES[1:], "/console/documents/items.xlsx", "/console/roster/export.xlsx"):
        assert (await client.get(path)).status == 403, path
    listing = await (await client.get("/console/items")).text()
    assert "外贸企业用地审批慢" in listing and "别的单位的事项" not in listing
    assert (await client.post(f"/console/outbox/{office.failed_id}/resend", data={"csrf": csrf})).status == 403
    assert (await client.post("/console/items/2/stop", data={"csrf": csrf, "text": "x"})).status == 404
    signed = await client.post("/console/items/1/sign", data={"csrf": csrf})
    assert "已签收" in await signed.text() or "签收" in await signed.text()
    async with db.sessions() as session:
        item = await session.scalar(select(Item).where(Item.number == 1))
    assert item is not None and item.state is ItemState.IN_PROGRESS


async def test_roster_upload_shows_problems_then_imports(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    client = await client_for(aiohttp_client, db)
    csrf = await sign_in(client, db, office.roster.office)
    header = "单位,责任处室,姓名,角色,手机,企业微信账号,钉钉账号,所在群\n"
    good = (
        header + f"省商务厅,对外贸易处,张伟,A角,13800000001,zhangwei,,{MEMBER_GROUP}\n"
        f"省发展改革委,综合处,王强,A角,13800000003,,,{MEMBER_GROUP}\n"
        f"工作机制办公室,,赵敏,办公室,13800000004,zhaomin,,{OFFICE_GROUP}\n"
    )
    bad = good.replace("王强,A角,13800000003", "王强,处长,1380000")

    def upload(name: str, data: bytes) -> FormData:
        form = FormData()
        form.add_field("csrf", csrf)
        form.add_field("file", data, filename=name, content_type="application/octet-stream")
        return form

    checked = await (await client.post("/console/roster/check", data=upload("名册.csv", bad.encode()))).text()
    assert "整份文件未导入" in checked and "第3行" in checked
    damaged = await client.post("/console/roster/check", data=upload("名册.xlsx", b"PK\x03\x04broken"))
    assert damaged.status == 200 and "无法读取 Excel 文件" in await damaged.text()
    preview = await client.post("/console/roster/check", data=upload("名册.csv", good.encode()))
    page = await preview.text()
    assert "校验通过" in page and "停用人员" in page and "确认导入" in page
    async with db.sessions() as session:
        assert (await session.get(Person, office.roster.deputy.id)).active  # type: ignore[union-attr]
    payload = page.split('name="payload" value="')[1].split('"')[0]
    done = await client.post("/console/roster/import", data={"csrf": csrf, "name": "名册.csv", "payload": payload})
    assert "已导入" in await done.text()
    async with db.sessions() as session:
        assert not (await session.get(Person, office.roster.deputy.id)).active  # type: ignore[union-attr]
    entry = (await audit(db))[-1]
    assert (entry.action, entry.via, entry.person_id) == ("roster.import", "console", office.roster.office.id)


async def test_sessions_end_by_sign_out_office_or_idleness(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    liaison_client = await client_for(aiohttp_client, db)
    office_client = await client_for(aiohttp_client, db)
    await sign_in(liaison_client, db, office.roster.liaison)
    csrf = await sign_in(office_client, db, office.roster.office)
    sessions = await (await office_client.get("/console/sessions")).text()
    assert "张伟" in sessions
    async with db.sessions() as session:
        target = await session.scalar(
            select(ConsoleSession.id_hash).where(ConsoleSession.person_id == office.roster.liaison.id)
        )
    await office_client.post("/console/sessions/end", data={"csrf": csrf, "session": target})
    assert (await liaison_client.get(f"/console/units/{office.roster.commerce.id}")).status == 401
    async with db.transaction() as session:
        await session.execute(
            update(ConsoleSession).values(last_seen_at=datetime.now(UTC) - timedelta(hours=8, minutes=1))
        )
    assert (await office_client.get("/console/matrix")).status == 401
    csrf = await sign_in(office_client, db, office.roster.office)
    out = await office_client.post("/console/logout", data={"csrf": csrf}, allow_redirects=False)
    assert out.status == 303
    assert (await office_client.get("/console/matrix")).status == 401


async def test_the_console_can_be_switched_off(aiohttp_client: Any, db: Database) -> None:
    await seed_office(db)
    client = await client_for(aiohttp_client, db, enabled=False)
    assert (await client.get("/console/")).status == 404
    assert (await client.get("/console/login/abc")).status == 404


@pytest.mark.parametrize("path", ["/console/units/abc", "/console/units/1/reports/2026-13", "/console/items/x"])
async def test_malformed_addresses_are_404_not_500(aiohttp_client: Any, db: Database, path: str) -> None:
    office = await seed_office(db)
    client = await client_for(aiohttp_client, db)
    await sign_in(client, db, office.roster.office)
    assert (await client.get(path)).status == 404


async def test_assigning_an_item_from_the_console_tells_the_units(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    roster = office.roster
    async with db.transaction() as session:
        session.add(Item(number=3, title="园区道路改造", raised_by_id=roster.office.id, state=ItemState.RAISED))
    client = await client_for(aiohttp_client, db)
    csrf = await sign_in(client, db, roster.office)
    form = FormData()
    for name, value in (("csrf", csrf), ("lead", str(roster.commerce.id)), ("supporting", str(roster.reform.id))):
        form.add_field(name, value)
    form.add_field("due", (datetime.now(UTC) + timedelta(days=20)).date().isoformat())
    page = await (await client.post("/console/items/3/assign", data=form)).text()
    assert "msg ok" in page and "省商务厅" in page
    async with db.sessions() as session:
        posts = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.origin == "item")))
        item = await session.scalar(select(Item).where(Item.number == 3))
    assert item is not None and item.state is ItemState.ASSIGNED
    assert len(posts) == 1 and posts[0].target == MEMBER_GROUP
    assert {m["name"] for m in posts[0].message["mentions"]} == {"张伟", "李娜", "王强"}
    past = await client.post("/console/items/3/extend", data={"csrf": csrf, "due": "2020-01-01", "text": "x"})
    assert "msg err" in await past.text()
    async with db.sessions() as session:
        unchanged = await session.scalar(select(Item).where(Item.number == 3))
    assert unchanged is not None and unchanged.due == item.due


async def test_the_audit_log_filters_by_channel_and_person(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    client = await client_for(aiohttp_client, db)
    csrf = await sign_in(client, db, office.roster.office)
    await client.post(f"/console/outbox/{office.failed_id}/resend", data={"csrf": csrf})
    async with db.transaction() as session:
        session.add(AuditEntry(actor="命令行（root）", action="roster.import", detail="导入名册 x.csv", via="cli"))
    console_only = await (await client.get("/console/audit?via=console")).text()
    assert "重发" in console_only and "roster.import" not in console_only
    cli_only = await (await client.get("/console/audit?via=cli&actor=命令行")).text()
    assert "roster.import" in cli_only and "重发" not in cli_only.split("<table")[1]
    assert (await client.get("/console/audit?from=2026-13-01")).status == 400


async def test_forms_posted_from_another_site_are_refused(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    client = await client_for(aiohttp_client, db)
    token = await link_token(db, office.roster.office)
    evil = {"Origin": "https://evil.example"}
    forced = await client.post("/console/login", data={"token": token}, headers=evil, allow_redirects=False)
    assert forced.status == 403  # no login CSRF: nobody is signed in as someone else by a foreign page
    csrf = await sign_in(client, db, office.roster.office)
    response = await client.post(f"/console/outbox/{office.failed_id}/resend", data={"csrf": csrf}, headers=evil)
    assert response.status == 403
    same = {"Origin": str(client.make_url("/")).rstrip("/")}
    assert (
        await client.post(f"/console/outbox/{office.failed_id}/resend", data={"csrf": csrf}, headers=same)
    ).status == 200


async def test_a_hidden_origin_cannot_sign_anyone_in(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    client = await client_for(aiohttp_client, db)
    token = await link_token(db, office.roster.office)
    hidden = await client.post("/console/login", data={"token": token}, headers={"Origin": "null"})
    assert hidden.status == 403


async def test_a_period_archive_holds_the_ledgers_and_every_report(aiohttp_client: Any, db: Database) -> None:
    import zipfile

    office = await seed_office(db)
    client = await client_for(aiohttp_client, db)
    await sign_in(client, db, office.roster.office)
    period = office.periods[-2]
    response = await client.get(f"/console/documents/archive/{period}.zip")
    assert response.status == 200 and response.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(await response.read())) as archive:
        names = archive.namelist()
        assert f"台账-{period}.xlsx" in names and "督办事项台账.xlsx" in names
        reports = sorted(name for name in names if name.startswith("报送原文/"))
        assert reports == ["报送原文/001-省商务厅.txt", "报送原文/002-省发展改革委.txt"]
        text = archive.read(reports[0]).decode("utf-8-sig")
        assert "共2版" in text and "另有2个项目完成落地。" in text
        load_workbook(io.BytesIO(archive.read(f"台账-{period}.xlsx")))


async def test_the_console_is_announced_at_start(
    aiohttp_client: Any, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    await seed_office(db)
    with caplog.at_level(logging.INFO, logger="bot.app"):
        await client_for(aiohttp_client, db, public_url="https://duban.example.gov.cn")
    assert "console on at https://duban.example.gov.cn/console/" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot.app"):
        await client_for(aiohttp_client, db, enabled=False)
    assert "console is off" in caplog.text


async def test_word_documents_and_charts_come_from_the_documents_service(aiohttp_client: Any, db: Database) -> None:
    import zipfile

    from docx import Document

    from bot.console.gongwen import recent_quarters

    office = await seed_office(db)
    client = await client_for(aiohttp_client, db)
    await sign_in(client, db, office.roster.office)
    period = office.periods[-2]
    response = await client.get(f"/console/documents/doc/circular/{period}.docx")
    assert response.status == 200, await response.text()
    assert "attachment" in response.headers["Content-Disposition"]
    document = Document(io.BytesIO(await response.read()))
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    assert f"关于{period.label}工作进展报送情况的通报" in text and "省商务厅" in text
    quarter = recent_quarters(office.periods[-1], 1)[0]
    for chart in ("on_time", "heatmap", "lights"):
        image = await client.get(f"/console/documents/chart/{chart}/{quarter}.png")
        assert image.status == 200 and (await image.read()).startswith(b"\x89PNG"), chart
    for path in (
        "/console/documents/doc/nonsense/2026-10.docx",
        "/console/documents/doc/quarterly/2026-10.docx",
        f"/console/documents/chart/heatmap/{quarter}.png?part=99",
    ):
        assert (await client.get(path)).status == 404, path
    entries = [(e.action, e.via) for e in await audit(db)]
    assert ("文档", "console") in entries and ("下载图表", "console") in entries
    archive = await client.get(f"/console/documents/archive/{period}.zip")
    with zipfile.ZipFile(io.BytesIO(await archive.read())) as bundle:
        assert {f"月度通报-{period}.docx", f"快报-{period}.docx"} <= set(bundle.namelist())
    liaison = await client_for(aiohttp_client, db)
    await sign_in(liaison, db, office.roster.liaison)
    assert (await liaison.get(f"/console/documents/doc/circular/{period}.docx")).status == 403


async def test_files_download_for_the_office_and_their_own_unit_only(
    aiohttp_client: Any, db: Database, tmp_path: Path
) -> None:
    import zipfile

    office = await seed_office(db)
    roster, period = office.roster, office.periods[-2]
    content = "进展表\n一、外贸\n".encode() * 1000
    stored = await add_file(db, tmp_path, roster.commerce, period, "10月进展表.xlsx", content)
    lost = await add_file(db, tmp_path, roster.commerce, period, "照片.jpg", None)
    elsewhere = await add_file(db, tmp_path, roster.reform, period, "发改委.docx", b"other unit")
    settings = console_settings(db.url, files=tmp_path)
    client = await aiohttp_client(create_app(settings, db=db))
    await sign_in(client, db, roster.office)
    page = await (await client.get(f"/console/units/{roster.commerce.id}/reports/{period}")).text()
    assert f'href="/console/files/{stored}"' in page and "10月进展表.xlsx" in page
    assert "照片.jpg（未能接收：平台的文件链接已过期）" in page and f"/console/files/{lost}" not in page
    response = await client.get(f"/console/files/{stored}")
    assert response.status == 200 and await response.read() == content
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert "attachment" in response.headers["Content-Disposition"]
    assert (await client.get(f"/console/files/{lost}")).status == 409
    archive = await client.get(f"/console/documents/archive/{period}.zip")
    with zipfile.ZipFile(io.BytesIO(await archive.read())) as bundle:
        assert bundle.read("省商务厅/第2版/10月进展表.xlsx") == content
        assert "照片.jpg" in bundle.read("文件清单.txt").decode("utf-8-sig")
        assert "报送原文/001-省商务厅.txt" in bundle.namelist() and "督办事项台账.xlsx" in bundle.namelist()
    liaison = await aiohttp_client(create_app(settings, db=db))
    await sign_in(liaison, db, roster.liaison)
    assert (await liaison.get(f"/console/files/{stored}")).status == 200
    assert (await liaison.get(f"/console/files/{elsewhere}")).status == 404
    assert ("下载文件", "console") in [(e.action, e.via) for e in await audit(db)]


async def test_the_overview_shows_open_rounds(aiohttp_client: Any, db: Database) -> None:
    from storage.models import Round, RoundAnswer

    office = await seed_office(db)
    async with db.transaction() as session:
        asked = Round(title="重点项目联系人", deadline=datetime.now(UTC) + timedelta(days=3), code="R1TEST")
        session.add(asked)
        await session.flush()
        session.add(RoundAnswer(round_id=asked.id, unit_id=office.roster.commerce.id, version=1, text="张伟 处长"))
    client = await client_for(aiohttp_client, db)
    await sign_in(client, db, office.roster.office)
    page = await (await client.get("/console/")).text()
    assert "重点项目联系人" in page and "1 / 4" in page and "省财政厅" in page


async def test_the_office_sees_every_round_and_each_units_standing(aiohttp_client: Any, db: Database) -> None:
    from storage.models import Round
    from storage.rounds import round_standing

    office = await seed_office(db)
    asked, closed = await seed_rounds(db, office)
    client = await client_for(aiohttp_client, db)
    await sign_in(client, db, office.roster.office)
    overview = await (await client.get("/console/")).text()
    assert f'<a href="/console/rounds/{asked}">重点项目联系人</a>' in overview
    listing = await (await client.get("/console/rounds")).text()
    assert '<a href="/console/rounds" class="on">征集</a>' in listing
    assert "重点项目联系人" in listing and "年度工作要点" in listing and "已结束" in listing
    assert "<td>4</td><td>1</td><td>1</td><td>2</td><td>1</td>" in listing  # asked, on time, late, missing, unparsed
    page = await (await client.get(f"/console/rounds/{asked}")).text()
    async with db.sessions() as session:
        found = await session.get(Round, asked)
        assert found is not None
        standing = await round_standing(session, found)  # the numbers of 统计 #N
    assert f"应答复 {len(standing.units)} 家" in page and f"未答复 {len(standing.missing)} 家" in page
    assert "按时答复 1 家，逾期答复 1 家" in page and "需人工核对 1 家" in page
    commerce = page.split(f'id="u{office.roster.commerce.id}"')[1].split("</tr>")[0]
    assert "按时答复" in commerce and "<td>张伟</td><td>处长</td>" in commerce and "第2版" in commerce
    reform = page.split(f'id="u{office.roster.reform.id}"')[1].split("</tr>")[0]
    assert "逾期答复" in reform and "需人工核对" in reform and "联系人王强同志" in reform
    assert "尚未答复" in page.split(f'id="u{office.roster.finance.id}"')[1].split("</tr>")[0]
    assert f"征集#{closed} · 年度工作要点" in await (await client.get(f"/console/rounds/{closed}")).text()
    for unknown in ("999999", "0", "x", "99999999999"):
        assert (await client.get(f"/console/rounds/{unknown}")).status == 404, unknown


async def test_the_round_list_has_a_section_for_each_kind(aiohttp_client: Any, db: Database) -> None:
    """月度报送 (月报#N), 征集 (征集#N) and 会议回执 (会议#N) each under their own heading, named as chat names them."""
    from storage.models import Round

    office = await seed_office(db)
    asked, _ = await seed_rounds(db, office)
    due = datetime.now(UTC) + timedelta(days=3)
    async with db.transaction() as session:
        month = Round(kind="monthly", title="2026年10月工作进展", deadline=due, code="M2026-10")
        meeting = Round(kind="meeting", title="周会商", group=MEMBER_GROUP, deadline=due, code="MTTEST")
        session.add_all([month, meeting])
        await session.flush()
        month_id, meeting_id = month.id, meeting.id
    client = await client_for(aiohttp_client, db)
    await sign_in(client, db, office.roster.office)
    listing = await (await client.get("/console/rounds")).text()
    headings = [part.split("</h2>")[0] for part in listing.split("<h2>")[1:]]
    assert headings == ["月度报送", "征集", "会议回执"]
    monthly, collections, meetings = listing.split("<h2>")[1:]
    assert f">月报#{month_id}</a>" in monthly and "<th>应报送</th>" in monthly and "重点项目联系人" not in monthly
    assert f">征集#{asked}</a>" in collections and "<th>应答复</th>" in collections
    assert f">会议#{meeting_id}</a>" in meetings and "周会商" in meetings and "<th>未回执</th>" in meetings
    page = await (await client.get(f"/console/rounds/{meeting_id}")).text()
    assert f"<h1>会议#{meeting_id} · 周会商</h1>" in page


async def test_a_liaison_sees_only_their_units_row_of_a_round(aiohttp_client: Any, db: Database) -> None:
    from storage.models import Round

    office = await seed_office(db)
    asked, closed = await seed_rounds(db, office)
    async with db.transaction() as session:  # a round asking only the office group: not 省商务厅's business
        elsewhere = Round(title="办公室内部征集", group=OFFICE_GROUP, deadline=datetime.now(UTC), code="R4TEST")
        session.add(elsewhere)
        await session.flush()
        elsewhere_id = elsewhere.id
    client = await client_for(aiohttp_client, db)
    await sign_in(client, db, office.roster.liaison)
    listing = await (await client.get("/console/rounds")).text()
    assert "重点项目联系人" in listing and "按时答复" in listing and "办公室内部征集" not in listing
    page = await (await client.get(f"/console/rounds/{asked}")).text()
    assert f'id="u{office.roster.commerce.id}"' in page and "处长" in page
    for other in ("省发展改革委", "省财政厅", "联系人王强同志", "应答复"):
        assert other not in page, other
    assert "尚未答复" in await (await client.get(f"/console/rounds/{closed}")).text()
    assert (await client.get(f"/console/rounds/{elsewhere_id}")).status == 404
    assert (await client.get("/console/rounds/999999")).status == 404
