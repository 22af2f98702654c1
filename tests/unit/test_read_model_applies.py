"""The customer_orders, inventory_levels and daily_sales projections' pure apply, given events, then rows."""

from datetime import date, datetime, timedelta, timezone
from functools import reduce
from uuid import uuid4

import pytest

from domain.inventory import StockItem
from domain.orders import Order
from domain.values import OrderLine
from projections import customer_orders, daily_sales, inventory_levels
from projections.paging import parse_cursor

AT = datetime(2026, 11, 21, 23, 30, tzinfo=timezone.utc)


def _placed(lines: list[OrderLine], currency: str = "EUR", at: datetime = AT) -> Order:
    return Order.place(order_id=uuid4(), customer_id=uuid4(), currency=currency, lines=lines, at=at)


def _rows(projection, events):  # type: ignore[no-untyped-def]
    return reduce(lambda row, event: projection.apply(row, event), events, None)


def test_a_customer_order_row_carries_its_total_and_follows_the_status() -> None:
    order = _placed([OrderLine("SKU-1", 2, 1250)])
    order.confirm(AT + timedelta(minutes=5))
    placed, confirmed = order.collect_events()

    row = _rows(customer_orders, [placed, confirmed])

    assert row["customer_id"] == order.customer_id
    assert (row["status"], row["version"], row["total_cents"], row["placed_at"]) == ("confirmed", 2, 2500, AT)
    assert customer_orders.key(confirmed) == order.id


def test_a_cursor_names_the_row_it_was_made_from_and_a_damaged_one_is_refused() -> None:
    order = _placed([OrderLine("SKU-1", 1, 100)])
    row = customer_orders.apply(None, order.collect_events()[0])

    assert parse_cursor(customer_orders.cursor_after(row)) == (AT, order.id)
    for damaged in ("", "not-a-cursor", customer_orders.cursor_after(row)[:-4], "MjAyNnxub3BlCg"):
        with pytest.raises(ValueError):
            parse_cursor(damaged)


def test_stock_levels_follow_restock_reserve_release_and_commit() -> None:
    item = StockItem.register("SKU-7", AT)
    item.restock(10, AT)
    first, second = uuid4(), uuid4()
    item.reserve(first, 3, AT)
    item.reserve(second, 4, AT)
    item.release(first, AT)
    item.commit(second, AT)

    row = _rows(inventory_levels, item.collect_events())

    assert (row["sku"], row["on_hand"], row["reserved"], row["available"]) == ("SKU-7", 6, 0, 6)
    assert row["on_hand"] == item.on_hand and row["available"] == item.available
    assert row["version"] == item.version


def test_stock_reserved_but_not_committed_is_not_available() -> None:
    item = StockItem.register("SKU-8", AT)
    item.restock(5, AT)
    item.reserve(uuid4(), 2, AT)

    row = _rows(inventory_levels, item.collect_events())

    assert (row["on_hand"], row["reserved"], row["available"]) == (5, 2, 3)


def test_an_order_event_is_of_no_concern_to_stock_levels() -> None:
    [placed] = _placed([OrderLine("SKU-1", 1, 100)]).collect_events()
    assert inventory_levels.key(placed) is None
    assert inventory_levels.apply(None, placed) is None


def test_daily_sales_add_up_orders_units_and_gross_per_currency_on_the_utc_day() -> None:
    eur = _placed([OrderLine("SKU-1", 2, 1250), OrderLine("SKU-2", 1, 500)])
    usd = _placed([OrderLine("SKU-1", 3, 100)], currency="USD")
    eur.cancel("no", AT + timedelta(hours=1))  # the next UTC day
    events = [*eur.collect_events(), *usd.collect_events()]

    rows = {}
    for event in events:
        day = daily_sales.key(event)
        rows[day] = daily_sales.apply(rows.get(day), event)

    placed_day = rows[date(2026, 11, 21)]
    assert (placed_day["placed"], placed_day["units"], placed_day["cancelled"]) == (2, 6, 0)
    assert placed_day["gross_cents"] == {"EUR": 3000, "USD": 300}
    assert rows[date(2026, 11, 22)]["cancelled"] == 1
    assert rows[date(2026, 11, 22)]["placed"] == 0


def test_applying_daily_sales_does_not_change_the_row_it_was_given() -> None:
    [first] = _placed([OrderLine("SKU-1", 1, 100)]).collect_events()
    [second] = _placed([OrderLine("SKU-1", 1, 100)]).collect_events()
    row = daily_sales.apply(None, first)
    snapshot = {**row, "gross_cents": dict(row["gross_cents"])}

    daily_sales.apply(row, second)

    assert row == snapshot
