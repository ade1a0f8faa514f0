"""Hostile requests to the console: never a 500, never a change, whatever arrives."""

from __future__ import annotations

import io
from typing import Any

import pytest
from aiohttp import FormData
from console_kit import console_settings, csrf_of, link_token, seed_office
from sqlalchemy import func, select

from bot.app import create_app
from storage.db import Database
from storage.models import AuditEntry, OutboxMessage, Person

FORM = "application/x-www-form-urlencoded"
ANONYMOUS = [
    ("GET", "/console/login/" + "A" * 5000, {}),
    ("GET", "/console/login/%00%ff", {}),
    ("POST", "/console/login", {"data": {"token": "x" * 10_000}}),
    (
        "POST",
        "/console/login",
        {"data": b"\xff\xfe\x00garbage", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    ),
    ("POST", "/console/login", {"data": b"--x\r\n", "headers": {"Content-Type": "multipart/form-data; boundary=x"}}),
    ("GET", "/console/matrix", {"headers": {"Cookie": "duban_console=" + "Z" * 4000}}),
    ("GET", "/console/matrix", {"headers": {"Cookie": "duban_console=%%%; other=1"}}),
    ("POST", "/console/outbox/1/resend", {"data": {"csrf": "x"}}),
    ("GET", "/console/static/../../../etc/passwd", {}),
    ("GET", "/console/static/%2e%2e/base.py", {}),
]

SIGNED_IN = [
    ("GET", "/console/matrix?months=99999&to=9999-99&group=-1", {}),
    ("GET", "/console/matrix?group=abc", {}),
    ("GET", "/console/matrix?to=2026-10%00", {}),
    ("GET", "/console/units/99999999999999999999999", {}),
    ("GET", "/console/units/1/reports/2026-10?a=-5&b=abc", {}),
    ("GET", "/console/items/1e9", {}),
    ("GET", "/console/items?state=%3Cscript%3E&light=x&unit=99999999999999999999", {}),
    ("GET", "/console/audit?before=abc", {}),
    ("GET", "/console/audit?from=9999-99-99&via=%00", {}),
    ("GET", "/console/documents/ledger/2026-13.xlsx", {}),
    ("GET", "/console/documents/ledger/..%2f..%2fetc.xlsx", {}),
    ("GET", "/console/outbox/99999999999999999999999/resend", {}),
    ("GET", "/console/jobs?job=%00", {}),
]


def _form(csrf: str, **fields: Any) -> FormData:
    form = FormData()
    form.add_field("csrf", csrf)
    for name, value in fields.items():
        form.add_field(name, value)
    return form


async def test_hostile_requests_get_an_answer_not_a_500(aiohttp_client: Any, db: Database) -> None:
    office = await seed_office(db)
    client = await aiohttp_client(create_app(console_settings(db.url), db=db))
    for method, path, options in ANONYMOUS:
        response = await client.request(method, path, allow_redirects=False, **options)
        assert response.status < 500, (method, path, response.status)
    token = await link_token(db, office.roster.office)
    await client.post("/console/login", data={"token": token})
    csrf = csrf_of(await (await client.get("/console/items")).text())
    for method, path, options in SIGNED_IN:
        response = await client.request(method, path, allow_redirects=False, **options)
        assert response.status < 500, (method, path, response.status)
    async with db.sessions() as session:
        people = await session.scalar(select(func.count()).select_from(Person))
        outbox = await session.scalar(select(func.count()).select_from(OutboxMessage))
    posts: list[tuple[str, Any]] = [
        ("/console/items/1/assign", _form(csrf, lead="abc", due="x")),
        ("/console/items/1/extend", _form(csrf, due="2026-02-30", text="原因")),
        ("/console/items/1/nonsense", _form(csrf)),
        ("/console/items/1/progress", _form(csrf, text="\x00" * 10)),
        ("/console/sessions/end", _form(csrf, session="x" * 64)),
        ("/console/sessions/end", _form(csrf)),
        ("/console/roster/check", _form(csrf, file="not a file")),
        ("/console/roster/import", _form(csrf, name="a.csv", payload="!!!not base64!!!")),
        ("/console/roster/import", _form(csrf, name="a.exe", payload="QUJD")),
        ("/console/roster/import", _form(csrf, name="a.xlsx", payload="UEsDBAo=")),
    ]
    for path, form in posts:
        response = await client.post(path, data=form)
        assert response.status < 500, (path, response.status)
    bomb = FormData()
    bomb.add_field("csrf", csrf)
    bomb.add_field("file", io.BytesIO(b"\x00" * (11 * 1024 * 1024)), filename="big.xlsx")
    too_big = await client.post("/console/roster/check", data=bomb)
    assert too_big.status == 413
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == people
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == outbox
        actions = await session.scalars(select(AuditEntry.action).where(AuditEntry.via == "console"))
        assert set(actions) <= {"控制台登录", "进展", "交办", "延期", "结束控制台会话"}  # refusals only, no changes


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "{{ 7*7 }}", "\u202etxt.exe"])
async def test_what_people_wrote_is_shown_as_text(aiohttp_client: Any, db: Database, text: str) -> None:
    from storage.models import Item

    office = await seed_office(db)
    async with db.transaction() as session:
        item = await session.scalar(select(Item).where(Item.number == 1))
        assert item is not None
        item.title = text
    client = await aiohttp_client(create_app(console_settings(db.url), db=db))
    await client.post("/console/login", data={"token": await link_token(db, office.roster.office)})
    page = await (await client.get("/console/items/1")).text()
    assert "<script>alert" not in page and "49" not in page.split("<h1>")[1].split("</h1>")[0]
