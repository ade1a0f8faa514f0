"""The documents as the office sees them: rendered to PDF by LibreOffice (pages, text, 28 characters to a line),
charts whose Chinese glyphs all exist, ``duban doc`` on the command line and ``文档`` in chat."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
from documents_kit import NOW, TODAY, History, document_policy, load_history, open_docx
from handlers_kit import audit_entries, say
from matplotlib.ft2font import FT2Font
from pypdf import PdfReader

from bot.cli import main
from schedules.documents import charts, service
from schedules.documents.service import DocumentRequest, Kind
from schedules.documents.spans import parse_half
from storage.db import Database
from storage.models import AuditEntry
from storage.outbound import LINK_CLOSE, LINK_OPEN

SOFFICE = shutil.which("soffice")
SPANS = {Kind.CIRCULAR: "2026-10", Kind.FLASH: "2026-10", Kind.QUARTERLY: "2026Q3", Kind.EVALUATION: "2026H2"}


@pytest.fixture
async def history(db: Database) -> History:
    return await load_history(db)


def to_pdf(docx: Path, workdir: Path) -> Path:
    """LibreOffice, headless, with a profile of its own (parallel runs must not share one)."""
    profile = workdir / "lo-profile"
    subprocess.run(
        [
            str(SOFFICE),
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(workdir),
            str(docx),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return workdir / f"{docx.stem}.pdf"


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) 未安装：Debian 软件包 libreoffice-writer-nogui")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_document_renders_in_libreoffice_as_a_gongwen(
    db: Database, history: History, tmp_path: Path
) -> None:
    for kind, span in SPANS.items():
        request = DocumentRequest(kind, service.parse_span(kind, span), TODAY)
        async with db.sessions() as session:
            built = await service.build_document(session, document_policy(), request, NOW)
        docx = tmp_path / built.filename
        docx.write_bytes(built.content)
        pdf = PdfReader(to_pdf(docx, tmp_path))
        pages = [page.extract_text() for page in pdf.pages]
        width, height = (float(v) for v in pdf.pages[0].mediabox.upper_right)
        assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297)
        everything = "\n".join(pages)
        compact = everything.replace(" ", "").replace("\n", "")
        assert built.title.replace("\n", "") in compact
        assert "二〇二六年十二月四日" in compact and compact.count("强省会工作机制办公室") >= 1
        for unit in history.units:
            assert unit.name in compact, (kind, unit.name)
        for number, text in enumerate(pages, start=1):
            assert f"—{number}—" in text.replace(" ", ""), (kind, number)  # every page numbered
        if kind is Kind.CIRCULAR:
            assert len(pages) == 3
            # A full line of body text holds 28 characters (GB/T 9704: 22 lines × 28 characters).
            lines = [line.replace(" ", "") for line in pages[0].splitlines()]
            widths = [sum(0.5 if ord(c) < 0x2E80 else 1 for c in line) for line in lines]
            assert 27 <= max(widths) <= 28.5
        if kind is Kind.EVALUATION:
            assert len(pages) >= 6


def test_charts_render_every_chinese_glyph() -> None:
    """matplotlib warns "Glyph … missing from font(s)" and draws a box: here that warning fails the test."""
    font = charts.cjk_font()
    assert Path(font.path).is_file()
    labels = "按时报送率逾期未报送各月成员单位灯号红黄绿事项数（项）第家共年下半年在办截至日"
    charmap = FT2Font(font.path).get_charmap()
    assert [char for char in labels if ord(char) not in charmap] == []
    months = ["7月", "8月", "9月", "10月", "11月", "12月"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images = [
            charts.on_time_chart([charts.MonthRate(m, 0.5) for m in months], "2026年下半年各月按时报送率"),
            *charts.heatmap_charts(
                [f"省第{n}成员单位" for n in range(55)], months, [["on_time", "late", "missing"] * 2] * 55
            ),
            charts.lights_chart({"红灯": 3, "黄灯": 1, "绿灯": 2}, "截至12月4日在办事项灯号"),
        ]
    assert len(images) == 4  # 55 units: two heat-map images of 50 and 5
    assert all(image.startswith(b"\x89PNG") and len(image) > 5_000 for image in images)


def test_a_cjk_font_installed_after_matplotlib_cached_its_list_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib import font_manager

    family = charts.cjk_font().family
    without = [entry for entry in font_manager.fontManager.ttflist if entry.name != family]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", without)
    charts.cjk_font.cache_clear()
    try:
        assert charts.cjk_font().family == family
    finally:
        charts.cjk_font.cache_clear()


def test_a_missing_cjk_font_is_named_not_drawn_as_boxes(monkeypatch: pytest.MonkeyPatch) -> None:
    charts.cjk_font.cache_clear()
    monkeypatch.setattr(charts, "CJK_FONTS", ("No Such Font SC",))
    try:
        with pytest.raises(charts.ChartFontMissing, match="fonts-wqy-zenhei"):
            charts.on_time_chart([], "标题")
    finally:
        charts.cjk_font.cache_clear()


async def _load(url: str) -> None:
    db = Database(url)
    try:
        await load_history(db)
    finally:
        await db.close()


async def _audit(url: str) -> list[AuditEntry]:
    db = Database(url)
    try:
        return await audit_entries(db)
    finally:
        await db.close()


def test_duban_doc_writes_each_document(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DUBAN_DATABASE__URL", sqlite_url)
    monkeypatch.setenv("DUBAN_DOCUMENTS__NUMBER_PREFIX", "强省会办")  # [documents] number_prefix
    monkeypatch.delenv("DUBAN_CONFIG", raising=False)
    asyncio.run(_load(sqlite_url))
    commands = {
        "circular": ["--period", "2026-10"],
        "flash": ["--period", "2026-10"],
        "quarterly": ["--quarter", "2026Q3"],
        "evaluation": ["--half", "2026H2"],
    }
    for kind, span in commands.items():
        out = tmp_path / f"{kind}.docx"
        assert main(["doc", kind, *span, "-o", str(out), "--number", "3", "--date", "2026-12-04"]) == 0
        printed = capsys.readouterr().out
        assert printed.startswith("已生成") and str(out) in printed
        document = open_docx(out.read_bytes())
        assert document.paragraphs[0].text == "强省会办〔2026〕3号"
        assert [p.text for p in document.paragraphs if p.text][-1] == "二〇二六年十二月四日"
    assert main(["doc", "quarterly", "--quarter", "2026Q5", "-o", "q.docx"]) == 2
    assert "季度应写作 YYYYQn" in capsys.readouterr().err
    assert main(["doc", "circular", "-o", "c.pdf"]) == 2
    assert main(["doc", "letterhead", "-o", str(tmp_path / "红头.docx")]) == 0
    assert open_docx((tmp_path / "红头.docx").read_bytes()).paragraphs[0].text == "工作机制办公室文件"
    entries = asyncio.run(_audit(sqlite_url))
    assert [e.action for e in entries].count("文档") == 4
    assert all(e.actor.startswith("命令行") for e in entries if e.action == "文档")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_office_asks_for_a_document_in_chat(
    db: Database, history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    policy = document_policy(output_dir=tmp_path / "documents")
    replies = await say(db, history.office, "文档 通报 2026-10", NOW, policy=policy)
    assert replies[0].startswith("已生成月度通报《关于2026年10月工作进展报送情况的通报》（Word 文件，")
    assert "duban doc circular --period 2026-10 -o 月度通报-2026-10.docx" in replies[0]
    assert "控制台" not in replies[0]  # the console is off: the reply does not send the office to it
    kept = list((tmp_path / "documents").glob("*.docx"))
    assert len(kept) == 1 and str(kept[0]) in replies[0]
    assert open_docx(kept[0].read_bytes()).paragraphs[0].text == "关于2026年10月工作进展报送情况的通报"

    replies = await say(db, history.office, "/doc 评估报告 2026H2", NOW, policy=policy)
    assert "半年评估报告《关于2026年下半年推进落实情况的评估报告》" in replies[0]
    console = dataclasses.replace(policy, console_url="https://duban.example.gov.cn/console/")
    replies = await say(db, history.office, "文档 快报 2026-10", NOW, policy=console)
    link = f"{LINK_OPEN}https://duban.example.gov.cn/console/documents{LINK_CLOSE}"  # a working link
    assert f"登录网页控制台“文档”页面下载：{link}" in replies[0]
    assert "duban doc flash --period 2026-10" in replies[0]
    assert "季度应写作" in (await say(db, history.office, "文档 季度通报", NOW, policy=policy))[0]
    assert "文档命令用法" in (await say(db, history.office, "文档 年报", NOW, policy=policy))[0]
    refused = await say(db, history.liaison, "文档 通报 2026-10", NOW, policy=policy)
    assert "仅限" in refused[0] and "办公室成员使用" in refused[0]
    assert len(list((tmp_path / "documents").glob("*.docx"))) == 3
    outcomes = [(e.action, e.outcome) for e in await audit_entries(db) if e.action == "文档"]
    assert outcomes == [
        ("文档", "ok"),
        ("文档", "ok"),
        ("文档", "ok"),
        ("文档", "invalid"),
        ("文档", "usage"),
        ("文档", "refused"),
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_console_gets_each_chart_as_png_bytes(db: Database, history: History) -> None:
    async with db.sessions() as session:
        for chart in service.Chart:
            images = await service.chart_images(session, document_policy(), chart, parse_half("2026H2"), NOW)
            assert len(images) == 1 and images[0].startswith(b"\x89PNG"), chart


def test_a_fresh_demo_writes_all_four_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``duban init --demo`` on a new machine, then ``duban doc …``: every demo unit in every document."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DUBAN_CONFIG", raising=False)
    assert main(["init", "--demo"]) == 0
    roster = (Path(__file__).resolve().parent.parent / "bot" / "demo" / "roster.csv").read_text(encoding="utf-8-sig")
    units = sorted({line.split(",")[0] for line in roster.splitlines()[1:]} - {"工作机制办公室"})
    for kind, span in (
        ("circular", []),
        ("flash", []),
        ("quarterly", ["--quarter", "2026Q4"]),
        ("evaluation", ["--half", "2026H2"]),
    ):
        assert main(["doc", kind, *span, "-o", f"{kind}.docx"]) == 0
        document = open_docx((tmp_path / f"{kind}.docx").read_bytes())
        written = "\n".join(p.text for p in document.paragraphs) + "\n".join(
            cell.text for table in document.tables for row in table.rows for cell in row.cells
        )
        assert all(unit in written for unit in units), kind
    assert "已生成半年评估报告" in capsys.readouterr().out
