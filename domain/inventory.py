"""The stock item aggregate: how much of one SKU is on hand and held for which orders."""

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import RuleBroken

MAX_QUANTITY = 1_000_000
MAX_SKU_LENGTH = 64
# Fixed forever: changing it would orphan every stock item's stream.
STOCK_ITEM_NAMESPACE = UUID("b9563c0e-2910-4d45-825b-79a5652a5a2f")


def stock_item_id(sku: str) -> UUID:
    """The stock item's id, derived from its SKU so that any caller can address it without a lookup."""
    return uuid5(STOCK_ITEM_NAMESPACE, sku)


class StockItem(Aggregate):
    """The stock of one SKU; `reserved` maps str(order_id) to the quantity held for that order."""

    class Registered(Aggregate.Created):
        sku: str

    class Restocked(Aggregate.Event):
        quantity: int

        def apply(self, aggregate: "StockItem") -> None:
            aggregate.on_hand += self.quantity

    class Reserved(Aggregate.Event):
        order_id: UUID
        quantity: int

        def apply(self, aggregate: "StockItem") -> None:
            # A new dict rather than an in-place change: snapshots copy the state shallowly.
            aggregate.reserved = {**aggregate.reserved, str(self.order_id): self.quantity}

    class Released(Aggregate.Event):
        order_id: UUID
        quantity: int

        def apply(self, aggregate: "StockItem") -> None:
            aggregate.reserved = _without(aggregate.reserved, self.order_id)

    class Committed(Aggregate.Event):
        order_id: UUID
        quantity: int

        def apply(self, aggregate: "StockItem") -> None:
            aggregate.reserved = _without(aggregate.reserved, self.order_id)
            aggregate.on_hand -= self.quantity

    def __init__(self, sku: str) -> None:
        self.sku = sku
        self.on_hand = 0
        # Keyed by str so that the state stays JSON-transcodable for snapshots.
        self.reserved: dict[str, int] = {}

    @classmethod
    def register(cls, sku: str, at: datetime) -> "StockItem":
        if not sku or len(sku) > MAX_SKU_LENGTH or sku != sku.strip():
            raise RuleBroken("sku-valid", f"a SKU is 1 to {MAX_SKU_LENGTH} characters without outer spaces", "sku")
        return cls._create(cls.Registered, id=stock_item_id(sku), timestamp=at, sku=sku)

    @property
    def available(self) -> int:
        return self.on_hand - sum(self.reserved.values())

    def reserved_for(self, order_id: UUID | str) -> int:
        return self.reserved.get(str(order_id), 0)

    def restock(self, quantity: int, at: datetime) -> None:
        _check_quantity(quantity)
        self.trigger_event(self.Restocked, timestamp=at, quantity=quantity)

    def reserve(self, order_id: UUID, quantity: int, at: datetime) -> None:
        _check_quantity(quantity)
        if self.reserved_for(order_id):
            return  # already held for this order: a redelivered command changes nothing
        if quantity > self.available:
            raise RuleBroken("stock-available", f"only {self.available} of {self.sku} available", "quantity")
        self.trigger_event(self.Reserved, timestamp=at, order_id=order_id, quantity=quantity)

    def release(self, order_id: UUID, at: datetime) -> None:
        # Releasing is a compensation: it must be safe to run when nothing was reserved.
        if quantity := self.reserved_for(order_id):
            self.trigger_event(self.Released, timestamp=at, order_id=order_id, quantity=quantity)

    def commit(self, order_id: UUID, at: datetime) -> None:
        quantity = self.reserved_for(order_id)
        if not quantity:
            raise RuleBroken("reservation-held", f"no {self.sku} is reserved for order {order_id}", "order_id")
        self.trigger_event(self.Committed, timestamp=at, order_id=order_id, quantity=quantity)


def plan_reservation(
    items: dict[str, StockItem | None], lines: list[tuple[str, int]], *, order_id: UUID | None = None
) -> None:
    """Raises RuleBroken for the first line that cannot be reserved, so a caller reserves all lines or none.

    Lines for the same SKU are added up; lines already held for `order_id` are skipped, as `reserve` would.
    """
    needed: dict[str, int] = {}
    for index, (sku, quantity) in enumerate(lines):
        _check_quantity(quantity, f"lines[{index}].quantity")
        item = items.get(sku)
        if item is None:
            raise RuleBroken("sku-known", f"SKU {sku!r} is not stocked", f"lines[{index}].sku")
        if order_id is not None and item.reserved_for(order_id):
            continue
        needed[sku] = needed.get(sku, 0) + quantity
        if needed[sku] > item.available:
            raise RuleBroken("stock-available", f"only {item.available} of {sku} available", f"lines[{index}].quantity")


def totals_by_sku(lines: list[tuple[str, int]]) -> dict[str, int]:
    """What to reserve on each item for these lines: one reservation per SKU and order, so lines add up."""
    totals: dict[str, int] = {}
    for sku, quantity in lines:
        totals[sku] = totals.get(sku, 0) + quantity
    return totals


def _check_quantity(quantity: int, field: str = "quantity") -> None:
    if not 0 < quantity <= MAX_QUANTITY:
        raise RuleBroken("quantity-in-range", f"{field} must be between 1 and {MAX_QUANTITY}", field)


def _without(reserved: dict[str, int], order_id: UUID) -> dict[str, int]:
    return {key: quantity for key, quantity in reserved.items() if key != str(order_id)}
