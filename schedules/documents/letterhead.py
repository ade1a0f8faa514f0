"""The office's own letterhead: a .docx template (docxtpl) that the document's content flows into.

An office keeps its red letterhead (发文机关标志, the red line, its own margins and footers) in a Word file and
names it in ``[documents] template``. Where it writes these fields, duban fills them in:

- ``{{ doc_number }}`` — the document number (发文字号), e.g. 强省会办〔2026〕12号;
- ``{{ title }}``, ``{{ issuer }}``, ``{{ date }}`` — the title, the issuing office, the 成文日期 in Chinese numerals;
- ``{{p body }}`` — alone in its paragraph: the whole document from the title to the date.

Without a template the plain default is used: A4 with the 公文 margins, the document number centred at the top
when there is one, no letterhead. :func:`example_letterhead` writes a starting letterhead to edit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from docxtpl import DocxTemplate

from schedules.documents.gongwen import (
    PPR_AFTER_BORDER,
    STYLE_BODY,
    STYLE_NUMBER,
    GongwenWriter,
    add_page_numbers,
    add_styles,
    set_defaults,
    set_fonts,
    set_page,
)
from schedules.documents.numerals import chinese_date

BODY_FIELD = "{{p body }}"
RED = RGBColor(0xE6, 0x00, 0x12)


class TemplateError(ValueError):
    """The office's template cannot be used (not a .docx, or no ``{{p body }}`` paragraph)."""


@dataclass(frozen=True)
class Heading:
    """What fills the template's fields besides the body."""

    title: str
    issuer: str
    day: date
    doc_number: str  # "" when the document carries none


def _new_document() -> DocxDocument:
    document = Document()
    set_page(document.sections[0])
    set_defaults(document)
    add_styles(document)
    body = document.element.body
    for paragraph in list(body.iterchildren(qn("w:p"))):
        body.remove(paragraph)
    return document


def default_template(with_number: bool) -> bytes:
    """The plain default: the 公文 page and styles, the document number when there is one, then the body."""
    document = _new_document()
    if with_number:
        document.add_paragraph("{{ doc_number }}", style=STYLE_NUMBER)
        document.add_paragraph("", style=STYLE_BODY)
    document.add_paragraph(BODY_FIELD)
    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _red_line(paragraph: object) -> None:
    """A 2.25 pt red rule under ``paragraph`` (the 版头 separator line)."""
    properties = paragraph._p.get_or_add_pPr()  # type: ignore[attr-defined]
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    bottom.set(qn("w:val"), "single")
    bottom.set(qn("w:sz"), "18")
    bottom.set(qn("w:space"), "1")
    bottom.set(qn("w:color"), "E60012")
    border.append(bottom)
    properties.insert_element_before(border, *PPR_AFTER_BORDER)


def example_letterhead(office_name: str) -> bytes:
    """A red letterhead for ``office_name`` (发文机关标志, document number, red line) with the fields filled in,
    for an office to adjust in Word or WPS and name in ``[documents] template``."""
    document = _new_document()
    mark = document.add_paragraph()
    mark.alignment = WD_ALIGN_PARAGRAPH.CENTER
    mark.paragraph_format.space_before = Pt(36)
    mark.paragraph_format.space_after = Pt(24)
    text = f"{office_name}文件"
    run = mark.add_run(text)
    run.font.size = Pt(min(42, int(420 / len(text))))  # one line across the 156 mm text block
    run.font.color.rgb = RED
    set_fonts(run._r, "方正小标宋简体")
    number = document.add_paragraph("{{ doc_number }}", style=STYLE_NUMBER)
    _red_line(number)
    document.add_paragraph("", style=STYLE_BODY)
    document.add_paragraph(BODY_FIELD)
    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _load(template: Path | None, heading: Heading) -> tuple[DocxTemplate, bool]:
    if template is None:
        return DocxTemplate(BytesIO(default_template(bool(heading.doc_number)))), True
    try:
        data = template.read_bytes()
        loaded = DocxTemplate(BytesIO(data))
        docx = loaded.get_docx()
    except (OSError, ValueError, KeyError) as exc:
        raise TemplateError(f"公文模板 {template} 无法读取（应为 Word .docx 文件）：{exc}") from None
    except Exception as exc:  # python-docx raises zipfile/lxml errors of several kinds for a damaged file
        raise TemplateError(f"公文模板 {template} 无法读取（应为 Word .docx 文件）：{exc}") from None
    if not any(paragraph.text.strip() == BODY_FIELD for paragraph in docx.paragraphs):
        raise TemplateError(f"公文模板 {template} 中没有单独成段的 {BODY_FIELD}（正文插入处）。")
    return loaded, False


def render(template: Path | None, heading: Heading, write_body: Callable[[GongwenWriter], None]) -> bytes:
    """The document: ``template`` (or the plain default) with the body ``write_body`` writes flowed into it."""
    loaded, plain = _load(template, heading)
    docx = loaded.get_docx()
    add_styles(docx)
    if plain:
        for section in docx.sections:
            set_page(section)
    add_page_numbers(docx)
    body = loaded.new_subdoc()
    writer = GongwenWriter(body, docx)
    writer.title(heading.title)
    write_body(writer)
    writer.signature(heading.issuer, heading.day)
    context = {
        "doc_number": heading.doc_number,
        "title": heading.title,
        "issuer": heading.issuer,
        "date": chinese_date(heading.day),
        "body": body,
    }
    loaded.render(context, autoescape=True)
    buffer = BytesIO()
    loaded.save(buffer)
    return buffer.getvalue()
