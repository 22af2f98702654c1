"""Given-when-then on the order aggregate's rules."""

from datetime import datetime, timezone
from uuid import uuid4

import pytest

from domain.errors import RuleBroken
from domain.orders import Order
from domain.values import OrderLine

AT = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def place(lines: list[OrderLine], currency: str = "EUR") -> Order:
    return Order.place(order_id=uuid4(), customer_id=uuid4(), currency=currency, lines=lines, at=AT)


def test_placing_an_order_records_order_placed_with_the_callers_id_and_time() -> None:
    order_id, customer_id = uuid4(), uuid4()

    order = Order.place(
        order_id=order_id,
        customer_id=customer_id,
        currency="EUR",
        lines=[OrderLine("SKU-1", 2, 1250), OrderLine("SKU-2", 1, 99)],
        at=AT,
    )

    [placed] = order.collect_events()
    assert isinstance(placed, Order.Placed)
    assert placed.originator_id == order_id
    assert placed.originator_version == 1
    assert placed.timestamp == AT
    assert placed.customer_id == customer_id
    assert placed.lines == [
        {"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250},
        {"sku": "SKU-2", "quantity": 1, "unit_price_cents": 99},
    ]
    assert order.status == "placed"
    assert order.total_cents == 2599


def test_an_order_needs_at_least_one_line() -> None:
    with pytest.raises(RuleBroken) as broken:
        place([])
    assert broken.value.rule == "order-has-lines"
    assert broken.value.field == "lines"


@pytest.mark.parametrize("quantity", [0, -1, 10_001])
def test_quantities_must_be_positive_and_bounded(quantity: int) -> None:
    with pytest.raises(RuleBroken) as broken:
        place([OrderLine("SKU-1", 1, 100), OrderLine("SKU-2", quantity, 100)])
    assert broken.value.rule == "quantity-in-range"
    assert broken.value.field == "lines[1].quantity"


def test_a_price_cannot_be_negative() -> None:
    with pytest.raises(RuleBroken) as broken:
        place([OrderLine("SKU-1", 1, -5)])
    assert broken.value.rule == "price-not-negative"


def test_only_currencies_we_sell_in_are_accepted() -> None:
    with pytest.raises(RuleBroken) as broken:
        place([OrderLine("SKU-1", 1, 100)], currency="XXX")
    assert broken.value.field == "currency"


def test_an_order_is_rebuilt_from_its_events() -> None:
    original = place([OrderLine("SKU-1", 3, 100)])
    events = original.collect_events()

    rebuilt = None
    for event in events:
        rebuilt = event.mutate(rebuilt)

    assert rebuilt is not None
    assert (rebuilt.id, rebuilt.version, rebuilt.total_cents, rebuilt.status) == (original.id, 1, 300, "placed")
