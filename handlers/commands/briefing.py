"""``周报`` / ``通报``: the office adds items to, previews and sends the weekly briefing and the monthly circular.

- ``周报 添加 内容`` — an item for the 下周安排 of the next briefing not yet sent;
- ``周报 预览`` — the next briefing as it would be posted now, with the items' numbers;
- ``周报 发送`` — post this week's briefing now: it takes this week's occurrence claim, so the scheduled run
  (Monday 09:00, or the first working day) does not post it again;
- ``周报 撤回 编号`` — withdraw an item not yet sent.

``通报`` does the same for the monthly circular of the current month.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from handlers.commands.registry import CommandContext, command, normalize
from schedules import claims
from schedules.context import ScheduleEnv
from schedules.dates import day_label, moment_label
from schedules.drafts import MAX_DRAFT_CHARS, DraftKind, add_draft, pending_drafts, withdraw_draft
from schedules.job import Job, JobSettings
from schedules.jobs import Manual, occur
from schedules.kinds import monthly_circular, weekly_briefing
from schedules.occurrences import Occurrence
from storage.outbound import quote

ADD_WORDS = ("添加", "增加", "新增", "add")
PREVIEW_WORDS = ("预览", "查看", "preview")
SEND_WORDS = ("发送", "发布", "send")
WITHDRAW_WORDS = ("撤回", "删除", "withdraw")


@dataclass(frozen=True)
class Briefing:
    """What differs between 周报 and 通报."""

    word: str
    declared: Job[JobSettings]
    kind: DraftKind
    section: str  # where drafted items appear
    this: str  # 本周 / 本月

    def current(self, env: ScheduleEnv, ctx: CommandContext) -> Occurrence:
        today = ctx.now.astimezone(env.policy.tz).date()
        if self.kind == "weekly":
            return weekly_briefing.week_occurrence(env.planner, today)
        return monthly_circular.month_occurrence(env.planner, today)

    def following(self, env: ScheduleEnv, occurrence: Occurrence) -> Occurrence:
        if self.kind == "weekly":
            return weekly_briefing.week_occurrence(env.planner, occurrence.nominal + timedelta(days=7))
        return monthly_circular.month_occurrence(env.planner, occurrence.nominal.replace(day=28) + timedelta(days=4))

    @property
    def job(self) -> str:
        return self.declared.name

    @property
    def title(self) -> str:
        return self.declared.title

    @property
    def usage(self) -> str:
        w = self.word
        return (
            f"{w}命令用法：\n"
            f"- {w} 添加 内容：在下一期{self.title}的“{self.section}”中补充事项\n"
            f"- {w} 预览：查看下一期{self.title}的全文\n"
            f"- {w} 发送：立即发送{self.this}的{self.title}（届时不再重复发送）\n"
            f"- {w} 撤回 编号：撤回尚未发送的补充事项"
        )


WEEKLY = Briefing("周报", weekly_briefing.JOB, "weekly", "下周安排", "本周")
MONTHLY = Briefing("通报", monthly_circular.JOB, "monthly", "下月安排", "本月")


async def _next_unsent(ctx: CommandContext, env: ScheduleEnv, briefing: Briefing) -> Occurrence:
    """This week's (month's) briefing if it is still to come, else the following one."""
    current = briefing.current(env, ctx)
    if current.at > ctx.now and await claims.claim_of(ctx.session, briefing.job, current.at) is None:
        return current
    return briefing.following(env, current)


def _when(occurrence: Occurrence, env: ScheduleEnv) -> str:
    if occurrence.skipped:
        return f"{day_label(occurrence.nominal)}所在周期（按设置不自动发送，可用“发送”命令手动发送）"
    return moment_label(occurrence.at, env.policy.tz)


def _split(ctx: CommandContext) -> tuple[str, str]:
    """(sub-command word, the rest as written)."""
    words = normalize(ctx.args).split(" ", 1)
    sub = words[0] if words else ""
    rest = re.sub(rf"^\s*{re.escape(sub)}[\s:：,，]*", "", ctx.raw_args, flags=re.IGNORECASE) if sub else ""
    return sub, rest.strip()


async def _add(ctx: CommandContext, env: ScheduleEnv, briefing: Briefing, text: str) -> None:
    if not text:
        ctx.reply(f"请写明补充事项的内容，例如：{briefing.word} 添加 11月20日召开第三季度联席会议。")
        ctx.audit(briefing.word, "添加：内容为空", "invalid")
        return
    if len(text) > MAX_DRAFT_CHARS:
        ctx.reply(f"补充事项请控制在{MAX_DRAFT_CHARS}字以内（当前{len(text)}字），可分条添加。")
        ctx.audit(briefing.word, f"添加：超长（{len(text)}字）", "invalid")
        return
    target = await _next_unsent(ctx, env, briefing)
    draft = await add_draft(
        ctx.session, briefing.kind, target.subject, text, person=ctx.person, now=ctx.now, inbox_id=ctx.inbox.id
    )
    where = f"{_when(target, env)}{briefing.title}的“{briefing.section}”"
    ctx.reply(
        f"已记入{where}（编号{draft.id}）：{quote(text, max_chars=80)}\n"
        f"发送“{briefing.word} 预览”可查看全文，“{briefing.word} 撤回 {draft.id}”可撤回。"
    )
    ctx.audit(briefing.word, f"添加 #{draft.id}（{target.subject}）：{text[:200]}")


async def _preview(ctx: CommandContext, env: ScheduleEnv, briefing: Briefing) -> None:
    target = await _next_unsent(ctx, env, briefing)
    composition = await briefing.declared.compose(ctx.session, env, target.at, late=False, now=max(target.at, ctx.now))
    drafts = await pending_drafts(ctx.session, briefing.kind, target.subject)
    if not composition.deliveries:
        ctx.reply(f"{briefing.title}暂无可发送的群：{composition.note}")
        ctx.audit(briefing.word, f"预览 {target.subject}：无目标群", "no_groups")
        return
    groups = "、".join(delivery.group.name for delivery in composition.deliveries)
    lines = [f"【预览】{briefing.title}，将于{_when(target, env)}发送至{groups}（尚未发送）：", ""]
    lines.append(composition.deliveries[0].message.body)
    if drafts:
        lines += ["", "补充事项编号（可用“撤回 编号”撤回）："]
        lines += [f"- {draft.id}：{quote(draft.text, max_chars=60)}（{quote(draft.author)}）" for draft in drafts]
    ctx.reply("\n".join(lines), title=f"{briefing.title}预览")
    ctx.audit(briefing.word, f"预览 {target.subject}")


async def _send(ctx: CommandContext, env: ScheduleEnv, briefing: Briefing) -> None:
    current = briefing.current(env, ctx)
    manual = Manual(by=f"command:{ctx.inbox.id}", note=f"{ctx.person.name}通过“{briefing.word} 发送”发送")
    outcome = await occur(ctx.session, env, briefing.job, current.at, by=manual.by, now=ctx.now, manual=manual)
    if outcome.status == "taken":
        when = moment_label(outcome.claimed_at, env.policy.tz) if outcome.claimed_at else "此前"
        ctx.reply(f"{briefing.this}{briefing.title}已于{when}发送，未重复发送。")
        ctx.audit(briefing.word, f"发送 {current.subject}：已发送过", "already_sent")
        return
    if outcome.status != "posted":
        ctx.reply(f"{briefing.title}未发送：{outcome.note}")
        ctx.audit(briefing.word, f"发送 {current.subject}：无目标群", "no_groups")
        return
    groups = outcome.groups
    scheduled = "" if current.skipped else f"，{moment_label(current.at, env.policy.tz)}不再重复发送"
    ctx.reply(f"已发送{briefing.this}{briefing.title}至{'、'.join(groups)}（共{len(groups)}个群）{scheduled}。")
    ctx.audit(briefing.word, f"发送 {current.subject}：{len(groups)}个群，{outcome.note}")


async def _withdraw(ctx: CommandContext, briefing: Briefing, argument: str) -> None:
    number = normalize(argument).lstrip("#＃")
    if not number.isdigit():
        ctx.reply(f"请写明要撤回的补充事项编号，例如：{briefing.word} 撤回 12（编号见“{briefing.word} 预览”）。")
        ctx.audit(briefing.word, f"撤回：{argument[:50]}", "invalid")
        return
    draft = await withdraw_draft(ctx.session, briefing.kind, int(number), now=ctx.now)
    if draft is None:
        ctx.reply(f"没有可撤回的补充事项（编号{number}）：可能编号有误、已随{briefing.title}发送或已撤回。")
        ctx.audit(briefing.word, f"撤回 #{number}", "not_found")
        return
    ctx.reply(f"已撤回补充事项（编号{draft.id}）：{quote(draft.text, max_chars=80)}")
    ctx.audit(briefing.word, f"撤回 #{draft.id}")


async def _run(ctx: CommandContext, briefing: Briefing) -> None:
    env = ScheduleEnv.of(ctx.policy)
    sub, rest = _split(ctx)
    sub = sub.lower()
    if sub in ADD_WORDS:
        await _add(ctx, env, briefing, rest)
    elif sub in PREVIEW_WORDS:
        await _preview(ctx, env, briefing)
    elif sub in SEND_WORDS:
        await _send(ctx, env, briefing)
    elif sub in WITHDRAW_WORDS:
        await _withdraw(ctx, briefing, rest)
    else:
        ctx.reply(briefing.usage)
        ctx.audit(briefing.word, ctx.args[:100], "usage")


@command(
    "周报",
    "/weekly",
    usage="周报 添加 内容｜周报 预览｜周报 发送｜周报 撤回 编号",
    summary="补充、预览或立即发送每周工作通报",
    office_only=True,
)
async def weekly(ctx: CommandContext) -> None:
    await _run(ctx, WEEKLY)


@command(
    "通报",
    "/circular",
    usage="通报 添加 内容｜通报 预览｜通报 发送｜通报 撤回 编号",
    summary="补充、预览或立即发送月度工作通报",
    office_only=True,
)
async def circular(ctx: CommandContext) -> None:
    await _run(ctx, MONTHLY)
