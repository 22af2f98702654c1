"""Every kind of aggregate survives the snapshot codec of the `<context>.snapshots` topics unchanged."""

from datetime import datetime, timezone
from uuid import uuid4

import pytest

from domain.inventory import StockItem
from domain.orders import Order
from domain.payments import Payment
from domain.shipping import Shipment
from domain.values import OrderLine
from infra.write_side.snapshot_codec import SnapshotCodec

AT = datetime(2026, 11, 22, 9, 30, tzinfo=timezone.utc)


def order() -> Order:
    placed = Order.place(order_id=uuid4(), customer_id=uuid4(), currency="EUR", lines=[OrderLine("S", 2, 99)], at=AT)
    placed.cancel("changed my mind", AT)
    return placed


def stock_item() -> StockItem:
    item = StockItem.register("SKU-1", AT)
    for _ in range(10_000):
        item.restock(1, AT)
    item.reserve(uuid4(), 7, AT)
    return item


def payment() -> Payment:
    paid = Payment.request(uuid4(), uuid4(), 2500, "EUR", AT)
    paid.authorise("AUTH-1", AT)
    paid.capture(AT)
    paid.refund(100, AT)
    return paid


def shipment() -> Shipment:
    shipped = Shipment.schedule(uuid4(), uuid4(), [("SKU-1", 2), ("SKU-2", 1)], AT)
    shipped.dispatch("DHL", "T-1", AT)
    return shipped


@pytest.mark.parametrize("make", [order, stock_item, payment, shipment], ids=lambda make: make.__name__)
def test_an_aggregate_comes_back_from_its_snapshot_as_it_was(make) -> None:  # type: ignore[no-untyped-def]
    aggregate = make()
    aggregate.collect_events()
    codec = SnapshotCodec()

    headers, value = codec.encode(aggregate, events_offset=41)
    back, events_offset = codec.decode(str(aggregate.id).encode(), headers, value)

    assert back == aggregate
    assert (back.version, events_offset) == (aggregate.version, 41)
