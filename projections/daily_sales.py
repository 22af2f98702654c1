"""The daily_sales read model: per UTC day, orders placed with units and gross by currency, and how orders ended."""

from datetime import date, timezone
from typing import Any

from domain.orders import Order
from projections.order_summary import order_total

NAME = "daily_sales"
CONTEXT = "orders"
KEY = "day"
# A day's row sums orders from every partition: it is rebuilt by one writer.
ROWS_FOLLOW_AGGREGATE = False
JSON_COLUMNS = frozenset({"gross_cents"})
# The fields of each event this read model reads (besides every event's id, version and time), by record name:
# `streamkeep schemas check` names this model when a local schema loses one; tests/unit/test_consumer_reads.py
# keeps the list true to what `key` and `apply` read.
READS: dict[str, tuple[str, ...]] = {
    "orders.OrderPlaced": ("currency_code", "lines.quantity", "lines.unit_price_cents"),
    "orders.OrderConfirmed": (),
    "orders.OrderCancelled": (),
    "orders.OrderRejected": (),
}
# An order's outcome is counted on the day it happens; the events of that day do not carry the order's amount.
_OUTCOME_COLUMN = {Order.Confirmed: "confirmed", Order.Cancelled: "cancelled", Order.Rejected: "rejected"}


def create_sql(table: str) -> list[str]:
    return [
        f"""
CREATE TABLE IF NOT EXISTS {table} (
    day          date PRIMARY KEY,
    placed       bigint NOT NULL,
    units        bigint NOT NULL,
    gross_cents  jsonb NOT NULL,
    confirmed    bigint NOT NULL,
    cancelled    bigint NOT NULL,
    rejected     bigint NOT NULL
)"""
    ]


COLUMNS = ("day", "placed", "units", "gross_cents", "confirmed", "cancelled", "rejected")


def upsert_sql(table: str, staged: str) -> str:
    # No version guard can exist for a sum: the checkpoint, written in the same transaction, keeps it exact.
    return f"""
INSERT INTO {table} ({", ".join(COLUMNS)}) SELECT {", ".join(COLUMNS)} FROM {staged}
ON CONFLICT (day) DO UPDATE SET placed = EXCLUDED.placed, units = EXCLUDED.units,
    gross_cents = EXCLUDED.gross_cents, confirmed = EXCLUDED.confirmed, cancelled = EXCLUDED.cancelled,
    rejected = EXCLUDED.rejected
"""


def key(event: Any) -> date | None:
    if isinstance(event, Order.Placed) or type(event) in _OUTCOME_COLUMN:
        return event.timestamp.astimezone(timezone.utc).date()
    return None


def apply(row: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    day = key(event)
    if day is None:
        return row
    row = dict(row) if row is not None else _empty(day)
    if isinstance(event, Order.Placed):
        gross = dict(row["gross_cents"])
        gross[event.currency_code] = gross.get(event.currency_code, 0) + order_total(event.lines)
        row.update(
            placed=row["placed"] + 1,
            units=row["units"] + sum(int(line["quantity"]) for line in event.lines),
            gross_cents=gross,
        )
    else:
        column = _OUTCOME_COLUMN[type(event)]
        row[column] += 1
    return row


def _empty(day: date) -> dict[str, Any]:
    return {"day": day, "placed": 0, "units": 0, "gross_cents": {}, "confirmed": 0, "cancelled": 0, "rejected": 0}


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in row.items() if k != "day"}, "day": row["day"].isoformat()}
