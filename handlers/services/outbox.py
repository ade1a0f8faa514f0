"""Resending a message from the outbox: the one rule behind ``重发``, ``duban outbox resend`` and the console."""

from __future__ import annotations

from handlers import texts
from handlers.services.actor import Actor
from storage.models import OutboxMessage
from storage.outbox_ops import resend as resend_row

ACTION = "重发"


async def resend(actor: Actor, outbox_id: int) -> OutboxMessage:
    """Queue a fresh copy of a failed, uncertain or sent row; only the office may (audited either way)."""
    if not actor.is_office:
        raise actor.refuse(texts.refused_command(ACTION, actor.policy.office_name), ACTION, str(outbox_id))
    try:
        copy = await resend_row(actor.session, outbox_id, actor=actor.label)
    except LookupError:
        raise actor.refuse(texts.resend_not_found(outbox_id), ACTION, str(outbox_id), "not_found") from None
    except ValueError as exc:
        raise actor.refuse(str(exc), ACTION, f"{outbox_id}：{exc}") from None
    actor.audit(ACTION, f"{outbox_id} → {copy.id}")
    return copy
