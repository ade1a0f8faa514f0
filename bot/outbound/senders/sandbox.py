"""The sandbox: what the bot says is written to ``sandbox_message`` for the local chat to show."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from bot.outbound.render import Payload, render
from bot.outbound.senders.base import Outcome, Sender
from bot.outbound.senders.context import SendContext, message_of
from storage.models import SandboxMessage
from storage.outbox_claim import Claim


def chat_of(claim: Claim) -> str:
    return str(claim.address.get("chat") or claim.address.get("group") or claim.target)


class SandboxSender(Sender):
    channel: ClassVar[str] = "sandbox"

    def __init__(self, ctx: SendContext) -> None:
        self.ctx = ctx

    def payloads(self, claim: Claim) -> list[Payload]:
        return render(message_of(claim), self.channel)

    async def send(self, claim: Claim, payload: Payload) -> Outcome:
        async with self.ctx.db.transaction() as session:
            session.add(
                SandboxMessage(
                    chat=chat_of(claim),
                    text=payload["text"],
                    mentions=list(payload["mentions"]),
                    outbox_id=claim.id,
                    at=datetime.now(UTC),
                )
            )
        return Outcome.ok()
