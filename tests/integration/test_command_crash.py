"""kill -9 the command processor again and again under load; then check what Kafka holds, read_committed."""

import asyncio
import random
import time
import uuid
from collections import Counter

import httpx
import pytest

from infra.avro_codec import connect_codec
from infra.kafka_reader import read_to_end
from infra.settings import REPOSITORY_ROOT
from tests.conftest import ORDER
from tests.platform import wait_for

pytestmark = pytest.mark.kafka

LOAD_SECONDS = 40
CLIENTS = 8
KILLS = 4
RETRY_FOR_S = 90


async def send_until_answered(client: httpx.AsyncClient, body: dict, headers: dict) -> tuple[httpx.Response, int]:
    """Retry with the same Idempotency-Key through 503s and dropped connections, as a careful client would."""
    deadline = time.monotonic() + RETRY_FOR_S
    attempts = 0
    while True:
        attempts += 1
        try:
            answer = await client.post("/v1/orders", json=body, headers=headers)
            if answer.status_code != 503:
                return answer, attempts
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no definitive answer for {body.get('order_id')} within {RETRY_FOR_S} s")
        await asyncio.sleep(0.5)


async def client_loop(base_url: str, stop_at: float, answers: list[tuple[str, str, int, dict, int]]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        while time.monotonic() < stop_at:
            order_id = str(uuid.uuid4())
            kind = random.choices(["valid", "rule-broken", "conflict"], weights=[8, 1, 1])[0]
            body = {**ORDER, "order_id": order_id}
            if kind == "rule-broken":
                body["lines"] = [{"sku": "SKU-1", "quantity": 0, "unit_price_cents": 100}]
            headers = {"Idempotency-Key": f"crash-{order_id}"}
            if kind == "conflict":
                headers["If-Match"] = "7"  # the order does not exist: version 0
            answer, attempts = await send_until_answered(client, body, headers)
            answers.append((order_id, kind, answer.status_code, answer.json(), attempts))


async def kill_repeatedly(worker, stop_at: float) -> int:  # type: ignore[no-untyped-def]
    kills = 0
    await asyncio.sleep(LOAD_SECONDS / (KILLS + 1))
    while time.monotonic() < stop_at and kills < KILLS:
        worker.kill()
        kills += 1
        await asyncio.sleep(random.uniform(0.5, 2.0))
        worker.start()
        await asyncio.sleep(LOAD_SECONDS / (KILLS + 1))
    return kills


async def load_with_kills(base_url: str, worker) -> tuple[list, int]:  # type: ignore[no-untyped-def]
    stop_at = time.monotonic() + LOAD_SECONDS
    answers: list[tuple[str, str, int, dict, int]] = []
    clients = [client_loop(base_url, stop_at, answers) for _ in range(CLIENTS)]
    results = await asyncio.gather(kill_repeatedly(worker, stop_at), *clients)
    return answers, results[0]


def test_every_acknowledged_command_is_in_kafka_exactly_once_despite_kill_minus_nine(kafka_platform: dict) -> None:
    base_url, env = kafka_platform["base_url"], kafka_platform["env"]

    answers, kills = asyncio.run(load_with_kills(base_url, kafka_platform["worker"]))
    wait_for(lambda: httpx.post(f"{base_url}/v1/orders", json=ORDER, timeout=10).status_code == 201, 120, "recovery")

    assert kills == KILLS
    codec = connect_codec(env["SCHEMA_REGISTRY_URL"], REPOSITORY_ROOT / "schemas")
    stored = Counter()
    for message in read_to_end(env["KAFKA_BOOTSTRAP_SERVERS"], "orders.events"):
        if not dict(message.headers() or ()).get("event_type"):
            continue  # not written by a command processor (the poison test's records)
        record = codec.decode(message.value())[1]
        stored[(str(record["aggregate_id"]), record["version"])] += 1

    duplicates = {key: n for key, n in stored.items() if n > 1}
    assert duplicates == {}, f"versions stored more than once: {list(duplicates)[:5]}"
    acknowledged = [(order_id, body) for order_id, kind, status, body, _ in answers if status == 201]
    refused = [(order_id, kind, status) for order_id, kind, status, _, _ in answers if status in (409, 422)]
    retried = [answer[0] for answer in answers if answer[-1] > 1]
    assert len(acknowledged) > 100, "the load was too small to mean anything"
    assert retried, "no request had to be retried: the kills did not disturb anything, so this proves nothing"
    for order_id, body in acknowledged:
        assert body["order_id"] == order_id
        assert stored[(order_id, 1)] == 1, f"acknowledged order {order_id} is not in Kafka exactly once"
    for order_id, kind, status in refused:
        assert kind != "valid", f"a valid order {order_id} was refused with {status}"
        assert stored[(order_id, 1)] == 0, f"refused command for {order_id} left an event"
    assert {kind for _, kind, status, *_ in answers if status == 201} == {"valid"}
    print(f"{len(answers)} commands, {len(acknowledged)} acknowledged, {len(retried)} retried through {kills} kills")
