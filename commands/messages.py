"""Command messages: what a caller asks a context to do, and the envelope that travels with it."""

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from domain.values import OrderLine


@dataclass(frozen=True)
class Envelope:
    """Routing and tracing data for one command; sagas set correlation, causation and reply-to."""

    command_id: UUID
    issued_at: datetime
    correlation_id: UUID
    causation_id: UUID | None = None
    reply_to: str | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None  # what the key was first used for, to refuse a reuse for another request


@dataclass(frozen=True)
class PlaceOrder:
    """Place a new order for a customer."""

    order_id: UUID
    customer_id: UUID
    currency: str
    lines: list[OrderLine] = field(default_factory=list)

    context = "orders"

    @property
    def aggregate_id(self) -> UUID:
        return self.order_id


Command = PlaceOrder
