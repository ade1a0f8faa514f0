"""What every console page shares: templates, the signed-in viewer, CSRF, security headers.

Every page is server-rendered (Jinja2, autoescaped); the pages carry no script at all, which the
Content-Security-Policy enforces. Every form carries the session's CSRF token and every POST is refused
without it. Pages with personal data are never cached. The session cookie is HttpOnly, SameSite=Strict, and
Secure whenever the console is reached over HTTPS (directly, or behind the reverse proxy, which says so in
``X-Forwarded-Proto``).
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from bot.appkeys import CONTEXT
from bot.console import filters
from bot.context import AppContext
from handlers.services.actor import Actor
from storage.console_auth import live_session
from storage.models import ConsoleSession, Person, utcnow

log = logging.getLogger(__name__)

COOKIE = "duban_console"
HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
CSRF_REFUSED = "表单已失效或来源不明（缺少安全校验码），未执行任何操作。请返回页面刷新后重试。"
PUBLIC = frozenset({"login", "login_confirm", "static"})  # route names reachable without a session


@dataclass
class Viewer:
    """The signed-in person and their session (whose CSRF token every form carries)."""

    person: Person
    session: ConsoleSession

    @property
    def is_office(self) -> bool:
        return self.person.role.value == "office"

    @property
    def unit_id(self) -> int | None:
        return None if self.is_office else self.person.unit_id

    @property
    def csrf(self) -> str:
        return self.session.csrf_token


VIEWER = web.RequestKey("duban_console_viewer", Viewer)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(filters.FILTERS)
    return env


TEMPLATES = web.AppKey("duban_console_templates", jinja2.Environment)


MAX_ID = 2**31 - 1  # ids and numbers in addresses: beyond this no row exists (and the database would refuse it)


def as_id(text: object) -> int | None:
    """``text`` as a row id or number, or ``None`` if it cannot be one (letters, signs, absurd sizes)."""
    value = str(text)
    if not (value.isascii() and value.isdigit()) or len(value) > 10 or int(value) > MAX_ID:
        return None
    return int(value)


def path_id(request: web.Request, name: str) -> int:
    """The id in the address, or 404."""
    found = as_id(request.match_info[name])
    if found is None:
        raise web.HTTPNotFound()
    return found


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TEXT_LIMIT = 5000


def form_text(form: Mapping[str, Any], name: str, limit: int = TEXT_LIMIT) -> str:
    """A text field as it may be stored: control characters removed (PostgreSQL refuses NUL), lines as ``\n``,
    cut at ``limit`` characters."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))[:limit]


def context_of(request: web.Request) -> AppContext:
    return request.config_dict[CONTEXT]


def viewer_of(request: web.Request) -> Viewer:
    return request[VIEWER]


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    env = request.config_dict[TEMPLATES]
    ctx = context_of(request)
    viewer = request.get(VIEWER)
    page = env.get_template(template).render(
        viewer=viewer,
        office_name=ctx.settings.office_name,
        tz=ctx.settings.tz,
        path=request.path,
        **values,
    )
    return web.Response(text=page, content_type="text/html", charset="utf-8", status=status)


def refuse(request: web.Request, status: int, message: str) -> web.Response:
    return render(request, "error.html.j2", status=status, status_code=status, message=message)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attachment(data: bytes, name: str, content_type: str) -> web.Response:
    """A download named ``name`` (Chinese names kept, RFC 6266)."""
    return web.Response(
        body=data,
        content_type=content_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


def is_https(request: web.Request) -> bool:
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https"


def set_session_cookie(request: web.Request, response: web.StreamResponse, session_id: str) -> None:
    response.set_cookie(
        COOKIE,
        session_id,
        path="/console/",
        httponly=True,
        samesite="Strict",
        secure=is_https(request),
    )  # no Max-Age: the browser forgets it when closed; the idle timeout is kept on the server


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/console/")


def actor_for(request: web.Request, session: Any, now: datetime | None = None) -> Actor:
    """The viewer as an :class:`Actor` of the shared rules, in ``session``'s transaction."""
    viewer = viewer_of(request)
    return Actor(
        session=session,
        person=viewer.person,
        policy=context_of(request).policy,
        now=now or utcnow(),
        via="console",
    )


def require_office(request: web.Request) -> web.Response | None:
    if viewer_of(request).is_office:
        return None
    return refuse(request, 403, "此页面仅限办公室成员使用。")


async def form_of(request: web.Request) -> Mapping[str, Any]:
    """The POSTed form (checked for CSRF by the middleware before the handler runs)."""
    return await request.post()


@web.middleware
async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPNotFound:
        response = refuse(request, 404, "页面不存在，或您无权查看。")
    except web.HTTPException as exc:
        response = exc
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # A sign-in link's token never leaves for another site in a Referer; our own POSTs keep a real Origin.
    response.headers["Referrer-Policy"] = "same-origin"
    if request.match_info.route.name != "static":
        response.headers["Cache-Control"] = "no-store"
    if isinstance(response, web.HTTPException):
        raise response
    return response


def foreign_origin(request: web.Request) -> bool:
    """A POST whose ``Origin`` names another host, or hides it (``null``, as a page with ``no-referrer`` sends):
    a page elsewhere submitting a form here. Browsers send ``Origin`` with every form POST; a client that sends
    none is left to the CSRF token."""
    origin = request.headers.get("Origin")
    if not origin or request.method != "POST":
        return False
    if origin == "null":
        return True
    try:
        return URL(origin).host != URL(f"//{request.host}").host
    except ValueError:
        return True


@web.middleware
async def signed_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Pages need a live session; POSTs need its CSRF token as well, and must come from our own pages."""
    if foreign_origin(request):
        log.warning("console form refused: posted from another site to %s", request.path)
        return refuse(request, 403, CSRF_REFUSED)
    if request.method == "POST":
        try:
            await request.post()  # parsed once here; handlers read the cached form
        except (ValueError, UnicodeDecodeError):
            return refuse(request, 400, "提交的内容无法识别（编码或格式有误），未执行任何操作。")
    if request.match_info.route.name in PUBLIC:
        return await handler(request)
    ctx = context_of(request)
    cookie = request.cookies.get(COOKIE, "")
    async with ctx.db.transaction() as session:
        row = await live_session(session, cookie, now=utcnow()) if cookie else None
    if row is None:
        if request.method == "GET":
            return render(request, "signed_out.html.j2", status=401)
        return refuse(request, 401, "登录已失效，请重新获取登录链接。")
    request[VIEWER] = Viewer(person=row.person, session=row)
    if request.method == "POST":
        form = await request.post()
        token = form.get("csrf")
        if not isinstance(token, str) or not hmac.compare_digest(token, row.csrf_token):
            log.warning("console form refused: missing or wrong CSRF token on %s", request.path)
            return refuse(request, 403, CSRF_REFUSED)
    return await handler(request)
