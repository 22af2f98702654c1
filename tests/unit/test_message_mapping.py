"""Every event, command and outcome maps to an Avro record of its local schema and back, unchanged."""

import io
import json
from datetime import datetime, timezone
from uuid import uuid4

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from commands.messages import (
    COMMAND_TYPES,
    AuthorisePayment,
    CancelOrder,
    CancelShipment,
    CapturePayment,
    CommitStock,
    ConfirmOrder,
    DeclinePayment,
    DispatchShipment,
    Envelope,
    PlaceOrder,
    RefundPayment,
    RejectOrder,
    ReleaseStock,
    RequestPayment,
    ReserveStock,
    RestockItem,
    ScheduleShipment,
    VoidPayment,
)
from commands.outcomes import ACCEPTED, Outcome
from domain.inventory import StockItem
from domain.orders import Order
from domain.payments import Payment
from domain.shipping import Shipment
from domain.values import OrderLine, ShipmentLine
from infra.avro import message_mapping
from infra.avro.codec import load_local_schemas
from infra.settings import REPOSITORY_ROOT

SCHEMAS = load_local_schemas(REPOSITORY_ROOT / "schemas")
AT = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
ENVELOPE = Envelope(uuid4(), AT, uuid4())


def round_trip(name: str, record: dict) -> dict:
    schema = parse_schema(json.loads(SCHEMAS[name]))
    buffer = io.BytesIO()
    schemaless_writer(buffer, schema, record)
    buffer.seek(0)
    return schemaless_reader(buffer, schema, schema)  # type: ignore[return-value]


def every_kind_of_event() -> list:
    order = Order.place(order_id=uuid4(), customer_id=uuid4(), currency="EUR", lines=[OrderLine("S", 2, 1250)], at=AT)
    order.cancel("no longer needed", AT)
    other = Order.place(order_id=uuid4(), customer_id=uuid4(), currency="EUR", lines=[OrderLine("S", 1, 1)], at=AT)
    other.confirm(AT)
    third = Order.place(order_id=uuid4(), customer_id=uuid4(), currency="EUR", lines=[OrderLine("S", 1, 1)], at=AT)
    third.reject("out of stock", AT)
    item = StockItem.register("SKU-1", AT)
    item.restock(10, AT)
    first, second = uuid4(), uuid4()
    item.reserve(first, 2, AT)
    item.reserve(second, 3, AT)
    item.release(first, AT)
    item.commit(second, AT)
    paid = Payment.request(uuid4(), uuid4(), 2500, "EUR", AT)
    paid.authorise("AUTH-1", AT)
    paid.capture(AT)
    paid.refund(500, AT)
    voided = Payment.request(uuid4(), uuid4(), 100, "EUR", AT)
    voided.authorise("AUTH-2", AT)
    voided.void(AT)
    declined = Payment.request(uuid4(), uuid4(), 100, "EUR", AT)
    declined.decline("insufficient funds", AT)
    shipped = Shipment.schedule(uuid4(), uuid4(), [("SKU-1", 2)], AT)
    shipped.dispatch("DHL", "TRACK-1", AT)
    cancelled = Shipment.schedule(uuid4(), uuid4(), [("SKU-1", 1)], AT)
    cancelled.cancel("order cancelled", AT)
    aggregates = (order, other, third, item, paid, voided, declined, shipped, cancelled)
    return [event for aggregate in aggregates for event in aggregate.collect_events()]


def test_every_event_type_has_a_schema_and_the_examples_cover_them_all() -> None:
    assert set(message_mapping.EVENT_TYPES) <= set(SCHEMAS)
    assert {message_mapping.event_name(e) for e in every_kind_of_event()} == set(message_mapping.EVENT_TYPES)


@pytest.mark.parametrize("event", every_kind_of_event(), ids=lambda e: type(e).__qualname__)
def test_each_event_survives_avro(event: object) -> None:
    name, record = message_mapping.event_to_record(event, ENVELOPE)

    assert message_mapping.record_to_event(name, round_trip(name, record)) == event


COMMANDS = [
    PlaceOrder(uuid4(), uuid4(), "EUR", [OrderLine("SKU-1", 2, 1250)]),
    CancelOrder(uuid4(), "changed my mind"),
    ConfirmOrder(uuid4()),
    RejectOrder(uuid4(), "out of stock"),
    RestockItem("SKU-1", 5),
    ReserveStock("SKU-1", uuid4(), 2),
    ReleaseStock("SKU-1", uuid4()),
    CommitStock("SKU-1", uuid4()),
    RequestPayment(uuid4(), uuid4(), 2500, "EUR"),
    AuthorisePayment(uuid4(), "AUTH-1"),
    DeclinePayment(uuid4(), "insufficient funds"),
    CapturePayment(uuid4()),
    VoidPayment(uuid4()),
    RefundPayment(uuid4(), 500),
    ScheduleShipment(uuid4(), uuid4(), [ShipmentLine("SKU-1", 2), ShipmentLine("SKU-2", 1)]),
    DispatchShipment(uuid4(), "DHL", "TRACK-1"),
    CancelShipment(uuid4(), "order cancelled"),
]


def test_the_examples_cover_every_command_type() -> None:
    assert {type(command) for command in COMMANDS} == set(COMMAND_TYPES)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_each_command_survives_avro(command: object) -> None:
    envelope = Envelope(
        uuid4(),
        AT,
        uuid4(),
        causation_id=uuid4(),
        reply_to="orders.outcomes",
        expected_version=0,
        idempotency_key="k-1",
        request_hash="f00d",
    )

    name, record = message_mapping.command_to_record(command, envelope)

    assert name in SCHEMAS
    assert message_mapping.record_to_command(name, round_trip(name, record)) == (command, envelope)


def test_an_outcome_survives_avro() -> None:
    outcome = Outcome(uuid4(), ACCEPTED, uuid4(), 3, "orders.events:1:42")
    envelope = Envelope(outcome.command_id, AT, uuid4(), idempotency_key="POST /v1/orders k-1", request_hash="abc")

    record = round_trip(message_mapping.OUTCOME, message_mapping.outcome_to_record(outcome, envelope))

    assert message_mapping.record_to_outcome(record) == (outcome, "POST /v1/orders k-1", "abc")
