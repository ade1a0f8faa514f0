"""The roster in the database: apply a validated roster in one transaction, and read it back.

People and units are never deleted. Whoever is missing from a new roster is deactivated (``active=False``) and
reactivated when they come back, so that past submissions stay attributable. A person is recognised across
imports by a stable key: WeCom account, else DingTalk account, else mobile, else unit + name + role (then unit +
name, so that an A角 and a B角 who swap places keep their records).

Office members (role 办公室) belong to no member unit: ``Person.unit_id`` stays empty, so the office never
appears among the units that owe a monthly report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.db import Database
from storage.models import AuditEntry, Group, GroupMember, Person, Role, Unit

ROLE_ORDER = {Role.A: 0, Role.B: 1, Role.OFFICE: 2}


@dataclass(frozen=True)
class RosterEntry:
    """One validated row of a roster file.

    ``unit`` is the member unit for a liaison (A角/B角); for an office member it is only what the file said.
    ``row`` is the spreadsheet row it came from, for messages.
    """

    row: int
    unit: str
    division: str
    name: str
    role: Role
    mobile: str | None = None
    wecom_userid: str | None = None
    dingtalk_userid: str | None = None
    feishu_userid: str | None = None
    groups: tuple[str, ...] = ()

    @property
    def unit_name(self) -> str | None:
        """The member unit this person belongs to (``None`` for office members)."""
        return None if self.role is Role.OFFICE else self.unit


@dataclass(frozen=True)
class RosterRow:
    """One person as the roster shows and exports them."""

    unit: str
    division: str
    name: str
    role: Role
    mobile: str | None
    wecom_userid: str | None
    dingtalk_userid: str | None
    feishu_userid: str | None
    groups: tuple[str, ...]
    active: bool


@dataclass
class Changes:
    """What an import did to one kind of record; each list holds a readable description per record."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def count(self) -> int:
        return len(self.added) + len(self.updated) + len(self.reactivated) + len(self.deactivated)


@dataclass
class ImportSummary:
    people: Changes = field(default_factory=Changes)
    units: Changes = field(default_factory=Changes)

    @property
    def changes(self) -> int:
        return self.people.count + self.units.count

    def describe(self) -> str:
        """One line for the audit log and the operator."""
        p, u = self.people, self.units
        return (
            f"人员：新增{len(p.added)}、更新{len(p.updated)}、恢复{len(p.reactivated)}、停用{len(p.deactivated)}、"
            f"未变{p.unchanged}；单位：新增{len(u.added)}、更新{len(u.updated)}、恢复{len(u.reactivated)}、"
            f"停用{len(u.deactivated)}、未变{u.unchanged}"
        )


class RosterGroupMissing(ValueError):
    """A 所在群 names a group that is not (or no longer) configured; validation should have caught it."""


def unit_divisions(entries: Iterable[RosterEntry]) -> dict[str, str]:
    """Each member unit's 责任处室: the one on its A角's row, else the first one given on any of its rows."""
    divisions: dict[str, str] = {}
    for entry in sorted(entries, key=lambda e: (e.role is not Role.A, e.row)):
        if entry.unit_name is not None and not divisions.get(entry.unit_name):
            divisions[entry.unit_name] = entry.division
    return divisions


def describe_person(unit: str | None, name: str, role: Role) -> str:
    return f"{unit} {name}（{role.label}）" if unit else f"{name}（{role.label}）"


_ACCOUNT_FIELDS = ("wecom_userid", "dingtalk_userid", "feishu_userid", "mobile")
_FIELD_LABELS = {
    "name": "姓名",
    "role": "角色",
    "unit_id": "单位",
    "mobile": "手机",
    "wecom_userid": "企业微信账号",
    "dingtalk_userid": "钉钉账号",
    "feishu_userid": "飞书账号",
    "groups": "所在群",
}


def _account_key(field_name: str, value: str) -> str:
    # WeCom ignores case when it checks a userid's uniqueness, so two spellings are one account.
    return value.casefold() if field_name == "wecom_userid" else value


async def import_roster(
    db: Database,
    entries: Sequence[RosterEntry],
    *,
    actor: str,
    source: str = "",
    dry_run: bool = False,
    person_id: int | None = None,
    via: str = "cli",
) -> ImportSummary:
    """Apply ``entries`` in one transaction and record it in the audit log; ``dry_run`` rolls everything back."""
    try:
        async with db.transaction() as session:
            summary = await apply_roster(session, entries)
            if dry_run:
                raise _DryRun(summary)
            detail = f"{source}：{summary.describe()}" if source else summary.describe()
            session.add(
                AuditEntry(
                    person_id=person_id, actor=actor, action="roster.import", detail=detail, outcome="ok", via=via
                )
            )
    except _DryRun as stop:
        return stop.summary
    return summary


class _DryRun(Exception):
    def __init__(self, summary: ImportSummary) -> None:
        super().__init__("dry run")
        self.summary = summary


async def apply_roster(session: AsyncSession, entries: Sequence[RosterEntry]) -> ImportSummary:
    """Make the database's roster what ``entries`` say, inside the caller's transaction.

    ``entries`` must have passed validation (one A角 per unit, no account used twice); groups must have been
    synced from the configuration first.
    """
    summary = ImportSummary()
    if session.get_bind().dialect.name == "postgresql":
        # Two imports at once would both insert the same new units; the second waits for the first instead.
        # (SQLite transactions already begin with the write lock.)
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('duban.roster', 0))"))
    groups = {group.name: group for group in (await session.scalars(select(Group).where(Group.active))).all()}
    missing = sorted({name for entry in entries for name in entry.groups if name not in groups})
    if missing:
        raise RosterGroupMissing(f"以下群未在配置中启用：{'、'.join(missing)}")
    units = await _apply_units(session, entries, summary.units)
    await _apply_people(session, entries, units, groups, summary.people)
    return summary


async def _apply_units(session: AsyncSession, entries: Sequence[RosterEntry], changes: Changes) -> dict[str, Unit]:
    units = {unit.name: unit for unit in (await session.scalars(select(Unit).order_by(Unit.id))).all()}
    divisions = unit_divisions(entries)
    for name, division in divisions.items():
        unit = units.get(name)
        if unit is None:
            unit = Unit(name=name, division=division, active=True)
            session.add(unit)
            units[name] = unit
            changes.added.append(name)
            continue
        if not unit.active:
            unit.active = True
            changes.reactivated.append(name)
        elif unit.division != division:
            changes.updated.append(f"{name}：责任处室「{unit.division}」→「{division}」")
        else:
            changes.unchanged += 1
        unit.division = division
    for name, unit in units.items():
        if unit.active and name not in divisions:
            unit.active = False
            changes.deactivated.append(name)
    await session.flush()
    return units


@dataclass(frozen=True)
class _Snapshot:
    name: str
    role: Role
    unit_id: int | None
    mobile: str | None
    wecom_userid: str | None
    dingtalk_userid: str | None
    feishu_userid: str | None
    active: bool
    groups: frozenset[int]


def _snapshot(person: Person) -> _Snapshot:
    return _Snapshot(
        name=person.name,
        role=person.role,
        unit_id=person.unit_id,
        mobile=person.mobile,
        wecom_userid=person.wecom_userid,
        dingtalk_userid=person.dingtalk_userid,
        feishu_userid=person.feishu_userid,
        active=person.active,
        groups=frozenset(member.group_id for member in person.memberships),
    )


@dataclass(frozen=True)
class _Identity:
    """What the stable key is made of, for a person in the database and an entry of the file alike."""

    unit: str | None
    name: str
    role: Role
    mobile: str | None
    wecom_userid: str | None
    dingtalk_userid: str | None
    feishu_userid: str | None


def _by_wecom(who: _Identity) -> object:
    return _optional_key("wecom_userid", who.wecom_userid)


def _by_dingtalk(who: _Identity) -> object:
    return who.dingtalk_userid or None


def _by_feishu(who: _Identity) -> object:
    return who.feishu_userid or None


def _by_mobile(who: _Identity) -> object:
    return who.mobile or None


def _by_unit_name_role(who: _Identity) -> object:
    return (who.unit, who.name, who.role)


def _by_unit_name(who: _Identity) -> object:
    return (who.unit, who.name) if who.role.is_liaison else None


_STABLE_KEYS: tuple[Callable[[_Identity], object], ...] = (
    _by_wecom,
    _by_dingtalk,
    _by_feishu,
    _by_mobile,
    _by_unit_name_role,
    _by_unit_name,
)


class _Matcher:
    """Finds the existing person each entry stands for, by the stable key, never giving one person twice."""

    def __init__(self, people: Sequence[Person], unit_names: dict[int, str]) -> None:
        # Active people first, then the most recent: the likeliest to be meant when a key is ambiguous.
        ordered = sorted(people, key=lambda p: (not p.active, -p.id))
        self._claimed: set[int] = set()
        self._tables: list[dict[object, list[Person]]] = []
        for key_of in _STABLE_KEYS:
            table: dict[object, list[Person]] = defaultdict(list)
            for person in ordered:
                unit = unit_names.get(person.unit_id) if person.unit_id is not None else None
                who = _Identity(
                    unit,
                    person.name,
                    person.role,
                    person.mobile,
                    person.wecom_userid,
                    person.dingtalk_userid,
                    person.feishu_userid,
                )
                if (key := key_of(who)) is not None:
                    table[key].append(person)
            self._tables.append(table)

    def match(self, entry: RosterEntry) -> Person | None:
        who = _Identity(
            entry.unit_name,
            entry.name,
            entry.role,
            entry.mobile,
            entry.wecom_userid,
            entry.dingtalk_userid,
            entry.feishu_userid,
        )
        for key_of, table in zip(_STABLE_KEYS, self._tables, strict=True):
            key = key_of(who)
            if key is None:
                continue
            for person in table.get(key, ()):
                if person.id not in self._claimed:
                    self._claimed.add(person.id)
                    return person
        return None


def _optional_key(field_name: str, value: str | None) -> str | None:
    return _account_key(field_name, value) if value else None


async def _apply_people(
    session: AsyncSession,
    entries: Sequence[RosterEntry],
    units: dict[str, Unit],
    groups: dict[str, Group],
    changes: Changes,
) -> None:
    query = select(Person).options(selectinload(Person.memberships)).order_by(Person.id)
    people = list((await session.scalars(query)).all())
    unit_names = {unit.id: name for name, unit in units.items()}
    before = {person.id: _snapshot(person) for person in people}
    matcher = _Matcher(people, unit_names)
    targets = [matcher.match(entry) for entry in entries]
    matched = {person.id: entry for entry, person in zip(entries, targets, strict=True) if person is not None}

    # Free every account that the new roster gives to someone else before assigning any, so that swaps and
    # hand-overs never trip the unique constraints halfway through.
    for name in _ACCOUNT_FIELDS:
        wanted = {_account_key(name, value): entry for entry in entries if (value := getattr(entry, name))}
        for person in people:
            value = getattr(person, name)
            if (
                value
                and (owner := wanted.get(_account_key(name, value))) is not None
                and matched.get(person.id) is not owner
            ):
                setattr(person, name, None)
    await session.flush()

    for entry, target in zip(entries, targets, strict=True):
        unit = units[entry.unit_name] if entry.unit_name is not None else None
        person = target if target is not None else Person(memberships=[])
        person.name = entry.name
        person.role = entry.role
        person.unit_id = unit.id if unit is not None else None
        person.mobile = entry.mobile
        person.wecom_userid = entry.wecom_userid
        person.dingtalk_userid = entry.dingtalk_userid
        person.feishu_userid = entry.feishu_userid
        person.active = True
        _set_memberships(person, {groups[name].id for name in entry.groups})
        label = describe_person(entry.unit_name, entry.name, entry.role)
        if target is None:
            session.add(person)
            changes.added.append(label)
            continue
        old = before[target.id]
        if not old.active:
            changes.reactivated.append(label)
            continue
        new_unit_id = unit.id if unit is not None else None
        differences = [
            _FIELD_LABELS[key]
            for key, now in (
                ("name", entry.name),
                ("role", entry.role),
                ("unit_id", new_unit_id),
                ("mobile", entry.mobile),
                ("wecom_userid", entry.wecom_userid),
                ("dingtalk_userid", entry.dingtalk_userid),
                ("feishu_userid", entry.feishu_userid),
                ("groups", frozenset(groups[name].id for name in entry.groups)),
            )
            if getattr(old, key) != now
        ]
        if differences:
            changes.updated.append(f"{label}：{'、'.join(differences)}")
        else:
            changes.unchanged += 1

    for person in people:
        if person.id in matched:
            continue
        if person.active:
            old = before[person.id]
            unit_name = unit_names.get(old.unit_id) if old.unit_id is not None else None
            changes.deactivated.append(describe_person(unit_name, old.name, old.role))
        person.active = False
        _set_memberships(person, set())
    await session.flush()


def _set_memberships(person: Person, group_ids: set[int]) -> None:
    """Make ``person``'s groups exactly ``group_ids`` (rows kept where nothing changes)."""
    for member in list(person.memberships):
        if member.group_id not in group_ids:
            person.memberships.remove(member)
    present = {member.group_id for member in person.memberships}
    for group_id in sorted(group_ids - present):
        person.memberships.append(GroupMember(group_id=group_id))


async def has_roster(session: AsyncSession) -> bool:
    """Whether anyone is on the roster (active)."""
    return (await session.scalar(select(Person.id).where(Person.active).limit(1))) is not None


async def roster_rows(session: AsyncSession, *, office_name: str, include_inactive: bool = False) -> list[RosterRow]:
    """The roster in the order offices read it: units in the order they joined, A角 before B角, the office last.

    Office members are shown under ``office_name``; only configured (active) groups are listed.
    """
    query = select(Person, Unit).outerjoin(Unit, Person.unit_id == Unit.id)
    if not include_inactive:
        query = query.where(Person.active)
    pairs = [(person, unit) for person, unit in await session.execute(query)]
    memberships: dict[int, list[str]] = defaultdict(list)
    member_rows = await session.execute(
        select(GroupMember.person_id, Group.name)
        .join(Group, Group.id == GroupMember.group_id)
        .where(Group.active)
        .order_by(Group.id)
    )
    for person_id, group_name in member_rows:
        memberships[person_id].append(group_name)

    def order(pair: tuple[Person, Unit | None]) -> tuple[int, int, int, int]:
        person, unit = pair
        return (unit is None, unit.id if unit is not None else 0, ROLE_ORDER[person.role], person.id)

    return [
        RosterRow(
            unit=unit.name if unit is not None else office_name,
            division=unit.division if unit is not None else "",
            name=person.name,
            role=person.role,
            mobile=person.mobile,
            wecom_userid=person.wecom_userid,
            dingtalk_userid=person.dingtalk_userid,
            feishu_userid=person.feishu_userid,
            groups=tuple(memberships[person.id]),
            active=person.active,
        )
        for person, unit in sorted(pairs, key=order)
    ]
