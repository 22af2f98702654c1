"""The order aggregate: what was ordered, by whom, and where the order stands."""

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import RuleBroken
from domain.values import SUPPORTED_CURRENCIES, OrderLine

MAX_LINES = 100
MAX_QUANTITY = 10_000
# Every order placed before sales channels were recorded came through the web shop.
DEFAULT_CHANNEL = "web"


class Order(Aggregate):
    """An order placed by a customer; its id and the time come from the caller."""

    # v2: the sales channel (snapshots taken before it have none).
    class_version = 2

    class Placed(Aggregate.Created):
        """v2 added the sales channel; v3 renamed `currency` to `currency_code`, the ISO 4217 code it holds."""

        class_version = 3
        customer_id: UUID
        currency_code: str
        lines: list[dict[str, Any]]
        channel: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["channel"] = DEFAULT_CHANNEL

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["currency_code"] = state.pop("currency")

    def __init__(self, customer_id: UUID, currency_code: str, lines: list[dict[str, Any]], channel: str) -> None:
        self.customer_id = customer_id
        self.currency = currency_code
        self.lines = [OrderLine.from_dict(line) for line in lines]
        self.channel = channel
        self.status = "placed"

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["channel"] = DEFAULT_CHANNEL

    @classmethod
    def place(
        cls,
        *,
        order_id: UUID,
        customer_id: UUID,
        currency: str,
        lines: list[OrderLine],
        at: datetime,
        channel: str = DEFAULT_CHANNEL,
    ) -> "Order":
        _check_lines(lines)
        if currency not in SUPPORTED_CURRENCIES:
            raise RuleBroken("currency-supported", f"currency {currency!r} is not one we sell in", "currency")
        return cls._create(
            cls.Placed,
            id=order_id,
            timestamp=at,
            customer_id=customer_id,
            currency_code=currency,
            lines=[line.as_dict() for line in lines],
            channel=channel,
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
