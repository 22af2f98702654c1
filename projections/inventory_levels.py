"""The inventory_levels read model: on hand, reserved and available stock per SKU."""

from typing import Any
from uuid import UUID

from domain.inventory import StockItem

NAME = "inventory_levels"
CONTEXT = "inventory"
KEY = "item_id"
# A row only ever changes with one aggregate's events, which Kafka keeps in one partition: partitions can be
# rebuilt side by side without two writers touching a row.
ROWS_FOLLOW_AGGREGATE = True
# The event a row starts with: `apply` ignores any row it is given (a rebuild need not look one up).
STARTS_ROW = (StockItem.Registered,)
JSON_COLUMNS: frozenset[str] = frozenset()
# The fields of each event this read model reads (besides every event's id, version and time), by record name:
# `streamkeep schemas check` names this model when a local schema loses one; tests/unit/test_consumer_reads.py
# keeps the list true to what `key` and `apply` read.
READS: dict[str, tuple[str, ...]] = {
    "inventory.StockItemRegistered": ("sku",),
    "inventory.StockRestocked": ("quantity",),
    "inventory.StockReserved": ("quantity",),
    "inventory.StockReleased": ("quantity",),
    "inventory.StockCommitted": ("quantity",),
}


def create_sql(table: str) -> list[str]:
    return [
        f"""
CREATE TABLE IF NOT EXISTS {table} (
    item_id     uuid PRIMARY KEY,
    sku         text NOT NULL,
    on_hand     bigint NOT NULL,
    reserved    bigint NOT NULL,
    available   bigint NOT NULL,
    version     integer NOT NULL,
    updated_at  timestamptz NOT NULL
)"""
    ]


COLUMNS = ("item_id", "sku", "on_hand", "reserved", "available", "version", "updated_at")


def upsert_sql(table: str, staged: str) -> str:
    return f"""
INSERT INTO {table} ({", ".join(COLUMNS)}) SELECT {", ".join(COLUMNS)} FROM {staged}
ON CONFLICT (item_id) DO UPDATE SET on_hand = EXCLUDED.on_hand, reserved = EXCLUDED.reserved,
    available = EXCLUDED.available, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
WHERE {table}.version < EXCLUDED.version
"""


def key(event: Any) -> UUID | None:
    return event.originator_id if isinstance(event, _STOCK_EVENTS) else None


def apply(row: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    if isinstance(event, StockItem.Registered):
        return _level(event, event.sku, on_hand=0, reserved=0)
    if row is None or not isinstance(event, _STOCK_EVENTS):
        return row
    on_hand, reserved = row["on_hand"], row["reserved"]
    if isinstance(event, StockItem.Restocked):
        on_hand += event.quantity
    elif isinstance(event, StockItem.Reserved):
        reserved += event.quantity
    elif isinstance(event, StockItem.Released):
        reserved -= event.quantity
    elif isinstance(event, StockItem.Committed):
        reserved -= event.quantity
        on_hand -= event.quantity
    return _level(event, row["sku"], on_hand=on_hand, reserved=reserved)


def _level(event: Any, sku: str, *, on_hand: int, reserved: int) -> dict[str, Any]:
    return {
        "item_id": event.originator_id,
        "sku": sku,
        "on_hand": on_hand,
        "reserved": reserved,
        "available": on_hand - reserved,
        "version": event.originator_version,
        "updated_at": event.timestamp,
    }


_STOCK_EVENTS = (
    StockItem.Registered,
    StockItem.Restocked,
    StockItem.Reserved,
    StockItem.Released,
    StockItem.Committed,
)


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "sku": row["sku"],
        "on_hand": row["on_hand"],
        "reserved": row["reserved"],
        "available": row["available"],
        "version": row["version"],
        "updated_at": row["updated_at"].isoformat(),
    }
