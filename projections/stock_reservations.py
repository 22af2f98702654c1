"""The stock_reservations read model: what each order holds of each stock item, and what became of it."""

from typing import Any
from uuid import UUID, uuid5

from domain.inventory import StockItem

NAME = "stock_reservations"
CONTEXT = "inventory"
KEY = "reservation_id"
# A row only ever changes with one stock item's events, which Kafka keeps in one partition.
ROWS_FOLLOW_AGGREGATE = True
JSON_COLUMNS: frozenset[str] = frozenset()
# The fields of each event this read model reads (besides every event's id, version and time), by record name:
# `streamkeep schemas check` names this model when a local schema loses one; tests/unit/test_consumer_reads.py
# keeps the list true to what `key` and `apply` read.
READS: dict[str, tuple[str, ...]] = {
    "inventory.StockReserved": ("order_id", "quantity"),
    "inventory.StockReleased": ("order_id",),
    "inventory.StockCommitted": ("order_id", "quantity"),
}


def create_sql(table: str) -> list[str]:
    return [
        f"""
CREATE TABLE IF NOT EXISTS {table} (
    reservation_id  uuid PRIMARY KEY,
    item_id         uuid NOT NULL,
    order_id        uuid NOT NULL,
    status          text NOT NULL,
    held            bigint NOT NULL,
    committed       bigint NOT NULL,
    version         integer NOT NULL,
    updated_at      timestamptz NOT NULL
)""",
        f"CREATE INDEX IF NOT EXISTS {table}_by_order ON {table} (order_id)",
    ]


COLUMNS = ("reservation_id", "item_id", "order_id", "status", "held", "committed", "version", "updated_at")


def upsert_sql(table: str, staged: str) -> str:
    # The stock item's version orders the events of one item, so it guards its reservations' rows too.
    return f"""
INSERT INTO {table} ({", ".join(COLUMNS)}) SELECT {", ".join(COLUMNS)} FROM {staged}
ON CONFLICT (reservation_id) DO UPDATE SET status = EXCLUDED.status, held = EXCLUDED.held,
    committed = EXCLUDED.committed, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
WHERE {table}.version < EXCLUDED.version
"""


def reservation_id(item_id: UUID, order_id: UUID) -> UUID:
    return uuid5(item_id, f"reservation for {order_id}")


def key(event: Any) -> UUID | None:
    return reservation_id(event.originator_id, event.order_id) if isinstance(event, _HOLDING_EVENTS) else None


def apply(row: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    if not isinstance(event, _HOLDING_EVENTS):
        return row
    if isinstance(event, StockItem.Reserved):
        changed = {"status": "held", "held": event.quantity, "committed": 0}
    elif isinstance(event, StockItem.Released):
        changed = {"status": "released", "held": 0}
    else:
        changed = {"status": "committed", "held": 0, "committed": event.quantity}
    base = row or {
        "reservation_id": key(event),
        "item_id": event.originator_id,
        "order_id": event.order_id,
        "held": 0,
        "committed": 0,
    }
    return {**base, **changed, "version": event.originator_version, "updated_at": event.timestamp}


_HOLDING_EVENTS = (StockItem.Reserved, StockItem.Released, StockItem.Committed)


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "item_id": str(row["item_id"]),
        "order_id": str(row["order_id"]),
        "status": row["status"],
        "held": row["held"],
        "committed": row["committed"],
    }
