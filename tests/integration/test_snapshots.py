"""The command processors keep each aggregate's latest snapshot in a compacted topic and load from it."""

import uuid

import httpx
import pytest

from infra.kafka.reader import read_to_end
from infra.write_side.snapshot_codec import SnapshotCodec
from tests.conftest import ORDER, settled

pytestmark = pytest.mark.kafka


def latest_snapshots(env: dict, topic: str) -> dict[str, object]:
    codec, latest = SnapshotCodec(), {}
    for message in read_to_end(env["KAFKA_BOOTSTRAP_SERVERS"], topic):
        latest[message.key().decode()] = codec.decode(message.key(), message.headers() or [], message.value())[0]
    return latest


def test_each_change_writes_the_aggregates_snapshot_with_its_events(kafka_platform: dict) -> None:
    base_url, env = kafka_platform["base_url"], kafka_platform["env"]
    settled(kafka_platform)
    placed = httpx.post(f"{base_url}/v1/orders", json=ORDER, timeout=30).json()
    order_id = placed["order_id"]
    cancelled = httpx.post(f"{base_url}/v1/orders/{order_id}/cancel", json={"reason": "x"}, timeout=30)
    assert cancelled.status_code == 200, cancelled.text

    snapshot = latest_snapshots(env, "orders.snapshots")[order_id]

    assert (snapshot.version, snapshot.status, str(snapshot.customer_id)) == (2, "cancelled", ORDER["customer_id"])


def test_a_restarted_worker_loads_aggregates_from_snapshots_and_goes_on_from_their_versions(
    kafka_platform: dict,
) -> None:
    base_url, env = kafka_platform["base_url"], kafka_platform["env"]
    settled(kafka_platform)
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    for _ in range(30):
        assert httpx.post(f"{base_url}/v1/inventory/{sku}/restock", json={"quantity": 1}, timeout=30).status_code == 200

    kafka_platform["worker"].kill()
    kafka_platform["worker"].start()
    settled(kafka_platform)
    after = httpx.post(
        f"{base_url}/v1/inventory/{sku}/restock", json={"quantity": 1}, headers={"If-Match": "31"}, timeout=30
    )

    assert (after.status_code, after.json()["version"]) == (200, 32), after.text
    item = next(s for s in latest_snapshots(env, "inventory.snapshots").values() if getattr(s, "sku", None) == sku)
    assert (item.version, item.on_hand) == (32, 31)
    # The restarted worker found snapshots covering every event: it replayed none.
    loads = [line for line in kafka_platform["worker"].log_tail(400).splitlines() if "inventory partitions" in line]
    assert loads and "events replayed past snapshots in: []," in loads[-1], loads
