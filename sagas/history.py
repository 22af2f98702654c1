"""A saga instance's own events: its only state, kept in its own stream (inbox and outbox in one)."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.values import OrderLine

# Where an instance stands.
RUNNING = "running"
COMPENSATING = "compensating"
COMPLETED = "completed"
COMPENSATED = "compensated"
STUCK = "stuck"
STATUSES = (RUNNING, COMPENSATING, COMPLETED, COMPENSATED, STUCK)
FINISHED = frozenset({COMPLETED, COMPENSATED})


class SagaEvent:
    """Something an instance recorded; `Recorded` stamps it with the instance, version, time and cause."""


@dataclass(frozen=True)
class FulfilmentStarted(SagaEvent):
    """An order was placed: its fulfilment begins with what it needs to reserve, charge and ship."""

    order_id: UUID
    customer_id: UUID
    currency: str
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True)
class CommandSent(SagaEvent):
    """A step's command went to its context (attempt 1, or a resend of the same command id)."""

    step: str
    command_id: UUID
    command_type: str
    attempt: int
    retry_at: datetime  # when to send it again if no answer has come by then


@dataclass(frozen=True)
class ReplyReceived(SagaEvent):
    """What a context answered to one of our commands (or to the gateway's answer to one)."""

    step: str
    command_id: UUID
    command_type: str
    status: str
    rule: str = ""
    message: str = ""
    detail: str = ""  # the command's own reason, e.g. why the gateway declined


@dataclass(frozen=True)
class CommandUnanswered(SagaEvent):
    """A step's command got no answer after every attempt: the saga stops waiting for it."""

    step: str
    attempts: int


@dataclass(frozen=True)
class EventObserved(SagaEvent):
    """An event of another context that concerns the instance, e.g. the customer cancelled the order."""

    event_type: str
    detail: str = ""


@dataclass(frozen=True)
class DeadlineSet(SagaEvent):
    """A named deadline: if it passes before it is cleared, the saga is told."""

    name: str
    due: datetime


@dataclass(frozen=True)
class DeadlineReached(SagaEvent):
    """A deadline passed while it was still set."""

    name: str


@dataclass(frozen=True)
class DeadlineCleared(SagaEvent):
    """What a deadline waited for happened in time."""

    name: str


@dataclass(frozen=True)
class StatusChanged(SagaEvent):
    """The instance moved on: its status, the step it is in, and why."""

    status: str
    step: str
    reason: str = ""


@dataclass(frozen=True)
class OperatorActed(SagaEvent):
    """An operator asked to retry a stuck instance or abort one (`accepted` false: it could not be done)."""

    action: str
    by: str
    accepted: bool = True
    reason: str = ""


@dataclass(frozen=True)
class Recorded:
    """One event of an instance's stream: versions start at 1 and have no gaps."""

    saga_id: UUID
    version: int
    at: datetime
    cause_id: UUID | None  # the message that led to it; None for a timer
    event: SagaEvent
