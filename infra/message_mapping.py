"""Maps domain events, commands and outcomes to and from their Avro records."""

import dataclasses
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from commands.messages import Command, Envelope, PlaceOrder
from commands.outcomes import Outcome
from domain.orders import Order
from domain.values import OrderLine

# Avro full name -> domain event class; the Avro name is the event's name in the contract.
EVENT_TYPES: dict[str, type] = {"orders.OrderPlaced": Order.Placed}
EVENT_NAMES: dict[type, str] = {cls: name for name, cls in EVENT_TYPES.items()}
# Created events carry the aggregate class so eventsourcing can construct the aggregate.
AGGREGATE_OF: dict[type, type] = {Order.Placed: Order}
_BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic"}
OUTCOME = "streamkeep.CommandOutcome"


def event_name(event: object) -> str:
    return EVENT_NAMES[type(event)]


def event_to_record(event: Any, envelope: Envelope) -> tuple[str, dict[str, Any]]:
    record = {
        "aggregate_id": event.originator_id,
        "version": event.originator_version,
        "occurred_at": event.timestamp,
        "command_id": envelope.command_id,
        "correlation_id": envelope.correlation_id,
    }
    for field in dataclasses.fields(event):
        if field.name not in _BASE_FIELDS:
            record[field.name] = getattr(event, field.name)
    return event_name(event), record


def record_to_event(name: str, record: dict[str, Any]) -> Any:
    event_class = EVENT_TYPES[name]
    kwargs = {
        "originator_id": record["aggregate_id"],
        "originator_version": record["version"],
        "timestamp": record["occurred_at"],
    }
    if event_class in AGGREGATE_OF:
        kwargs["originator_topic"] = get_topic(AGGREGATE_OF[event_class])
    for field in dataclasses.fields(event_class):
        if field.name not in _BASE_FIELDS:
            kwargs[field.name] = record[field.name]
    return event_class(**kwargs)


def command_to_record(command: Command, envelope: Envelope) -> tuple[str, dict[str, Any]]:
    record = {
        "command_id": envelope.command_id,
        "issued_at": envelope.issued_at,
        "correlation_id": envelope.correlation_id,
        "causation_id": envelope.causation_id,
        "reply_to": envelope.reply_to,
        "expected_version": envelope.expected_version,
        "idempotency_key": envelope.idempotency_key,
        "request_hash": envelope.request_hash,
        "order_id": command.order_id,
        "customer_id": command.customer_id,
        "currency": command.currency,
        "lines": [line.as_dict() for line in command.lines],
    }
    return "orders.PlaceOrder", record


def record_to_command(name: str, record: dict[str, Any]) -> tuple[Command, Envelope]:
    if name != "orders.PlaceOrder":
        raise ValueError(f"unknown command type {name}")
    envelope = Envelope(
        command_id=record["command_id"],
        issued_at=record["issued_at"],
        correlation_id=record["correlation_id"],
        causation_id=record["causation_id"],
        reply_to=record["reply_to"],
        expected_version=record["expected_version"],
        idempotency_key=record["idempotency_key"],
        request_hash=record["request_hash"],
    )
    command = PlaceOrder(
        order_id=record["order_id"],
        customer_id=record["customer_id"],
        currency=record["currency"],
        lines=[OrderLine.from_dict(line) for line in record["lines"]],
    )
    return command, envelope


def outcome_to_record(outcome: Outcome, first_answer_to: Envelope | None = None) -> dict[str, Any]:
    """The outcome's record; `first_answer_to` marks the first answer to a keyed command, owed to its retries."""
    keyed = first_answer_to is not None and first_answer_to.idempotency_key is not None
    return {
        **dataclasses.asdict(outcome),
        "idempotency_key": first_answer_to.idempotency_key if keyed else None,
        "request_hash": first_answer_to.request_hash if keyed else None,
    }


def record_to_outcome(record: dict[str, Any]) -> tuple[Outcome, str | None, str | None]:
    """The outcome, and the idempotency key and request hash it is remembered under (None, None: not remembered)."""
    fields = dict(record)
    key, request_hash = fields.pop("idempotency_key", None), fields.pop("request_hash", None)
    return Outcome(**fields), key, request_hash


def as_uuid(value: str | UUID) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)
