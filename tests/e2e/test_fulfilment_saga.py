"""The fulfilment saga end to end on Kafka: every path, checked in the read models and in what Kafka holds."""

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
from sagas.fulfilment import payment_id_for, shipment_id_for
from tests.platform import StreamkeepProcess, free_port, run_cli, wait_for, wait_ready

pytestmark = [pytest.mark.kafka, pytest.mark.sagas]
PAYMENT_TIMEOUT_S = 5


@pytest.fixture(scope="module", params=["kafka", "embedded"])
def fulfilment(
    request: pytest.FixtureRequest, infra_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict]:
    """The platform with the fulfilment saga and a short payment deadline: `serve` and a worker with every role
    on Kafka; `streamkeep run` with its own data folder on the embedded backend."""
    logs = tmp_path_factory.mktemp(f"fulfilment-{request.param}")
    port = free_port()
    env = {"STREAMKEEP_SAGAS": "on", "STREAMKEEP_PAYMENT_TIMEOUT_S": str(PAYMENT_TIMEOUT_S)}
    if request.param == "kafka":
        env = {**infra_env, **env, "STREAMKEEP_BACKEND": "kafka"}
        processes = [
            StreamkeepProcess(["worker"], env, logs / "worker.log").start(),
            StreamkeepProcess(["serve", "--port", str(port)], env, logs / "api.log").start(),
        ]
    else:
        env = {**env, "STREAMKEEP_BACKEND": "embedded", "KAFKA_BOOTSTRAP_SERVERS": "", "STREAMKEEP_DATA_DIR": str(logs)}
        processes = [StreamkeepProcess(["run", "--port", str(port)], env, logs / "run.log").start()]
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url)
        platform = {"backend": request.param, "base_url": base_url, "env": env}
        # Ready once an order goes all the way round: placed, then rejected for want of stock.
        wait_for(lambda: status(platform, place(platform, {f"NONE-{uuid.uuid4()}": 1})) == "rejected", 120, "a saga")
        yield platform
    finally:
        for process in reversed(processes):
            process.stop()


def post(platform: dict, path: str, body: object) -> httpx.Response:
    return httpx.post(f"{platform['base_url']}{path}", json=body, timeout=30)


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
    answer = httpx.get(f"{platform['base_url']}/v1/orders/{order_id}", timeout=10)
    return answer.json() if answer.status_code == 200 else {}


def status(platform: dict, order_id: str) -> str | None:
    return order(platform, order_id).get("status")


def stock(platform: dict, sku: str) -> dict:
    return httpx.get(f"{platform['base_url']}/v1/inventory/{sku}", timeout=10).json()


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
        records = [record_to_saga_event(*codec.decode(m.value())) for m in _read(platform, saga_events_topic())]
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


def _read(platform: dict, topic: str) -> list:
    return list(read_to_end(platform["env"]["KAFKA_BOOTSTRAP_SERVERS"], topic, timeout_s=30))


def sent_steps(history: list) -> list[str]:
    return [r.event.step for r in history if type(r.event).__name__ == "CommandSent"]


def test_an_order_with_stock_and_an_approved_payment_is_confirmed_with_stock_committed_and_payment_captured(
    fulfilment: dict,
) -> None:
    first, second = stocked(fulfilment), stocked(fulfilment)
    script(fulfilment)
    order_id = place(fulfilment, {first: 2, second: 3})

    assert settled(fulfilment, order_id, "confirmed")["total_cents"] == 5000
    history = saga_finished(fulfilment, order_id, "completed")

    assert wait_for(lambda: stock(fulfilment, first)["on_hand"] == 8, 30, "the stock committed")
    assert (stock(fulfilment, first)["reserved"], stock(fulfilment, second)["on_hand"]) == (0, 7)
    order_uuid = uuid.UUID(order_id)
    assert context_events(fulfilment, "payments", payment_id_for(order_uuid)) == [
        "payments.PaymentRequested",
        "payments.PaymentAuthorised",
        "payments.PaymentCaptured",
    ]
    assert context_events(fulfilment, "shipping", shipment_id_for(order_uuid)) == ["shipping.ShipmentScheduled"]
    assert context_events(fulfilment, "orders", order_id) == ["orders.OrderPlaced", "orders.OrderConfirmed"]
    assert sorted(sent_steps(history)) == sorted(
        [
            f"reserve-stock:{first}",
            f"reserve-stock:{second}",
            "request-payment",
            "schedule-shipment",
            "confirm-order",
            f"commit-stock:{first}",
            f"commit-stock:{second}",
            "capture-payment",
        ]
    )
    assert [r.version for r in history] == list(range(1, len(history) + 1))


def test_an_order_out_of_stock_on_one_line_is_rejected_naming_the_sku_and_asks_for_no_payment(
    fulfilment: dict,
) -> None:
    plenty, scarce = stocked(fulfilment), stocked(fulfilment, quantity=1)
    order_id = place(fulfilment, {plenty: 2, scarce: 5})

    rejected = settled(fulfilment, order_id, "rejected")
    history = saga_finished(fulfilment, order_id, "compensated")

    assert f"out of stock: {scarce}" in rejected["reason"]
    assert wait_for(lambda: stock(fulfilment, plenty)["reserved"] == 0, 30, "the reservation released")
    assert stock(fulfilment, plenty)["on_hand"] == 10 and stock(fulfilment, scarce)["reserved"] == 0
    assert "request-payment" not in sent_steps(history)
    assert context_events(fulfilment, "payments", payment_id_for(uuid.UUID(order_id))) == []


def test_a_declined_payment_releases_the_stock_and_rejects_the_order_with_the_gateways_reason(
    fulfilment: dict,
) -> None:
    sku = stocked(fulfilment)
    script(fulfilment, {"outcome": "decline", "reason": "insufficient funds"})
    order_id = place(fulfilment, {sku: 4})

    rejected = settled(fulfilment, order_id, "rejected")
    saga_finished(fulfilment, order_id, "compensated")

    assert rejected["reason"] == "payment declined (insufficient funds)"
    assert wait_for(lambda: stock(fulfilment, sku)["reserved"] == 0, 30, "the reservation released")
    assert stock(fulfilment, sku)["on_hand"] == 10
    payment = payment_id_for(uuid.UUID(order_id))
    assert context_events(fulfilment, "payments", payment) == ["payments.PaymentRequested", "payments.PaymentDeclined"]


def test_no_answer_before_the_deadline_rejects_the_order_and_an_authorisation_after_it_is_voided(
    fulfilment: dict,
) -> None:
    sku = stocked(fulfilment)
    # The gateway approves, but only after the saga's deadline has passed.
    script(fulfilment, {"outcome": "approve", "delay_s": PAYMENT_TIMEOUT_S + 3})
    order_id = place(fulfilment, {sku: 1})

    rejected = settled(fulfilment, order_id, "rejected")
    assert rejected["reason"] == f"payment not authorised within {PAYMENT_TIMEOUT_S} s"
    assert wait_for(lambda: stock(fulfilment, sku)["reserved"] == 0, 30, "the reservation released")

    payment = payment_id_for(uuid.UUID(order_id))
    assert wait_for(
        lambda: (
            context_events(fulfilment, "payments", payment)
            == ["payments.PaymentRequested", "payments.PaymentAuthorised", "payments.PaymentVoided"]
        ),
        60,
        "the late authorisation voided",
    )
    history = saga_finished(fulfilment, order_id, "compensated")
    assert "void-payment" in sent_steps(history)
    assert [r.event.name for r in history if type(r.event).__name__ == "DeadlineReached"] == ["payment-authorised"]


def test_a_customer_cancel_while_the_payment_is_awaited_undoes_the_reservation_and_the_order_stays_cancelled(
    fulfilment: dict,
) -> None:
    sku = stocked(fulfilment)
    script(fulfilment, {"outcome": "timeout"})
    order_id = place(fulfilment, {sku: 3})
    wait_for(lambda: stock(fulfilment, sku)["reserved"] == 3, 30, "the stock reserved")

    cancel = post(fulfilment, f"/v1/orders/{order_id}/cancel", {"reason": "changed my mind"})

    assert cancel.status_code == 200, cancel.text
    history = saga_finished(fulfilment, order_id, "compensated")
    assert settled(fulfilment, order_id, "cancelled")
    assert wait_for(lambda: stock(fulfilment, sku)["reserved"] == 0, 30, "the reservation released")
    assert "reject-order" not in sent_steps(history)
    assert context_events(fulfilment, "orders", order_id) == ["orders.OrderPlaced", "orders.OrderCancelled"]
    assert [r.event.event_type for r in history if type(r.event).__name__ == "EventObserved"] == ["OrderCancelled"]
