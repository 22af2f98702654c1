"""The shipment aggregate: what leaves the warehouse for an order, and with which carrier."""

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import RuleBroken

# A shipment carries what one order held, so it has the order's bounds.
MAX_LINES = 100
MAX_QUANTITY = 10_000


class Shipment(Aggregate):
    """A shipment for an order; `lines` are {"sku", "quantity"} dicts."""

    class Scheduled(Aggregate.Created):
        order_id: UUID
        lines: list[dict[str, Any]]

    class Dispatched(Aggregate.Event):
        carrier: str
        tracking_code: str

        def apply(self, aggregate: "Shipment") -> None:
            aggregate.status = "dispatched"
            aggregate.carrier = self.carrier
            aggregate.tracking_code = self.tracking_code

    class Cancelled(Aggregate.Event):
        reason: str

        def apply(self, aggregate: "Shipment") -> None:
            aggregate.status = "cancelled"

    def __init__(self, order_id: UUID, lines: list[dict[str, Any]]) -> None:
        self.order_id = order_id
        self.lines = [dict(line) for line in lines]
        self.status = "scheduled"
        self.carrier: str | None = None
        self.tracking_code: str | None = None

    @classmethod
    def schedule(cls, shipment_id: UUID, order_id: UUID, lines: list[tuple[str, int]], at: datetime) -> "Shipment":
        _check_lines(lines)
        return cls._create(
            cls.Scheduled,
            id=shipment_id,
            timestamp=at,
            order_id=order_id,
            lines=[{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        )

    def dispatch(self, carrier: str, tracking_code: str, at: datetime) -> None:
        self._require_scheduled("shipment-dispatchable", "dispatched")
        if not carrier:
            raise RuleBroken("carrier-named", "a dispatch names its carrier", "carrier")
        if not tracking_code:
            raise RuleBroken("tracking-code-given", "a dispatch carries the carrier's tracking code", "tracking_code")
        self.trigger_event(self.Dispatched, timestamp=at, carrier=carrier, tracking_code=tracking_code)

    def cancel(self, reason: str, at: datetime) -> None:
        # Once the parcel has left, only the carrier can bring it back: that is a return, not a cancellation.
        self._require_scheduled("shipment-cancellable", "cancelled")
        self.trigger_event(self.Cancelled, timestamp=at, reason=reason)

    def _require_scheduled(self, rule: str, becoming: str) -> None:
        if self.status != "scheduled":
            raise RuleBroken(rule, f"a shipment that is {self.status} cannot be {becoming}", "status")


def _check_lines(lines: list[tuple[str, int]]) -> None:
    if not lines:
        raise RuleBroken("shipment-has-lines", "a shipment needs at least one line", "lines")
    if len(lines) > MAX_LINES:
        raise RuleBroken("shipment-line-limit", f"a shipment has at most {MAX_LINES} lines", "lines")
    for index, (_sku, quantity) in enumerate(lines):
        if not 0 < quantity <= MAX_QUANTITY:
            field = f"lines[{index}].quantity"
            raise RuleBroken("quantity-in-range", f"{field} must be between 1 and {MAX_QUANTITY}", field)
