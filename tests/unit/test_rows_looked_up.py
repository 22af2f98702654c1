"""Which rows a batch reads from its table first: a rebuild skips the rows that start within the batch."""

from datetime import datetime, timezone
from uuid import uuid4

from domain.orders import Order
from domain.values import OrderLine
from infra.read_side.projection_writer import PositionedEvent, Target, _keys_to_look_up
from projections import daily_sales, order_summary

NOW = datetime(2026, 12, 2, tzinfo=timezone.utc)


def _placed_and_cancelled() -> tuple[Order, Order.Placed, Order.Cancelled]:
    lines = [OrderLine("SKU-1", 1, 100)]
    order = Order.place(order_id=uuid4(), customer_id=uuid4(), currency="EUR", lines=lines, at=NOW)
    order.cancel("changed mind", NOW)
    placed, cancelled = order.collect_events()
    return order, placed, cancelled


def _keyed(projection, events):  # type: ignore[no-untyped-def]
    return [(projection.key(e), PositionedEvent("orders.events", 0, i, e)) for i, e in enumerate(events)]


def test_a_rebuild_looks_up_only_rows_that_started_before_the_batch() -> None:
    new, new_placed, new_cancelled = _placed_and_cancelled()
    old, _, old_cancelled = _placed_and_cancelled()
    keyed = _keyed(order_summary, [new_placed, old_cancelled, new_cancelled])
    rebuilding = Target(order_summary, "order_summary__next", "order_summary__next", exclusive=True)

    assert _keys_to_look_up(rebuilding, keyed) == {old.id}


def test_the_live_table_looks_up_every_row() -> None:
    # A live table has more than one writer over time (a swap, a worker taking over): it always looks.
    new, new_placed, _ = _placed_and_cancelled()
    old, _, old_cancelled = _placed_and_cancelled()
    keyed = _keyed(order_summary, [new_placed, old_cancelled])

    assert _keys_to_look_up(Target.live(order_summary), keyed) == {new.id, old.id}


def test_a_row_whose_start_comes_after_another_event_in_the_batch_is_looked_up() -> None:
    order, placed, cancelled = _placed_and_cancelled()
    keyed = _keyed(order_summary, [cancelled, placed])
    rebuilding = Target(order_summary, "order_summary__next", "order_summary__next", exclusive=True)

    assert _keys_to_look_up(rebuilding, keyed) == {order.id}


def test_a_projection_without_starting_events_looks_up_every_row() -> None:
    _, placed, _ = _placed_and_cancelled()
    keyed = _keyed(daily_sales, [placed])
    rebuilding = Target(daily_sales, "daily_sales__next", "daily_sales__next", exclusive=True)

    assert _keys_to_look_up(rebuilding, keyed) == {NOW.date()}
