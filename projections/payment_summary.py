"""The payment_summary read model: one row per payment with its order, status and the money taken and given back."""

from typing import Any
from uuid import UUID

from domain.payments import Payment

NAME = "payment_summary"
CONTEXT = "payments"
KEY = "payment_id"
# A row only ever changes with one aggregate's events, which Kafka keeps in one partition.
ROWS_FOLLOW_AGGREGATE = True
STARTS_ROW = (Payment.Requested,)
JSON_COLUMNS: frozenset[str] = frozenset()
# The fields of each event this read model reads (besides every event's id, version and time), by record name:
# `streamkeep schemas check` names this model when a local schema loses one; tests/unit/test_consumer_reads.py
# keeps the list true to what `key` and `apply` read.
READS: dict[str, tuple[str, ...]] = {
    "payments.PaymentRequested": ("order_id", "amount_cents"),
    "payments.PaymentAuthorised": (),
    "payments.PaymentDeclined": (),
    "payments.PaymentCaptured": ("amount_cents",),
    "payments.PaymentVoided": (),
    "payments.PaymentRefunded": ("amount_cents",),
}


def create_sql(table: str) -> list[str]:
    return [
        f"""
CREATE TABLE IF NOT EXISTS {table} (
    payment_id      uuid PRIMARY KEY,
    order_id        uuid NOT NULL,
    status          text NOT NULL,
    amount_cents    bigint NOT NULL,
    captured_cents  bigint NOT NULL,
    refunded_cents  bigint NOT NULL,
    version         integer NOT NULL,
    updated_at      timestamptz NOT NULL
)""",
        f"CREATE INDEX IF NOT EXISTS {table}_by_order ON {table} (order_id)",
    ]


COLUMNS = (
    "payment_id",
    "order_id",
    "status",
    "amount_cents",
    "captured_cents",
    "refunded_cents",
    "version",
    "updated_at",
)


def upsert_sql(table: str, staged: str) -> str:
    return f"""
INSERT INTO {table} ({", ".join(COLUMNS)}) SELECT {", ".join(COLUMNS)} FROM {staged}
ON CONFLICT (payment_id) DO UPDATE SET status = EXCLUDED.status, captured_cents = EXCLUDED.captured_cents,
    refunded_cents = EXCLUDED.refunded_cents, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
WHERE {table}.version < EXCLUDED.version
"""


def key(event: Any) -> UUID | None:
    return event.originator_id if isinstance(event, _PAYMENT_EVENTS) else None


def apply(row: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    if isinstance(event, Payment.Requested):
        row = {
            "payment_id": event.originator_id,
            "order_id": event.order_id,
            "amount_cents": event.amount_cents,
            "captured_cents": 0,
            "refunded_cents": 0,
        }
        return _moved(row, event, "requested")
    if row is None or not isinstance(event, _PAYMENT_EVENTS):
        return row
    if isinstance(event, Payment.Captured):
        row = {**row, "captured_cents": row["captured_cents"] + event.amount_cents}
    elif isinstance(event, Payment.Refunded):
        row = {**row, "refunded_cents": row["refunded_cents"] + event.amount_cents}
    fully_refunded = row["refunded_cents"] >= row["captured_cents"] > 0
    status = "refunded" if fully_refunded else _STATUS_AFTER.get(type(event), row["status"])
    return _moved(row, event, status)


def _moved(row: dict[str, Any], event: Any, status: str) -> dict[str, Any]:
    return {**row, "status": status, "version": event.originator_version, "updated_at": event.timestamp}


_STATUS_AFTER: dict[type, str] = {
    Payment.Authorised: "authorised",
    Payment.Declined: "declined",
    Payment.Captured: "captured",
    Payment.Voided: "voided",
}
_PAYMENT_EVENTS = (
    Payment.Requested,
    Payment.Authorised,
    Payment.Declined,
    Payment.Captured,
    Payment.Voided,
    Payment.Refunded,
)


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "payment_id": str(row["payment_id"]),
        "order_id": str(row["order_id"]),
        "status": row["status"],
        "amount_cents": row["amount_cents"],
        "captured_cents": row["captured_cents"],
        "refunded_cents": row["refunded_cents"],
        "version": row["version"],
        "updated_at": row["updated_at"].isoformat(),
    }
