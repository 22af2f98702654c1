"""Given-when-then on the shipment aggregate's rules."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest
from eventsourcing.domain import Snapshot

from domain.errors import RuleBroken
from domain.shipping import Shipment

AT = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
LATER = AT + timedelta(hours=2)


def a_shipment_that_is(status: str) -> Shipment:
    shipment = Shipment.schedule(uuid4(), uuid4(), [("SKU-1", 2)], AT)
    if status == "dispatched":
        shipment.dispatch("DHL", "JD0001", AT)
    if status == "cancelled":
        shipment.cancel("order cancelled", AT)
    shipment.collect_events()
    return shipment


def test_scheduling_records_the_orders_lines_under_the_callers_id() -> None:
    shipment_id, order_id = uuid4(), uuid4()

    shipment = Shipment.schedule(shipment_id, order_id, [("SKU-1", 2), ("SKU-2", 1)], AT)

    [scheduled] = shipment.collect_events()
    assert isinstance(scheduled, Shipment.Scheduled)
    assert (scheduled.originator_id, scheduled.timestamp, scheduled.order_id) == (shipment_id, AT, order_id)
    assert scheduled.lines == [{"sku": "SKU-1", "quantity": 2}, {"sku": "SKU-2", "quantity": 1}]
    assert shipment.status == "scheduled"


def test_a_shipment_needs_at_least_one_line() -> None:
    with pytest.raises(RuleBroken) as broken:
        Shipment.schedule(uuid4(), uuid4(), [], AT)
    assert broken.value.rule == "shipment-has-lines"


def test_a_shipment_has_at_most_a_hundred_lines() -> None:
    with pytest.raises(RuleBroken) as broken:
        Shipment.schedule(uuid4(), uuid4(), [(f"SKU-{n}", 1) for n in range(101)], AT)
    assert broken.value.rule == "shipment-line-limit"


@pytest.mark.parametrize("quantity", [0, -1, 10_001])
def test_a_shipment_lines_quantity_is_positive_and_bounded(quantity: int) -> None:
    with pytest.raises(RuleBroken) as broken:
        Shipment.schedule(uuid4(), uuid4(), [("SKU-1", 1), ("SKU-2", quantity)], AT)
    assert (broken.value.rule, broken.value.field) == ("quantity-in-range", "lines[1].quantity")


def test_a_scheduled_shipment_is_dispatched_with_its_carrier_and_tracking_code() -> None:
    shipment = a_shipment_that_is("scheduled")

    shipment.dispatch("DHL", "JD0001", LATER)

    [dispatched] = shipment.collect_events()
    assert isinstance(dispatched, Shipment.Dispatched)
    assert (dispatched.carrier, dispatched.tracking_code, dispatched.timestamp) == ("DHL", "JD0001", LATER)
    assert (shipment.status, shipment.carrier, shipment.tracking_code) == ("dispatched", "DHL", "JD0001")


@pytest.mark.parametrize("status", ["dispatched", "cancelled"])
def test_only_a_scheduled_shipment_can_be_dispatched(status: str) -> None:
    with pytest.raises(RuleBroken) as broken:
        a_shipment_that_is(status).dispatch("DHL", "JD0002", LATER)
    assert broken.value.rule == "shipment-dispatchable"


def test_a_dispatch_names_its_carrier() -> None:
    with pytest.raises(RuleBroken) as broken:
        a_shipment_that_is("scheduled").dispatch("", "JD0001", LATER)
    assert broken.value.rule == "carrier-named"


def test_a_dispatch_carries_a_tracking_code() -> None:
    with pytest.raises(RuleBroken) as broken:
        a_shipment_that_is("scheduled").dispatch("DHL", "", LATER)
    assert broken.value.rule == "tracking-code-given"


def test_a_scheduled_shipment_is_cancelled_with_its_reason() -> None:
    shipment = a_shipment_that_is("scheduled")

    shipment.cancel("payment declined", LATER)

    [cancelled] = shipment.collect_events()
    assert isinstance(cancelled, Shipment.Cancelled)
    assert cancelled.reason == "payment declined"
    assert shipment.status == "cancelled"


def test_a_shipment_that_is_dispatched_cannot_be_cancelled() -> None:
    with pytest.raises(RuleBroken) as broken:
        a_shipment_that_is("dispatched").cancel("too late", LATER)
    assert broken.value.rule == "shipment-cancellable"


def test_a_shipment_that_is_cancelled_cannot_be_cancelled_again() -> None:
    with pytest.raises(RuleBroken) as broken:
        a_shipment_that_is("cancelled").cancel("again", LATER)
    assert broken.value.rule == "shipment-cancellable"


def test_a_shipment_is_rebuilt_from_its_events_and_from_a_snapshot() -> None:
    original = Shipment.schedule(uuid4(), uuid4(), [("SKU-1", 2)], AT)
    original.dispatch("DHL", "JD0001", LATER)

    rebuilt = None
    for event in original.collect_events():
        rebuilt = event.mutate(rebuilt)

    assert rebuilt == original == Snapshot.take(original).mutate(None)
    assert (rebuilt.version, rebuilt.status, rebuilt.lines) == (2, "dispatched", [{"sku": "SKU-1", "quantity": 2}])
