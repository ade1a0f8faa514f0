"""The 督办 ledger's rules: who may move an item from one state to the next, and what that sets in motion.

- anyone on the roster raises an item;
- the office assigns (交办), closes (销号), sends back (退回), moves the due date (延期) and stops (中止) items;
- the lead unit's liaisons (A角、B角) sign for (签收) and report done (办结); they, the supporting units'
  liaisons and the office may add progress (进展).

Each function returns the sentence that confirms the action to whoever took it; units and the office hear of
it in their groups. A refusal is audited and raised as :class:`~handlers.services.actor.Refused`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from handlers import item_texts as texts
from handlers.services.actor import Actor, Refused
from handlers.services.item_notices import tell_office, tell_units
from storage import items as ledger
from storage.models import Item, ItemState, Person, Unit

TITLE_MAX = 200
WORKING_STATES = (ItemState.ASSIGNED, ItemState.IN_PROGRESS, ItemState.REVIEW)


def is_liaison_of(person: Person, unit_id: int | None) -> bool:
    return person.role.is_liaison and unit_id is not None and person.unit_id == unit_id


def may_add_progress(person: Person, item: Item) -> bool:
    supporting = {unit.id for unit in item.supporting_units}
    return (
        person.role.value == "office"
        or is_liaison_of(person, item.lead_unit_id)
        or (person.role.is_liaison and person.unit_id in supporting)
    )


def _lead_name(item: Item) -> str | None:
    return item.lead_unit.name if item.lead_unit else None


def _require_state(actor: Actor, item: Item, word: str, allowed: Sequence[ItemState], action: str = "") -> None:
    if item.state not in allowed:
        raise actor.refuse(
            texts.wrong_state(item, word, allowed), action or word, f"#{item.number}：{item.state.label}", "wrong_state"
        )


def _require_office(actor: Actor, item: Item, word: str) -> None:
    if not actor.is_office:
        raise actor.refuse(texts.office_only(word, actor.policy.office_name), word, f"#{item.number}")


def _require_text(actor: Actor, item: Item, word: str, text: str, usage: str) -> None:
    if not text.strip():
        raise actor.refuse(usage, word, f"#{item.number}", "invalid")


def due_warning(actor: Actor, due: date, word: str) -> str:
    """Refuse a date in the past; a warning for a non-working day, or ``""``."""
    if due < actor.today:
        raise actor.refuse(texts.past_due(due, actor.today), word, due.isoformat(), "past_due")
    info = actor.policy.schedules.calendar().explain(due)
    return "" if info.workday else texts.non_working_due(due, info.reason)


async def raise_item(actor: Actor, title: str, description: str) -> Item:
    title, description = title.strip(), description.strip()
    if not title:
        raise actor.refuse(texts.RAISE_USAGE, "问题", "", "invalid")
    if len(title) > TITLE_MAX:
        title, description = title[:TITLE_MAX], f"{title}\n{description}".strip()
    item = Item(
        number=await ledger.next_number(actor.session),
        title=title,
        description=description,
        raised_by_id=actor.member.id,
        raised_by_office=actor.is_office,
        state=ItemState.RAISED,
        created_at=actor.now,
    )
    actor.session.add(item)
    await actor.session.flush()
    _event(actor, item, "raise", text=description or title)
    if not actor.is_office:
        unit = actor.member.unit.name if actor.member.unit else None
        await tell_office(actor.session, texts.raised_notice(item, actor.member.name, unit))
    actor.audit("问题", f"#{item.number} {title[:100]}")
    return item


def _event(
    actor: Actor, item: Item, action: str, *, text: str = "", old_due: date | None = None, new_due: date | None = None
) -> None:
    ledger.add_event(
        actor.session,
        item,
        action,
        person=actor.member,
        at=actor.now,
        text=text,
        old_due=old_due,
        new_due=new_due,
        inbox_id=actor.inbox_id,
    )


def require_assignable(actor: Actor, item: Item) -> None:
    """Only the office assigns, and only an item not yet assigned (checked before the arguments are read)."""
    _require_office(actor, item, "交办")
    _require_state(actor, item, "交办", [ItemState.RAISED])


async def assign(actor: Actor, item: Item, lead: Unit, supporting: Sequence[Unit], due: date) -> str:
    require_assignable(actor, item)
    others: list[Unit] = []
    for unit in supporting:
        if unit.id != lead.id and unit not in others:
            others.append(unit)
    warning = due_warning(actor, due, "交办")
    item.lead_unit_id = lead.id
    item.lead_unit = lead
    item.supporting_units = others
    item.due = due
    item.state = ItemState.ASSIGNED
    item.assigned_at = actor.now
    names = [unit.name for unit in others]
    detail = f"牵头单位：{lead.name}" + (f"；配合单位：{'、'.join(names)}" if names else "")
    _event(actor, item, "assign", text=detail, new_due=due)
    reached = await tell_units(
        actor.session,
        item,
        texts.assigned_notice(item, lead.name, names, actor.policy.office_name),
        supporting=True,
        follow=texts.supporting_notice(item, lead.name),
    )
    actor.audit("交办", f"#{item.number} → {lead.name}，截止{due.isoformat()}")
    return texts.assigned(item, lead.name, names, warning, told=reached > 0)


async def sign(actor: Actor, item: Item) -> str:
    if not is_liaison_of(actor.member, item.lead_unit_id):
        raise actor.refuse(texts.not_lead_liaison(item, "签收", _lead_name(item)), "签收", f"#{item.number}")
    _require_state(actor, item, "签收", [ItemState.ASSIGNED])
    item.state = ItemState.IN_PROGRESS
    item.signed_at = actor.now
    _event(actor, item, "sign")
    actor.audit("签收", f"#{item.number}")
    return texts.signed(item)


async def progress(actor: Actor, item: Item, text: str, *, usage: str) -> str:
    if not may_add_progress(actor.member, item):
        raise actor.refuse(texts.not_lead_liaison(item, "报告进展", _lead_name(item)), "进展", f"#{item.number}")
    _require_state(actor, item, "报告进展", WORKING_STATES, "进展")
    _require_text(actor, item, "进展", text, usage)
    _event(actor, item, "progress", text=text.strip())
    actor.audit("进展", f"#{item.number}")
    return texts.progress_recorded(item, actor.now, actor.policy.tz)


async def done(actor: Actor, item: Item, text: str, *, usage: str) -> str:
    if not is_liaison_of(actor.member, item.lead_unit_id):
        raise actor.refuse(texts.not_lead_liaison(item, "报告办结", _lead_name(item)), "办结", f"#{item.number}")
    _require_state(actor, item, "报告办结", [ItemState.ASSIGNED, ItemState.IN_PROGRESS], "办结")
    _require_text(actor, item, "办结", text, usage)
    if item.signed_at is None:  # reporting it done signs for it
        item.signed_at = actor.now
    item.state = ItemState.REVIEW
    _event(actor, item, "done", text=text.strip())
    await tell_office(actor.session, texts.done_notice(item, _lead_name(item) or "", actor.member.name, text.strip()))
    actor.audit("办结", f"#{item.number}")
    return texts.done_reported(item)


async def close(actor: Actor, item: Item, text: str = "") -> str:
    _require_office(actor, item, "销号")
    _require_state(actor, item, "销号", [ItemState.REVIEW])
    item.state = ItemState.CLOSED
    item.closed_at = actor.now
    _event(actor, item, "close", text=text.strip())
    await tell_units(actor.session, item, texts.closed_notice(item, actor.policy.office_name))
    actor.audit("销号", f"#{item.number}")
    return texts.closed(item)


async def reject(actor: Actor, item: Item, reason: str, *, usage: str) -> str:
    _require_office(actor, item, "退回")
    _require_state(actor, item, "退回", [ItemState.REVIEW])
    _require_text(actor, item, "退回", reason, usage)
    item.state = ItemState.IN_PROGRESS
    _event(actor, item, "reject", text=reason.strip())
    await tell_units(actor.session, item, texts.rejected_notice(item, actor.policy.office_name, reason.strip()))
    actor.audit("退回", f"#{item.number}")
    return texts.rejected(item)


def require_extendable(actor: Actor, item: Item) -> None:
    """Only the office moves a due date, and only of an item being worked on (checked before the date is read)."""
    _require_office(actor, item, "延期")
    _require_state(actor, item, "延期", WORKING_STATES)


async def extend(actor: Actor, item: Item, due: date, reason: str, *, usage: str) -> str:
    require_extendable(actor, item)
    _require_text(actor, item, "延期", reason, usage)
    warning = due_warning(actor, due, "延期")
    old = item.due
    item.due = due
    _event(actor, item, "extend", text=reason.strip(), old_due=old, new_due=due)
    await tell_units(actor.session, item, texts.extended_notice(item, actor.policy.office_name, old, reason.strip()))
    actor.audit("延期", f"#{item.number} {old.isoformat() if old else ''}→{due.isoformat()}")
    return texts.extended(item, old, warning)


async def stop(actor: Actor, item: Item, reason: str, *, usage: str) -> str:
    _require_office(actor, item, "中止")
    _require_state(actor, item, "中止", [state for state in ItemState if state.is_open])
    _require_text(actor, item, "中止", reason, usage)
    item.state = ItemState.STOPPED
    item.closed_at = actor.now
    _event(actor, item, "stop", text=reason.strip())
    if item.lead_unit_id is not None:
        await tell_units(actor.session, item, texts.stopped_notice(item, actor.policy.office_name, reason.strip()))
    actor.audit("中止", f"#{item.number}")
    return texts.stopped(item)


__all__ = [
    "Refused",
    "assign",
    "close",
    "done",
    "due_warning",
    "extend",
    "progress",
    "raise_item",
    "reject",
    "require_assignable",
    "require_extendable",
    "sign",
    "stop",
]
