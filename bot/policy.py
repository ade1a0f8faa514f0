"""The slice of the configuration that handlers, jobs and the command line work by.

Apart from :mod:`bot.context` (which holds the database, and so loads SQLAlchemy) so that ``duban status``
builds the same :class:`~storage.policy.Policy` as the service without loading it.
"""

from __future__ import annotations

from datetime import timedelta

from bot.config import Settings
from schedules.settings import with_schedules
from storage.periods import DeadlineRule
from storage.policy import FileRoutes, Policy


def policy_from_settings(settings: Settings) -> Policy:
    """The slice of the configuration that handlers and jobs see (they never import ``bot``)."""
    policy = Policy(
        tz=settings.tz,
        office_name=settings.office_name,
        deadline=DeadlineRule(tz=settings.tz, day=settings.reporting.deadline_day, at=settings.reporting.deadline_time),
        file_join_window=timedelta(minutes=settings.files.join_window_minutes),
        max_file_bytes=settings.files.max_bytes,
        documents=settings.documents,
        console_url=settings.console_url,
        direct_platforms=frozenset({"sandbox"} | ({"wecom"} if _wecom_app_can_send(settings) else set())),
        file_routes=file_routes_of(settings),
    )
    # The schedule settings ride along, and the deadline moves by the office's deadline policy.
    return with_schedules(policy, settings.schedules)


def file_routes_of(settings: Settings) -> FileRoutes:
    dingtalk = settings.dingtalk
    return FileRoutes(
        wecom_app=_wecom_app_can_send(settings),
        wecom_groups={
            group.chat_id: group.name
            for group in settings.groups
            if group.platform == "wecom" and group.chat_id and group.webhook
        },
        dingtalk_robot_code=dingtalk.app_key if dingtalk.app_key and dingtalk.app_secret.get_secret_value() else "",
        feishu_app=settings.feishu.transport == "websocket",
        wecom_bot_socket=settings.wecom.bot.transport == "websocket",
        blob_store=settings.files.store,
        blob_directory=settings.files.directory,
    )


def _wecom_app_can_send(settings: Settings) -> bool:
    """The WeCom self-built app can write to a person 1:1 (sign-in links asked for in a group go that way)."""
    app = settings.wecom.app
    return bool(app.corp_id and app.agent_id and app.secret.get_secret_value())
