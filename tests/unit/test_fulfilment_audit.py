"""The audit's read models (payments, shipments, reservations) and the invariants it checks over them."""

from datetime import datetime, timezone
from uuid import uuid4

from domain.inventory import StockItem
from domain.orders import Order
from domain.payments import Payment
from domain.shipping import Shipment
from domain.values import OrderLine
from projections import (
    fulfilment_audit,
    inventory_levels,
    order_summary,
    payment_summary,
    shipment_summary,
    stock_reservations,
)

AT = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)


def _fold(projection, events):  # type: ignore[no-untyped-def]
    """Every row the events make, by key, as a runner would leave them."""
    rows: dict = {}
    for event in events:
        if (key := projection.key(event)) is not None:
            rows[key] = projection.apply(rows.get(key), event)
    return list(rows.values())


class World:
    """One order with its stock, payment and shipment, taken as far as a test says; then the rows of each model."""

    def __init__(self) -> None:
        self.order = Order.place(
            order_id=uuid4(), customer_id=uuid4(), currency="EUR", lines=[OrderLine("SKU-A", 2, 500)], at=AT
        )
        self.item = StockItem.register("SKU-A", AT)
        self.item.restock(10, AT)
        self.payment = Payment.request(uuid4(), self.order.id, 1000, "EUR", AT)
        self.shipment: Shipment | None = None
        self.saga_status = "running"
        self.events: list = []

    def fulfilled(self) -> "World":
        self.item.reserve(self.order.id, 2, AT)
        self.payment.authorise("AUTH-1", AT)
        self.shipment = Shipment.schedule(uuid4(), self.order.id, [("SKU-A", 2)], AT)
        self.order.confirm(AT)
        self.item.commit(self.order.id, AT)
        self.payment.capture(AT)
        self.saga_status = "completed"
        return self

    def audit(self) -> list[str]:
        for aggregate in (self.order, self.item, self.payment, self.shipment):
            if aggregate is not None:
                self.events += aggregate.collect_events()
        saga = {"saga_id": self.order.id, "order_id": self.order.id, "status": self.saga_status}
        return fulfilment_audit.violations(
            [saga],
            _fold(order_summary, self.events),
            _fold(inventory_levels, self.events),
            _fold(stock_reservations, self.events),
            _fold(payment_summary, self.events),
            _fold(shipment_summary, self.events),
        )


def test_a_fulfilled_order_breaks_no_invariant() -> None:
    assert World().fulfilled().audit() == []


def test_a_confirmed_order_without_a_shipment_or_a_capture_is_reported() -> None:
    world = World()
    world.item.reserve(world.order.id, 2, AT)
    world.order.confirm(AT)
    world.item.commit(world.order.id, AT)
    world.saga_status = "completed"

    found = world.audit()

    assert f"order {world.order.id} is confirmed but no payment was captured" in found
    assert f"order {world.order.id} is confirmed but no shipment is scheduled" in found


def test_stock_still_held_after_compensation_and_a_captured_payment_of_a_rejected_order_are_reported() -> None:
    world = World()
    world.item.reserve(world.order.id, 2, AT)
    world.payment.authorise("AUTH-1", AT)
    world.payment.capture(AT)
    world.order.reject("payment declined", AT)
    world.saga_status = "compensated"

    found = world.audit()

    assert found == sorted(
        [
            f"order {world.order.id}: 2 of SKU-A still held, its fulfilment compensated",
            f"order {world.order.id} is rejected but payment {world.payment.id} keeps 1000 cents",
        ]
    )


def test_a_refunded_payment_of_a_cancelled_order_is_fine_and_an_authorisation_left_standing_is_not() -> None:
    refunded, left = World(), World()
    for world in (refunded, left):
        world.item.reserve(world.order.id, 2, AT)
        world.item.release(world.order.id, AT)
        world.payment.authorise("AUTH-1", AT)
        world.order.cancel("changed my mind", AT)
        world.saga_status = "compensated"
    refunded.payment.capture(AT)
    refunded.payment.refund(1000, AT)

    assert refunded.audit() == []
    assert left.audit() == [f"order {left.order.id}: payment {left.payment.id} left authorised after compensation"]


def test_a_level_that_disagrees_with_what_the_orders_hold_is_reported() -> None:
    world = World()
    world.item.reserve(world.order.id, 2, AT)
    levels = _fold(inventory_levels, world.item.collect_events())
    levels[0]["reserved"] = 5

    found = fulfilment_audit.violations([], [], levels, [], [], [])

    assert found == ["SKU SKU-A: 5 reserved, but the orders hold 0"]


def test_the_reservation_rows_follow_reserve_release_and_commit() -> None:
    item = StockItem.register("SKU-B", AT)
    item.restock(9, AT)
    kept, given_back = uuid4(), uuid4()
    item.reserve(kept, 3, AT)
    item.reserve(given_back, 4, AT)
    item.release(given_back, AT)
    item.commit(kept, AT)

    rows = {row["order_id"]: row for row in _fold(stock_reservations, item.collect_events())}

    assert (rows[kept]["status"], rows[kept]["held"], rows[kept]["committed"]) == ("committed", 0, 3)
    assert (rows[given_back]["status"], rows[given_back]["held"], rows[given_back]["committed"]) == ("released", 0, 0)


def test_a_payment_row_follows_capture_and_refund() -> None:
    payment = Payment.request(uuid4(), uuid4(), 1000, "EUR", AT)
    payment.authorise("AUTH-9", AT)
    payment.capture(AT)
    payment.refund(400, AT)

    (row,) = _fold(payment_summary, payment.collect_events())

    assert (row["status"], row["captured_cents"], row["refunded_cents"], row["version"]) == ("captured", 1000, 400, 4)
