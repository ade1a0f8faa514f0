"""``POST /sandbox/messages``: the local chat of the demo and the tests, where one speaks *as* a roster person.

Whoever reaches this endpoint may speak for anyone on the roster, office members included, so it must never
be reachable from outside. It is served only when ``[sandbox] enabled`` allows it (``"auto"``: the server
listens on a loopback address and no real inbound channel is configured, i.e. a demo or development machine)
and, even then, answers only peers on a loopback address. A reverse proxy on the same machine would make
every caller look local: a deployment that takes platform callbacks therefore has the sandbox off unless an
operator turns it on explicitly.

Body: ``{"person_id": int, "group": str | null, "text": str, "message_id": str | null}``. The message goes
through the same inbox as the platforms' (platform ``sandbox``, sender ``str(person_id)``, chat = the group's
name or ``dm:<person_id>``); what the bot answers is written to ``sandbox_message``.

``POST /sandbox/say`` is ``duban say``'s round trip in one request, under the same conditions:
``{"as": str, "group": str | null, "text": str, "wait": seconds}`` names the person as the command line does
(:func:`storage.sandbox.resolve_speaker`), stores the message as above, waits (at most ``wait`` seconds) until it
is handled and the answers are posted, and answers ``{"speaker": {"id", "name", "active"}, "complete": bool,
"replies": [{"chat", "text", "mentions"}]}``: every sandbox line the bot wrote meanwhile. A name nobody (or
several people) answers to, or a group not configured, is answered 422 ``{"error": "…"}`` and stores nothing. The
command thereby needs neither the database nor SQLAlchemy while a service runs.
"""

from __future__ import annotations

import secrets
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.app import Channel
from bot.appkeys import CONTEXT
from bot.config import Settings
from bot.inbound.edge import Inbox, Refused, bad_request, decode_utf8, guarded, note_result, read_body
from bot.metrics import CallbackResult
from bot.sandbox_address import PATH as PATH
from bot.sandbox_address import SAY_PATH, unconfigured_group
from bot.sandbox_address import is_loopback as is_loopback
from storage.inbox import InboundMessage, ReplyRoute
from storage.sandbox import SpeakerUnclear, latest_transcript_id, resolve_speaker, transcript_since, wait_until_settled

CHANNEL = "sandbox"

Post = TypeVar("Post", bound=BaseModel)


class SandboxPost(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    person_id: int = Field(gt=0, le=2**31 - 1)
    group: str | None = Field(default=None, min_length=1, max_length=100)
    text: str
    message_id: str | None = Field(default=None, min_length=1, max_length=128)
    quoted: str = ""  # the text of the message this one quotes, as the WeCom 智能机器人 and DingTalk pass it


class SayPost(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    speaker: str = Field(alias="as", min_length=1, max_length=128)
    group: str | None = Field(default=None, min_length=1, max_length=100)
    text: str
    wait: float = Field(default=15.0, ge=0, le=120)


def sandbox_chat(person_id: int, group: str | None) -> str:
    return group if group else f"dm:{person_id}"


def sandbox_message(post: SandboxPost) -> InboundMessage:
    chat = sandbox_chat(post.person_id, post.group)
    return InboundMessage(
        platform="sandbox",
        channel=CHANNEL,
        message_id=post.message_id or f"sb-{secrets.token_hex(8)}",
        sender_id=str(post.person_id),
        text=post.text.strip(),
        quoted=post.quoted.strip(),
        chat_id=chat,
        chat_type="group" if post.group else "single",
        reply=ReplyRoute(channel="sandbox", target=chat, rate_key=f"sandbox:{chat}", address={"chat": chat}),
    )


def real_channels(settings: Settings) -> list[str]:
    configured = {
        "wecom_app": settings.wecom.app.enabled,
        "wecom_bot": settings.wecom.bot.enabled,
        "dingtalk_bot": settings.dingtalk.enabled,
    }
    return [name for name, on in configured.items() if on]


def sandbox_decision(settings: Settings) -> tuple[bool, str]:
    """Whether the sandbox is served, and if not, why (for the start-up log)."""
    setting = settings.sandbox.enabled
    if setting is True:
        return True, ""
    if setting is False:
        return False, "[sandbox] enabled = false"
    if not is_loopback(settings.server.host):
        return False, (
            f'[sandbox] enabled = "auto" 且服务监听 {settings.server.host}（非本机回环地址）；'
            "仅供本机调试时可设 [sandbox] enabled = true"
        )
    channels = real_channels(settings)
    if channels:
        return False, (
            f'[sandbox] enabled = "auto" 且已配置接收通道 {"、".join(channels)}（视为正式部署）；'
            "仅供本机调试时可设 [sandbox] enabled = true"
        )
    return True, ""


async def _read_post(request: web.Request, model: type[Post]) -> Post:
    """The body of a request to the sandbox: from this machine only, JSON, valid for ``model``."""
    if not is_loopback(request.remote):
        raise Refused(403, "the sandbox answers only this machine", CallbackResult.REFUSED_ORIGIN)
    if request.content_type != "application/json":
        raise Refused(415, "send application/json")
    try:
        return model.model_validate_json(decode_utf8(await read_body(request)))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise bad_request(problems) from None


def _unclear(request: web.Request, reason: str) -> web.Response:
    note_result(request, CallbackResult.BAD_REQUEST)
    return web.json_response({"error": reason}, status=422)


class SandboxEndpoint:
    def __init__(self, inbox: Inbox, settings: Settings) -> None:
        self.inbox = inbox
        self.groups = [group.name for group in settings.groups]

    async def say(self, request: web.Request) -> web.Response:
        """``duban say``'s round trip: name the speaker, store, wait for the answers, return them."""
        post = await _read_post(request, SayPost)
        unknown_group = unconfigured_group(post.group, self.groups)
        if unknown_group:
            return _unclear(request, unknown_group)
        db = request.app[CONTEXT].db
        async with db.sessions() as session:
            try:
                person = await resolve_speaker(session, post.speaker)
            except SpeakerUnclear as exc:
                return _unclear(request, str(exc))
            speaker = {"id": person.id, "name": person.name, "active": person.active}
            before = await latest_transcript_id(session)
        message = sandbox_message(SandboxPost(person_id=person.id, group=post.group, text=post.text))
        await self.inbox.accept(request, message)
        complete = await wait_until_settled(db, message.message_id, post.wait)
        async with db.sessions() as session:
            lines = await transcript_since(session, before)
        replies = [{"chat": line.chat, "text": line.text, "mentions": list(line.mentions)} for line in lines]
        return web.json_response({"speaker": speaker, "complete": complete, "replies": replies})

    async def receive(self, request: web.Request) -> web.Response:
        post = await _read_post(request, SandboxPost)
        message = sandbox_message(post)
        inbox_id = await self.inbox.accept(request, message)
        return web.json_response(
            {
                "stored": inbox_id is not None,
                "inbox_id": inbox_id,
                "message_id": message.message_id,
                "chat": message.chat_id,
            }
        )


def sandbox_channel(settings: Settings, inbox: Inbox) -> Channel:
    enabled, reason = sandbox_decision(settings)
    if not enabled:
        return Channel(CHANNEL, False, [], off_reason=reason)
    endpoint = SandboxEndpoint(inbox, settings)
    routes = [web.post(PATH, guarded(CHANNEL, endpoint.receive)), web.post(SAY_PATH, guarded(CHANNEL, endpoint.say))]
    return Channel(CHANNEL, True, routes)
