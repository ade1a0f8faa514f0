"""Who is acting, from where, and how their actions are audited."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, Person, Role
from storage.policy import Policy

Via = Literal["chat", "cli", "console"]
VIA_LABELS: dict[str, str] = {"chat": "群聊/单聊", "cli": "命令行", "console": "控制台"}


class Refused(Exception):
    """An action that was not allowed or not possible; ``message`` is the sentence to show (already audited)."""

    def __init__(self, message: str, outcome: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.outcome = outcome


@dataclass
class Actor:
    """A person acting through one channel at one moment, inside one transaction.

    ``audit_hook`` lets a channel record entries its own way (a chat command ties them to its inbox row);
    without one, entries are written here with the channel named in ``via``.
    """

    session: AsyncSession
    person: Person | None  # None: the command line, run by whoever holds the server's shell
    policy: Policy
    now: datetime
    via: Via
    inbox_id: int | None = None
    audit_hook: Callable[[str, str, str], None] | None = None
    name: str = ""  # how the command line names its user

    @property
    def member(self) -> Person:
        """The roster person acting (rules about units and liaisons need one)."""
        if self.person is None:
            raise Refused("此操作须由名册中的人员进行。")
        return self.person

    @property
    def label(self) -> str:
        return self.person.name if self.person is not None else self.name

    @property
    def is_office(self) -> bool:
        """Office members act for the office; so does whoever runs the command line on the server."""
        return self.via == "cli" or (self.person is not None and self.person.role is Role.OFFICE)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.policy.tz).date()

    def audit(self, action: str, detail: str = "", outcome: str = "ok") -> None:
        if self.audit_hook is not None:
            self.audit_hook(action, detail, outcome)
            return
        self.session.add(
            AuditEntry(
                person_id=self.person.id if self.person is not None else None,
                actor=self.label[:128],
                action=action,
                detail=detail,
                outcome=outcome,
                inbox_id=self.inbox_id,
                at=self.now,
                via=self.via,
            )
        )

    def refuse(self, message: str, action: str, detail: str, outcome: str = "refused") -> Refused:
        """Audit a refusal and return the exception to raise."""
        self.audit(action, detail, outcome)
        return Refused(message, outcome)
