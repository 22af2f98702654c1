"""One order through real Kafka, the real registry and real PostgreSQL, over HTTP both ways."""

import io
import struct
import subprocess
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from avro.io import BinaryDecoder, DatumReader
from avro.schema import parse as parse_avro
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient

from infra.kafka.reader import read_to_end
from infra.read_side.projection_runner import APP_ID
from tests.conftest import settled
from tests.platform import StreamkeepProcess, free_port, wait_for, wait_ready

pytestmark = pytest.mark.kafka

ORDER = {
    "customer_id": "6f1c1f5e-6a7e-4a53-9a44-0f8f6f0b8a11",
    "currency": "EUR",
    "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250}],
}


@pytest.fixture
def platform(kafka_platform: dict) -> dict:
    settled(kafka_platform)
    return kafka_platform


def _post(base_url: str, body: object) -> httpx.Response:
    return httpx.post(f"{base_url}/v1/orders", json=body, timeout=10)


def _placed_order(base_url: str) -> dict:
    response = _post(base_url, ORDER)
    assert response.status_code == 201, response.text
    return response.json()


def _read_model(base_url: str, order_id: str) -> dict:
    return wait_for(
        lambda: (r := httpx.get(f"{base_url}/v1/orders/{order_id}", timeout=5)).status_code == 200 and r.json(),
        30,
        f"order {order_id} in the read model",
    )


def _stored_events(env: dict[str, str], order_id: str) -> list:
    return [m for m in read_to_end(env["KAFKA_BOOTSTRAP_SERVERS"], "orders.events") if m.key() == order_id.encode()]


def test_an_order_posted_over_http_is_readable_over_http(platform: dict) -> None:
    placed = _placed_order(platform["base_url"])
    assert placed["version"] == 1
    assert placed["consistency_token"].startswith("orders.commands:")

    order = _read_model(platform["base_url"], placed["order_id"])

    assert order["order_id"] == placed["order_id"]
    assert order["status"] == "placed"
    assert order["total_cents"] == 2500
    assert order["lines"] == ORDER["lines"]
    assert order["version"] == 1


def test_the_stored_event_decodes_with_the_registry_schema(platform: dict) -> None:
    placed = _placed_order(platform["base_url"])

    [message] = _stored_events(platform["env"], placed["order_id"])

    magic, schema_id = struct.unpack(">bI", message.value()[:5])
    assert magic == 0
    registered = SchemaRegistryClient({"url": platform["env"]["SCHEMA_REGISTRY_URL"]}).get_schema(schema_id)
    record = _decode_with_apache_avro(registered.schema_str, message.value()[5:])
    assert record["aggregate_id"] == placed["order_id"]
    assert record["version"] == 1
    assert record["lines"] == ORDER["lines"]
    assert dict(message.headers())["event_type"] == b"orders.OrderPlaced"
    assert placed["consistency_token"].endswith(":" + dict(message.headers())["command_offset"].decode())


def test_kafkas_own_console_consumer_reads_committed_events_that_apache_avro_decodes(platform: dict) -> None:
    from infra.local import kafka as local_kafka
    from infra.local.process import Settings as LocalSettings

    placed = _placed_order(platform["base_url"])
    libs = local_kafka.libs_dir(LocalSettings.from_env())
    if not libs.exists():
        pytest.skip("the Kafka jars of the local launcher are not here (services came from elsewhere)")
    # Offsets also count transaction markers, so count the committed records themselves.
    messages = list(read_to_end(platform["env"]["KAFKA_BOOTSTRAP_SERVERS"], "orders.events"))
    stored = [m.value() for m in messages]
    # Ours carry an event_type header; the poison test's records from a plain producer do not.
    ours = {m.value() for m in messages if dict(m.headers() or ()).get("event_type")}
    count = len(stored)

    values = _console_consumer_values(libs, platform["env"]["KAFKA_BOOTSTRAP_SERVERS"], count)

    registry = SchemaRegistryClient({"url": platform["env"]["SCHEMA_REGISTRY_URL"]})
    decoded = []
    for value in (v for v in values if v in ours):
        assert value[0] == 0, "magic byte"
        schema_id = struct.unpack(">I", value[1:5])[0]
        decoded.append(_decode_with_apache_avro(registry.get_schema(schema_id).schema_str, value[5:]))
    assert len(decoded) == len([m for m in messages if m.value() in ours])
    assert sorted(values) == sorted(stored), "the console consumer saw the same committed values, byte for byte"
    assert placed["order_id"] in {record["aggregate_id"] for record in decoded}


def test_restarting_the_worker_applies_no_event_twice(platform: dict) -> None:
    placed = _placed_order(platform["base_url"])
    _read_model(platform["base_url"], placed["order_id"])
    before = _order_summary_table(platform["env"])
    checkpoints_before = _checkpoints(platform["env"])

    # kill -9, then make Kafka redeliver everything: the PostgreSQL checkpoint alone must prevent re-application.
    platform["worker"].kill()
    _rewind_projection_group(platform["env"])
    platform["worker"].start()
    # The first commands may time out while the group moves the dead worker's partitions.
    again = wait_for(
        lambda: (r := _post(platform["base_url"], ORDER)).status_code == 201 and r.json(),
        90,
        "the restarted worker to take commands",
    )
    _read_model(platform["base_url"], again["order_id"])

    after = _order_summary_table(platform["env"])
    # Rows that existed are untouched (orders sent while the worker was down were added, as they should be).
    assert {k: after[k] for k in before} == before
    assert again["order_id"] in after
    assert after[placed["order_id"]]["version"] == 1
    assert _count_rows(platform["env"], placed["order_id"]) == 1
    for position, offset in checkpoints_before.items():
        assert _checkpoints(platform["env"])[position] >= offset


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        ({"currency": "EUR", "lines": ORDER["lines"]}, 422, "customer_id"),
        ({**ORDER, "lines": [{"sku": "SKU-1", "quantity": "two", "unit_price_cents": 1}]}, 422, "lines[0].quantity"),
        ({**ORDER, "currency": 978}, 422, "currency"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(
    platform: dict, body: object, status: int, field: str | None
) -> None:
    before = _end_offsets(platform["env"], "orders.commands")
    if isinstance(body, bytes):
        response = httpx.post(
            f"{platform['base_url']}/v1/orders", content=body, headers={"content-type": "application/json"}, timeout=10
        )
    else:
        response = _post(platform["base_url"], body)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    if field:
        assert field in response.json()["detail"]
    assert _end_offsets(platform["env"], "orders.commands") == before


def _decode_with_apache_avro(schema_json: str, body: bytes) -> dict:
    reader = DatumReader(parse_avro(schema_json))
    return reader.read(BinaryDecoder(io.BytesIO(body)))


def _end_offsets(env: dict[str, str], topic: str = "orders.events") -> dict[int, int]:
    consumer = Consumer(
        {
            "bootstrap.servers": env["KAFKA_BOOTSTRAP_SERVERS"],
            "group.id": f"t-{uuid.uuid4()}",
            "isolation.level": "read_committed",
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    finally:
        consumer.close()


def _console_consumer_values(libs: Path, bootstrap: str, count: int) -> list[bytes]:
    """Run Kafka's ConsoleConsumer from the same jars; BytesDeserializer escapes what is not printable."""
    command = [
        "java",
        "-cp",
        f"{libs}/*",
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        "--bootstrap-server",
        bootstrap,
        "--topic",
        "orders.events",
        "--from-beginning",
        "--max-messages",
        str(count),
        "--timeout-ms",
        "30000",
        "--consumer-property",
        "isolation.level=read_committed",
        "--property",
        "print.value=true",
        "--value-deserializer",
        "org.apache.kafka.common.serialization.BytesDeserializer",
    ]
    result = subprocess.run(command, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    return [_parse_bytes_repr(line) for line in result.stdout.decode().splitlines() if line.strip()]


def _parse_bytes_repr(line: str) -> bytes:
    # BytesDeserializer prints Bytes.toString(): printable ASCII as is, other bytes as \xHH.
    out = bytearray()
    i = 0
    while i < len(line):
        if line.startswith("\\x", i):
            out.append(int(line[i + 2 : i + 4], 16))
            i += 4
        else:
            out.append(ord(line[i]))
            i += 1
    return bytes(out)


def _order_summary_table(env: dict[str, str]) -> dict[str, dict]:
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT order_id, status, total_cents, lines, version, updated_at FROM order_summary"
        ).fetchall()
    return {
        str(r[0]): {"status": r[1], "total_cents": r[2], "lines": r[3], "version": r[4], "updated_at": r[5]}
        for r in rows
    }


def _count_rows(env: dict[str, str], order_id: str) -> int:
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        return conn.execute("SELECT count(*) FROM order_summary WHERE order_id = %s", (order_id,)).fetchone()[0]


def _checkpoints(env: dict[str, str]) -> dict[tuple[str, int], int]:
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        rows = conn.execute('SELECT topic, partition, "offset" FROM projection_checkpoints').fetchall()
    return {(t, p): o for t, p, o in rows}


def _rewind_projection_group(env: dict[str, str]) -> None:
    """Set the Faust consumer group's committed offsets back to 0, as a lost commit would."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    admin = AdminClient({"bootstrap.servers": env["KAFKA_BOOTSTRAP_SERVERS"]})
    partitions = [TopicPartition("orders.events", p, 0) for p in _end_offsets(env)]

    def rewind() -> bool:
        # Kafka refuses while the killed member's session lingers; retry until the group is empty.
        futures = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(APP_ID, partitions)])
        try:
            [f.result() for f in futures.values()]
        except Exception:
            return False
        return True

    wait_for(rewind, 90, "the projection group to be empty so its offsets can be rewound", interval_s=1)


def test_streamkeep_run_serves_and_processes_in_one_process(platform: dict, tmp_path: Path) -> None:
    port = free_port()
    run = StreamkeepProcess(["run", "--port", str(port)], platform["env"], tmp_path / "run.log").start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url)
        # It joins the command and projection groups beside the module's worker; commands wait out the rebalance.
        placed = wait_for(
            lambda: (r := _post(base_url, ORDER)).status_code == 201 and r.json(),
            90,
            "`streamkeep run` to take commands",
        )
        assert _read_model(base_url, placed["order_id"])["status"] == "placed"
    finally:
        run.stop()
