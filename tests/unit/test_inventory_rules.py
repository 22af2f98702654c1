"""Given-when-then on the stock item aggregate's rules and the all-or-nothing reservation plan."""

from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Snapshot

from domain.errors import RuleBroken
from domain.inventory import StockItem, plan_reservation, stock_item_id, totals_by_sku

AT = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
LATER = AT + timedelta(minutes=5)


def a_stock_item(sku: str = "SKU-1", on_hand: int = 10, reserved: dict[UUID, int] | None = None) -> StockItem:
    item = StockItem.register(sku, AT)
    if on_hand:
        item.restock(on_hand, AT)
    for order_id, quantity in (reserved or {}).items():
        item.reserve(order_id, quantity, AT)
    item.collect_events()
    return item


def rebuilt_from(events: list) -> StockItem:
    item = None
    for event in events:
        item = event.mutate(item)
    assert item is not None
    return item


def test_a_stock_items_id_is_derived_from_its_sku() -> None:
    assert stock_item_id("SKU-1") == stock_item_id("SKU-1")
    assert stock_item_id("SKU-1") != stock_item_id("SKU-2")
    assert stock_item_id("SKU-1") == UUID("bcb6ed77-0fa6-5f29-817d-5fff50395fe6")  # fixed forever


def test_registering_a_sku_records_it_under_the_derived_id() -> None:
    item = StockItem.register("SKU-1", AT)

    [registered] = item.collect_events()
    assert isinstance(registered, StockItem.Registered)
    assert (registered.originator_id, registered.timestamp, registered.sku) == (stock_item_id("SKU-1"), AT, "SKU-1")
    assert (item.on_hand, item.reserved, item.available) == (0, {}, 0)


@pytest.mark.parametrize("sku", ["", " SKU-1", "S" * 65])
def test_a_sku_is_short_and_has_no_outer_spaces(sku: str) -> None:
    with pytest.raises(RuleBroken) as broken:
        StockItem.register(sku, AT)
    assert broken.value.rule == "sku-valid"


def test_restocking_adds_to_what_is_on_hand() -> None:
    item = a_stock_item(on_hand=10)

    item.restock(5, LATER)

    [restocked] = item.collect_events()
    assert isinstance(restocked, StockItem.Restocked)
    assert (restocked.quantity, restocked.timestamp) == (5, LATER)
    assert (item.on_hand, item.available) == (15, 15)


@pytest.mark.parametrize("quantity", [0, -1, 1_000_001])
def test_a_restock_quantity_is_positive_and_bounded(quantity: int) -> None:
    item = a_stock_item()

    with pytest.raises(RuleBroken) as broken:
        item.restock(quantity, LATER)

    assert broken.value.rule == "quantity-in-range"


def test_reserving_holds_stock_for_the_order() -> None:
    item, order_id = a_stock_item(on_hand=10), uuid4()

    item.reserve(order_id, 4, LATER)

    [reserved] = item.collect_events()
    assert isinstance(reserved, StockItem.Reserved)
    assert (reserved.order_id, reserved.quantity) == (order_id, 4)
    assert (item.on_hand, item.available, item.reserved_for(order_id)) == (10, 6, 4)


def test_stock_cannot_be_reserved_beyond_what_is_available() -> None:
    item = a_stock_item(on_hand=10, reserved={uuid4(): 7})

    with pytest.raises(RuleBroken) as broken:
        item.reserve(uuid4(), 4, LATER)

    assert broken.value.rule == "stock-available"
    assert item.available == 3


@pytest.mark.parametrize("quantity", [0, -3, 1_000_001])
def test_a_reservation_quantity_is_positive_and_bounded(quantity: int) -> None:
    item = a_stock_item()

    with pytest.raises(RuleBroken) as broken:
        item.reserve(uuid4(), quantity, LATER)

    assert broken.value.rule == "quantity-in-range"


def test_reserving_twice_for_the_same_order_records_nothing() -> None:
    order_id = uuid4()
    item = a_stock_item(on_hand=10, reserved={order_id: 4})

    item.reserve(order_id, 4, LATER)

    assert item.collect_events() == []
    assert item.available == 6


def test_releasing_gives_the_orders_stock_back() -> None:
    order_id = uuid4()
    item = a_stock_item(on_hand=10, reserved={order_id: 4})

    item.release(order_id, LATER)

    [released] = item.collect_events()
    assert isinstance(released, StockItem.Released)
    assert (released.order_id, released.quantity) == (order_id, 4)
    assert (item.on_hand, item.available, item.reserved) == (10, 10, {})


def test_releasing_for_an_order_that_holds_nothing_records_nothing() -> None:
    item = a_stock_item(on_hand=10, reserved={uuid4(): 4})

    item.release(uuid4(), LATER)

    assert item.collect_events() == []


def test_committing_takes_the_reserved_stock_off_hand() -> None:
    order_id = uuid4()
    item = a_stock_item(on_hand=10, reserved={order_id: 4, uuid4(): 1})

    item.commit(order_id, LATER)

    [committed] = item.collect_events()
    assert isinstance(committed, StockItem.Committed)
    assert (committed.order_id, committed.quantity) == (order_id, 4)
    assert (item.on_hand, item.available, item.reserved_for(order_id)) == (6, 5, 0)


def test_an_order_that_holds_no_reservation_cannot_be_committed() -> None:
    item = a_stock_item(on_hand=10)

    with pytest.raises(RuleBroken) as broken:
        item.commit(uuid4(), LATER)

    assert broken.value.rule == "reservation-held"
    assert item.on_hand == 10


def test_a_plan_passes_when_every_line_can_be_reserved() -> None:
    items = {"SKU-1": a_stock_item("SKU-1", 5), "SKU-2": a_stock_item("SKU-2", 1)}

    plan_reservation(items, [("SKU-1", 5), ("SKU-2", 1)])


def test_a_plan_names_the_first_sku_that_is_not_stocked() -> None:
    items = {"SKU-1": a_stock_item("SKU-1", 5), "SKU-2": None}

    with pytest.raises(RuleBroken) as broken:
        plan_reservation(items, [("SKU-1", 1), ("SKU-2", 1), ("SKU-3", 1)])

    assert (broken.value.rule, broken.value.field) == ("sku-known", "lines[1].sku")


def test_a_plan_names_the_first_sku_without_enough_stock() -> None:
    items = {sku: a_stock_item(sku, 2) for sku in ("SKU-1", "SKU-2", "SKU-3")}

    with pytest.raises(RuleBroken) as broken:
        plan_reservation(items, [("SKU-1", 2), ("SKU-2", 3), ("SKU-3", 9)])

    assert (broken.value.rule, broken.value.field) == ("stock-available", "lines[1].quantity")
    assert "SKU-2" in broken.value.message


def test_a_plan_adds_up_lines_for_the_same_sku() -> None:
    items = {"SKU-1": a_stock_item("SKU-1", 3)}

    with pytest.raises(RuleBroken) as broken:
        plan_reservation(items, [("SKU-1", 2), ("SKU-1", 2)])

    assert broken.value.field == "lines[1].quantity"
    assert totals_by_sku([("SKU-1", 2), ("SKU-2", 1), ("SKU-1", 2)]) == {"SKU-1": 4, "SKU-2": 1}


def test_a_plan_checks_each_lines_quantity() -> None:
    with pytest.raises(RuleBroken) as broken:
        plan_reservation({"SKU-1": a_stock_item("SKU-1", 3)}, [("SKU-1", 0)])

    assert (broken.value.rule, broken.value.field) == ("quantity-in-range", "lines[0].quantity")


def test_a_plan_skips_what_the_order_already_holds() -> None:
    order_id = uuid4()
    items = {"SKU-1": a_stock_item("SKU-1", 3, reserved={order_id: 3})}

    plan_reservation(items, [("SKU-1", 3)], order_id=order_id)

    with pytest.raises(RuleBroken):
        plan_reservation(items, [("SKU-1", 3)], order_id=uuid4())


def test_a_stock_item_is_rebuilt_from_its_events() -> None:
    first, second = uuid4(), uuid4()
    original = StockItem.register("SKU-1", AT)
    original.restock(10, AT)
    original.reserve(first, 3, AT)
    original.reserve(second, 2, AT)
    original.release(second, LATER)
    original.commit(first, LATER)

    rebuilt = rebuilt_from(list(original.collect_events()))

    assert rebuilt == original
    assert (rebuilt.version, rebuilt.on_hand, rebuilt.reserved, rebuilt.available) == (6, 7, {}, 7)


def test_a_snapshot_of_ten_thousand_events_rebuilds_the_same_stock_item() -> None:
    item = StockItem.register("SKU-1", AT)
    for _ in range(9_999):
        item.restock(1, AT)
    item.reserve(uuid4(), 7, LATER)
    events = list(item.collect_events())
    assert len(events) == 10_001

    snapshot = Snapshot.take(item)

    assert snapshot.originator_version == 10_001
    assert snapshot.mutate(None) == item == rebuilt_from(events)


def test_a_snapshot_stays_as_taken_when_the_stock_item_moves_on() -> None:
    order_id = uuid4()
    item = a_stock_item(on_hand=10, reserved={order_id: 4})
    snapshot = Snapshot.take(item)

    item.release(order_id, LATER)
    item.reserve(uuid4(), 6, LATER)
    later_events = item.collect_events()

    from_snapshot = snapshot.mutate(None)
    assert from_snapshot.reserved == {str(order_id): 4}
    for event in later_events:
        event.mutate(from_snapshot)
    assert from_snapshot == item
