"""`streamkeep trace` on the Kafka backend: a confirmed and a compensated order told whole, in time order."""

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.sagas_platform import place, saga_finished, script, settled, start_fulfilment_platform, stocked
from tests.platform import run_cli, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.sagas]

# Every read model that reads a context the fulfilment touches.
READ_MODELS = {
    "order_summary",
    "customer_orders",
    "daily_sales",
    "inventory_levels",
    "stock_reservations",
    "payment_summary",
    "shipment_summary",
    "saga_instances",
}


@pytest.fixture(scope="module")
def fulfilment(infra_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    yield from start_fulfilment_platform("kafka", infra_env, tmp_path_factory)


def trace(platform: dict, order_id: str) -> list[dict]:
    result = run_cli(["trace", order_id, "--json"], platform["env"])
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def told_whole(platform: dict, order_id: str, read_models: set[str]) -> list[dict]:
    """The story once every read model named has applied all of the order's records (projections trail)."""

    def whole() -> list[dict] | None:
        story = trace(platform, order_id)
        caught_up = {s["type"] for s in story if s["kind"] == "projection" and s["detail"].startswith("applied all")}
        return story if read_models <= caught_up else None

    return wait_for(whole, 60, f"the read models to apply order {order_id}")


def positions(story: list[dict], wanted: list[tuple[str, str, str]]) -> list[int]:
    """Where each (kind, type, text in the detail) first appears after the one before it; -1 when it does not."""
    found, start = [], 0
    for kind, type_, text in wanted:
        at = next(
            (
                i
                for i, s in enumerate(story[start:], start)
                if (s["kind"], s["type"]) == (kind, type_) and text in s["detail"]
            ),
            -1,
        )
        found.append(at)
        start = at + 1 if at >= 0 else start
    return found


def test_a_confirmed_order_is_told_from_its_command_to_the_read_models_in_time_order(fulfilment: dict) -> None:
    sku = stocked(fulfilment)
    script(fulfilment)
    order_id = place(fulfilment, {sku: 2})
    settled(fulfilment, order_id, "confirmed")
    saga_finished(fulfilment, order_id, "completed")

    story = told_whole(fulfilment, order_id, READ_MODELS)

    wanted = [
        ("command", "orders.PlaceOrder", ""),
        ("event", "orders.OrderPlaced", f"2x{sku}"),
        ("saga step", "fulfilment.FulfilmentStarted", ""),
        ("command", "inventory.ReserveStock", f"sku={sku}"),
        ("event", "inventory.StockReserved", ""),
        ("command", "payments.RequestPayment", ""),
        ("event", "payments.PaymentRequested", ""),
        ("command", "payments.AuthorisePayment", ""),
        ("event", "payments.PaymentAuthorised", ""),
        ("command", "shipping.ScheduleShipment", ""),
        ("event", "shipping.ShipmentScheduled", ""),
        ("command", "orders.ConfirmOrder", ""),
        ("event", "orders.OrderConfirmed", ""),
        ("event", "inventory.StockCommitted", ""),
        ("event", "payments.PaymentCaptured", ""),
        ("saga step", "fulfilment.StatusChanged", "completed"),
    ]
    assert -1 not in positions(story, wanted), [(s["kind"], s["type"], s["detail"]) for s in story]
    assert [s["at"] for s in story] == sorted(s["at"] for s in story)


def test_a_compensated_order_shows_every_step_in_order_with_the_reason(fulfilment: dict) -> None:
    sku = stocked(fulfilment)
    script(fulfilment, {"outcome": "decline", "reason": "insufficient funds"})
    order_id = place(fulfilment, {sku: 4})
    settled(fulfilment, order_id, "rejected")
    saga_finished(fulfilment, order_id, "compensated")

    story = told_whole(fulfilment, order_id, READ_MODELS - {"shipment_summary"})

    declined = "payment declined (insufficient funds)"
    wanted = [
        ("command", "orders.PlaceOrder", ""),
        ("event", "orders.OrderPlaced", f"4x{sku}"),
        ("saga step", "fulfilment.CommandSent", "ReserveStock"),
        ("command", "inventory.ReserveStock", f"sku={sku}"),
        # Keyed by the stock item, found by its correlation id.
        ("event", "inventory.StockReserved", "quantity=4"),
        ("command", "payments.RequestPayment", ""),
        ("event", "payments.PaymentRequested", ""),
        ("command", "payments.DeclinePayment", "reason=insufficient funds"),
        ("event", "payments.PaymentDeclined", "reason=insufficient funds"),
        ("saga step", "fulfilment.StatusChanged", f"compensating at compensating: {declined}"),
        ("command", "inventory.ReleaseStock", f"sku={sku}"),
        ("event", "inventory.StockReleased", "quantity=4"),
        ("saga step", "fulfilment.StatusChanged", "compensated"),
    ]
    rejecting = [
        ("command", "orders.RejectOrder", f"reason={declined}"),
        ("event", "orders.OrderRejected", f"reason={declined}"),
    ]
    assert -1 not in positions(story, wanted), [(s["kind"], s["type"], s["detail"]) for s in story]
    assert -1 not in positions(story, [wanted[9], *rejecting, wanted[-1]])
    assert [s["at"] for s in story] == sorted(s["at"] for s in story)
    released = next(s for s in story if s["type"] == "inventory.ReleaseStock")
    declining = next(s for s in story if s["type"] == "payments.DeclinePayment")
    assert released["causation_id"] == declining["command_id"]  # the saga released the stock because of the decline

    table = run_cli(["trace", order_id], {**fulfilment["env"], "COLUMNS": "250"})
    assert table.returncode == 0, table.stderr
    assert "OrderRejected" in table.stdout and declined in table.stdout


def test_an_order_nothing_names_is_one_line_and_exit_1(fulfilment: dict) -> None:
    unknown = str(uuid.uuid4())

    result = run_cli(["trace", unknown], fulfilment["env"])

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"streamkeep: no order {unknown}: no command, event or saga step in Kafka names it"
    ]
