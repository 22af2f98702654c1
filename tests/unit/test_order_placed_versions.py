"""OrderPlaced v1 and v2, as older code stored them, read as v3: by eventsourcing's upcasters and by Avro resolution."""

import io
import json
from datetime import datetime, timezone
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from commands.messages import Envelope
from domain.orders import Order
from domain.values import OrderLine
from infra.avro.message_mapping import event_to_record, record_to_event
from infra.settings import REPOSITORY_ROOT

AT = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
HISTORY = Path(__file__).parent.parent / "data" / "schema_history"


def placed_order() -> Order:
    lines = [OrderLine("SKU-1", 2, 1250)]
    return Order.place(order_id=uuid4(), customer_id=uuid4(), currency="EUR", lines=lines, at=AT)


def as_stored_by_version(mapper, event, version: int) -> StoredEvent:
    """The stored event that the code of an older class version wrote for the same facts."""
    stored = mapper.to_stored_event(event)
    state = mapper.transcoder.decode(stored.state)
    state.pop("class_version")
    if version < 3:
        state["currency"] = state.pop("currency_code")
    if version < 2:
        del state["channel"]
    if version > 1:  # eventsourcing stores no class_version for version 1
        state["class_version"] = version
    return StoredEvent(stored.originator_id, stored.originator_version, stored.topic, mapper.transcoder.encode(state))


@pytest.mark.parametrize("version", [1, 2])
def test_eventsourcing_upcasts_a_stored_older_order_placed_to_v3(version):
    mapper = Application().mapper
    order = placed_order()
    event = order.collect_events()[0]
    read = mapper.to_domain_event(as_stored_by_version(mapper, event, version))
    assert type(read) is Order.Placed
    assert (read.currency_code, read.channel, read.lines) == ("EUR", "web", event.lines)
    rebuilt = read.mutate(None)
    assert (rebuilt.currency, rebuilt.channel, rebuilt.total_cents) == ("EUR", "web", 2500)


def test_a_v3_event_is_stored_with_its_class_version():
    mapper = Application().mapper
    stored = mapper.to_stored_event(placed_order().collect_events()[0])
    assert mapper.transcoder.decode(stored.state)["class_version"] == 3


def test_a_snapshot_taken_before_channels_reads_as_web():
    state = {"customer_id": uuid4(), "currency": "EUR", "lines": [], "status": "placed"}
    Order.upcast_v1_v2(state)
    assert state["channel"] == "web"


@pytest.mark.parametrize("version", [1, 2])
def test_avro_resolution_reads_an_older_record_as_v3(version):
    writer = parse_schema(json.loads((HISTORY / f"orders.OrderPlaced.v{version}.avsc").read_text()))
    reader = parse_schema(json.loads((REPOSITORY_ROOT / "schemas" / "orders.OrderPlaced.avsc").read_text()))
    event = placed_order().collect_events()[0]
    _, record = event_to_record(event, Envelope(uuid4(), AT, uuid4()))
    old_record = {("currency" if k == "currency_code" else k): v for k, v in record.items() if k != "channel"}
    if version == 2:
        old_record["channel"] = "phone"
    body = io.BytesIO()
    schemaless_writer(body, writer, old_record)
    body.seek(0)
    read = record_to_event("orders.OrderPlaced", schemaless_reader(body, writer, reader))  # type: ignore[arg-type]
    assert (read.currency_code, read.channel) == ("EUR", "web" if version == 1 else "phone")
    assert read.mutate(None).total_cents == 2500


@pytest.mark.parametrize(("version", "channel"), [(1, "web"), (2, "phone")])
def test_a_record_read_as_its_writer_wrote_it_goes_through_the_upcasters(version, channel):
    # What the codec hands over when Avro cannot resolve a writer: the record as written, with its class version.
    record = {
        "aggregate_id": uuid4(),
        "version": 1,
        "occurred_at": AT,
        "command_id": uuid4(),
        "correlation_id": uuid4(),
        "customer_id": uuid4(),
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250}],
        "class_version": version,
    }
    if version == 2:
        record["channel"] = "phone"
    event = record_to_event("orders.OrderPlaced", record)
    assert (event.currency_code, event.channel) == ("EUR", channel)
