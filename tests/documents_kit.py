"""A mechanism's half-year as the documents see it: twelve units, their reports from May to November 2026
(on time, late, missing, corrections, attachments) and a 督办 ledger with red, amber, green and closed items."""

from __future__ import annotations

import dataclasses
import random
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from io import BytesIO

from docx import Document
from docx.document import Document as DocxDocument
from docx.oxml.ns import qn
from handlers_kit import SHANGHAI, local
from lxml import etree
from schedules_kit import policy

from storage.db import Database
from storage.models import FileState, Item, ItemState, Person, Role, StoredFile, Submission, Unit
from storage.periods import Period
from storage.policy import DocumentSettings, Policy

NOW = local(2026, 12, 4, 10)  # a Friday
TODAY = NOW.date()
UNIT_NAMES = [
    "省发展改革委",
    "省工业和信息化厅",
    "省住房城乡建设厅",
    "省农业农村厅",
    "省商务厅",
    "省自然资源厅",
    "省交通运输厅",
    "省财政厅",
    "省国资委",
    "省生态环境厅",
    "省文化和旅游厅",
    "昆明市人民政府",
]
PERIODS = [Period(2026, month) for month in range(5, 12)]  # reports for May to November
REPORT = (
    "{month}月工作进展：{unit}牵头推进重点项目{n}个，完成投资{m}亿元。"
    "一是召开专题协调会{k}次；二是解决企业反映问题{k}项。\n下一步将继续抓好项目落地。"
)


def document_policy(**settings: object) -> Policy:
    """The tests' office policy with ``DocumentSettings(**settings)``."""
    return dataclasses.replace(policy(), documents=DocumentSettings(**settings))


@dataclass
class History:
    units: list[Unit]
    office: Person
    liaison: Person  # 省商务厅 A角


def _status(rng: random.Random, unit_index: int) -> str:
    if unit_index == 0:
        return "on_time"  # 省发展改革委 always on time
    if unit_index == 11:
        return "missing"  # 昆明市人民政府 never reports
    return rng.choices(["on_time", "late", "missing"], [6, 2, 1])[0]


async def load_history(db: Database, *, seed: int = 12) -> History:
    rng = random.Random(seed)
    deadline = policy().deadline
    async with db.transaction() as session:
        units = [Unit(name=name, division="综合处") for name in UNIT_NAMES]
        session.add_all(units)
        await session.flush()
        office = Person(name="段红梅", role=Role.OFFICE, mobile="13900009901")
        liaison = Person(name="周雪梅", role=Role.A, unit_id=units[4].id, mobile="13900000501")
        session.add_all([office, liaison])
        for period in PERIODS:
            for index, unit in enumerate(units):
                status = _status(rng, index)
                if status == "missing":
                    continue
                due = deadline.deadline(period)
                first = due - timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 9))
                if status == "late":
                    first = due + timedelta(days=rng.randint(1, 5))
                if first > NOW:
                    continue  # not yet written
                text = REPORT.format(
                    month=period.month, unit=unit.name, n=rng.randint(2, 9), m=rng.randint(1, 30), k=rng.randint(1, 5)
                )
                versions = [first] + ([first + timedelta(days=2)] if rng.random() < 0.3 else [])
                for number, at in enumerate(versions, start=1):
                    version = Submission(
                        unit_id=unit.id,
                        period=str(period),
                        version=number,
                        text=text if number == 1 else text + "（更正）",
                        received_at=at,
                        on_time=deadline.is_on_time(period, versions[0]),
                    )
                    session.add(version)
                    if number == 1 and index in (4, 5):  # 省商务厅 sends a photo and a list; 省自然资源厅's is lost
                        await session.flush()
                        session.add_all(_files(unit, period, version, lost=index == 5))
        await session.flush()
        session.add_all(_items(units, office))
    return History(units, office, liaison)


def _files(unit: Unit, period: Period, version: Submission, *, lost: bool) -> list[StoredFile]:
    """The files sent with a version, as the fetch queue leaves them (stored, or lost when the link ran out)."""
    kept = {"state": FileState.LOST if lost else FileState.STORED}
    common = {
        "unit_id": unit.id,
        "period": str(period),
        "submission_id": version.id,
        "channel": "wecom_app",
        "received_at": version.received_at,
        "valid_until": version.received_at + timedelta(days=3),
    }
    if lost:
        return [StoredFile(kind="file", name="现场照片.zip", **common, **kept)]
    return [
        StoredFile(kind="image", name=f"{period.month}月现场.jpg", **common, **kept),
        StoredFile(kind="file", name=f"{period.month}月项目清单.xlsx", **common, **kept),
    ]


def _items(units: list[Unit], office: Person) -> list[Item]:
    """Red: 2 for 省交通运输厅, 1 for 省自然资源厅; amber: 1; green: 2; closed in the half: 3; raised: 1."""
    at = local(2026, 10, 9, 10)

    def item(number: int, unit: Unit | None, state: ItemState, due: date | None, **times: datetime) -> Item:
        return Item(
            number=number,
            title=f"事项{number}：园区企业用地手续办理",
            raised_by_id=office.id,
            raised_by_office=True,
            lead_unit_id=unit.id if unit else None,
            due=due,
            state=state,
            assigned_at=times.get("assigned_at", at if unit else None),
            signed_at=times.get("signed_at"),
            closed_at=times.get("closed_at"),
            created_at=times.get("created_at", at - timedelta(days=1)),
        )

    transport, land, commerce, reform = units[6], units[5], units[4], units[0]
    signed = {"signed_at": at + timedelta(days=1)}
    return [
        item(1, transport, ItemState.IN_PROGRESS, date(2026, 11, 20), **signed),
        item(2, transport, ItemState.IN_PROGRESS, date(2026, 11, 30), **signed),
        item(3, land, ItemState.IN_PROGRESS, date(2026, 12, 1), **signed),
        item(4, commerce, ItemState.IN_PROGRESS, date(2026, 12, 8), **signed),
        item(5, commerce, ItemState.IN_PROGRESS, date(2026, 12, 30), **signed),
        item(6, reform, ItemState.IN_PROGRESS, date(2027, 1, 15), **signed),
        item(7, reform, ItemState.CLOSED, date(2026, 10, 30), closed_at=local(2026, 10, 20), **signed),
        item(8, reform, ItemState.CLOSED, date(2026, 11, 30), closed_at=local(2026, 11, 12), **signed),
        item(
            9,
            commerce,
            ItemState.CLOSED,
            date(2026, 9, 30),
            created_at=local(2026, 8, 31),
            assigned_at=local(2026, 9, 1),
            signed_at=local(2026, 9, 2),
            closed_at=local(2026, 9, 25),
        ),
        item(10, None, ItemState.RAISED, None, created_at=local(2026, 12, 2)),
    ]


def open_docx(content: bytes) -> DocxDocument:
    return Document(BytesIO(content))


def texts(document: DocxDocument) -> list[str]:
    """Every paragraph's text, the body's and the tables' cells', in order."""
    found = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            found.extend(cell.text for cell in row.cells)
    return found


def table_rows(document: DocxDocument, header: str) -> list[list[str]]:
    """The rows (header excluded) of the first table whose header row starts with ``header``…"""
    for table in document.tables:
        cells = [[cell.text for cell in row.cells] for row in table.rows]
        if cells and cells[0][: len(header.split("|"))] == header.split("|"):
            return cells[1:]
    raise AssertionError(f"no table headed {header}")


def local_text(moment: datetime | None) -> str:
    return moment.astimezone(SHANGHAI).strftime("%m-%d %H:%M") if moment else "—"


# ECMA-376 element sequences: Word refuses ("unreadable content") a file whose properties are out of order.
SEQUENCES = {
    "pPr": "pStyle keepNext keepLines pageBreakBefore framePr widowControl numPr suppressLineNumbers pBdr shd tabs "
    "suppressAutoHyphens kinsoku wordWrap overflowPunct topLinePunct autoSpaceDE autoSpaceDN bidi adjustRightInd "
    "snapToGrid spacing ind contextualSpacing mirrorIndents suppressOverlap jc textDirection textAlignment "
    "textboxTightWrap outlineLvl divId cnfStyle rPr sectPr pPrChange",
    "rPr": "rStyle rFonts b bCs i iCs caps smallCaps strike dstrike outline shadow emboss imprint noProof snapToGrid "
    "vanish webHidden color spacing w kern position sz szCs highlight u effect bdr shd fitText vertAlign rtl cs em "
    "lang eastAsianLayout specVanish oMath",
    "tblPr": "tblStyle tblpPr tblOverlap bidiVisual tblStyleRowBandSize tblStyleColBandSize tblW jc tblCellSpacing "
    "tblInd tblBorders shd tblLayout tblCellMar tblLook tblCaption tblDescription tblPrChange",
}


def out_of_order(content: bytes) -> list[str]:
    """Property elements in the document's parts that break the schema's order."""
    found = []
    with zipfile.ZipFile(BytesIO(content)) as archive:
        for name in archive.namelist():
            if not name.endswith(".xml"):
                continue
            root = etree.fromstring(archive.read(name))
            for tag, sequence in SEQUENCES.items():
                order = sequence.split()
                for element in root.iter(qn(f"w:{tag}")):
                    children = [etree.QName(child).localname for child in element]
                    positions = [order.index(child) for child in children if child in order]
                    if positions != sorted(positions):
                        found.append(f"{name} {tag}: {children}")
    return found
