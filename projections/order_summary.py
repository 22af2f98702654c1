"""The order_summary read model: one row per order with its status, lines and total."""

from typing import Any

from domain.orders import Order

NAME = "order_summary"

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
)

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS order_summary (
    order_id     uuid PRIMARY KEY,
    customer_id  uuid NOT NULL,
    status       text NOT NULL,
    currency     text NOT NULL,
    total_cents  bigint NOT NULL,
    lines        jsonb NOT NULL,
    version      integer NOT NULL,
    placed_at    timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
)
"""

# The version guard makes a replayed or re-delivered event a no-op even without the checkpoint.
UPSERT = """
INSERT INTO order_summary (order_id, customer_id, status, currency, total_cents, lines, version, placed_at, updated_at)
VALUES (%(order_id)s, %(customer_id)s, %(status)s, %(currency)s, %(total_cents)s, %(lines)s, %(version)s,
        %(placed_at)s, %(updated_at)s)
ON CONFLICT (order_id) DO UPDATE SET
    status = EXCLUDED.status, total_cents = EXCLUDED.total_cents, lines = EXCLUDED.lines,
    version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
WHERE order_summary.version < EXCLUDED.version
"""


def apply(row: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    """Return the row as it stands after the event (None: the event does not concern this model)."""
    if isinstance(event, Order.Placed):
        lines = [dict(line) for line in event.lines]
        return {
            "order_id": event.originator_id,
            "customer_id": event.customer_id,
            "status": "placed",
            "currency": event.currency_code,
            "total_cents": sum(int(line["quantity"]) * int(line["unit_price_cents"]) for line in lines),
            "lines": lines,
            "version": event.originator_version,
            "placed_at": event.timestamp,
            "updated_at": event.timestamp,
        }
    status = _STATUS_AFTER.get(type(event))
    if status is not None and row is not None:
        return {**row, "status": status, "version": event.originator_version, "updated_at": event.timestamp}
    return row


_STATUS_AFTER: dict[type, str] = {
    Order.Confirmed: "confirmed",
    Order.Cancelled: "cancelled",
    Order.Rejected: "rejected",
}


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
    }
