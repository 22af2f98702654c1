"""The shipment_summary read model: one row per shipment with its order and where it stands."""

from typing import Any
from uuid import UUID

from domain.shipping import Shipment

NAME = "shipment_summary"
CONTEXT = "shipping"
KEY = "shipment_id"
# A row only ever changes with one aggregate's events, which Kafka keeps in one partition.
ROWS_FOLLOW_AGGREGATE = True
STARTS_ROW = (Shipment.Scheduled,)
JSON_COLUMNS: frozenset[str] = frozenset()
# The fields of each event this read model reads (besides every event's id, version and time), by record name:
# `streamkeep schemas check` names this model when a local schema loses one; tests/unit/test_consumer_reads.py
# keeps the list true to what `key` and `apply` read.
READS: dict[str, tuple[str, ...]] = {
    "shipping.ShipmentScheduled": ("order_id",),
    "shipping.ShipmentDispatched": (),
    "shipping.ShipmentCancelled": (),
}


def create_sql(table: str) -> list[str]:
    return [
        f"""
CREATE TABLE IF NOT EXISTS {table} (
    shipment_id  uuid PRIMARY KEY,
    order_id     uuid NOT NULL,
    status       text NOT NULL,
    version      integer NOT NULL,
    updated_at   timestamptz NOT NULL
)""",
        f"CREATE INDEX IF NOT EXISTS {table}_by_order ON {table} (order_id)",
    ]


COLUMNS = ("shipment_id", "order_id", "status", "version", "updated_at")


def upsert_sql(table: str, staged: str) -> str:
    return f"""
INSERT INTO {table} ({", ".join(COLUMNS)}) SELECT {", ".join(COLUMNS)} FROM {staged}
ON CONFLICT (shipment_id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version,
    updated_at = EXCLUDED.updated_at
WHERE {table}.version < EXCLUDED.version
"""


def key(event: Any) -> UUID | None:
    return event.originator_id if isinstance(event, _SHIPMENT_EVENTS) else None


def apply(row: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    if isinstance(event, Shipment.Scheduled):
        row = {"shipment_id": event.originator_id, "order_id": event.order_id}
    elif row is None or not isinstance(event, _SHIPMENT_EVENTS):
        return row
    status = _STATUS_AFTER[type(event)]
    return {**row, "status": status, "version": event.originator_version, "updated_at": event.timestamp}


_STATUS_AFTER: dict[type, str] = {
    Shipment.Scheduled: "scheduled",
    Shipment.Dispatched: "dispatched",
    Shipment.Cancelled: "cancelled",
}
_SHIPMENT_EVENTS = (Shipment.Scheduled, Shipment.Dispatched, Shipment.Cancelled)


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "shipment_id": str(row["shipment_id"]),
        "order_id": str(row["order_id"]),
        "status": row["status"],
        "version": row["version"],
        "updated_at": row["updated_at"].isoformat(),
    }
