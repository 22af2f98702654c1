"""Maps domain events, commands and outcomes to and from their Avro records."""

import dataclasses
import functools
from typing import Any

from eventsourcing.utils import get_topic

from commands.messages import COMMAND_TYPES, Command, Envelope, PlaceOrder, ScheduleShipment
from commands.outcomes import Outcome
from domain.inventory import StockItem
from domain.orders import Order
from domain.payments import Payment
from domain.shipping import Shipment
from domain.values import OrderLine, ShipmentLine
from infra.avro.codec import WRITER_CLASS_VERSION

# Avro full name (= subject = schemas/<name>.avsc) -> domain event class: the names the contract speaks.
EVENT_TYPES: dict[str, type] = {
    "orders.OrderPlaced": Order.Placed,
    "orders.OrderConfirmed": Order.Confirmed,
    "orders.OrderCancelled": Order.Cancelled,
    "orders.OrderRejected": Order.Rejected,
    "inventory.StockItemRegistered": StockItem.Registered,
    "inventory.StockRestocked": StockItem.Restocked,
    "inventory.StockReserved": StockItem.Reserved,
    "inventory.StockReleased": StockItem.Released,
    "inventory.StockCommitted": StockItem.Committed,
    "payments.PaymentRequested": Payment.Requested,
    "payments.PaymentAuthorised": Payment.Authorised,
    "payments.PaymentDeclined": Payment.Declined,
    "payments.PaymentCaptured": Payment.Captured,
    "payments.PaymentVoided": Payment.Voided,
    "payments.PaymentRefunded": Payment.Refunded,
    "shipping.ShipmentScheduled": Shipment.Scheduled,
    "shipping.ShipmentDispatched": Shipment.Dispatched,
    "shipping.ShipmentCancelled": Shipment.Cancelled,
}
EVENT_NAMES: dict[type, str] = {cls: name for name, cls in EVENT_TYPES.items()}
# Created events carry the aggregate class so eventsourcing can construct the aggregate.
AGGREGATE_OF: dict[type, type] = {
    Order.Placed: Order,
    StockItem.Registered: StockItem,
    Payment.Requested: Payment,
    Shipment.Scheduled: Shipment,
}
COMMAND_NAMES: dict[type, str] = {cls: f"{cls.context}.{cls.__name__}" for cls in COMMAND_TYPES}
COMMAND_CLASSES: dict[str, type] = {name: cls for cls, name in COMMAND_NAMES.items()}
ENVELOPE_FIELDS = tuple(f.name for f in dataclasses.fields(Envelope))
OUTCOME_FIELDS = tuple(f.name for f in dataclasses.fields(Outcome))
_BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic"}
_RECORD_ENVELOPE = {"aggregate_id", "version", "occurred_at", "command_id", "correlation_id", "principal"}
OUTCOME = "streamkeep.CommandOutcome"
# The value object each command's `lines` hold; Avro carries them as records.
LINE_TYPES: dict[type, Any] = {PlaceOrder: OrderLine, ScheduleShipment: ShipmentLine}


def matches_type(name: str, wanted: str | None) -> bool:
    """Whether a record full name is the type asked for (None: any), by full name or by its short name."""
    return wanted is None or name == wanted or name.rsplit(".", 1)[-1] == wanted


def event_name(event: object) -> str:
    return EVENT_NAMES[type(event)]


def event_to_record(event: Any, envelope: Envelope) -> tuple[str, dict[str, Any]]:
    record = {
        "aggregate_id": event.originator_id,
        "version": event.originator_version,
        "occurred_at": event.timestamp,
        "command_id": envelope.command_id,
        "correlation_id": envelope.correlation_id,
        "principal": envelope.principal,
    }
    for name in _shape(type(event))[0]:
        record[name] = getattr(event, name)
    return event_name(event), record


def record_to_event(name: str, record: dict[str, Any]) -> Any:
    """The domain event; a record read as an older writer wrote it goes through the event class's upcasters."""
    event_class = EVENT_TYPES[name]
    fields, originator_topic = _shape(event_class)
    state = record
    if WRITER_CLASS_VERSION in record:  # read as an older writer wrote it
        state = {key: value for key, value in record.items() if key not in _RECORD_ENVELOPE}
        upcast(event_class, state, state.pop(WRITER_CLASS_VERSION))
    kwargs = {field: state[field] for field in fields}
    kwargs["originator_id"] = record["aggregate_id"]
    kwargs["originator_version"] = record["version"]
    kwargs["timestamp"] = record["occurred_at"]
    if originator_topic is not None:
        kwargs["originator_topic"] = originator_topic
    return event_class(**kwargs)


@functools.cache
def _shape(event_class: type) -> tuple[tuple[str, ...], str | None]:
    """An event class's own field names and, for a created event, its aggregate's topic: looked up once per
    class rather than once per event (a rebuild maps a million)."""
    fields = tuple(field.name for field in dataclasses.fields(event_class) if field.name not in _BASE_FIELDS)
    aggregate = AGGREGATE_OF.get(event_class)
    return fields, get_topic(aggregate) if aggregate is not None else None


def upcast(event_class: type, state: dict[str, Any], from_version: int) -> None:
    """eventsourcing's rule: `upcast_vN_vN+1` static methods, applied in turn up to the class's version."""
    for version in range(from_version, getattr(event_class, "class_version", 1)):
        getattr(event_class, f"upcast_v{version}_v{version + 1}")(state)


def command_to_record(command: Command, envelope: Envelope) -> tuple[str, dict[str, Any]]:
    record = {name: getattr(envelope, name) for name in ENVELOPE_FIELDS}
    for name in _field_names(type(command)):
        value = getattr(command, name)
        record[name] = [line.as_dict() for line in value] if name == "lines" else value
    return COMMAND_NAMES[type(command)], record


def record_to_command(name: str, record: dict[str, Any]) -> tuple[Command, Envelope]:
    command_class = COMMAND_CLASSES.get(name)
    if command_class is None:
        raise ValueError(f"unknown command type {name}")
    envelope = Envelope(**{key: record.get(key) for key in ENVELOPE_FIELDS})
    values = {}
    for field_name in _field_names(command_class):
        value = record[field_name]
        if field_name == "lines":
            value = [LINE_TYPES[command_class].from_dict(line) for line in value]
        values[field_name] = value
    return command_class(**values), envelope


@functools.cache
def _field_names(command_class: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(command_class))


def outcome_to_record(outcome: Outcome, first_answer_to: Envelope | None = None) -> dict[str, Any]:
    """The outcome's record; `first_answer_to` marks the first answer to a keyed command, owed to its retries."""
    keyed = first_answer_to is not None and first_answer_to.idempotency_key is not None
    # Not dataclasses.asdict: it deep-copies every value, which cost more than the Avro encoding itself.
    return {
        **{name: getattr(outcome, name) for name in OUTCOME_FIELDS},
        "idempotency_key": first_answer_to.idempotency_key if keyed else None,
        "request_hash": first_answer_to.request_hash if keyed else None,
    }


def record_to_outcome(record: dict[str, Any]) -> tuple[Outcome, str | None, str | None]:
    """The outcome, and the idempotency key and request hash it is remembered under (None, None: not remembered)."""
    fields = dict(record)
    key, request_hash = fields.pop("idempotency_key", None), fields.pop("request_hash", None)
    return Outcome(**fields), key, request_hash
