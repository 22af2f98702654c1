"""The Kafka headers every stored event carries: its type, and the offset of the command that produced it."""

from collections.abc import Iterable, Mapping
from typing import Any

EVENT_TYPE = "event_type"
COMMAND_OFFSET = "command_offset"  # in the command's partition of `<context>.commands`, which is the event's too


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
