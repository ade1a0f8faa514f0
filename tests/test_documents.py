"""The documents the office signs, opened as Word opens them (python-docx): 公文 page and styles, every unit, the
numbers of ``duban status``, ``统计`` and the ledger, the charts; and an office's letterhead template honoured."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from documents_kit import (
    NOW,
    PERIODS,
    TODAY,
    History,
    document_policy,
    load_history,
    open_docx,
    out_of_order,
    table_rows,
    texts,
)
from docx.document import Document as DocxDocument
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from handlers_kit import say
from schedules_kit import policy

from bot.cli.reports import status_document
from schedules.context import ScheduleEnv
from schedules.documents import service
from schedules.documents.gongwen import (
    BODY_FONT,
    CHARS_PER_LINE,
    HEADING_FONT,
    LINES_PER_PAGE,
    PAGE_NUMBER_FONT,
    STYLE_BODY,
    STYLE_HEADING,
    STYLE_SUBHEADING,
    STYLE_TITLE,
    SUBHEADING_FONT,
    TEXT_WIDTH,
    TITLE_FONT,
    title_lines,
)
from schedules.documents.letterhead import TemplateError, example_letterhead
from schedules.documents.numerals import chinese_date
from schedules.documents.periodic import ranking
from schedules.documents.service import BuiltDocument, DocumentRequest, Kind
from schedules.documents.spans import month_span, parse_half, parse_quarter
from storage import items as ledger_items
from storage.db import Database
from storage.items import Light
from storage.policy import Policy
from storage.reports import period_ledger
from storage.standing import period_standing

OCTOBER = PERIODS[5]


@pytest.fixture
async def history(db: Database) -> History:
    return await load_history(db)


async def build(
    db: Database, kind: Kind, span: str, *, policy: Policy | None = None, number: int | None = None
) -> BuiltDocument:
    request = DocumentRequest(kind, service.parse_span(kind, span), TODAY, number)
    async with db.sessions() as session:
        built = await service.build_document(session, policy or document_policy(), request, NOW)
    assert out_of_order(built.content) == []  # Word would refuse the file
    return built


def east_asian_font(document: DocxDocument, style: str) -> str:
    fonts = document.styles[style].element.rPr.find(qn("w:rFonts"))
    return str(fonts.get(qn("w:eastAsia")))


def assert_gongwen_page(document: DocxDocument) -> None:
    for section in document.sections:
        # Word keeps sizes in twips: compare to a tenth of a millimetre.
        sizes = [section.page_width, section.page_height, section.top_margin, section.bottom_margin]
        sizes += [section.left_margin, section.right_margin]
        assert [round(size.mm, 1) for size in sizes] == [210, 297, 37, 35, 28, 26]
        grid = section._sectPr.find(qn("w:docGrid"))
        assert grid.get(qn("w:linePitch")) == "579"  # 22 lines to the 225 mm text block


def assert_gongwen_styles(document: DocxDocument) -> None:
    expected = {
        STYLE_TITLE: (TITLE_FONT, Pt(22)),
        STYLE_BODY: (BODY_FONT, Pt(16)),
        STYLE_HEADING: (HEADING_FONT, Pt(16)),
        STYLE_SUBHEADING: (SUBHEADING_FONT, Pt(16)),
    }
    for style, (font, size) in expected.items():
        assert east_asian_font(document, style) == font
        assert document.styles[style].font.size == size
    body = document.styles[STYLE_BODY]
    # 28 characters to the 156 mm line: 3号 condensed by a quarter point; 22 lines: 28.95 pt each.
    assert body.element.rPr.find(qn("w:spacing")).get(qn("w:val")) == "-5"
    assert body.paragraph_format.line_spacing == Pt(28.95)
    assert CHARS_PER_LINE == 28 and LINES_PER_PAGE == 22
    assert CHARS_PER_LINE * (16 - 0.25) <= TEXT_WIDTH.pt < (CHARS_PER_LINE + 1) * (16 - 0.25)
    assert LINES_PER_PAGE * 28.95 <= Mm(297 - 37 - 35).pt < (LINES_PER_PAGE + 1) * 28.95
    headings = [p.text for p in document.paragraphs if p.style.name == STYLE_HEADING]
    assert headings and all(re.match(r"^[一二三四五六七八九十百]+、", text) for text in headings)
    subheadings = [p.text for p in document.paragraphs if p.style.name == STYLE_SUBHEADING]
    assert all(re.match(r"^（[一二三四五六七八九十百]+）", text) for text in subheadings)


def assert_page_numbers(document: DocxDocument) -> None:
    assert document.settings.odd_and_even_pages_header_footer
    section = document.sections[0]
    for footer, side in ((section.footer, "right"), (section.even_page_footer, "left")):
        paragraph = footer.paragraphs[0]
        assert paragraph.text.startswith("— ") and paragraph.text.endswith(" —")
        assert "PAGE" in "".join(node.text or "" for node in paragraph._p.iter(qn("w:instrText")))
        assert paragraph.alignment == (2 if side == "right" else 0)  # RIGHT / LEFT
        assert paragraph.style.font.size == Pt(14)
        assert east_asian_font(document, paragraph.style.name) == PAGE_NUMBER_FONT


def assert_signed(document: DocxDocument, issuer: str) -> None:
    last = [p.text for p in document.paragraphs if p.text.strip()][-2:]
    assert last == [issuer, chinese_date(TODAY)] == [issuer, "二〇二六年十二月四日"]


async def test_circular_is_a_gongwen_with_the_numbers_of_duban_status_and_the_ledger(
    db: Database, history: History
) -> None:
    built = await build(db, Kind.CIRCULAR, str(OCTOBER), number=12)
    document = open_docx(built.content)
    assert_gongwen_page(document)
    assert_gongwen_styles(document)
    assert_page_numbers(document)
    assert_signed(document, "强省会工作机制办公室")
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "〔2026〕12号"
    assert paragraphs[2] == "关于2026年10月工作进展报送情况的通报"

    async with db.sessions() as session:
        status = status_document(await period_standing(session, OCTOBER), policy(), NOW)
        env = ScheduleEnv.of(policy())
        lit = await ledger_items.by_standing(session, env.calendar, NOW, env.policy.tz)
    counts = status["counts"]
    summary = (
        f"应报送{counts['units']}家，按时报送{counts['on_time']}家，逾期报送{counts['late']}家，"
        f"未报送{counts['missing']}家，按时报送率{status['on_time_rate'] * 100:.1f}%。"
    )
    assert any(summary in text for text in paragraphs)
    rows = table_rows(document, "序号|单位|报送情况")
    assert [row[1] for row in rows] == [unit["name"] for unit in status["units"]]  # every unit, roster order
    for row, unit in zip(rows, status["units"], strict=True):
        first = unit["first_at"][5:16].replace("T", " ") if unit["first_at"] else "—"
        latest = unit["latest_at"][5:16].replace("T", " ") if unit["latest_at"] else "—"
        assert row[2:] == [unit["label"], first, latest, str(unit["versions"])]

    # 统计 in chat names the same units.
    reply = "\n".join(await say(db, history.office, "统计 2026-10", NOW))
    for label, key in (("按时报送", "on_time"), ("逾期报送", "late"), ("未报送", "missing")):
        named = [u["name"] for u in status["units"] if u["status"] == key]
        if named:
            assert f"- {label}（{len(named)}）：{'、'.join(named)}" in reply
            section = next(t for t in paragraphs if t.startswith(("（一）", "（二）", "（三）")) and label in t)
            assert f"（{len(named)}家）" in section

    # The ledger: open and overdue items by lead unit, as 事项 sees them.
    red = [s for s in lit if s.light is Light.RED]
    assert {s.item.number for s in red} == {1, 2, 3}
    leads = table_rows(document, "序号|牵头单位")
    assert leads[0][1:] == ["省交通运输厅", "2", "2"] and leads[1][1:] == ["省自然资源厅", "1", "1"]
    assert sum(int(row[2]) for row in leads) == 6  # every assigned open item; #10 awaits assignment
    assert any("已逾期（红灯）3项" in text and "待交办1项" in text for text in paragraphs)
    assert any(text.startswith("已逾期事项：#1") for text in paragraphs)
    # Due before the next reports are: #4 (8 December); #5 (30 December) comes after 25 December.
    assert any("下月到期事项：#4" in text and "#5" not in text for text in paragraphs)
    assert built.filename == "月度通报-2026-10.docx"


async def test_flash_lists_every_units_latest_report_in_roster_order(db: Database, history: History) -> None:
    document = open_docx((await build(db, Kind.FLASH, str(OCTOBER))).content)
    assert_gongwen_page(document)
    assert_page_numbers(document)
    headings = [p.text for p in document.paragraphs if p.style.name == STYLE_HEADING]
    assert [re.sub(r"^[一二三四五六七八九十]+、", "", h) for h in headings] == [u.name for u in history.units]
    async with db.sessions() as session:
        ledger = await period_ledger(session, OCTOBER)
    paragraphs = [p.text for p in document.paragraphs]
    for row in ledger.rows:
        start = paragraphs.index(next(h for h in headings if h.endswith(row.unit_name)))
        following = paragraphs[start + 1]
        if row.standing.status == "missing":
            assert following == "本期尚未报送。"
        else:
            lead = row.latest_text.split("：", 1)[1].split("。")[0] + "。"
            assert following == lead  # the first sentence, without its "10月工作进展：" head
    commerce = paragraphs.index("五、省商务厅")
    land = paragraphs.index("六、省自然资源厅")
    assert paragraphs[commerce:land][-1] == "附件（2件）：图片：10月现场.jpg；文件：10月项目清单.xlsx。"
    assert "附件（1件）：文件：现场照片.zip（未能取回）。" in paragraphs[land:]


async def test_quarterly_sets_the_three_months_side_by_side_and_ranks_units(db: Database, history: History) -> None:
    built = await build(db, Kind.QUARTERLY, "2026Q3")
    document = open_docx(built.content)
    assert_gongwen_page(document)
    assert [p.text for p in document.paragraphs if p.style.name == STYLE_TITLE] == [
        "关于2026年第三季度工作进展\n报送和督办事项办理情况的通报"
    ]
    rows = table_rows(document, "序号|单位|7月|8月|9月")
    async with db.sessions() as session:
        ledgers = [await period_ledger(session, period) for period in PERIODS[2:5]]
    short = {"on_time": "按时", "late": "逾期", "missing": "未报"}
    for row, units in zip(rows, zip(*(ledger.standing.units for ledger in ledgers), strict=True), strict=True):
        assert row[1] == units[0].unit_name
        assert row[2:5] == [short[unit.status] for unit in units]
    ranked = table_rows(document, "名次|单位")
    assert ranked[0][0] == "1" and ranked[-1][1] == "昆明市人民政府"  # never reports
    assert next(row for row in ranked if row[1] == "省发展改革委")[2:4] == ["3/3", "100.0%"]
    # 省商务厅 closed #9 in September: ahead of every unit as punctual as it is.
    commerce = next(row for row in ranked if row[1] == "省商务厅")
    assert all(row[2] != "3/3" or row is commerce or int(row[0]) >= int(commerce[0]) for row in ranked)
    assert len(ranked) == len(history.units)


async def test_evaluation_has_charts_heat_map_unit_sections_and_room_for_the_office(
    db: Database, history: History
) -> None:
    built = await build(db, Kind.EVALUATION, "2026H2", policy=document_policy(report_to="省人民政府"))
    document = open_docx(built.content)
    assert_gongwen_page(document)
    assert_gongwen_styles(document)
    assert_signed(document, "强省会工作机制办公室")
    paragraphs = [p.text for p in document.paragraphs]
    assert "省人民政府：" in paragraphs
    assert len(document.inline_shapes) == 3  # on-time chart, heat map (12 units: one image), lights
    images = [rel.target_part.blob for rel in document.part.rels.values() if "image" in rel.reltype]
    assert all(blob.startswith(b"\x89PNG") for blob in images) and len(images) == 3
    rows = table_rows(document, "序号|单位|7月|8月|9月|10月|11月|12月|按时率")
    assert [row[1] for row in rows] == [unit.name for unit in history.units]
    async with db.sessions() as session:
        ledgers = [await period_ledger(session, period) for period in parse_half("2026H2").periods]
    short = {"on_time": "按时", "late": "逾期", "missing": "未报"}
    for index, row in enumerate(rows):
        assert row[2:8] == [short[ledger.standing.units[index].status] for ledger in ledgers]
        assert row[8] == f"{row[2:8].count('按时') / 6 * 100:.1f}%"
    assert rows[0][2:6] == ["按时"] * 4 and rows[0][7] == "未报"  # December's reports are not due yet
    units = [p.text for p in document.paragraphs if p.style.name == STYLE_SUBHEADING]
    assert [re.sub(r"^（[一二三四五六七八九十]+）", "", u) for u in units] == [unit.name for unit in history.units]
    office = paragraphs.index("四、办公室评估意见")
    assert paragraphs[office + 1] == "（由办公室填写。）" and not any(paragraphs[office + 2 : office + 9])
    months = table_rows(document, "月份|新提出（项）")
    assert [row[0] for row in months] == ["7月", "8月", "9月", "10月", "11月", "12月"]
    assert months[3][1:4] == ["8", "8", "1"]  # October: #1–#8 raised and assigned, #7 closed
    assert months[2][1:4] == ["0", "1", "1"]  # September: #9 (raised 31 August) assigned and closed
    assert any("平均办结用时" in text for text in paragraphs)


async def test_ranking_shares_places_between_equal_units(db: Database, history: History) -> None:
    async with db.sessions() as session:
        from schedules.documents.data import span_data

        across = await span_data(session, ScheduleEnv.of(policy()), parse_quarter("2026Q3"), NOW)
    places = ranking(across)
    keys = [(unit.on_time, figures.closed, figures.overdue) for _, unit, figures in places]
    assert keys == sorted(keys, key=lambda k: (-k[0], -k[1], k[2]))
    for (place_a, _, _), (place_b, _, _), key_a, key_b in zip(places, places[1:], keys, keys[1:], strict=False):
        assert (place_a == place_b) == (key_a == key_b)


async def test_an_office_letterhead_template_is_honoured(db: Database, history: History, tmp_path: Path) -> None:
    template = tmp_path / "红头.docx"
    letterhead = open_docx(example_letterhead("强省会工作机制办公室"))
    section = letterhead.sections[0]
    section.left_margin = Mm(30)  # the office's own layout
    section.header.paragraphs[0].text = "内部资料 注意保存"
    letterhead.save(str(template))
    settings = {"template": template, "number_prefix": "强省会办"}
    built = await build(db, Kind.CIRCULAR, str(OCTOBER), policy=document_policy(**settings), number=7)
    document = open_docx(built.content)
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "强省会工作机制办公室文件"
    mark = document.paragraphs[0].runs[0]
    assert str(mark.font.color.rgb) == "E60012" and mark.font.size == Pt(35)  # 12 characters on one line
    assert paragraphs[1] == "强省会办〔2026〕7号"
    assert document.paragraphs[1]._p.pPr.find(qn("w:pBdr")) is not None  # the red line under the number
    assert paragraphs.index("关于2026年10月工作进展报送情况的通报") > 1
    assert round(document.sections[0].left_margin.mm, 1) == 30
    assert document.sections[0].header.paragraphs[0].text == "内部资料 注意保存"
    assert "{{" not in "".join(texts(document))
    assert_page_numbers(document)
    assert_signed(document, "强省会工作机制办公室")

    bare = open_docx(example_letterhead("办公室"))
    for paragraph in bare.paragraphs:
        if "body" in paragraph.text:
            paragraph.text = "正文"
    broken = tmp_path / "无正文.docx"
    bare.save(str(broken))
    with pytest.raises(TemplateError, match="单独成段"):
        await build(db, Kind.CIRCULAR, str(OCTOBER), policy=document_policy(template=broken))
    (tmp_path / "坏.docx").write_text("不是 Word 文件", encoding="utf-8")
    with pytest.raises(TemplateError, match="无法读取"):
        await build(db, Kind.CIRCULAR, str(OCTOBER), policy=document_policy(template=tmp_path / "坏.docx"))


def test_spans_titles_and_dates() -> None:
    assert [str(p) for p in parse_quarter("2026Q4").periods] == ["2026-10", "2026-11", "2026-12"]
    assert [str(p) for p in parse_half("2026h1").periods] == [f"2026-0{m}" for m in range(1, 7)]
    assert month_span(OCTOBER).label == "2026年10月"
    for bad, parse in (("2026Q5", parse_quarter), ("2026-10", parse_half), ("Q4", parse_quarter)):
        with pytest.raises(ValueError, match="应写作"):
            parse(bad)
    assert chinese_date(date(2026, 12, 4)) == "二〇二六年十二月四日"
    assert chinese_date(date(2030, 10, 31)) == "二〇三〇年十月三十一日"
    assert title_lines("关于2026年第四季度工作进展报送和督办事项办理情况的通报") == [
        "关于2026年第四季度工作进展",
        "报送和督办事项办理情况的通报",
    ]
    assert title_lines("2026年10月工作进展快报") == ["2026年10月工作进展快报"]
