"""The Kafka headers of our records: an event's type and producing command's offset; what a reply answers."""

from collections.abc import Iterable, Mapping
from typing import Any

EVENT_TYPE = "event_type"
COMMAND_OFFSET = "command_offset"  # in the command's partition of `<context>.commands`, which is the event's too


# On an answer sent back to a saga: the command it answers, and that command's reason (a decline's, say).
COMMAND_TYPE = "command_type"
DETAIL = "detail"


def event_headers(event_type: str, command_offset: int) -> list[tuple[str, bytes]]:
    return [(EVENT_TYPE, event_type.encode()), (COMMAND_OFFSET, str(command_offset).encode())]


def command_offset_of(headers: Iterable[tuple[str, Any]] | Mapping[str, Any] | None) -> int:
    """The producing command's offset, or -1 for an event without one (history from before the header, or a
    record an outside client wrote)."""
    if not headers:
        return -1
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        if name == COMMAND_OFFSET and value:
            text = value.decode() if isinstance(value, bytes | bytearray) else str(value)
            return int(text) if text.isdigit() else -1
    return -1


def reply_headers(command_type: str, detail: str) -> list[tuple[str, bytes]]:
    return [(COMMAND_TYPE, command_type.encode()), (DETAIL, detail.encode())]


def header(headers: Iterable[tuple[str, Any]] | None, name: str) -> bytes | None:
    for key, value in headers or ():
        if key == name:
            return value  # type: ignore[no-any-return]
    return None
