"""Each channel's send limits, as rate policies over the send log (PLATFORMS.md, "rate limits summed up").

| channel            | per rate key                                        |
| ------------------ | --------------------------------------------------- |
| wecom_webhook      | 20/min per robot (group ``rate_per_minute`` overrides) |
| dingtalk_robot     | 20/min per robot (override as above)                |
| feishu_bot         | 100/min and 5/s per bot (override: the per-minute)  |
| wecom_app          | 30/min per member                                   |
| dingtalk_session   | 20/min per conversation (conservative)              |
| dingtalk_app       | as dingtalk_session (its rows share the session's key) |
| wecom_response_url | one request, ever                                   |
| wecom_bot_ws       | 20/min per chat (the platform's is unpublished)     |
| feishu_reply       | 5/s per chat (Feishu's per-chat bot limit)          |
| sandbox            | none                                                |

Replies are keyed by their own route, so they never use up a group robot's budget.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.config import GroupConfig
from storage.outbox_claim import Claim
from storage.ratelimit import UNLIMITED, RatePolicy, Window

ROBOT_PER_MINUTE = 20
FEISHU_PER_MINUTE = 100
FEISHU_PER_SECOND = 5
WECOM_APP_PER_MINUTE = 30
SESSION_PER_MINUTE = 20


def policy_for(row: Claim, groups: Mapping[str, GroupConfig]) -> RatePolicy:
    """The limits that apply to ``row``'s rate key."""
    group = groups.get(str(row.address.get("group") or row.target))
    override = group.rate_per_minute if group is not None else None
    match row.channel:
        case "wecom_webhook" | "dingtalk_robot":
            return RatePolicy((Window(override or ROBOT_PER_MINUTE, 60),))
        case "feishu_bot":
            return RatePolicy((Window(override or FEISHU_PER_MINUTE, 60), Window(FEISHU_PER_SECOND, 1)))
        case "wecom_app":
            return RatePolicy((Window(WECOM_APP_PER_MINUTE, 60),))
        case "dingtalk_session" | "dingtalk_app":
            return RatePolicy((Window(SESSION_PER_MINUTE, 60),))
        case "wecom_response_url":
            return RatePolicy(once=True)
        case "wecom_bot_ws":
            return RatePolicy((Window(ROBOT_PER_MINUTE, 60),))
        case "feishu_reply":
            return RatePolicy((Window(FEISHU_PER_SECOND, 1),))
        case "sandbox":
            return UNLIMITED
    return RatePolicy((Window(ROBOT_PER_MINUTE, 60),))
