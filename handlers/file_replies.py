"""Answering with a file: where a file can go back to the person who asked, and queueing it.

Reply routes carry text; a file needs a platform API that can upload (PLATFORMS.md §2):

- WeCom, asked 1:1 through the self-built app: the app sends the file back 1:1;
- WeCom, asked (1:1 or in a group) through the 智能机器人's long connection: the robot uploads and sends it to
  that chat on the connection; its row shares the reply's rate key, so the file follows the text announcing it;
- WeCom, asked in a group through the 智能机器人: the group's robot webhook, when the office configured one for
  that chat (``[[groups]]`` with its ``chat_id`` and ``webhook``); otherwise the app sends it 1:1 to the asker;
- DingTalk (1:1 or group): the app robot through the OpenAPI, when ``[dingtalk] app_key``/``app_secret`` are set;
  its rows share the session reply's rate key, so the file follows the text that announces it;
- Feishu (1:1 or group, through the self-built app's long connection): the app uploads and sends it to the chat;
- elsewhere (the 智能机器人's HTTP callback without a group robot or the app, the sandbox): no file; the answer
  says where to get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.blobs import put_bytes, store_of
from storage.models import Group, InboxMessage
from storage.outbound import OutboundMessage, addresses, enqueue, group_rate_key, office_links
from storage.policy import FileRoutes

ORIGIN = "file_reply"
IN_CHAT = "文件将随后在本会话中发送，请查收。"
IN_GROUP = "文件将随后由本群的群机器人发送，请查收。"
DIRECT = "文件将随后通过企业微信应用单聊发送给您，请查收。"


@dataclass(frozen=True)
class FileRoute:
    channel: str
    target: str
    rate_key: str
    address: dict[str, Any]
    announce: str  # how the answer tells the asker where the file will come
    group_id: int | None = None


async def file_route(session: AsyncSession, inbox: InboxMessage, routes: FileRoutes) -> FileRoute | None:
    """How a file goes back to the sender of ``inbox`` (``None``: it cannot; say where to get it)."""
    reply = inbox.reply or {}
    if inbox.platform == "wecom":
        if reply.get("channel") == "wecom_app" and routes.wecom_app:
            return FileRoute("wecom_app", reply["target"], reply["rate_key"], dict(reply.get("address", {})), IN_CHAT)
        if reply.get("channel") == "wecom_bot_ws" and routes.wecom_bot_socket:
            address = dict(reply.get("address", {}))
            return FileRoute("wecom_bot_ws", reply["target"], reply["rate_key"], address, IN_CHAT)
        group_name = routes.wecom_groups.get(inbox.chat_id) if inbox.chat_type == "group" else None
        if group_name is not None:
            group = await session.scalar(select(Group).where(Group.name == group_name))
            if group is not None:
                return FileRoute(
                    "wecom_webhook", group.name, group_rate_key(group), {"group": group.name}, IN_GROUP, group.id
                )
        if routes.wecom_app and inbox.sender_id:
            userid = inbox.sender_id
            return FileRoute("wecom_app", userid, f"wecom_app:{userid}", {"touser": userid}, DIRECT)
        return None
    if inbox.platform == "feishu" and routes.feishu_app and reply.get("channel") == "feishu_reply":
        return FileRoute("feishu_reply", reply["target"], reply["rate_key"], dict(reply.get("address", {})), IN_CHAT)
    if inbox.platform == "dingtalk" and routes.dingtalk_robot_code and reply.get("channel") == "dingtalk_session":
        raw = inbox.raw if isinstance(inbox.raw, dict) else {}
        address = {
            "conversation_id": inbox.chat_id,
            "chat_type": inbox.chat_type,
            "user_id": inbox.sender_id,
            "robot_code": str(raw.get("robotCode") or routes.dingtalk_robot_code),
        }
        return FileRoute("dingtalk_app", inbox.chat_id, reply["rate_key"], address, IN_CHAT)
    return None


async def enqueue_file(
    session: AsyncSession,
    inbox: InboxMessage,
    route: FileRoute,
    routes: FileRoutes,
    *,
    content: bytes,
    name: str,
    instead: str,
) -> str:
    """Keep ``content`` in the blob store and queue it to ``route`` in the caller's transaction; its sha256.

    ``instead``: the text sent in its place where the file cannot go (too large, refused by the platform).
    """
    sha256 = await put_bytes(session, store_of(routes.blob_store, Path(routes.blob_directory)), content)
    enqueue(
        session,
        channel=route.channel,
        target=route.target,
        rate_key=route.rate_key,
        address=route.address,
        message=OutboundMessage(body=office_links(instead), links=addresses(instead), format="text"),
        origin=ORIGIN,
        group_id=route.group_id,
        inbox_id=inbox.id,
        file=(sha256, name),
    )
    return sha256
