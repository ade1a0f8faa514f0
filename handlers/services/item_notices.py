"""Telling units and the office about a 督办 item, in the groups where their people sit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import items as ledger
from storage.models import Group, GroupMember, Item
from storage.outbound import Mention, OutboundMessage, enqueue_to_group

ORIGIN = "item"


async def tell_units(
    session: AsyncSession, item: Item, body: str, *, lead: bool = True, supporting: bool = False, follow: str = ""
) -> int:
    """Tell the lead (and supporting) units' liaisons in every group where they sit, @-mentioning them.

    ``follow`` is added for the supporting units when both are told. Returns how many lead-unit liaisons
    were reached (0: none of them sits in an active group)."""
    unit_ids = ([item.lead_unit_id] if lead and item.lead_unit_id else []) + (
        [unit.id for unit in item.supporting_units] if supporting else []
    )
    liaisons = await ledger.liaisons_of(session, unit_ids)
    if not liaisons:
        return 0
    seats = await session.execute(
        select(GroupMember.group_id, GroupMember.person_id).where(
            GroupMember.person_id.in_([person.id for person in liaisons])
        )
    )
    by_group: dict[int, set[int]] = {}
    for group_id, person_id in seats:
        by_group.setdefault(group_id, set()).add(person_id)
    groups = await session.scalars(
        select(Group).where(Group.id.in_(by_group), Group.active.is_(True)).order_by(Group.id)
    )
    reached: set[int] = set()
    for group in groups:
        present = [person for person in liaisons if person.id in by_group[group.id]]
        present.sort(key=lambda person: person.unit_id != item.lead_unit_id)  # the lead unit's liaisons first
        has_support = any(person.unit_id != item.lead_unit_id for person in present)
        text = body + (f"\n{follow}" if follow and has_support else "")
        message = OutboundMessage(body=text, mentions=[Mention.of(person) for person in present])
        enqueue_to_group(session, group, message, origin=ORIGIN)
        reached.update(person.id for person in present if person.unit_id == item.lead_unit_id)
    return len(reached)


async def tell_office(session: AsyncSession, body: str) -> None:
    offices = await session.scalars(select(Group).where(Group.is_office.is_(True), Group.active.is_(True)))
    for group in offices:
        enqueue_to_group(session, group, OutboundMessage(body=body), origin=ORIGIN)
