"""What reaches a saga instance: domain events, replies to its commands, its timer, and operators."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

RETRY = "retry"
ABORT = "abort"


@dataclass(frozen=True)
class Reply:
    """What became of a command the saga sent; `detail` carries the command's own reason, if any."""

    command_id: UUID
    command_type: str
    status: str
    rule: str = ""
    message: str = ""
    detail: str = ""


@dataclass(frozen=True)
class TimerFired:
    """The instance's earliest deadline or retry is due: the saga looks at what is owed by `now`."""


@dataclass(frozen=True)
class OperatorRequest:
    """An operator's action on one instance: retry (resume a stuck one) or abort (compensate now)."""

    action: str
    by: str


@dataclass(frozen=True)
class Incoming:
    """A message for one instance: `message_id` de-duplicates redeliveries; `at` is when it is handled."""

    saga_id: UUID
    message_id: UUID
    at: datetime
    body: Any  # a domain event, Reply, TimerFired or OperatorRequest
