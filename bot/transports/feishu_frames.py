"""The Feishu long connection's frames: protobuf ``pbbp2.Frame`` (lark-oapi's ``ws/pb/pbbp2.proto``).

``Frame {uint64 SeqID = 1; uint64 LogID = 2; int32 service = 3; int32 method = 4; repeated Header headers = 5;
string payload_encoding = 6; string payload_type = 7; bytes payload = 8; string LogIDNew = 9}`` and
``Header {string key = 1; string value = 2}``. ``method`` 0 is a CONTROL frame (``type`` ping / pong), 1 a DATA
frame (``type`` event, with ``message_id``, ``sum``, ``seq``, ``trace_id``). The message classes are built
from this description with the protobuf library at import (no generated module to keep in step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

CONTROL = 0
DATA = 1


def _frame_class() -> Any:
    proto = descriptor_pb2.FileDescriptorProto(name="duban_pbbp2.proto", package="duban_pbbp2", syntax="proto2")
    header = proto.message_type.add(name="Header")
    for number, name in ((1, "key"), (2, "value")):
        header.field.add(name=name, number=number, type=9, label=2)  # string, required
    frame = proto.message_type.add(name="Frame")
    fields = (
        (1, "SeqID", 4, 2),  # uint64, required
        (2, "LogID", 4, 2),
        (3, "service", 5, 2),  # int32
        (4, "method", 5, 2),
        (5, "headers", 11, 3),  # message, repeated
        (6, "payload_encoding", 9, 1),  # string, optional
        (7, "payload_type", 9, 1),
        (8, "payload", 12, 1),  # bytes
        (9, "LogIDNew", 9, 1),
    )
    for number, name, kind, label in fields:
        added = frame.field.add(name=name, number=number, type=kind, label=label)
        if kind == 11:
            added.type_name = ".duban_pbbp2.Header"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("duban_pbbp2.Frame"))


_FRAME = _frame_class()


@dataclass
class Frame:
    method: int
    service: int
    headers: dict[str, str] = field(default_factory=dict)
    payload: bytes = b""
    seq_id: int = 0
    log_id: int = 0

    def encode(self) -> bytes:
        message = _FRAME(SeqID=self.seq_id, LogID=self.log_id, service=self.service, method=self.method)
        for key, value in self.headers.items():
            message.headers.add(key=key, value=value)
        if self.payload:
            message.payload = self.payload
        return bytes(message.SerializeToString())

    @classmethod
    def decode(cls, data: bytes) -> Frame:
        """Raises ``ValueError`` for bytes that are not a frame."""
        message = _FRAME()
        try:
            message.ParseFromString(data)
        except Exception as exc:  # protobuf's DecodeError, or a missing required field
            raise ValueError("not a pbbp2 frame") from exc
        return cls(
            method=int(message.method),
            service=int(message.service),
            headers={header.key: header.value for header in message.headers},
            payload=bytes(message.payload),
            seq_id=int(message.SeqID),
            log_id=int(message.LogID),
        )
