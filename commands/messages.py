"""Command messages: what a caller asks a context to do, and the envelope that travels with it."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from domain.inventory import stock_item_id
from domain.values import OrderLine, ShipmentLine


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
    principal: str | None = None  # who asked (the authenticated caller's name); the events record it


class _OrderCommand:
    """A command to the orders context, addressed by order id."""

    context: ClassVar[str] = "orders"
    order_id: UUID

    @property
    def aggregate_id(self) -> UUID:
        return self.order_id


class _StockCommand:
    """A command to the inventory context, addressed by SKU (a stock item's id derives from it)."""

    context: ClassVar[str] = "inventory"
    sku: str

    @property
    def aggregate_id(self) -> UUID:
        return stock_item_id(self.sku)


class _PaymentCommand:
    """A command to the payments context, addressed by payment id."""

    context: ClassVar[str] = "payments"
    payment_id: UUID

    @property
    def aggregate_id(self) -> UUID:
        return self.payment_id


class _ShipmentCommand:
    """A command to the shipping context, addressed by shipment id."""

    context: ClassVar[str] = "shipping"
    shipment_id: UUID

    @property
    def aggregate_id(self) -> UUID:
        return self.shipment_id


# orders


@dataclass(frozen=True)
class PlaceOrder(_OrderCommand):
    """Place a new order for a customer."""

    order_id: UUID
    customer_id: UUID
    currency: str
    lines: list[OrderLine] = field(default_factory=list)


@dataclass(frozen=True)
class CancelOrder(_OrderCommand):
    """Cancel an order that is not yet confirmed."""

    order_id: UUID
    reason: str


@dataclass(frozen=True)
class ConfirmOrder(_OrderCommand):
    """Confirm an order whose stock, payment and shipment are in place (sent by the fulfilment saga)."""

    order_id: UUID


@dataclass(frozen=True)
class RejectOrder(_OrderCommand):
    """Reject an order that cannot be fulfilled (sent by the fulfilment saga)."""

    order_id: UUID
    reason: str


# inventory: a stock item is addressed by its SKU


@dataclass(frozen=True)
class RestockItem(_StockCommand):
    """Stock of a SKU arrived; the first restock makes the SKU known."""

    sku: str
    quantity: int


@dataclass(frozen=True)
class ReserveStock(_StockCommand):
    """Set stock of a SKU aside for an order (a no-op when the order already holds it)."""

    sku: str
    order_id: UUID
    quantity: int


@dataclass(frozen=True)
class ReleaseStock(_StockCommand):
    """Give an order's reservation of a SKU back (compensation)."""

    sku: str
    order_id: UUID


@dataclass(frozen=True)
class CommitStock(_StockCommand):
    """An order's reserved stock of a SKU leaves the warehouse."""

    sku: str
    order_id: UUID


# payments: the simulated gateway answers a request with an authorise or decline command of its own


@dataclass(frozen=True)
class RequestPayment(_PaymentCommand):
    """Ask for an order's amount to be authorised; the gateway's answer follows as another command."""

    payment_id: UUID
    order_id: UUID
    amount_cents: int
    currency: str


@dataclass(frozen=True)
class AuthorisePayment(_PaymentCommand):
    """The gateway approved a requested payment (sent by the gateway adapter)."""

    payment_id: UUID
    authorisation_code: str


@dataclass(frozen=True)
class DeclinePayment(_PaymentCommand):
    """The gateway declined a requested payment (sent by the gateway adapter)."""

    payment_id: UUID
    reason: str


@dataclass(frozen=True)
class CapturePayment(_PaymentCommand):
    """Take the authorised amount."""

    payment_id: UUID


@dataclass(frozen=True)
class VoidPayment(_PaymentCommand):
    """Let an authorisation go without taking the money (compensation)."""

    payment_id: UUID


@dataclass(frozen=True)
class RefundPayment(_PaymentCommand):
    """Give captured money back, in part or whole."""

    payment_id: UUID
    amount_cents: int


# shipping


@dataclass(frozen=True)
class ScheduleShipment(_ShipmentCommand):
    """Plan a shipment of an order's goods."""

    shipment_id: UUID
    order_id: UUID
    lines: list[ShipmentLine] = field(default_factory=list)


@dataclass(frozen=True)
class DispatchShipment(_ShipmentCommand):
    """The parcel left with a carrier."""

    shipment_id: UUID
    carrier: str
    tracking_code: str


@dataclass(frozen=True)
class CancelShipment(_ShipmentCommand):
    """Call off a shipment that has not left yet (compensation)."""

    shipment_id: UUID
    reason: str


Command = (
    PlaceOrder
    | CancelOrder
    | ConfirmOrder
    | RejectOrder
    | RestockItem
    | ReserveStock
    | ReleaseStock
    | CommitStock
    | RequestPayment
    | AuthorisePayment
    | DeclinePayment
    | CapturePayment
    | VoidPayment
    | RefundPayment
    | ScheduleShipment
    | DispatchShipment
    | CancelShipment
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
    RequestPayment,
    AuthorisePayment,
    DeclinePayment,
    CapturePayment,
    VoidPayment,
    RefundPayment,
    ScheduleShipment,
    DispatchShipment,
    CancelShipment,
)
