"""Poison events produced by an outside client land in the dead-letter topic, and the projections go on."""

import io
import json

import httpx
import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastavro import parse_schema, schemaless_writer

from projections.catalogue import PROJECTIONS
from tests.conftest import ORDER, settled
from tests.platform import run_cli, wait_for

pytestmark = pytest.mark.kafka

STRANGER = {"type": "record", "name": "Stranger", "namespace": "test", "fields": [{"name": "x", "type": "string"}]}


def _projections(env: dict[str, str]) -> list[dict]:
    result = run_cli(["projections", "--json", "--interval", "0"], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _produce(
    bootstrap: str, values: list[bytes], compression: str = "none", topic: str = "orders.events"
) -> list[tuple[int, int]]:
    """Produce with a plain producer, as any outside client would; returns (partition, offset) of each."""
    producer = Producer({"bootstrap.servers": bootstrap, "compression.type": compression})
    positions: list[tuple[int, int]] = []
    for value in values:
        producer.produce(
            topic,
            key=b"poison",
            value=value,
            on_delivery=lambda error, message: positions.append((message.partition(), message.offset())),
        )
    assert producer.flush(30) == 0
    return positions


def _unknown_type(registry_url: str) -> bytes:
    schema_id = SchemaRegistryClient({"url": registry_url}).register_schema(
        "test.Stranger", Schema(json.dumps(STRANGER), "AVRO")
    )
    body = io.BytesIO()
    schemaless_writer(body, parse_schema(STRANGER), {"x": "not an event of ours"})
    return b"\x00" + schema_id.to_bytes(4, "big") + body.getvalue()


def _an_order_is_projected(base_url: str) -> None:
    placed = httpx.post(f"{base_url}/v1/orders", json=ORDER, timeout=10).json()
    order = httpx.get(
        f"{base_url}/v1/orders/{placed['order_id']}", params={"after": placed["consistency_token"]}, timeout=10
    )
    assert order.status_code == 200, order.text


def _dead_letters(bootstrap: str, topic: str = "orders.events") -> dict[tuple[int, int], dict[str, bytes]]:
    from infra.kafka.reader import read_to_end

    letters = {}
    for message in read_to_end(bootstrap, f"{topic}.dlq"):
        headers = dict(message.headers() or [])
        letters[(int(headers["dlq.partition"]), int(headers["dlq.offset"]))] = {**headers, "value": message.value()}
    return letters


def test_garbage_and_an_unknown_type_are_dead_lettered_and_lag_returns_to_zero(kafka_platform: dict) -> None:
    settled(kafka_platform)
    env = kafka_platform["env"]
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    before = {p["name"]: p["dead_letters"] for p in _projections(env)}
    garbage, stranger = b"\xde\xad\xbe\xef not avro", _unknown_type(env["SCHEMA_REGISTRY_URL"])

    positions = _produce(bootstrap, [garbage, stranger])

    letters = wait_for(
        lambda: (found := _dead_letters(bootstrap)) and all(p in found for p in positions) and found,
        60,
        "both poison events in orders.events.dlq",
    )
    assert letters[positions[0]]["value"] == garbage
    assert letters[positions[1]]["value"] == stranger
    assert b"undecodable" in letters[positions[0]]["dlq.reason"]
    assert b"test.Stranger" in letters[positions[1]]["dlq.reason"]
    assert all(letters[p]["dlq.topic"] == b"orders.events" for p in positions)
    # The projection goes on: a later order is readable, and every orders projection is caught up.
    _an_order_is_projected(kafka_platform["base_url"])
    reports = wait_for(
        lambda: (r := _projections(env)) and all(p["lag"] == 0 for p in r) and r, 60, "every projection's lag at 0"
    )
    for report in reports:
        if PROJECTIONS[report["name"]].CONTEXT == "orders":
            assert report["dead_letters"] == before[report["name"]] + 2
            assert report["last_error"]


def test_garbage_in_the_sagas_own_topic_is_dead_lettered_by_saga_instances(kafka_platform: dict) -> None:
    settled(kafka_platform)
    env = kafka_platform["env"]
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    before = {p["name"]: p["dead_letters"] for p in _projections(env)}

    [position] = _produce(bootstrap, [b"not a saga event"], topic="fulfilment.events")

    letters = wait_for(
        lambda: (found := _dead_letters(bootstrap, "fulfilment.events")) and position in found and found,
        60,
        "the poison event in fulfilment.events.dlq",
    )
    assert letters[position]["value"] == b"not a saga event"
    assert letters[position]["dlq.topic"] == b"fulfilment.events"
    reports = wait_for(
        lambda: (r := _projections(env)) and all(p["lag"] == 0 for p in r) and r, 60, "every projection's lag at 0"
    )
    dead = {report["name"]: report["dead_letters"] - before[report["name"]] for report in reports}
    assert dead == {name: 1 if name == "saga_instances" else 0 for name in PROJECTIONS}


def test_a_worker_restarted_over_poison_in_the_events_topic_takes_commands(kafka_platform: dict) -> None:
    settled(kafka_platform)
    _produce(kafka_platform["env"]["KAFKA_BOOTSTRAP_SERVERS"], [b"garbage before a restart"])

    # kill -9: on restart the command processor reloads its partitions' aggregates over the poison.
    kafka_platform["worker"].kill()
    kafka_platform["worker"].start()

    settled(kafka_platform)
    assert kafka_platform["worker"].process.poll() is None, kafka_platform["worker"].log_tail()


@pytest.mark.parametrize("compression", ["gzip", "snappy", "lz4", "zstd"])
def test_records_compressed_by_an_outside_producer_are_read_and_the_worker_goes_on(
    kafka_platform: dict, compression: str
) -> None:
    settled(kafka_platform)
    bootstrap = kafka_platform["env"]["KAFKA_BOOTSTRAP_SERVERS"]
    # Large and repetitive: librdkafka sends a batch uncompressed when compressing would not make it smaller.
    value = f"garbage compressed with {compression} ".encode() * 1000

    [position] = _produce(bootstrap, [value], compression)

    # The projections' consumer must decompress the batch to see the record at all (then dead-letter it).
    letters = wait_for(lambda: (found := _dead_letters(bootstrap)) and position in found and found, 60, "the letter")
    assert letters[position]["value"] == value
    assert kafka_platform["worker"].process.poll() is None, kafka_platform["worker"].log_tail()
    _an_order_is_projected(kafka_platform["base_url"])


def _order_placed_by_an_outsider(env: dict[str, str], currency: str) -> tuple[str, bytes]:
    """A well-formed OrderPlaced, registered schema and all, for a new order whose currency PostgreSQL cannot
    store (a NUL in text): made from one of our own events, as an outside writer copying it would."""
    import uuid

    from infra.avro.codec import reading_codec
    from infra.kafka.reader import read_to_end
    from infra.settings import load_settings

    codec = reading_codec(env["SCHEMA_REGISTRY_URL"], load_settings().schemas_dir)
    placed = httpx.post(f"{env['BASE_URL']}/v1/orders", json=ORDER, timeout=10).json()
    for message in read_to_end(env["KAFKA_BOOTSTRAP_SERVERS"], "orders.events"):
        if message.key() == placed["order_id"].encode():
            name, record = codec.decode(message.value())
            break
    order_id = str(uuid.uuid4())
    record = {**record, "aggregate_id": uuid.UUID(order_id), "currency_code": currency}
    body = io.BytesIO()
    schemaless_writer(body, codec.schema(name), record)
    return order_id, message.value()[:5] + body.getvalue()


def test_an_event_whose_row_postgresql_refuses_is_dead_lettered_and_the_rest_of_its_batch_applies(
    kafka_platform: dict,
) -> None:
    settled(kafka_platform)
    env, base_url = {**kafka_platform["env"], "BASE_URL": kafka_platform["base_url"]}, kafka_platform["base_url"]
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    before = {p["name"]: p["dead_letters"] for p in _projections(env)}
    order_id, poison = _order_placed_by_an_outsider(env, "EU\x00")

    [position] = _produce(bootstrap, [poison])

    # Before this, PostgreSQL's refusal failed the whole batch on every retry: the projection stalled for good.
    letters = wait_for(lambda: (found := _dead_letters(bootstrap)) and position in found and found, 60, "the letter")
    assert letters[position]["value"] == poison
    assert b"PostgreSQL refused its row" in letters[position]["dlq.reason"]
    assert httpx.get(f"{base_url}/v1/orders/{order_id}", timeout=10).status_code == 404
    _an_order_is_projected(base_url)
    reports = wait_for(
        lambda: (r := _projections(env)) and all(p["lag"] == 0 for p in r) and r, 60, "every projection's lag at 0"
    )
    for report in reports:
        if PROJECTIONS[report["name"]].CONTEXT == "orders":
            assert report["dead_letters"] == before[report["name"]] + 1, report
    assert kafka_platform["worker"].process.poll() is None, kafka_platform["worker"].log_tail()
