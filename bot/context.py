"""What a running duban process holds: settings, database and a name that tells instances apart."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bot.config import Settings
from schedules.settings import with_schedules
from storage.db import Database
from storage.periods import DeadlineRule
from storage.policy import DocumentSettings, Policy


def new_instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class AppContext:
    settings: Settings
    db: Database
    instance_id: str = field(default_factory=new_instance_id)

    @property
    def policy(self) -> Policy:
        return policy_from_settings(self.settings)


def document_settings_of(settings: Settings) -> DocumentSettings:
    config = settings.documents
    return DocumentSettings(
        issuer=config.issuer,
        number_prefix=config.number_prefix,
        number_pattern=config.number_pattern,
        template=Path(config.template) if config.template else None,
        report_to=config.report_to,
        output_dir=Path(config.output_dir),
        on_time_names_up_to=config.on_time_names_up_to,
    )


def policy_from_settings(settings: Settings) -> Policy:
    """The slice of the configuration that handlers and jobs see (they never import ``bot``)."""
    policy = Policy(
        tz=settings.tz,
        office_name=settings.office_name,
        deadline=DeadlineRule(tz=settings.tz, day=settings.reporting.deadline_day, at=settings.reporting.deadline_time),
        file_join_window=timedelta(minutes=settings.files.join_window_minutes),
        max_file_bytes=settings.files.max_bytes,
        documents=document_settings_of(settings),
        console_url=settings.console_url,
        direct_platforms=frozenset({"sandbox"} | ({"wecom"} if _wecom_app_can_send(settings) else set())),
    )
    # The schedule settings ride along, and the deadline moves by the office's deadline policy.
    return with_schedules(policy, settings.schedules)


def _wecom_app_can_send(settings: Settings) -> bool:
    """The WeCom self-built app can write to a person 1:1 (sign-in links asked for in a group go that way)."""
    app = settings.wecom.app
    return bool(app.corp_id and app.agent_id and app.secret.get_secret_value())
