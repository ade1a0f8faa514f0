"""What the bot says about files: confirmations naming each file and its size, refusals, losses, advice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from handlers.texts import moment
from storage.file_names import human_size
from storage.models import FileState, StoredFile
from storage.outbound import quote

SEND_ONE_TO_ONE = (
    "您好！群聊中无法向本机器人发送文件（平台仅在单聊中投递文件）。"
    "请在单聊（私聊）中把文件直接发给本机器人，发送后即登记为本单位的报送材料；"
    "若已在群里以文字说明“见附件”，请在10分钟内把文件单聊发来，将并入同一版报送。"
)
SEND_HERE = (
    "您好！请在本对话中直接发送文件（Word、PDF、Excel 等），无需其他操作；"
    "文件将登记为本单位的报送材料，接收后会告知文件名和大小。单个文件不超过50 MB。"
)
NOTE_SEND_FILE_ONE_TO_ONE = "注意：群聊中的附件无法送达本机器人，请在单聊中把文件直接发给本机器人。"


def file_line(file: StoredFile, max_megabytes: float) -> str:
    name = f"《{quote(file.name)}》"
    if file.state is FileState.STORED:
        extracted = "，已提取文字" if file.text else ""
        return f"- {name}（{human_size(file.size)}）已存档{extracted}"
    if file.state is FileState.REFUSED:
        return f"- {name}超过{max_megabytes:.3g} MB 的大小上限，未能接收。请压缩或拆分后重新发送。"
    return f"- {name}未能接收（{file.reason}）。请您重新发送该文件。"


def files_settled(lead: str, files: Sequence[StoredFile], max_megabytes: float) -> str:
    lines = [lead] if lead else []
    lines.append("附件接收情况：")
    lines += [file_line(file, max_megabytes) for file in files]
    return "\n".join(lines)


def office_file_problem(file: StoredFile, sender: str, unit: str, tz: tzinfo, max_megabytes: float) -> str:
    what = (
        f"超过{max_megabytes:.3g} MB 上限，已拒收"
        if file.state is FileState.REFUSED
        else f"未能从平台取回，已记为丢失（{file.reason}）"
    )
    return (
        f"**文件未能接收**\n【{quote(unit)}】{quote(sender)}于{moment(file.received_at, tz)}发送的"
        f"《{quote(file.name)}》{what}。已请发送人重新发送。（文件编号 {file.id}）"
    )
