"""Given-when-then on how a placed order is confirmed, cancelled or rejected."""

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain.errors import RuleBroken
from domain.orders import Order
from domain.values import OrderLine

AT = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
LATER = AT + timedelta(minutes=5)


def confirm(order: Order) -> None:
    order.confirm(LATER)


def cancel(order: Order) -> None:
    order.cancel("changed my mind", LATER)


def reject(order: Order) -> None:
    order.reject("payment declined", LATER)


# Each way out of "placed", as the command that takes it.
MOVES: dict[str, Callable[[Order], None]] = {"confirmed": confirm, "cancelled": cancel, "rejected": reject}


def a_placed_order() -> Order:
    order = Order.place(
        order_id=uuid4(), customer_id=uuid4(), currency="EUR", lines=[OrderLine("SKU-1", 2, 1250)], at=AT
    )
    order.collect_events()
    return order


def an_order_that_is(status: str) -> Order:
    order = a_placed_order()
    MOVES[status](order)
    order.collect_events()
    return order


def test_a_placed_order_is_confirmed() -> None:
    order = a_placed_order()

    order.confirm(LATER)

    [confirmed] = order.collect_events()
    assert isinstance(confirmed, Order.Confirmed)
    assert (confirmed.originator_id, confirmed.originator_version, confirmed.timestamp) == (order.id, 2, LATER)
    assert order.status == "confirmed"


def test_a_placed_order_is_cancelled_with_its_reason() -> None:
    order = a_placed_order()

    order.cancel("changed my mind", LATER)

    [cancelled] = order.collect_events()
    assert isinstance(cancelled, Order.Cancelled)
    assert (cancelled.reason, cancelled.timestamp) == ("changed my mind", LATER)
    assert order.status == "cancelled"


def test_a_placed_order_is_rejected_with_its_reason() -> None:
    order = a_placed_order()

    order.reject("payment declined", LATER)

    [rejected] = order.collect_events()
    assert isinstance(rejected, Order.Rejected)
    assert rejected.reason == "payment declined"
    assert order.status == "rejected"


@pytest.mark.parametrize("status", ["confirmed", "cancelled", "rejected"])
def test_an_order_that_is_no_longer_placed_cannot_be_cancelled(status: str) -> None:
    order = an_order_that_is(status)

    with pytest.raises(RuleBroken) as broken:
        order.cancel("too late", LATER)

    assert broken.value.rule == "order-cancellable"
    assert order.collect_events() == []


def test_an_order_that_is_confirmed_cannot_be_cancelled() -> None:
    order = an_order_that_is("confirmed")

    with pytest.raises(RuleBroken) as broken:
        order.cancel("too late", LATER)

    assert broken.value.rule == "order-cancellable"
    assert broken.value.field == "status"


@pytest.mark.parametrize("status", ["confirmed", "cancelled", "rejected"])
def test_only_a_placed_order_can_be_confirmed(status: str) -> None:
    order = an_order_that_is(status)

    with pytest.raises(RuleBroken) as broken:
        order.confirm(LATER)

    assert broken.value.rule == "order-confirmable"


@pytest.mark.parametrize("status", ["confirmed", "cancelled", "rejected"])
def test_only_a_placed_order_can_be_rejected(status: str) -> None:
    order = an_order_that_is(status)

    with pytest.raises(RuleBroken) as broken:
        order.reject("out of stock", LATER)

    assert broken.value.rule == "order-rejectable"


@pytest.mark.parametrize("status", ["confirmed", "cancelled", "rejected"])
def test_an_order_is_rebuilt_from_its_lifecycle_events(status: str) -> None:
    original = Order.place(
        order_id=uuid4(), customer_id=uuid4(), currency="EUR", lines=[OrderLine("SKU-1", 2, 1250)], at=AT
    )
    MOVES[status](original)

    rebuilt = None
    for event in original.collect_events():
        rebuilt = event.mutate(rebuilt)

    assert rebuilt == original
    assert (rebuilt.status, rebuilt.version, rebuilt.modified_on) == (status, 2, LATER)
