"""Which rows a batch reads from its table first: a rebuild skips the rows that start within the batch."""

from datetime import datetime, timezone
from uuid import UUID, uuid4

from domain.orders import Order
from infra.projection_writer import PositionedEvent, Target, _keys_to_look_up
from projections import daily_sales, order_summary

NOW = datetime(2026, 12, 2, tzinfo=timezone.utc)


def _placed(order_id: UUID) -> Order.Placed:
    return Order.Placed(
        originator_id=order_id,
        originator_version=1,
        timestamp=NOW,
        originator_topic="domain.orders:Order",
        customer_id=uuid4(),
        currency_code="EUR",
        lines=[{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 100}],
        channel="web",
    )


def _cancelled(order_id: UUID, version: int) -> Order.Cancelled:
    return Order.Cancelled(originator_id=order_id, originator_version=version, timestamp=NOW, reason="changed mind")


def _keyed(projection, events):  # type: ignore[no-untyped-def]
    return [(projection.key(e), PositionedEvent("orders.events", 0, i, e)) for i, e in enumerate(events)]


def test_a_rebuild_looks_up_only_rows_that_started_before_the_batch() -> None:
    new, old = uuid4(), uuid4()
    keyed = _keyed(order_summary, [_placed(new), _cancelled(old, 2), _cancelled(new, 2)])
    rebuilding = Target(order_summary, "order_summary__next", "order_summary__next", exclusive=True)

    assert _keys_to_look_up(rebuilding, keyed) == {old}


def test_the_live_table_looks_up_every_row() -> None:
    # A live table has more than one writer over time (a swap, a worker taking over): it always looks.
    new, old = uuid4(), uuid4()
    keyed = _keyed(order_summary, [_placed(new), _cancelled(old, 2)])

    assert _keys_to_look_up(Target.live(order_summary), keyed) == {new, old}


def test_a_row_whose_start_comes_after_another_event_in_the_batch_is_looked_up() -> None:
    order_id = uuid4()
    keyed = _keyed(order_summary, [_cancelled(order_id, 2), _placed(order_id)])
    rebuilding = Target(order_summary, "order_summary__next", "order_summary__next", exclusive=True)

    assert _keys_to_look_up(rebuilding, keyed) == {order_id}


def test_a_projection_without_starting_events_looks_up_every_row() -> None:
    keyed = _keyed(daily_sales, [_placed(uuid4())])
    rebuilding = Target(daily_sales, "daily_sales__next", "daily_sales__next", exclusive=True)

    assert _keys_to_look_up(rebuilding, keyed) == {NOW.date()}
