"""The order_summary read model: one row per order with its status (and why, once it ends), lines and total."""

from typing import Any
from uuid import UUID

from domain.orders import Order

NAME = "order_summary"
CONTEXT = "orders"
KEY = "order_id"
# A row only ever changes with one aggregate's events, which Kafka keeps in one partition: partitions can be
# rebuilt side by side without two writers touching a row.
ROWS_FOLLOW_AGGREGATE = True
# The event a row starts with: `apply` ignores any row it is given (a rebuild need not look one up).
STARTS_ROW = (Order.Placed,)
JSON_COLUMNS = frozenset({"lines"})
# The fields of each event this read model reads (besides every event's id, version and time), by record name:
# `streamkeep schemas check` names this model when a local schema loses one; tests/unit/test_consumer_reads.py
# keeps the list true to what `key` and `apply` read.
READS: dict[str, tuple[str, ...]] = {
    "orders.OrderPlaced": ("customer_id", "currency_code", "lines.sku", "lines.quantity", "lines.unit_price_cents"),
    "orders.OrderConfirmed": (),
    "orders.OrderCancelled": ("reason",),
    "orders.OrderRejected": ("reason",),
}


def create_sql(table: str) -> list[str]:
    return [
        f"""
CREATE TABLE IF NOT EXISTS {table} (
    order_id     uuid PRIMARY KEY,
    customer_id  uuid NOT NULL,
    status       text NOT NULL,
    currency     text NOT NULL,
    total_cents  bigint NOT NULL,
    lines        jsonb NOT NULL,
    version      integer NOT NULL,
    placed_at    timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    reason       text
)""",
        # Tables made before the reason was kept gain it (null for their rows until a rebuild).
        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS reason text",
    ]


COLUMNS = (
    "order_id",
    "customer_id",
    "status",
    "currency",
    "total_cents",
    "lines",
    "version",
    "placed_at",
    "updated_at",
    "reason",
)


def upsert_sql(table: str, staged: str) -> str:
    """Merge the rows staged (by COPY) into the table."""
    # The version guard makes a replayed or re-delivered event a no-op even without the checkpoint.
    return f"""
INSERT INTO {table} ({", ".join(COLUMNS)}) SELECT {", ".join(COLUMNS)} FROM {staged}
ON CONFLICT (order_id) DO UPDATE SET
    status = EXCLUDED.status, total_cents = EXCLUDED.total_cents, lines = EXCLUDED.lines,
    version = EXCLUDED.version, updated_at = EXCLUDED.updated_at, reason = EXCLUDED.reason
WHERE {table}.version < EXCLUDED.version
"""


def key(event: Any) -> UUID | None:
    """The row an event concerns (None: none)."""
    return event.originator_id if isinstance(event, _ORDER_EVENTS) else None


def apply(row: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    """Return the row as it stands after the event (None: the event does not concern this model)."""
    if isinstance(event, Order.Placed):
        # The event's own line dicts, in a list of the row's: nothing changes an event's lines once it is made.
        lines = list(event.lines)
        return {
            "order_id": event.originator_id,
            "customer_id": event.customer_id,
            "status": "placed",
            "currency": event.currency_code,
            "total_cents": order_total(lines),
            "lines": lines,
            "version": event.originator_version,
            "placed_at": event.timestamp,
            "updated_at": event.timestamp,
            "reason": None,
        }
    status = STATUS_AFTER.get(type(event))
    if status is not None and row is not None:
        changed = {"status": status, "version": event.originator_version, "updated_at": event.timestamp}
        return {**row, **changed, "reason": getattr(event, "reason", None)}
    return row


def order_total(lines: list[dict[str, Any]]) -> int:
    """What an order's lines add up to, in cents."""
    # Plain arithmetic rather than OrderLine objects: this runs for every order event of a rebuild.
    return sum(int(line["quantity"]) * int(line["unit_price_cents"]) for line in lines)


STATUS_AFTER: dict[type, str] = {
    Order.Confirmed: "confirmed",
    Order.Cancelled: "cancelled",
    Order.Rejected: "rejected",
}
_ORDER_EVENTS = (Order.Placed, Order.Confirmed, Order.Cancelled, Order.Rejected)


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    """The row as the query API shows it."""
    return {
        "order_id": str(row["order_id"]),
        "customer_id": str(row["customer_id"]),
        "status": row["status"],
        "currency": row["currency"],
        "total_cents": row["total_cents"],
        "lines": row["lines"],
        "version": row["version"],
        "placed_at": row["placed_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        # Why a cancelled or rejected order ended so: the customer's words, or the fulfilment saga's.
        "reason": row.get("reason"),
    }
