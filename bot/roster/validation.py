"""Turning a sheet's rows into roster entries, all or nothing: every problem is collected with its row number."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.roster.columns import (
    REQUIRED_COLUMNS,
    ROLE_CHOICES,
    Column,
    clean_text,
    match_header,
    normalize_mobile,
    parse_role,
    split_groups,
)
from bot.roster.tables import Sheet
from storage.models import Role
from storage.roster import RosterEntry, describe_person

HEADER_SEARCH_ROWS = 30
MAX_UNIT_LENGTH = 100
MAX_NAME_LENGTH = 64
_WECOM_USERID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-@.]{0,63}")
_DINGTALK_USERID = re.compile(r"\S{1,64}")
_FEISHU_USERID = re.compile(r"\S{1,64}")
_SCIENTIFIC = re.compile(r"\d(\.\d+)?[eE]\+?\d+")
_NOTE_PREFIXES = ("注", "说明", "备注", "填表", "填报")
_PLATFORM_ACCOUNT = {
    "wecom": (Column.WECOM, "企业微信"),
    "dingtalk": (Column.DINGTALK, "钉钉"),
    "feishu": (Column.FEISHU, "飞书"),
}


@dataclass(frozen=True)
class RosterProblem:
    """Something wrong in the file; ``rows`` are spreadsheet row numbers (empty for the file as a whole)."""

    rows: tuple[int, ...]
    message: str

    def render(self) -> str:
        if not self.rows:
            return self.message
        return f"第{'、'.join(str(row) for row in self.rows)}行：{self.message}"


class RosterRejected(Exception):
    """The file was refused as a whole; ``problems`` lists every reason, in row order."""

    def __init__(self, problems: Sequence[RosterProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.rows[:1] or (0,), p.rows))
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"名册有 {len(self.problems)} 处问题，整份文件未导入（未作任何修改）："]
        lines += [f"  {number}. {problem.render()}" for number, problem in enumerate(self.problems, start=1)]
        return "\n".join(lines)


@dataclass
class ParsedRoster:
    """A roster that passed every check, ready for ``storage.roster.import_roster``."""

    entries: list[RosterEntry]
    header_row: int
    sheet: str | None = None
    warnings: list[RosterProblem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Header:
    row: int
    columns: dict[Column, int]
    ignored: list[str]
    problems: list[RosterProblem]


def find_header(sheet: Sheet) -> _Header | None:
    """The first row (of the first 30) naming at least three roster columns, else the one naming most, if two."""
    best: _Header | None = None
    for number, cells in sheet.rows[:HEADER_SEARCH_ROWS]:
        header = _read_header(number, cells)
        if len(header.columns) >= 3:
            return header
        if len(header.columns) >= 2 and (best is None or len(header.columns) > len(best.columns)):
            best = header
    return best


def _read_header(number: int, cells: Sequence[str]) -> _Header:
    candidates: dict[Column, list[tuple[int, int, str]]] = defaultdict(list)
    ignored: list[str] = []
    for index, cell in enumerate(cells):
        if not cell.strip():
            continue
        found = match_header(cell)
        if found is None:
            ignored.append(clean_text(cell))
        else:
            column, rank = found
            candidates[column].append((rank, index, clean_text(cell)))
    columns: dict[Column, int] = {}
    problems = []
    for column, options in candidates.items():
        options.sort()
        best_rank = options[0][0]
        tied = [label for rank, _, label in options if rank == best_rank]
        if len(tied) > 1:
            problems.append(RosterProblem((number,), f"表头中「{tied[0]}」出现了 {len(tied)} 次，无法确定使用哪一列"))
        columns[column] = options[0][1]
        ignored += [label for rank, _, label in options[1:] if rank != best_rank]
    return _Header(row=number, columns=columns, ignored=ignored, problems=problems)


def parse_sheets(sheets: Sequence[Sheet], known_groups: Mapping[str, str]) -> ParsedRoster:
    """Validate the first sheet with a recognisable header; raise :class:`RosterRejected` listing every problem.

    ``known_groups`` maps each configured group's name to its platform: 所在群 may only name those.
    """
    for sheet in sheets:
        header = find_header(sheet)
        if header is not None:
            return _parse(sheet, header, known_groups)
    wanted = "、".join(column.value for column in Column)
    raise RosterRejected([RosterProblem((), f"未找到表头：前 {HEADER_SEARCH_ROWS} 行中没有包含列名（{wanted}）的行")])


@dataclass
class _Row:
    number: int
    unit: str
    division: str
    name: str
    role: Role | None
    mobile: str | None
    wecom: str | None
    dingtalk: str | None
    feishu: str | None
    groups: tuple[str, ...]

    def account(self, column: Column) -> str | None:
        return {Column.WECOM: self.wecom, Column.DINGTALK: self.dingtalk, Column.FEISHU: self.feishu}.get(column)


def _parse(sheet: Sheet, header: _Header, known_groups: Mapping[str, str]) -> ParsedRoster:
    problems = list(header.problems)
    missing = [column.value for column in REQUIRED_COLUMNS if column not in header.columns]
    if missing:
        problems.append(RosterProblem((header.row,), f"表头缺少必需的列：{'、'.join(missing)}"))
    if problems:
        raise RosterRejected(problems)

    groups_by_key = {clean_text(name): name for name in known_groups}
    rows: list[_Row] = []
    for number, cells in sheet.rows:
        if number <= header.row:
            continue
        values = {
            column: clean_text(cells[index]) if index < len(cells) else "" for column, index in header.columns.items()
        }
        if not any(values.values()) or _is_note(cells):
            continue
        rows.append(_check_row(number, values, groups_by_key, known_groups, problems))
    if not rows:
        problems.append(RosterProblem((), f"表头（第{header.row}行）以下没有任何人员"))
    problems += _check_across_rows(rows)
    if problems:
        raise RosterRejected(problems)

    entries = [
        RosterEntry(
            row=row.number,
            unit=row.unit,
            division=row.division,
            name=row.name,
            role=row.role,
            mobile=row.mobile,
            wecom_userid=row.wecom,
            dingtalk_userid=row.dingtalk,
            feishu_userid=row.feishu,
            groups=row.groups,
        )
        for row in rows
        if row.role is not None
    ]
    return ParsedRoster(
        entries=entries,
        header_row=header.row,
        sheet=sheet.name,
        warnings=_warnings(rows, known_groups),
        ignored_columns=header.ignored,
    )


def _is_note(cells: Sequence[str]) -> bool:
    """A line of instructions under the table (注：角色填写A角、B角或办公室), not a person."""
    filled = [clean_text(cell) for cell in cells if cell.strip()]
    return len(filled) == 1 and filled[0].startswith(_NOTE_PREFIXES)


def _check_row(
    number: int,
    values: dict[Column, str],
    groups_by_key: Mapping[str, str],
    known_groups: Mapping[str, str],
    problems: list[RosterProblem],
) -> _Row:
    def problem(message: str) -> None:
        problems.append(RosterProblem((number,), message))

    unit = values[Column.UNIT]
    name = values[Column.NAME]
    role_text = values[Column.ROLE]
    division = values.get(Column.DIVISION, "")
    role = parse_role(role_text) if role_text else None
    if not name:
        problem("未填写姓名")
    elif len(name) > MAX_NAME_LENGTH:
        problem(f"姓名过长（不超过 {MAX_NAME_LENGTH} 个字符）")
    if not role_text:
        problem(f"未填写角色（应为{ROLE_CHOICES}之一）")
    elif role is None:
        problem(f"角色「{role_text}」无法识别（应为{ROLE_CHOICES}之一）")
    if not unit and role is not Role.OFFICE:
        problem("未填写单位")
    for text, label in ((unit, "单位"), (division, "责任处室")):
        if len(text) > MAX_UNIT_LENGTH:
            problem(f"{label}名称过长（不超过 {MAX_UNIT_LENGTH} 个字符）")

    mobile_text = values.get(Column.MOBILE, "")
    mobile = normalize_mobile(mobile_text) if mobile_text else None
    if mobile_text and mobile is None:
        if _SCIENTIFIC.fullmatch(mobile_text.replace(" ", "")):
            problem(
                f"手机号「{mobile_text}」已被 Excel 显示为科学计数法，数字已丢失：请将手机列设为“文本”格式后重新填写"
            )
        else:
            problem(f"手机号「{mobile_text}」格式不正确（应为 11 位大陆手机号，如 13900001234）")

    wecom = values.get(Column.WECOM) or None
    if wecom is not None and not _WECOM_USERID.fullmatch(wecom):
        problem(
            f"企业微信账号「{wecom}」格式不正确（应为通讯录中的账号，由字母、数字和 _-@. 组成，"
            "以字母或数字开头，不超过 64 个字符）"
        )
    dingtalk = values.get(Column.DINGTALK) or None
    if dingtalk is not None and not _DINGTALK_USERID.fullmatch(dingtalk):
        problem(f"钉钉账号「{dingtalk}」格式不正确（应为通讯录中的 userid，不含空格，不超过 64 个字符）")
    feishu = values.get(Column.FEISHU) or None
    if feishu is not None and not _FEISHU_USERID.fullmatch(feishu):
        problem(f"飞书账号「{feishu}」格式不正确（应为飞书通讯录中的用户 ID（user_id），不含空格，不超过 64 个字符）")

    groups: list[str] = []
    for group in split_groups(values.get(Column.GROUPS, "")):
        configured = groups_by_key.get(clean_text(group))
        if configured is not None:
            groups.append(configured)
        elif known_groups:
            problem(f"所在群「{group}」不是配置文件中的群（已配置：{'、'.join(known_groups)}）")
        else:
            problem(f"所在群「{group}」不是配置文件中的群（配置文件中尚未配置任何群，请先在 [[groups]] 中添加）")
    return _Row(number, unit, division, name, role, mobile, wecom, dingtalk, feishu, tuple(dict.fromkeys(groups)))


_ACCOUNTS: tuple[tuple[str, Callable[[_Row], str | None], Callable[[str], str]], ...] = (
    ("手机号", lambda row: row.mobile, str),
    ("企业微信账号", lambda row: row.wecom, str.casefold),  # WeCom ignores case in userids
    ("钉钉账号", lambda row: row.dingtalk, str),
    ("飞书账号", lambda row: row.feishu, str),
)


def _check_across_rows(rows: Sequence[_Row]) -> list[RosterProblem]:
    problems: list[RosterProblem] = []

    for label, account_of, fold in _ACCOUNTS:
        seen: dict[str, list[_Row]] = defaultdict(list)
        for row in rows:
            if value := account_of(row):
                seen[fold(value)].append(row)
        for same in seen.values():
            if len(same) > 1:
                shown = account_of(same[0])
                problems.append(
                    RosterProblem(tuple(r.number for r in same), f"{label}「{shown}」重复出现（每人应唯一）")
                )

    people: dict[tuple[str | None, str], list[_Row]] = defaultdict(list)
    units: dict[str, list[_Row]] = defaultdict(list)
    for row in rows:
        if row.role is None or not row.name:
            continue
        unit = None if row.role is Role.OFFICE else row.unit
        people[(unit, row.name)].append(row)
        if unit:
            units[unit].append(row)
    for (unit, name), same in people.items():
        if len(same) > 1:
            who = f"{unit}的{name}" if unit else f"办公室的{name}"
            problems.append(RosterProblem(tuple(r.number for r in same), f"{who}重复出现（同一人只应占一行）"))
    for unit, members in units.items():
        liaisons = [row for row in members if row.role is Role.A]
        if not liaisons:
            problems.append(
                RosterProblem(
                    tuple(r.number for r in members),
                    f"单位「{unit}」没有 A角（联络员）：每个成员单位须有且仅有一名 A角",
                )
            )
        elif len(liaisons) > 1:
            names = "、".join(row.name for row in liaisons)
            problems.append(
                RosterProblem(
                    tuple(r.number for r in liaisons),
                    f"单位「{unit}」有 {len(liaisons)} 名 A角（{names}）：每个成员单位只能有一名 A角，其余请填为 B角",
                )
            )
    return problems


def _warnings(rows: Sequence[_Row], known_groups: Mapping[str, str]) -> list[RosterProblem]:
    """Things worth a look that do not stop the import."""
    warnings: list[RosterProblem] = []
    divisions: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row.role is None:
            continue
        who = describe_person(row.unit if row.role.is_liaison else None, row.name, row.role)
        if row.role.is_liaison and row.division:
            divisions[row.unit][row.division].append(row.number)
        if row.role.is_liaison and known_groups and not row.groups:
            warnings.append(RosterProblem((row.number,), f"{who}未填写所在群，将收不到群内提醒"))
        for group in row.groups:
            platform = known_groups.get(group, "")
            if platform in _PLATFORM_ACCOUNT:
                column, label = _PLATFORM_ACCOUNT[platform]
                if not row.account(column):
                    warnings.append(
                        RosterProblem(
                            (row.number,),
                            f"{who}在{label}群「{group}」中，但未填写{column.value}，机器人将无法识别其在群内的报送",
                        )
                    )
    for unit, seen in divisions.items():
        if len(seen) > 1:
            listed = "、".join(f"「{division}」" for division in seen)
            numbers = tuple(sorted(number for numbers in seen.values() for number in numbers))
            warnings.append(RosterProblem(numbers, f"单位「{unit}」的责任处室填写不一致（{listed}），以 A角所在行为准"))
    return sorted(warnings, key=lambda w: w.rows)
