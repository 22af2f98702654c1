"""The order_summary projection's pure apply."""

from datetime import datetime, timezone
from uuid import uuid4

from domain.orders import Order
from domain.values import OrderLine
from projections import order_summary

AT = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def test_order_placed_makes_a_placed_row_with_its_total() -> None:
    order = Order.place(
        order_id=uuid4(),
        customer_id=uuid4(),
        currency="EUR",
        lines=[OrderLine("SKU-1", 2, 1250), OrderLine("SKU-2", 3, 100)],
        at=AT,
    )
    [placed] = order.collect_events()

    row = order_summary.apply(None, placed)

    assert row is not None
    assert row["order_id"] == order.id
    assert row["status"] == "placed"
    assert row["total_cents"] == 2800
    assert row["version"] == 1
    assert row["placed_at"] == AT
    assert order_summary.to_json(row)["placed_at"] == "2026-11-21T12:00:00+00:00"


def test_an_event_of_no_concern_leaves_the_row_as_it_was() -> None:
    row = {"order_id": uuid4(), "status": "placed"}
    assert order_summary.apply(row, object()) is row


def test_a_cancelled_order_shows_cancelled_at_its_new_version() -> None:
    order = Order.place(
        order_id=uuid4(), customer_id=uuid4(), currency="EUR", lines=[OrderLine("SKU-1", 1, 100)], at=AT
    )
    later = datetime(2026, 11, 21, 13, 0, tzinfo=timezone.utc)
    order.cancel("changed my mind", later)
    placed, cancelled = order.collect_events()

    row = order_summary.apply(order_summary.apply(None, placed), cancelled)

    assert row is not None
    assert (row["status"], row["version"], row["updated_at"], row["placed_at"]) == ("cancelled", 2, later, AT)
    assert row["total_cents"] == 100
