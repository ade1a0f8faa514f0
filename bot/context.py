"""What a running duban process holds: settings, database and a name that tells instances apart."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from dataclasses import dataclass, field

from bot.config import Settings
from bot.policy import policy_from_settings
from storage.db import Database
from storage.policy import Policy


def new_instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class AppContext:
    settings: Settings
    db: Database
    instance_id: str = field(default_factory=new_instance_id)
    # Set once this process's inbox worker has handled messages (whose answers wait in the outbox): its dispatcher
    # then claims at once rather than at its next poll. Rows other instances queue are found by that poll.
    outbox_queued: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def policy(self) -> Policy:
        return policy_from_settings(self.settings)
