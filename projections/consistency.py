"""Read-your-writes: what a command's consistency token names, and whether a read model has passed it.

This is the one place that knows the token's format. Today a token is `<topic>:<partition>:<offset>`, the
offset of the command's last event (Kafka backend), or `embedded:<notification id>` (embedded backend).
Checkpoints are the offset of the last event a read model applied, per (topic, partition); the embedded
backend reports its position as the checkpoint of ("embedded", 0).
"""

from collections.abc import Mapping
from dataclasses import dataclass

EMBEDDED = "embedded"


@dataclass(frozen=True)
class Position:
    """A place in the event log: the command's last event sits here."""

    topic: str
    partition: int
    offset: int


class InvalidToken(ValueError):
    """The text is not a consistency token this platform gives out."""


def parse_token(token: str) -> Position:
    parts = token.split(":")
    try:
        if len(parts) == 2 and parts[0] == EMBEDDED:
            return Position(EMBEDDED, 0, _non_negative(parts[1]))
        if len(parts) == 3 and parts[0].endswith(".events"):
            return Position(parts[0], _non_negative(parts[1]), _non_negative(parts[2]))
    except ValueError:
        pass
    raise InvalidToken(f"{token!r} is not a consistency token (use the one a command answered with)")


def has_passed(position: Position, checkpoints: Mapping[tuple[str, int], int], topics: frozenset[str]) -> bool:
    """True once the read model, fed from `topics`, has applied the event at the position.

    A token from a topic the model does not read (an inventory command, asked of an order query) has
    nothing to wait for.
    """
    if position.topic not in topics:
        return True
    return checkpoints.get((position.topic, position.partition), -1) >= position.offset


def _non_negative(text: str) -> int:
    if not text.isdigit():
        raise ValueError(text)
    return int(text)
