"""``文档 种类 [期别]`` / ``/doc``: the office asks for a Word document (月度通报, 快报, 季度通报, 半年评估报告).

The document is made by the same service as ``duban doc`` (:mod:`schedules.documents.service`) and kept under
``[documents] output_dir``. Where the platform can send a file back (:mod:`handlers.file_replies`), the answer
announces it and the file follows through the outbox (kept in the blob store until it is sent); otherwise — and
instead of a file that cannot go after all — the answer says where to get it: the console's 文档 page when the
console is on, the file kept on the server, and the command that makes it again.
"""

from __future__ import annotations

from pathlib import Path

from handlers.commands.arguments import period_argument
from handlers.commands.registry import CommandContext, command
from handlers.file_replies import enqueue_file, file_route
from schedules.documents import service
from schedules.documents.charts import ChartFontMissing
from schedules.documents.letterhead import TemplateError
from schedules.documents.service import KIND_WORDS, DocumentRequest, Kind
from schedules.documents.spans import month_span

USAGE = (
    "文档命令用法（生成 Word 公文）：\n"
    "- 文档 通报 [期别]：月度通报，如“文档 通报 2026-11”（不写期别即当前报送期）\n"
    "- 文档 快报 [期别]：各成员单位工作进展快报\n"
    "- 文档 季度通报 2026Q4：季度通报\n"
    "- 文档 评估报告 2026H2：半年评估报告"
)
SPAN_FLAGS = {Kind.CIRCULAR: "--period", Kind.FLASH: "--period", Kind.QUARTERLY: "--quarter", Kind.EVALUATION: "--half"}


def fetch_command(request: DocumentRequest, filename: str) -> str:
    return f"duban doc {request.kind.value} {SPAN_FLAGS[request.kind]} {request.span.key} -o {filename}"


NO_FILES = "当前群聊平台暂不支持由机器人直接发送文件"


def where_to_get(console_url: str, path: Path, command: str) -> str:
    """The lines that say where the office gets the file, console first when it is on."""
    lines = ["请通过以下方式获取："]
    if console_url:
        lines.append(f"- 登录网页控制台“文档”页面下载：{console_url}documents")
    lines.append(f"- 文件已保存在服务器：{path}")
    lines.append(f"- 也可在服务器上运行：{command}")
    return "\n".join(lines)


@command("文档", "/doc", usage="文档 种类 [期别]", summary="生成 Word 公文：月度通报、快报、季度通报、半年评估报告")
async def document(ctx: CommandContext) -> None:
    word, _, rest = ctx.args.partition(" ")
    kind = KIND_WORDS.get(word.lower())
    if kind is None:
        ctx.reply(USAGE)
        ctx.audit("文档", ctx.args[:100], "usage")
        return
    if kind in (Kind.CIRCULAR, Kind.FLASH):
        period = period_argument(ctx, rest, action="文档")
        if period is None:
            return
        span = month_span(period)
    else:
        try:
            span = service.parse_span(kind, rest)
        except ValueError as exc:
            ctx.reply(f"{exc}\n\n{USAGE}")
            ctx.audit("文档", ctx.args[:100], "invalid")
            return
    request = DocumentRequest(kind, span, ctx.now.astimezone(ctx.policy.tz).date())
    try:
        built = await service.build_document(ctx.session, ctx.policy, request, ctx.now)
    except (TemplateError, ChartFontMissing) as exc:
        ctx.reply(f"未能生成{kind.label}：{exc}请联系系统管理员。")
        ctx.audit("文档", f"{kind.label} {span.key}：{exc}", "failed")
        return
    path = service.keep(built, ctx.policy, ctx.now)
    made = f"已生成{kind.label}《{built.title}》（Word 文件，{built.size_kb} KB；{built.summary}）。"
    where = where_to_get(ctx.policy.console_url, path, fetch_command(request, Path(built.filename).name))
    route = await file_route(ctx.session, ctx.inbox, ctx.policy.file_routes)
    if route is None:
        ctx.reply(f"{made}\n{NO_FILES}，{where}", keep_links=True)
        ctx.audit(service.AUDIT_ACTION, service.audit_detail(built))
        return
    ctx.reply(made + route.announce)
    await enqueue_file(
        ctx.session, ctx.inbox, route, ctx.policy.file_routes, content=built.content, name=built.filename, instead=where
    )
    ctx.audit(service.AUDIT_ACTION, service.audit_detail(built))
