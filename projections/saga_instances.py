"""The saga_instances read model: one row per saga instance, where it stands and the history that led there.

Its events are a saga instance's own (`sagas.history.Recorded`: saga id, version, time, cause and the event), from
`fulfilment.events`. Projections do not import `sagas`, so they are known by their class names and read by their
attributes; anything else the log holds (every domain event, on the embedded backend) is no concern of this model.
"""

import dataclasses
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from projections.paging import cursor_at

NAME = "saga_instances"
CONTEXT = "fulfilment"
KEY = "saga_id"
SAGA_TYPE = "fulfilment"
# An instance's events are keyed by its id, which Kafka keeps in one partition: partitions can be rebuilt side
# by side without two writers touching a row.
ROWS_FOLLOW_AGGREGATE = True
JSON_COLUMNS = frozenset({"history"})
MAX_PAGE = 100
# Where an instance can stand, as the saga names it (sagas/history.py; a unit test keeps the two alike).
STATUSES = ("running", "compensating", "completed", "compensated", "stuck")

STARTED = "FulfilmentStarted"
_EVENT_TYPES = frozenset(
    {
        STARTED,
        "CommandSent",
        "ReplyReceived",
        "CommandUnanswered",
        "EventObserved",
        "DeadlineSet",
        "DeadlineReached",
        "DeadlineCleared",
        "StatusChanged",
        "OperatorActed",
    }
)

# The fields of each saga event this read model reads (besides the instance's id, version, time and cause), by
# record name: the status, step and deadline it keeps, and every field the history shows. `streamkeep schemas
# check` names this model when a local schema loses one; tests/unit/test_consumer_reads.py keeps the list true.
READS: dict[str, tuple[str, ...]] = {
    "fulfilment.FulfilmentStarted": (
        "order_id",
        "customer_id",
        "currency",
        "lines.sku",
        "lines.quantity",
        "lines.unit_price_cents",
    ),
    "fulfilment.CommandSent": ("step", "command_id", "command_type", "attempt", "retry_at"),
    "fulfilment.ReplyReceived": ("step", "command_id", "command_type", "status", "rule", "message", "detail"),
    "fulfilment.CommandUnanswered": ("step", "attempts"),
    "fulfilment.EventObserved": ("event_type", "detail"),
    "fulfilment.DeadlineSet": ("name", "due"),
    "fulfilment.DeadlineReached": ("name",),
    "fulfilment.DeadlineCleared": ("name",),
    "fulfilment.StatusChanged": ("status", "step", "reason"),
    "fulfilment.OperatorActed": ("action", "by", "accepted", "reason"),
}


def create_sql(table: str) -> list[str]:
    return [
        f"""
CREATE TABLE IF NOT EXISTS {table} (
    saga_id        uuid PRIMARY KEY,
    saga_type      text NOT NULL,
    order_id       uuid NOT NULL,
    status         text NOT NULL,
    step           text NOT NULL,
    reason         text,
    version        integer NOT NULL,
    started_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    deadline_name  text,
    deadline_due   timestamptz,
    history        jsonb NOT NULL
)""",
        # Newest first, ties broken by id, so a (started_at, saga_id) cursor is an index range scan, with or
        # without a status.
        f"CREATE INDEX IF NOT EXISTS {table}_by_started ON {table} (started_at DESC, saga_id DESC)",
        f"CREATE INDEX IF NOT EXISTS {table}_by_status ON {table} (status, started_at DESC, saga_id DESC)",
    ]


COLUMNS = (
    "saga_id",
    "saga_type",
    "order_id",
    "status",
    "step",
    "reason",
    "version",
    "started_at",
    "updated_at",
    "deadline_name",
    "deadline_due",
    "history",
)
# What a list of instances shows: everything but the history.
LISTED_COLUMNS = tuple(column for column in COLUMNS if column != "history")


def upsert_sql(table: str, staged: str) -> str:
    # The version guard makes a replayed or re-delivered event a no-op even without the checkpoint.
    return f"""
INSERT INTO {table} ({", ".join(COLUMNS)}) SELECT {", ".join(COLUMNS)} FROM {staged}
ON CONFLICT (saga_id) DO UPDATE SET status = EXCLUDED.status, step = EXCLUDED.step, reason = EXCLUDED.reason,
    version = EXCLUDED.version, updated_at = EXCLUDED.updated_at, deadline_name = EXCLUDED.deadline_name,
    deadline_due = EXCLUDED.deadline_due, history = EXCLUDED.history
WHERE {table}.version < EXCLUDED.version
"""


def key(record: Any) -> UUID | None:
    """The instance a saga's recorded event belongs to; None for anything else."""
    if type(record).__name__ != "Recorded" or _kind(record) not in _EVENT_TYPES:
        return None
    saga_id: UUID = record.saga_id
    return saga_id


def apply(row: dict[str, Any] | None, record: Any) -> dict[str, Any] | None:
    """The row after one more of the instance's events; an event at or below the row's version changes nothing."""
    if key(record) is None or (row is not None and record.version <= row["version"]):
        return row
    event, kind = record.event, _kind(record)
    if kind == STARTED:
        return {
            "saga_id": record.saga_id,
            "saga_type": SAGA_TYPE,
            "order_id": event.order_id,
            "status": "running",
            "step": "",
            "reason": None,
            "version": record.version,
            "started_at": record.at,
            "updated_at": record.at,
            "deadline_name": None,
            "deadline_due": None,
            "history": [history_entry(record)],
        }
    if row is None:
        return None  # an instance starts with its FulfilmentStarted: nothing to add this to
    changed: dict[str, Any] = {
        "version": record.version,
        "updated_at": record.at,
        "history": [*row["history"], history_entry(record)],
    }
    if kind == "StatusChanged":
        changed.update(status=event.status, step=event.step, reason=event.reason or row["reason"])
    elif kind == "DeadlineSet":
        changed.update(deadline_name=event.name, deadline_due=event.due)
    elif kind in ("DeadlineReached", "DeadlineCleared") and event.name == row["deadline_name"]:
        changed.update(deadline_name=None, deadline_due=None)
    return {**row, **changed}


def history_entry(record: Any) -> dict[str, Any]:
    """One event as `GET /v1/sagas/{id}` shows it: when, what caused it, its type, and its own fields."""
    entry = {
        "version": record.version,
        "at": _plain(record.at),
        "type": _kind(record),
        "cause_id": _plain(record.cause_id),
    }
    for field in dataclasses.fields(record.event):
        entry[field.name] = _plain(getattr(record.event, field.name))
    return entry


def _kind(record: Any) -> str:
    return type(getattr(record, "event", None)).__name__


def _plain(value: Any) -> Any:
    """A value as JSON holds it, the same on both backends (and after a rebuild)."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if hasattr(value, "as_dict"):  # a value object, such as an order line
        return value.as_dict()
    return value


def cursor_after(row: dict[str, Any]) -> str:
    """An opaque cursor naming the position just past this row."""
    return cursor_at(row["started_at"], row["saga_id"])


def summary(row: dict[str, Any]) -> dict[str, Any]:
    """An instance as a list shows it: where it stands, without its history."""
    due = row["deadline_due"]
    return {
        "saga_id": str(row["saga_id"]),
        "saga_type": row["saga_type"],
        "order_id": str(row["order_id"]),
        "status": row["status"],
        "step": row["step"],
        "reason": row["reason"],
        "deadline": {"name": row["deadline_name"], "due": due.isoformat()} if row["deadline_name"] else None,
        "version": row["version"],
        "started_at": row["started_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    """An instance with its history: each event with its time, its cause, the command sent or the answer got."""
    return {**summary(row), "history": row["history"]}
