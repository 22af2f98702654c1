"""A worker's /metrics after a known load: its command processors count every command exactly once, by outcome,
its saga runner every instance it compensated, and the lag it reports (librdkafka's statistics, the projections'
checkpoints) returns to 0."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from infra.local import kafka as local_kafka
from infra.local import postgres as local_postgres
from tests.conftest import ORDER
from tests.integration import own_services
from tests.platform import StreamkeepProcess, free_port, wait_for, wait_ready

PRODUCERS = ("streamkeep-commands-orders/producer", "streamkeep-sagas-fulfilment/producer")
pytestmark = pytest.mark.kafka
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def quiet_stack(infra_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """A Kafka and a PostgreSQL of this test's own: on the shared ones other runs' workers share the consumer
    groups and other tests' commands reach the same partitions, so no count of one worker could be exact."""
    with own_services.own_kafka(tmp_path) as kafka, own_services.own_postgres(tmp_path) as postgres:
        yield {
            **infra_env,
            "STREAMKEEP_BACKEND": "kafka",
            "STREAMKEEP_SAGAS": "on",
            "KAFKA_BOOTSTRAP_SERVERS": local_kafka.url(kafka),
            "DATABASE_URL": local_postgres.url(postgres),
        }


def test_the_worker_counts_each_command_by_outcome_and_its_lag_returns_to_zero(
    quiet_stack: dict[str, str], tmp_path: Path
) -> None:
    api_port, metrics_port = free_port(), free_port()
    worker_args = ["worker", "--metrics-port", str(metrics_port)]
    worker = StreamkeepProcess(worker_args, quiet_stack, tmp_path / "worker.log").start()
    api = StreamkeepProcess(["serve", "--port", str(api_port)], quiet_stack, tmp_path / "api.log").start()
    api_url, metrics_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{metrics_port}"
    placed, refused = 20, 5
    try:
        wait_ready(metrics_url, timeout_s=120)  # partitions assigned and loaded: the saga runner sees every order
        wait_ready(api_url, timeout_s=120)
        with httpx.Client(base_url=api_url, timeout=30) as client:
            orders = [_answer(client, "/v1/orders", ORDER, 201)["order_id"] for _ in range(placed)]
            # Nothing was ever restocked: each fulfilment finds no stock and compensates, rejecting its order.
            wait_for(lambda: _instances(_scrape(metrics_url)).get("compensated") == placed, 60, "every compensation")
            for order_id in orders[:refused]:  # a rejected order cannot be cancelled: rule order-cancellable
                _answer(client, f"/v1/orders/{order_id}/cancel", {"reason": "changed my mind"}, 422)

        # The API has its answer once the transaction committed; the worker counts a moment after.
        expected = {
            ("orders", "PlaceOrder", "accepted"): placed,
            ("orders", "RejectOrder", "accepted"): placed,  # sent by the sagas
            ("orders", "CancelOrder", "rejected"): refused,
        }
        wait_for(lambda: _commands(_scrape(metrics_url), "orders") == expected, 30, f"the worker to count {expected}")
        wait_for(lambda: _lag_is_zero(_scrape(metrics_url)), 60, "the consumer and projection lag to return to 0")
        # librdkafka reports every 5 s: a client may not have reported yet, or last reported mid-batch.
        samples = wait_for(lambda: _reported(_scrape(metrics_url)), 30, "both producers' statistics at rest")
    finally:
        api.stop()
        worker.stop()

    assert _commands(samples, "orders") == expected
    assert _instances(samples) == {"running": 0, "compensating": 0, "completed": 0, "compensated": placed, "stuck": 0}
    saga = {"saga_type": "fulfilment"}
    assert _value(samples, "streamkeep_saga_compensations_total", **saga) == placed
    assert _value(samples, "streamkeep_saga_stuck_total", **saga) == 0
    answered = _value(samples, "streamkeep_saga_step_duration_seconds_count", **saga, command_type="RejectOrder")
    assert answered == placed
    commands = placed * 2 + refused + sum(_commands(samples, "inventory").values())
    assert _value(samples, "streamkeep_command_batch_size_sum", context="orders") == placed * 2 + refused
    batches = _value(samples, "streamkeep_command_batch_size_count", context="orders")
    assert 1 <= batches <= commands
    assert _value(samples, "streamkeep_command_transaction_duration_seconds_count", context="orders") == batches
    assert _value(samples, "streamkeep_command_partition_load_seconds_count", context="orders") >= 1
    assert _value(samples, "streamkeep_command_transaction_aborts_total", context="orders") == 0
    for client in PRODUCERS:
        states = _states(samples, client)
        assert sum(states.values()) == 1, (client, states)  # one state at a time
        assert _value(samples, "streamkeep_kafka_queue_messages", client=client) == 0
    assert any(name == "streamkeep_kafka_broker_rtt_seconds" for name, _ in samples)
    assert "Traceback" not in worker.log_tail(200)


def _reported(samples: Samples) -> Samples | None:
    """The scrape once both producers have reported at rest (a report taken mid-batch counts queued records)."""
    at_rest = all(
        _states(samples, client) and _value(samples, "streamkeep_kafka_queue_messages", client=client) == 0
        for client in PRODUCERS
    )
    return samples if at_rest else None


def _states(samples: Samples, client: str) -> dict[str, float]:
    return {
        dict(labels)["state"]: v
        for (name, labels), v in samples.items()
        if name == "streamkeep_kafka_transaction_state" and ("client", client) in labels
    }


def _answer(client: httpx.Client, path: str, body: dict, status: int) -> dict:
    answer = client.post(path, json=body)
    assert answer.status_code == status, answer.text
    return answer.json()


def _scrape(metrics_url: str) -> Samples:
    text = httpx.get(f"{metrics_url}/metrics", timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _commands(samples: Samples, context: str) -> dict[tuple[str, str, str], float]:
    """The worker's command counts of one context, by type and outcome."""
    counted = {}
    for (name, labels), value in samples.items():
        named = dict(labels)
        if name == "streamkeep_command_processor_commands_total" and named["context"] == context:
            counted[(context, named["type"], named["outcome"])] = value
    return counted


def _instances(samples: Samples) -> dict[str, float]:
    return {
        dict(labels)["status"]: value
        for (name, labels), value in samples.items()
        if name == "streamkeep_saga_instances" and ("saga_type", "fulfilment") in labels
    }


def _lag_is_zero(samples: Samples) -> bool:
    lags = [(dict(labels), v) for (name, labels), v in samples.items() if name == "streamkeep_consumer_lag"]
    orders_commands = [v for labels, v in lags if labels["topic"] == "orders.commands"]
    projected = _value(samples, "streamkeep_projection_checkpoint_lag_events", projection="order_summary")
    order_events = [v for labels, v in lags if labels["topic"] == "orders.events"]  # the sagas': transactional
    # Every partition reported (this worker is the groups' only member), each at 0.
    return len(orders_commands) == len(order_events) == 4 and all(v == 0 for _, v in lags) and projected == 0
