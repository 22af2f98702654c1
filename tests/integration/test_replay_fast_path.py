"""`replay --format json`'s fast path prints, byte for byte, the lines the plain codec and `json.dumps` printed
(v1 events read as v3 included), and shared out among processes it prints the same lines, each partition's in
its order."""

import io
import json
from collections import defaultdict
from datetime import datetime, timezone

import pytest

from infra.avro.codec import UndecodableMessage
from infra.avro.message_mapping import EVENT_TYPES
from infra.avro.views import json_lines_view
from infra.kafka.event_stream import Window, end_offsets
from infra.kafka.reader import read_to_end
from infra.registry.deploy import connect_codec
from infra.replay.fanout import replay_shares
from infra.replay.json_lines import JsonLines, write_json_lines
from infra.settings import REPOSITORY_ROOT
from tests.conftest import settled
from tests.integration.test_schema_evolution import produce_v1_order

pytestmark = pytest.mark.kafka
TOPIC = "orders.events"


def plain_line(codec: object, message: object) -> str | None:
    """The line as replay printed it before the fast path: the plain codec's record, its dict, json.dumps."""
    try:
        name, record = codec.decode(message.value())  # type: ignore[attr-defined]
    except UndecodableMessage:
        return None
    if name not in EVENT_TYPES:  # a record of an outside client's type (the poison test's): not an event
        return None
    at = datetime.fromtimestamp(message.timestamp()[1] / 1000, timezone.utc)  # type: ignore[attr-defined]
    line = {
        "topic": TOPIC,
        "partition": message.partition(),  # type: ignore[attr-defined]
        "offset": message.offset(),  # type: ignore[attr-defined]
        "timestamp": at.isoformat(),
        "type": name,
        "aggregate_id": str(record["aggregate_id"]),
        "version": record["version"],
        "data": {k: v for k, v in record.items() if k not in ("aggregate_id", "version", "occurred_at")},
    }
    return json.dumps(line, default=str) + "\n"


def test_every_event_prints_as_the_plain_codec_and_json_dumps_printed_it(kafka_platform: dict) -> None:
    env = kafka_platform["env"]
    settled(kafka_platform)
    order_id, _ = produce_v1_order(env)
    codec = connect_codec(env["SCHEMA_REGISTRY_URL"], REPOSITORY_ROOT / "schemas")
    viewed, lines = codec.viewed(json_lines_view), JsonLines(TOPIC)
    compared = 0

    for message in read_to_end(env["KAFKA_BOOTSTRAP_SERVERS"], TOPIC):
        expected = plain_line(codec, message)
        if expected is None:  # a poison record another test left: the fast path skips it too
            try:
                name, _ = viewed.decode(message.value())
            except UndecodableMessage:
                continue
            assert name not in EVENT_TYPES
            continue
        name, record = viewed.decode(message.value())
        assert lines.line(message.partition(), message.offset(), message.timestamp()[1], name, record) == expected
        compared += 1
        if message.key() == str(order_id).encode():  # the v1 event: read as v3
            assert '"currency_code": "EUR"' in expected and '"channel": "web"' in expected
    assert compared > 0


def test_shared_out_among_processes_the_lines_are_the_same_and_each_partition_keeps_its_order(
    kafka_platform: dict,
) -> None:
    env = kafka_platform["env"]
    settled(kafka_platform)
    bootstrap, registry = env["KAFKA_BOOTSTRAP_SERVERS"], env["SCHEMA_REGISTRY_URL"]
    codec = connect_codec(registry, REPOSITORY_ROOT / "schemas")
    single, shared = io.StringIO(), io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    ends = end_offsets(bootstrap, TOPIC)  # fixed ends: both runs print the same events
    window = Window(ends=ends)

    write_json_lines(bootstrap, codec, TOPIC, window, single, lambda _: None)
    replay_shares([(p,) for p in sorted(ends)], bootstrap, registry, REPOSITORY_ROOT / "schemas", TOPIC, window, shared)

    shared.flush()
    printed = shared.buffer.getvalue().decode().splitlines()  # type: ignore[attr-defined]
    assert _by_partition(printed) == _by_partition(single.getvalue().splitlines())
    assert len(printed) > 0


def _by_partition(lines: list[str]) -> dict[int, list[str]]:
    kept: dict[int, list[str]] = defaultdict(list)
    for line in lines:
        kept[json.loads(line)["partition"]].append(line)
    return dict(kept)
