"""The customer_orders read model: each customer's orders, newest first, read a page at a time."""

from typing import Any
from uuid import UUID

from domain.orders import Order
from projections.order_summary import STATUS_AFTER, order_total
from projections.paging import cursor_at

NAME = "customer_orders"
CONTEXT = "orders"
KEY = "order_id"
# A row only ever changes with one aggregate's events, which Kafka keeps in one partition: partitions can be
# rebuilt side by side without two writers touching a row.
ROWS_FOLLOW_AGGREGATE = True
# The event a row starts with: `apply` ignores any row it is given (a rebuild need not look one up).
STARTS_ROW = (Order.Placed,)
JSON_COLUMNS: frozenset[str] = frozenset()
# The fields of each event this read model reads (besides every event's id, version and time), by record name:
# `streamkeep schemas check` names this model when a local schema loses one; tests/unit/test_consumer_reads.py
# keeps the list true to what `key` and `apply` read.
READS: dict[str, tuple[str, ...]] = {
    "orders.OrderPlaced": ("customer_id", "currency_code", "lines.quantity", "lines.unit_price_cents"),
    "orders.OrderConfirmed": (),
    "orders.OrderCancelled": (),
    "orders.OrderRejected": (),
}
MAX_PAGE = 100


def create_sql(table: str) -> list[str]:
    return [
        f"""
CREATE TABLE IF NOT EXISTS {table} (
    order_id     uuid PRIMARY KEY,
    customer_id  uuid NOT NULL,
    placed_at    timestamptz NOT NULL,
    status       text NOT NULL,
    currency     text NOT NULL,
    total_cents  bigint NOT NULL,
    version      integer NOT NULL
)""",
        # Newest first, ties broken by id, so a (placed_at, order_id) cursor is a plain index range scan.
        f"CREATE INDEX IF NOT EXISTS {table}_by_customer ON {table} (customer_id, placed_at DESC, order_id DESC)",
    ]


COLUMNS = ("order_id", "customer_id", "placed_at", "status", "currency", "total_cents", "version")


def upsert_sql(table: str, staged: str) -> str:
    return f"""
INSERT INTO {table} ({", ".join(COLUMNS)}) SELECT {", ".join(COLUMNS)} FROM {staged}
ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version
WHERE {table}.version < EXCLUDED.version
"""


def key(event: Any) -> UUID | None:
    return event.originator_id if isinstance(event, Order.Placed) or type(event) in STATUS_AFTER else None


def apply(row: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    if isinstance(event, Order.Placed):
        return {
            "order_id": event.originator_id,
            "customer_id": event.customer_id,
            "placed_at": event.timestamp,
            "status": "placed",
            "currency": event.currency_code,
            "total_cents": order_total(event.lines),
            "version": event.originator_version,
        }
    status = STATUS_AFTER.get(type(event))
    if status is not None and row is not None:
        return {**row, "status": status, "version": event.originator_version}
    return row


def cursor_after(row: dict[str, Any]) -> str:
    """An opaque cursor naming the position just past this row."""
    return cursor_at(row["placed_at"], row["order_id"])


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_id": str(row["order_id"]),
        "placed_at": row["placed_at"].isoformat(),
        "status": row["status"],
        "currency": row["currency"],
        "total_cents": row["total_cents"],
        "version": row["version"],
    }
