"""The order aggregate: what was ordered, by whom, and where the order stands."""

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import RuleBroken
from domain.values import SUPPORTED_CURRENCIES, OrderLine

MAX_LINES = 100
MAX_QUANTITY = 10_000


class Order(Aggregate):
    """An order placed by a customer; its id and the time come from the caller."""

    class Placed(Aggregate.Created):
        customer_id: UUID
        currency: str
        lines: list[dict[str, Any]]

    def __init__(self, customer_id: UUID, currency: str, lines: list[dict[str, Any]]) -> None:
        self.customer_id = customer_id
        self.currency = currency
        self.lines = [OrderLine.from_dict(line) for line in lines]
        self.status = "placed"

    @classmethod
    def place(
        cls,
        *,
        order_id: UUID,
        customer_id: UUID,
        currency: str,
        lines: list[OrderLine],
        at: datetime,
    ) -> "Order":
        _check_lines(lines)
        if currency not in SUPPORTED_CURRENCIES:
            raise RuleBroken("currency-supported", f"currency {currency!r} is not one we sell in", "currency")
        return cls._create(
            cls.Placed,
            id=order_id,
            timestamp=at,
            customer_id=customer_id,
            currency=currency,
            lines=[line.as_dict() for line in lines],
        )

    class Confirmed(Aggregate.Event):
        def apply(self, aggregate: "Order") -> None:
            aggregate.status = "confirmed"

    class Cancelled(Aggregate.Event):
        reason: str

        def apply(self, aggregate: "Order") -> None:
            aggregate.status = "cancelled"

    class Rejected(Aggregate.Event):
        reason: str

        def apply(self, aggregate: "Order") -> None:
            aggregate.status = "rejected"

    def confirm(self, at: datetime) -> None:
        self._require_placed("order-confirmable", "confirmed")
        self.trigger_event(self.Confirmed, timestamp=at)

    def cancel(self, reason: str, at: datetime) -> None:
        self._require_placed("order-cancellable", "cancelled")
        self.trigger_event(self.Cancelled, timestamp=at, reason=reason)

    def reject(self, reason: str, at: datetime) -> None:
        self._require_placed("order-rejectable", "rejected")
        self.trigger_event(self.Rejected, timestamp=at, reason=reason)

    def _require_placed(self, rule: str, becoming: str) -> None:
        # Every way out of "placed" is final: an order moves on once, never back.
        if self.status != "placed":
            raise RuleBroken(rule, f"an order that is {self.status} cannot be {becoming}", "status")

    @property
    def total_cents(self) -> int:
        return sum(line.total_cents for line in self.lines)


def _check_lines(lines: list[OrderLine]) -> None:
    if not lines:
        raise RuleBroken("order-has-lines", "an order needs at least one line", "lines")
    if len(lines) > MAX_LINES:
        raise RuleBroken("order-line-limit", f"an order has at most {MAX_LINES} lines", "lines")
    for index, line in enumerate(lines):
        if not 0 < line.quantity <= MAX_QUANTITY:
            raise RuleBroken(
                "quantity-in-range",
                f"lines[{index}].quantity must be between 1 and {MAX_QUANTITY}",
                f"lines[{index}].quantity",
            )
        if line.unit_price_cents < 0:
            raise RuleBroken(
                "price-not-negative",
                f"lines[{index}].unit_price_cents must not be negative",
                f"lines[{index}].unit_price_cents",
            )
