"""Read-your-writes: what a command's consistency token names, and whether a read model has passed it.

This is the one place that knows the token's format. On the Kafka backend a token is
`<context>.commands:<partition>:<offset>`, the command's own offset: every event carries the offset of the
command that produced it, and a read model's checkpoint records, per events partition, the highest command
offset among the events it applied, reported as the position of (`<context>.commands`, partition). (Tokens
of the older form `<context>.events:<partition>:<offset>` name an event's offset and are still understood.)
The embedded backend's token is `embedded:<notification id>`, its position that of ("embedded", 0).
"""

from collections.abc import Mapping
from dataclasses import dataclass

EMBEDDED = "embedded"


@dataclass(frozen=True)
class Position:
    """A place in the log: a command's offset (its events carry it), or an event's own offset."""

    topic: str
    partition: int
    offset: int


class InvalidToken(ValueError):
    """The text is not a consistency token this platform gives out."""


def command_token(commands_topic: str, partition: int, offset: int) -> str:
    """The token of a command that produced events: read models have passed it once they applied them."""
    return f"{commands_topic}:{partition}:{offset}"


def passed_topics(context: str) -> frozenset[str]:
    """The positions a read model fed by `context` reports: its events and the commands behind them."""
    return frozenset({f"{context}.events", f"{context}.commands", EMBEDDED})


def parse_token(token: str) -> Position:
    parts = token.split(":")
    try:
        if len(parts) == 2 and parts[0] == EMBEDDED:
            return Position(EMBEDDED, 0, _non_negative(parts[1]))
        if len(parts) == 3 and parts[0].endswith((".commands", ".events")):
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
