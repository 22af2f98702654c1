"""The platform with the fulfilment saga, for the saga tests on both backends, and what they ask of it."""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.avro.codec import reading_codec
from infra.avro.saga_mapping import record_to_saga_event
from infra.embedded.backend import open_event_store
from infra.embedded.sagas import SagaRecorded, recorded_from
from infra.kafka.reader import read_to_end
from infra.kafka.topics import saga_events_topic
from infra.settings import REPOSITORY_ROOT
from tests.platform import StreamkeepProcess, free_port, run_cli, sagas_start_from_now, wait_for, wait_ready

PAYMENT_TIMEOUT_S = 5
# The payment gateway's breaker: opens after this many errors in a row, lets a probe through this long after.
BREAKER_FAILURES = 3
BREAKER_RESET_S = 8  # long enough for an order placed once it opened to reach the gateway


def start_fulfilment_platform(
    backend: str, infra_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict]:
    """The platform with the fulfilment saga and a short payment deadline: `serve` and a worker with every role
    on Kafka; `streamkeep run` with its own data folder on the embedded backend."""
    logs = tmp_path_factory.mktemp(f"fulfilment-{backend}")
    port = free_port()
    env = {
        "STREAMKEEP_SAGAS": "on",
        "STREAMKEEP_PAYMENT_TIMEOUT_S": str(PAYMENT_TIMEOUT_S),
        "STREAMKEEP_BREAKER_FAILURES": str(BREAKER_FAILURES),
        "STREAMKEEP_BREAKER_RESET_S": str(BREAKER_RESET_S),
    }
    base_url = f"http://127.0.0.1:{port}"
    operations_url = base_url  # where the gateway's breaker is seen: the worker's listener on Kafka
    if backend == "kafka":
        env = {**infra_env, **env, "STREAMKEEP_BACKEND": "kafka"}
        sagas_start_from_now(env)
        worker_port = free_port()
        operations_url = f"http://127.0.0.1:{worker_port}"
        processes = [
            StreamkeepProcess(["worker", "--metrics-port", str(worker_port)], env, logs / "worker.log").start(),
            StreamkeepProcess(["serve", "--port", str(port)], env, logs / "api.log").start(),
        ]
    else:
        env = {**env, "STREAMKEEP_BACKEND": "embedded", "KAFKA_BOOTSTRAP_SERVERS": "", "STREAMKEEP_DATA_DIR": str(logs)}
        processes = [StreamkeepProcess(["run", "--port", str(port)], env, logs / "run.log").start()]
    try:
        wait_ready(base_url)
        # The CLI's saga commands find the platform through STREAMKEEP_API_URL.
        platform = {
            "backend": backend,
            "base_url": base_url,
            "operations_url": operations_url,
            "env": {**env, "STREAMKEEP_API_URL": base_url},
        }
        # Ready once an order goes all the way round: placed, then rejected for want of stock.
        wait_for(lambda: status(platform, place(platform, {f"NONE-{uuid.uuid4()}": 1})) == "rejected", 120, "a saga")
        yield platform
    finally:
        for process in reversed(processes):
            process.stop()


def post(platform: dict, path: str, body: object) -> httpx.Response:
    return httpx.post(f"{platform['base_url']}{path}", json=body, timeout=30)


def get(platform: dict, path: str, **params: object) -> httpx.Response:
    return httpx.get(f"{platform['base_url']}{path}", params=params, timeout=30)  # type: ignore[arg-type]


def stocked(platform: dict, quantity: int = 10) -> str:
    sku = f"SAGA-{uuid.uuid4().hex[:12]}"
    answer = post(platform, f"/v1/inventory/{sku}/restock", {"quantity": quantity})
    assert answer.status_code == 200, answer.text
    return sku


def place(platform: dict, quantities: dict[str, int]) -> str:
    lines = [{"sku": sku, "quantity": quantity, "unit_price_cents": 1000} for sku, quantity in quantities.items()]
    order = {"customer_id": str(uuid.uuid4()), "currency": "EUR", "lines": lines}
    answer = post(platform, "/v1/orders", order)
    assert answer.status_code == 201, answer.text
    return answer.json()["order_id"]


def script(platform: dict, *answers: dict) -> None:
    assert post(platform, "/v1/payments/gateway/script", {"answers": list(answers)}).status_code == 200


def order(platform: dict, order_id: str) -> dict:
    answer = get(platform, f"/v1/orders/{order_id}")
    return answer.json() if answer.status_code == 200 else {}


def status(platform: dict, order_id: str) -> str | None:
    return order(platform, order_id).get("status")


def stock(platform: dict, sku: str) -> dict:
    return get(platform, f"/v1/inventory/{sku}").json()


def settled(platform: dict, order_id: str, expected: str) -> dict:
    return wait_for(lambda: order(platform, order_id) if status(platform, order_id) == expected else None, 60, expected)


def saga_history(platform: dict, order_id: str) -> list:
    """The instance's own events as the backend holds them (Kafka, read_committed; or the embedded log)."""
    if platform["backend"] == "embedded":
        app = open_event_store(Path(platform["env"]["STREAMKEEP_DATA_DIR"]))
        records, after = [], 0
        while page := app.recorder.select_notifications(after, 500, inclusive_of_start=False):
            events = [app.mapper.to_domain_event(notification) for notification in page]
            records += [recorded_from(event) for event in events if isinstance(event, SagaRecorded)]
            after = page[-1].id
    else:
        codec = reading_codec(platform["env"]["SCHEMA_REGISTRY_URL"], REPOSITORY_ROOT / "schemas")
        key = order_id.encode()
        # Only the instance's records (keyed by its id): the poison tests leave garbage in the shared stack's topic.
        records = [
            record_to_saga_event(*codec.decode(m.value()))
            for m in read(platform, saga_events_topic())
            if m.key() == key
        ]
    return [r for r in records if str(r.saga_id) == order_id]


def saga_finished(platform: dict, order_id: str, expected: str) -> list:
    def finished() -> list | None:
        history = saga_history(platform, order_id)
        changes = [r.event for r in history if type(r.event).__name__ == "StatusChanged"]
        return history if changes and changes[-1].status == expected else None

    return wait_for(finished, 60, f"saga {order_id} {expected}")


def context_events(platform: dict, context: str, aggregate_id: uuid.UUID | str) -> list[str]:
    """The event types one aggregate of a context holds (read_committed on Kafka), as `replay` prints them."""
    result = run_cli(["replay", "--context", context, "--aggregate", str(aggregate_id)], platform["env"])
    assert result.returncode == 0, result.stderr
    return [json.loads(line)["type"] for line in result.stdout.splitlines()]


def read(platform: dict, topic: str) -> list:
    return list(read_to_end(platform["env"]["KAFKA_BOOTSTRAP_SERVERS"], topic, timeout_s=30))


def sent_steps(history: list) -> list[str]:
    return [r.event.step for r in history if type(r.event).__name__ == "CommandSent"]
