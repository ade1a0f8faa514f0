"""The 公文 layout of GB/T 9704-2012 in python-docx: page, grid, styles, page numbers and the writer of a body.

- A4, margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm; 22 lines × 28 characters (a line grid of
  28.95 pt and 3号 condensed by a quarter point);
- title in 2号 方正小标宋简体, body in 3号 仿宋_GB2312, headings 一、 in 黑体 and （一） in 楷体_GB2312;
- page numbers "— 1 —" in 4号 宋体, 7 mm below the text block, odd pages right and even pages left, one
  character in from the edge;
- the issuing office and the date (成文日期, in Chinese numerals) at the end, the date four characters in from
  the right and the office centred over it (the layout for a document that is stamped).

Fonts are named on every style (East Asian and Latin alike), never embedded: the office's PC has them.
"""

from __future__ import annotations

import copy
import struct
from collections.abc import Sequence
from datetime import date
from io import BytesIO
from typing import Any

from docx.document import Document as DocxDocument
from docx.enum.section import WD_SECTION_START
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.section import Section
from docx.shared import Emu, Length, Mm, Pt, RGBColor
from docx.styles.style import ParagraphStyle
from docx.table import Table
from docx.text.paragraph import Paragraph

from schedules.documents.numerals import chinese_date

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING_FONT = "黑体"
SUBHEADING_FONT = "楷体_GB2312"
PAGE_NUMBER_FONT = "宋体"
LATIN_FONT = "Times New Roman"

BODY_SIZE = Pt(16)  # 3号
TITLE_SIZE = Pt(22)  # 2号
PAGE_NUMBER_SIZE = Pt(14)  # 4号
TABLE_SIZE = Pt(10.5)  # 5号: a table of eight columns still fits the 156 mm text block
CAPTION_SIZE = Pt(14)

TEXT_WIDTH = Mm(210 - 28 - 26)
PICTURE_MAX_HEIGHT_MM = 190  # of the 225 mm text block: room left for the caption
LINES_PER_PAGE = 22
CHARS_PER_LINE = 28
# 225 mm of text block over 22 lines: 28.95 pt a line (579 twips, the document's line grid). 156 mm over 28
# characters: 15.75 pt each, which is 3号 (16 pt) condensed by a quarter point. Condensing, rather than Word's
# character grid (linesAndChars), holds in LibreOffice too: it spreads characters over such a grid's cells.
LINE_PITCH_TWIPS = 579
LINE_PITCH = Pt(LINE_PITCH_TWIPS / 20)
CONDENSE_TWENTIETHS = -5
CHAR = Pt(15.75)


def chars(count: float) -> Length:
    """An indent of ``count`` characters on the grid."""
    return Emu(round(CHAR * count))


STYLE_TITLE = "公文标题"
STYLE_BODY = "公文正文"
STYLE_HEADING = "公文一级标题"
STYLE_SUBHEADING = "公文二级标题"
STYLE_TABLE = "公文表格"
STYLE_CAPTION = "公文图表标题"
STYLE_PAGE_NUMBER = "公文页码"
STYLE_NUMBER = "公文发文字号"
GONGWEN_STYLES = (
    STYLE_TITLE,
    STYLE_BODY,
    STYLE_HEADING,
    STYLE_SUBHEADING,
    STYLE_TABLE,
    STYLE_CAPTION,
    STYLE_PAGE_NUMBER,
    STYLE_NUMBER,
)


# What may follow an element in its parent (ECMA-376 sequences): Word refuses a file whose elements are out of
# order, so everything added here goes in its place.
_RPR_AFTER_FONTS = ("w:b", "w:bCs", "w:i", "w:iCs", "w:caps", "w:smallCaps", "w:strike", "w:dstrike", "w:outline",
                    "w:shadow", "w:emboss", "w:imprint", "w:noProof", "w:snapToGrid", "w:vanish", "w:webHidden",
                    "w:color", "w:spacing")  # fmt: skip
_RPR_AFTER_SPACING = ("w:w", "w:kern", "w:position", "w:sz", "w:szCs", "w:highlight", "w:u", "w:effect", "w:bdr",
                      "w:shd", "w:fitText", "w:vertAlign", "w:rtl", "w:cs", "w:em", "w:lang", "w:eastAsianLayout",
                      "w:specVanish", "w:oMath")  # fmt: skip
_PPR_AFTER_OUTLINE = ("w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")
_PPR_AFTER_SNAP = ("w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc",
                   "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl",
                   *_PPR_AFTER_OUTLINE)  # fmt: skip
PPR_AFTER_BORDER = ("w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
                    "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid",
                    *_PPR_AFTER_SNAP)  # fmt: skip
_TBLPR_AFTER_BORDERS = ("w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption", "w:tblDescription",
                        "w:tblPrChange")  # fmt: skip


def set_fonts(rpr_owner: Any, east_asian: str, latin: str = LATIN_FONT) -> None:
    """Name ``east_asian`` for Chinese text and ``latin`` for digits and letters on a style or a run."""
    if hasattr(rpr_owner, "element"):  # a style
        rpr = rpr_owner.element.get_or_add_rPr()
    elif rpr_owner.tag == qn("w:rPr"):
        rpr = rpr_owner
    else:  # a run's element
        rpr = rpr_owner.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert_element_before(fonts, *_RPR_AFTER_FONTS, *_RPR_AFTER_SPACING)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)  # a theme font would win over the named one
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:cs"), latin)
    fonts.set(qn("w:eastAsia"), east_asian)


TITLE_LINE = 19.0  # characters of 2号 on a line of the text block, with a margin
_TITLE_BREAKS = "于年月度和及、的"


def _width(text: str) -> float:
    """Characters of width: Latin letters and digits count half."""
    return sum(0.5 if ord(char) < 0x2E80 else 1.0 for char in text)


def title_lines(title: str) -> list[str]:
    """A long title broken into balanced lines at a word's end (after 关于, 年, 月, 和, 的…), never mid-number,
    as GB/T 9704 asks (词意完整，排列对称)."""
    if _width(title) <= TITLE_LINE:
        return [title]
    best: tuple[float, int] | None = None
    for cut in range(2, len(title) - 1):
        if title[cut - 1] not in _TITLE_BREAKS and title[cut - 2 : cut] != "进展":
            continue
        head, tail = _width(title[:cut]), _width(title[cut:])
        score = abs(head - tail) + (0 if head >= tail else 0.5)  # a longer first line reads better
        if best is None or score < best[0]:
            best = (score, cut)
    cut = best[1] if best is not None else len(title) // 2
    return [*title_lines(title[:cut]), *title_lines(title[cut:])]


def set_page(section: Section) -> None:
    """A4 with the 公文 margins and the 22 × 28 grid."""
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.header_distance = Mm(15)
    section.footer_distance = Mm(23)  # the number's line sits 7 mm below the text block
    section.start_type = WD_SECTION_START.NEW_PAGE
    grid = section._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        section._sectPr.insert_element_before(grid, "w:printerSettings", "w:sectPrChange")
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(LINE_PITCH_TWIPS))
    grid.attrib.pop(qn("w:charSpace"), None)


def _style(
    document: DocxDocument,
    name: str,
    *,
    font: str,
    size: Length,
    align: int | None = None,
    first_line: Length | None = None,
    exact: Length | None = LINE_PITCH,
    bold: bool = False,
    latin: str = LATIN_FONT,
    outline: int | None = None,
    grid: bool = True,
    condensed: bool = True,
) -> None:
    """Add the paragraph style ``name`` unless the office's template defines it already (its own wins)."""
    if name in [style.name for style in document.styles]:
        return
    style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    assert isinstance(style, ParagraphStyle)
    style.base_style = None
    style.quick_style = True
    style.font.size = size
    style.font.bold = bold
    style.font.color.rgb = RGBColor(0, 0, 0)
    set_fonts(style, font, latin)
    if condensed:  # 28 characters to the line
        spacing = OxmlElement("w:spacing")
        spacing.set(qn("w:val"), str(CONDENSE_TWENTIETHS))
        style.element.get_or_add_rPr().insert_element_before(spacing, *_RPR_AFTER_SPACING)
    paragraph = style.paragraph_format
    paragraph.space_before = Pt(0)
    paragraph.space_after = Pt(0)
    paragraph.widow_control = False
    if exact is not None:
        paragraph.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        paragraph.line_spacing = exact
    else:
        paragraph.line_spacing = 1.0
    if align is not None:
        paragraph.alignment = align
    if first_line is not None:
        paragraph.first_line_indent = first_line
    if not grid:  # off the character grid: a 5号 table or a 2号 title keeps its own width per character
        snap = OxmlElement("w:snapToGrid")
        snap.set(qn("w:val"), "0")
        style.element.get_or_add_pPr().insert_element_before(snap, *_PPR_AFTER_SNAP)
    if outline is not None:
        paragraph.keep_with_next = True  # a heading never ends a page
        level = OxmlElement("w:outlineLvl")
        level.set(qn("w:val"), str(outline))
        style.element.get_or_add_pPr().insert_element_before(level, *_PPR_AFTER_OUTLINE)


def set_defaults(document: DocxDocument) -> None:
    """A new document's defaults: 3号 仿宋_GB2312 in Chinese (the character grid counts in the default size, so a
    line holds 28 characters), no spacing after paragraphs. An office's own template keeps its defaults."""
    defaults = document.styles.element.find(qn("w:docDefaults"))
    assert defaults is not None
    rpr = defaults.find(qn("w:rPrDefault") + "/" + qn("w:rPr"))
    assert rpr is not None
    set_fonts(rpr, BODY_FONT)
    for tag in ("w:sz", "w:szCs"):
        size = rpr.find(qn(tag))
        if size is None:
            size = OxmlElement(tag)
            following = _RPR_AFTER_SPACING[_RPR_AFTER_SPACING.index(tag) + 1 :]
            rpr.insert_element_before(size, *following)
        size.set(qn("w:val"), str(int(BODY_SIZE.pt * 2)))
    language = rpr.find(qn("w:lang"))
    if language is not None:
        language.set(qn("w:eastAsia"), "zh-CN")
    spacing = defaults.find(qn("w:pPrDefault") + "/" + qn("w:pPr") + "/" + qn("w:spacing"))
    if spacing is not None:
        spacing.getparent().remove(spacing)
    normal = document.styles["Normal"]
    normal.font.size = BODY_SIZE
    set_fonts(normal, BODY_FONT)


def add_styles(document: DocxDocument) -> None:
    """The 公文 paragraph styles (those the document does not define already)."""
    _style(
        document,
        STYLE_TITLE,
        font=TITLE_FONT,
        size=TITLE_SIZE,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        exact=Pt(36),
        grid=False,
        condensed=False,
    )
    _style(document, STYLE_BODY, font=BODY_FONT, size=BODY_SIZE, align=WD_ALIGN_PARAGRAPH.JUSTIFY, first_line=chars(2))
    _style(document, STYLE_HEADING, font=HEADING_FONT, size=BODY_SIZE, first_line=chars(2), outline=0)
    _style(document, STYLE_SUBHEADING, font=SUBHEADING_FONT, size=BODY_SIZE, first_line=chars(2), outline=1)
    _style(
        document,
        STYLE_TABLE,
        font=BODY_FONT,
        size=TABLE_SIZE,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        exact=None,
        grid=False,
        condensed=False,
    )
    _style(document, STYLE_CAPTION, font=HEADING_FONT, size=CAPTION_SIZE, align=WD_ALIGN_PARAGRAPH.CENTER)
    _style(document, STYLE_NUMBER, font=BODY_FONT, size=BODY_SIZE, align=WD_ALIGN_PARAGRAPH.CENTER)
    _style(
        document,
        STYLE_PAGE_NUMBER,
        font=PAGE_NUMBER_FONT,
        size=PAGE_NUMBER_SIZE,
        exact=None,
        latin=PAGE_NUMBER_FONT,
        grid=False,
        condensed=False,
    )


def _page_field(paragraph: Paragraph) -> None:
    """``— PAGE —`` as runs: an em dash, the PAGE field, an em dash (Word and LibreOffice update the field)."""
    paragraph.add_run("— ")
    begin = paragraph.add_run()
    char = OxmlElement("w:fldChar")
    char.set(qn("w:fldCharType"), "begin")
    begin._r.append(char)
    instruction = paragraph.add_run()
    text = OxmlElement("w:instrText")
    text.set(qn("xml:space"), "preserve")
    text.text = " PAGE "
    instruction._r.append(text)
    separate = paragraph.add_run()
    char = OxmlElement("w:fldChar")
    char.set(qn("w:fldCharType"), "separate")
    separate._r.append(char)
    paragraph.add_run("1")
    end = paragraph.add_run()
    char = OxmlElement("w:fldChar")
    char.set(qn("w:fldCharType"), "end")
    end._r.append(char)
    paragraph.add_run(" —")


def _has_text(paragraphs: Sequence[Paragraph]) -> bool:
    return any(p.text.strip() or p._p.xpath(".//w:fldChar | .//w:fldSimple") for p in paragraphs)


def add_page_numbers(document: DocxDocument) -> None:
    """Odd pages numbered at the right, even pages at the left, one character in; a footer the office's
    template already has is left as it is."""
    document.settings.odd_and_even_pages_header_footer = True
    for section in document.sections:
        for footer, align, side in (
            (section.footer, WD_ALIGN_PARAGRAPH.RIGHT, "right"),
            (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT, "left"),
        ):
            if not footer.is_linked_to_previous and _has_text(footer.paragraphs):
                continue
            footer.is_linked_to_previous = False
            paragraph = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
            paragraph.style = document.styles[STYLE_PAGE_NUMBER]
            paragraph.alignment = align
            if side == "right":
                paragraph.paragraph_format.right_indent = chars(1)
            else:
                paragraph.paragraph_format.left_indent = chars(1)
            _page_field(paragraph)


def _line_break() -> Any:
    run = OxmlElement("w:r")
    run.append(OxmlElement("w:br"))
    return run


def _borders(table: Table) -> None:
    """Single 0.5 pt lines on every edge (set directly: an office template may have no "Table Grid")."""
    properties = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        line = OxmlElement(f"w:{edge}")
        line.set(qn("w:val"), "single")
        line.set(qn("w:sz"), "4")
        line.set(qn("w:space"), "0")
        line.set(qn("w:color"), "000000")
        borders.append(line)
    properties.insert_element_before(borders, *_TBLPR_AFTER_BORDERS)


def _repeat_header(row: Any) -> None:
    marker = OxmlElement("w:tblHeader")
    marker.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(marker)


class GongwenWriter:
    """Writes a 公文 body — title, headings, paragraphs, tables, charts, the signature — into a python-docx
    document or a docxtpl sub-document (anything with ``add_paragraph``, ``add_table`` and ``add_picture``)."""

    def __init__(self, target: Any, styles_from: DocxDocument) -> None:
        self.target = target
        self.styles = styles_from.styles
        # Style ids looked up once: python-docx's ``paragraph.style = …`` scans every style on each call, which
        # is most of the time of a 500-unit report.
        self.style_ids = {name: self.styles[name].style_id for name in GONGWEN_STYLES}

    def _paragraph(self, text: str, style: str) -> Paragraph:
        paragraph: Paragraph = self.target.add_paragraph(text)
        paragraph._p.style = self.style_ids[style]
        return paragraph

    def title(self, text: str) -> None:
        paragraph = self._paragraph("", STYLE_TITLE)
        for index, line in enumerate(title_lines(text)):
            run = paragraph.add_run(line)
            if index:
                run._r.addprevious(_line_break())
        self.blank()

    def number(self, text: str) -> None:
        """The document number (发文字号) line of the plain default, with a blank line under it."""
        self._paragraph(text, STYLE_NUMBER)
        self.blank()

    def addressee(self, text: str) -> None:
        """The 主送机关 line: flush left, above the body."""
        paragraph = self._paragraph(text, STYLE_BODY)
        paragraph.paragraph_format.first_line_indent = Pt(0)

    def blank(self) -> None:
        self._paragraph("", STYLE_BODY)

    def heading(self, text: str) -> None:
        """``一、…`` in 黑体."""
        self._paragraph(text, STYLE_HEADING)

    def subheading(self, text: str) -> None:
        """``（一）…`` in 楷体_GB2312."""
        self._paragraph(text, STYLE_SUBHEADING)

    def text(self, text: str) -> Paragraph:
        """A body paragraph, first line indented two characters."""
        return self._paragraph(text, STYLE_BODY)

    def lead_text(self, lead: str, rest: str) -> None:
        """A paragraph opening with ``lead`` in 楷体 (the way 快报 set a unit's headline), then ``rest``."""
        paragraph = self._paragraph("", STYLE_BODY)
        run = paragraph.add_run(lead)
        set_fonts(run._r, SUBHEADING_FONT)
        if rest:
            paragraph.add_run(rest)

    def caption(self, text: str) -> None:
        self._paragraph(text, STYLE_CAPTION)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]], widths_mm: Sequence[float]) -> None:
        """A ruled table at the 5号 size, its header row repeated on every page; ``widths_mm`` should add up to
        the text block's 156 mm."""
        table: Table = self.target.add_table(rows=1, cols=len(headers))
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        _borders(table)
        style = self.style_ids[STYLE_TABLE]
        widths = [Mm(width) for width in widths_mm]
        for column, width in zip(table.columns, widths, strict=True):
            column.width = width  # the grid LibreOffice lays out by
        header = table.rows[0]
        _repeat_header(header)
        for cell, text, width in zip(header.cells, headers, widths, strict=True):
            cell.width = width
            paragraph = cell.paragraphs[0]
            paragraph._p.style = style
            run = paragraph.add_run(text)
            set_fonts(run._r, HEADING_FONT)
        pattern = None
        for values in rows:
            if pattern is None:
                row = table.add_row()  # type: ignore[no-untyped-call]
                for cell, width in zip(row.cells, widths, strict=True):
                    cell.width = width
                    paragraph = cell.paragraphs[0]
                    paragraph._p.style = style
                    paragraph.add_run("-")  # a w:t for each cell, its text set below
                pattern = row._tr
            # Further rows are copies of the first with their texts set: a 500-unit table in a tenth of the time.
            tr = copy.deepcopy(pattern)
            for node, text in zip(tr.iter(qn("w:t")), values, strict=True):
                node.text = text
            table._tbl.append(tr)
        if pattern is not None:
            table._tbl.remove(pattern)
        self.blank()

    def picture(self, png: bytes, caption: str, width_mm: float = 150) -> None:
        """A chart, its caption under it (图题 below the figure), kept on one page together; a tall chart is
        scaled down to fit the text block's height with its caption."""
        width, height = struct.unpack(">II", png[16:24])  # the PNG's IHDR
        width_mm = min(width_mm, PICTURE_MAX_HEIGHT_MM * width / height)
        paragraph = self._paragraph("", STYLE_TABLE)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.paragraph_format.keep_with_next = True
        paragraph.add_run().add_picture(BytesIO(png), width=Mm(width_mm))
        self.caption(caption)

    def page_break(self) -> None:
        paragraph = self._paragraph("", STYLE_BODY)
        paragraph.add_run().add_break(WD_BREAK.PAGE)

    def signature(self, issuer: str, day: date) -> None:
        """Room for the seal, then the office centred over the date; the date four characters in from the right."""
        written = chinese_date(day)
        self.blank()
        self.blank()
        office = self._paragraph(issuer, STYLE_BODY)
        dated = self._paragraph(written, STYLE_BODY)
        for paragraph in (office, dated):
            paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            paragraph.paragraph_format.first_line_indent = Pt(0)
        difference = (len(written) - len(issuer)) / 2
        office.paragraph_format.right_indent = chars(max(4 + difference, 2))
        dated.paragraph_format.right_indent = chars(max(4, 2 - difference))
