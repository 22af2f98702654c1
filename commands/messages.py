"""Command messages: what a caller asks a context to do, and the envelope that travels with it."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from domain.inventory import stock_item_id
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


# orders


@dataclass(frozen=True)
class PlaceOrder:
    """Place a new order for a customer."""

    order_id: UUID
    customer_id: UUID
    currency: str
    lines: list[OrderLine] = field(default_factory=list)

    context: ClassVar[str] = "orders"

    @property
    def aggregate_id(self) -> UUID:
        return self.order_id


@dataclass(frozen=True)
class CancelOrder:
    """Cancel an order that is not yet confirmed."""

    order_id: UUID
    reason: str

    context: ClassVar[str] = "orders"

    @property
    def aggregate_id(self) -> UUID:
        return self.order_id


@dataclass(frozen=True)
class ConfirmOrder:
    """Confirm an order whose stock, payment and shipment are in place (sent by the fulfilment saga)."""

    order_id: UUID

    context: ClassVar[str] = "orders"

    @property
    def aggregate_id(self) -> UUID:
        return self.order_id


@dataclass(frozen=True)
class RejectOrder:
    """Reject an order that cannot be fulfilled (sent by the fulfilment saga)."""

    order_id: UUID
    reason: str

    context: ClassVar[str] = "orders"

    @property
    def aggregate_id(self) -> UUID:
        return self.order_id


# inventory: a stock item is addressed by its SKU


@dataclass(frozen=True)
class RestockItem:
    """Stock of a SKU arrived; the first restock makes the SKU known."""

    sku: str
    quantity: int

    context: ClassVar[str] = "inventory"

    @property
    def aggregate_id(self) -> UUID:
        return stock_item_id(self.sku)


@dataclass(frozen=True)
class ReserveStock:
    """Set stock of a SKU aside for an order (a no-op when the order already holds it)."""

    sku: str
    order_id: UUID
    quantity: int

    context: ClassVar[str] = "inventory"

    @property
    def aggregate_id(self) -> UUID:
        return stock_item_id(self.sku)


@dataclass(frozen=True)
class ReleaseStock:
    """Give an order's reservation of a SKU back (compensation)."""

    sku: str
    order_id: UUID

    context: ClassVar[str] = "inventory"

    @property
    def aggregate_id(self) -> UUID:
        return stock_item_id(self.sku)


@dataclass(frozen=True)
class CommitStock:
    """An order's reserved stock of a SKU leaves the warehouse."""

    sku: str
    order_id: UUID

    context: ClassVar[str] = "inventory"

    @property
    def aggregate_id(self) -> UUID:
        return stock_item_id(self.sku)


Command = (
    PlaceOrder | CancelOrder | ConfirmOrder | RejectOrder | RestockItem | ReserveStock | ReleaseStock | CommitStock
)
COMMAND_TYPES: tuple[type, ...] = (
    PlaceOrder,
    CancelOrder,
    ConfirmOrder,
    RejectOrder,
    RestockItem,
    ReserveStock,
    ReleaseStock,
    CommitStock,
)
