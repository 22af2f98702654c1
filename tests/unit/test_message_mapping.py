"""Every event, command and outcome maps to an Avro record of its local schema and back, unchanged."""

import io
import json
from datetime import datetime, timezone
from uuid import uuid4

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from commands.messages import Envelope, PlaceOrder
from commands.outcomes import ACCEPTED, Outcome
from domain.orders import Order
from domain.values import OrderLine
from infra import message_mapping
from infra.avro_codec import load_local_schemas
from infra.settings import REPOSITORY_ROOT

SCHEMAS = load_local_schemas(REPOSITORY_ROOT / "schemas")
AT = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def round_trip(name: str, record: dict) -> dict:
    schema = parse_schema(json.loads(SCHEMAS[name]))
    buffer = io.BytesIO()
    schemaless_writer(buffer, schema, record)
    buffer.seek(0)
    return schemaless_reader(buffer, schema, schema)  # type: ignore[return-value]


def test_every_event_type_has_a_schema() -> None:
    assert set(message_mapping.EVENT_TYPES) <= set(SCHEMAS)


def test_order_placed_survives_avro() -> None:
    order = Order.place(
        order_id=uuid4(), customer_id=uuid4(), currency="EUR", lines=[OrderLine("SKU-1", 2, 1250)], at=AT
    )
    [placed] = order.collect_events()
    envelope = Envelope(uuid4(), AT, uuid4())

    name, record = message_mapping.event_to_record(placed, envelope)
    back = message_mapping.record_to_event(name, round_trip(name, record))

    assert back == placed


def test_place_order_survives_avro() -> None:
    command = PlaceOrder(uuid4(), uuid4(), "EUR", [OrderLine("SKU-1", 2, 1250)])
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

    assert message_mapping.record_to_command(name, round_trip(name, record)) == (command, envelope)


def test_an_outcome_survives_avro() -> None:
    outcome = Outcome(uuid4(), ACCEPTED, uuid4(), 3, "orders.events:1:42")

    envelope = Envelope(outcome.command_id, AT, uuid4(), idempotency_key="POST /v1/orders k-1", request_hash="abc")

    record = round_trip(message_mapping.OUTCOME, message_mapping.outcome_to_record(outcome, envelope))

    assert message_mapping.record_to_outcome(record) == (outcome, "POST /v1/orders k-1", "abc")
