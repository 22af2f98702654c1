"""OrderPlaced events written by v1 code stay where they are and are read as v3 (replayed, projected, rebuilt,
commanded): on Kafka through Avro's resolution to the newest schema, or where that cannot resolve them through
the upcasters; on the embedded event store through eventsourcing's class_version upcasters."""

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer
from eventsourcing.persistence import StoredEvent
from fastavro import parse_schema, schemaless_writer

from domain.orders import Order
from domain.values import OrderLine
from infra.avro.codec import AvroCodec, load_local_schemas
from infra.avro.message_mapping import record_to_event
from infra.embedded.backend import open_event_store
from infra.kafka.reader import read_to_end
from infra.registry.client import Registry
from tests.conftest import settled
from tests.platform import ROOT, StreamkeepProcess, free_port, wait_for, wait_ready
from tests.schema_history import order_placed_history

V1 = ROOT / "tests" / "data" / "schema_history" / "orders.OrderPlaced.v1.avsc"
CUSTOMER = "6f1c1f5e-6a7e-4a53-9a44-0f8f6f0b8a11"


def streamkeep(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra", *args], env={**os.environ, **env}, capture_output=True, text=True, cwd=ROOT
    )


def replayed(env: dict[str, str], order_id: str) -> list[dict]:
    result = streamkeep(env, "replay", "--aggregate", order_id)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def read_model(base_url: str, order_id: str) -> dict:
    return wait_for(
        lambda: (r := httpx.get(f"{base_url}/v1/orders/{order_id}", timeout=5)).status_code == 200 and r.json(),
        60,
        f"order {order_id} in the read model",
    )


def cancel(base_url: str, order_id: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/orders/{order_id}/cancel",
        json={"reason": "schema moved on"},
        headers={"If-Match": "1"},
        timeout=10,
    )


def v1_record(order_id: uuid.UUID) -> dict:
    """An OrderPlaced as the v1 code wrote it: `currency`, no `channel`."""
    return {
        "aggregate_id": str(order_id),
        "version": 1,
        "occurred_at": datetime.now(timezone.utc),
        "command_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
        "customer_id": CUSTOMER,
        "currency": "EUR",
        "lines": [{"sku": "SKU-V1", "quantity": 3, "unit_price_cents": 700}],
    }


def produce_v1_order(env: dict[str, str]) -> tuple[uuid.UUID, int]:
    """An OrderPlaced written straight to Kafka by v1 code; returns the order id and the v1 schema id."""
    # The v1 schema as the old code registered it; readers find a writer schema by its id, whatever the subject.
    schema_id = Registry(env["SCHEMA_REGISTRY_URL"]).register("streamkeep-test.orders.OrderPlaced.v1", V1.read_text())
    writer = parse_schema(json.loads(V1.read_text()))
    order_id = uuid.uuid4()
    value = io.BytesIO()
    value.write(struct.pack(">bI", 0, schema_id))
    schemaless_writer(value, writer, v1_record(order_id))
    # Keyed like the command bus keys commands, so it lands in the partition whose processor owns the order.
    producer = Producer({"bootstrap.servers": env["KAFKA_BOOTSTRAP_SERVERS"]})
    producer.produce("orders.events", key=str(order_id).encode(), value=value.getvalue())
    assert producer.flush(30) == 0
    return order_id, schema_id


@pytest.mark.kafka
def test_v1_events_in_kafka_are_replayed_projected_and_commanded_as_v3(kafka_platform: dict) -> None:
    env, base_url = kafka_platform["env"], kafka_platform["base_url"]
    order_id, schema_id = produce_v1_order(env)

    [event] = replayed(env, str(order_id))
    assert event["type"] == "orders.OrderPlaced"
    assert event["data"]["currency_code"] == "EUR" and event["data"]["channel"] == "web"

    row = read_model(base_url, str(order_id))
    assert (row["currency"], row["total_cents"], row["status"]) == ("EUR", 2100, "placed")

    # A restarted command processor rebuilds its partitions from the events, the v1 one included.
    kafka_platform["worker"].stop()
    kafka_platform["worker"].start()
    settled(kafka_platform)
    response = cancel(base_url, str(order_id))
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    wait_for(lambda: read_model(base_url, str(order_id))["status"] == "cancelled", 60, "the cancellation projected")

    # A rebuild reads the v1 event again from the first offset, beside the live table, and swaps it in.
    rebuilt = streamkeep(env, "rebuild", "order_summary", "--json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["events"] > 0
    row = read_model(base_url, str(order_id))
    assert (row["currency"], row["total_cents"], row["status"]) == ("EUR", 2100, "cancelled")

    report = json.loads(streamkeep(env, "schemas", "check", "--json").stdout)
    assert report["passed"], report["failures"]
    [v1_writer] = [w for w in report["writer_schemas"] if w["schema_id"] == schema_id]
    assert v1_writer["readable"] and v1_writer["decoded"] >= 1


def store_as_v1(data_dir: Path) -> uuid.UUID:
    """An OrderPlaced stored the way the v1 code stored it: no class_version, `currency`, no `channel`."""
    store = open_event_store(data_dir)
    order = Order.place(
        order_id=uuid.uuid4(),
        customer_id=uuid.UUID(CUSTOMER),
        currency="EUR",
        lines=[OrderLine("SKU-V1", 3, 700)],
        at=datetime.now(timezone.utc),
    )
    stored = store.mapper.to_stored_event(order.collect_events()[0])
    state = store.mapper.transcoder.decode(stored.state)
    del state["class_version"], state["channel"]
    state["currency"] = state.pop("currency_code")
    old = StoredEvent(
        stored.originator_id, stored.originator_version, stored.topic, store.mapper.transcoder.encode(state)
    )
    store.recorder.insert_events([old])
    return order.id


def test_v1_events_in_the_embedded_store_are_upcast_by_eventsourcing(tmp_path: Path) -> None:
    data_dir = tmp_path / ".streamkeep"
    order_id = str(store_as_v1(data_dir))
    port = free_port()
    env = {"STREAMKEEP_BACKEND": "embedded", "KAFKA_BOOTSTRAP_SERVERS": "", "STREAMKEEP_DATA_DIR": str(data_dir)}
    run = StreamkeepProcess(["run", "--port", str(port)], env, tmp_path / "run.log").start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, timeout_s=30)
        row = read_model(base_url, order_id)
        assert (row["currency"], row["total_cents"], row["status"]) == ("EUR", 2100, "placed")
        response = cancel(base_url, order_id)
        assert response.status_code == 200, response.text
        assert response.json()["version"] == 2
    finally:
        run.stop()
    [placed, cancelled] = replayed(env, order_id)
    assert placed["data"]["currency_code"] == "EUR" and placed["data"]["channel"] == "web"
    assert cancelled["type"] == "orders.OrderCancelled"


def without_the_alias(tmp_path: Path, level: str) -> Path:
    """The schemas with OrderPlaced's rename left to the upcaster alone (no Avro alias), at the given level."""
    folder = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", folder)
    path = folder / "orders.OrderPlaced.avsc"
    schema = json.loads(path.read_text())
    next(f for f in schema["fields"] if f["name"] == "currency_code").pop("aliases")
    path.write_text(json.dumps(schema))
    (folder / "compatibility.toml").write_text(f'default = "BACKWARD"\n[subjects]\n"orders.OrderPlaced" = "{level}"\n')
    return folder


@pytest.mark.kafka
def test_where_avro_cannot_resolve_v1_the_upcasters_read_it_from_kafka(kafka_platform: dict, tmp_path: Path) -> None:
    env = kafka_platform["env"]
    order_id, schema_id = produce_v1_order(env)
    folder = without_the_alias(tmp_path, "NONE")
    # The code's read path (replay, projections and command processors share it): codec, then mapping.
    codec = AvroCodec(Registry(env["SCHEMA_REGISTRY_URL"]).client, load_local_schemas(folder))
    [message] = [
        m for m in read_to_end(env["KAFKA_BOOTSTRAP_SERVERS"], "orders.events") if m.key() == str(order_id).encode()
    ]
    name, record = codec.decode(message.value())
    assert record["class_version"] == 1 and record["currency"] == "EUR"  # read as written: Avro could not resolve it
    event = record_to_event(name, record)
    assert (event.currency_code, event.channel, event.mutate(None).total_cents) == ("EUR", "web", 2100)

    result = streamkeep(env, "schemas", "check", "--schemas-dir", str(folder), "--json")
    report = json.loads(result.stdout)
    assert report["passed"], report["failures"]
    [v1_writer] = [w for w in report["writer_schemas"] if w["schema_id"] == schema_id]
    assert v1_writer["read_by"] == "upcasters from class version 1" and v1_writer["decoded"] >= 1


@pytest.mark.kafka
def test_the_registry_knows_no_upcasters_so_backward_transitive_refuses_what_they_read(
    kafka_platform: dict, tmp_path: Path
) -> None:
    """Under BACKWARD_TRANSITIVE the registry's v1 and v2 fail without the alias, though the stored v1 events
    pass through the upcasters. A production registry holds v1..v3; this one holds them under a test prefix."""
    env = kafka_platform["env"]
    produce_v1_order(env)
    prefix = f"streamkeep-test-{uuid.uuid4().hex[:8]}."
    with order_placed_history(env["SCHEMA_REGISTRY_URL"], f"{prefix}orders.OrderPlaced"):
        latest_only = streamkeep(
            env,
            "schemas",
            "check",
            "--subject-prefix",
            prefix,
            "--schemas-dir",
            str(without_the_alias(tmp_path, "BACKWARD")),
        )
        folder = without_the_alias(tmp_path / "strict", "BACKWARD_TRANSITIVE")
        strict = streamkeep(env, "schemas", "check", "--subject-prefix", prefix, "--schemas-dir", str(folder))
    assert latest_only.returncode == 0, latest_only.stdout + latest_only.stderr  # v3 wrote currency_code itself
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "Traceback" not in strict.stderr
    no_default = "orders.OrderPlaced: field 'currency_code' added without a default: data written with version"
    assert [line.split(" (schema id")[0] for line in strict.stdout.splitlines()] == [
        f"{no_default} 1",
        f"{no_default} 2",
    ]
