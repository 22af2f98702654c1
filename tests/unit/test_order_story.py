"""An order's story: its records as steps, in time order with cause before effect, and the read models' progress."""

from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

from infra.cli.order_story import (
    COMMAND,
    EVENT,
    PROJECTION,
    SAGA_STEP,
    command_step,
    event_step,
    in_time_order,
    projection_steps,
    saga_step,
)

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=timezone.utc)
ORDER = UUID("05aa417b-5f5c-4e0b-98e7-2ee75672166e")
RELEASE = UUID("a3e039ef-0000-5000-8000-000000000000")
DECLINE = UUID("eeefb301-0000-5000-8000-000000000000")


def _release_sent(at: datetime) -> dict:
    return {"saga_id": ORDER, "version": 9, "at": at, "cause_id": DECLINE, "step": "release-stock:SKU-1",
            "command_id": RELEASE, "command_type": "inventory.ReleaseStock", "attempt": 1, "retry_at": at}  # fmt: skip


def _release_stock(at: datetime) -> dict:
    return {"command_id": RELEASE, "issued_at": at, "correlation_id": ORDER, "causation_id": DECLINE,
            "reply_to": "fulfilment.replies", "expected_version": None, "idempotency_key": f"saga {RELEASE}",
            "request_hash": "release-stock:SKU-1", "sku": "SKU-1", "order_id": ORDER}  # fmt: skip


def _stock_released(at: datetime) -> dict:
    return {"aggregate_id": uuid4(), "version": 3, "occurred_at": at, "command_id": RELEASE, "correlation_id": ORDER,
            "order_id": ORDER, "quantity": 2}  # fmt: skip


def test_at_one_moment_the_saga_step_comes_before_its_command_and_the_command_before_its_event() -> None:
    event = event_step("inventory.events", 3, 10, "inventory.StockReleased", _stock_released(T0))
    command = command_step("inventory.commands", 1, 4, "inventory.ReleaseStock", _release_stock(T0))
    sent = saga_step("fulfilment.events", 3, 7, "fulfilment.CommandSent", _release_sent(T0))

    story = in_time_order([event, command, sent])

    assert [s.kind for s in story] == [SAGA_STEP, COMMAND, EVENT]


def test_steps_follow_their_time_before_their_kind() -> None:
    earlier_event = event_step("inventory.events", 3, 10, "inventory.StockReleased", _stock_released(T0))
    later_step = saga_step("fulfilment.events", 3, 7, "fulfilment.CommandSent", _release_sent(T0 + timedelta(1)))

    assert in_time_order([later_step, earlier_event]) == [earlier_event, later_step]


def test_a_command_names_its_id_and_what_caused_it_but_not_its_routing() -> None:
    step = command_step("inventory.commands", 1, 4, "inventory.ReleaseStock", _release_stock(T0))

    assert step.detail == f"sku=SKU-1, order_id={ORDER}, id a3e039ef, caused by eeefb301"
    assert (step.command_id, step.causation_id, step.context) == (str(RELEASE), str(DECLINE), "inventory")


def test_an_event_shows_its_data_and_the_command_behind_it() -> None:
    rejected = {"aggregate_id": ORDER, "version": 2, "occurred_at": T0, "command_id": RELEASE,
                "correlation_id": ORDER, "reason": "payment declined (insufficient funds)"}  # fmt: skip

    step = event_step("orders.events", 3, 6226, "orders.OrderRejected", rejected)

    assert step.detail == "reason=payment declined (insufficient funds), by command a3e039ef"


def test_an_order_line_reads_as_quantity_times_sku() -> None:
    placed = {"aggregate_id": ORDER, "version": 1, "occurred_at": T0, "command_id": RELEASE, "correlation_id": ORDER,
              "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250}]}  # fmt: skip

    assert event_step("orders.events", 3, 1, "orders.OrderPlaced", placed).detail.startswith("lines=[2xSKU-1]")


def test_saga_steps_say_what_was_sent_answered_and_why_the_status_changed() -> None:
    answered = {"saga_id": ORDER, "version": 8, "at": T0, "cause_id": DECLINE, "step": "payment-answer",
                "command_id": DECLINE, "command_type": "DeclinePayment", "status": "accepted", "rule": "",
                "message": "", "detail": "insufficient funds"}  # fmt: skip
    changed = {"saga_id": ORDER, "version": 9, "at": T0, "cause_id": DECLINE, "status": "compensating",
               "step": "compensating", "reason": "payment declined (insufficient funds)"}  # fmt: skip

    assert saga_step("fulfilment.events", 3, 7, "fulfilment.CommandSent", _release_sent(T0)).detail == (
        "release-stock:SKU-1: sent inventory.ReleaseStock a3e039ef"
    )
    reply = saga_step("fulfilment.events", 3, 8, "fulfilment.ReplyReceived", answered)
    assert reply.detail == "payment-answer: DeclinePayment accepted (insufficient funds)"
    status = saga_step("fulfilment.events", 3, 9, "fulfilment.StatusChanged", changed)
    assert status.detail == "compensating at compensating: payment declined (insufficient funds)"


def test_a_read_model_past_every_record_of_the_order_is_placed_at_its_latest_batch() -> None:
    events = [
        event_step("inventory.events", 3, 10, "inventory.StockReleased", _stock_released(T0)),
        event_step("inventory.events", 1, 5, "inventory.StockReleased", _stock_released(T0 - timedelta(seconds=1))),
    ]
    batch = T0 + timedelta(seconds=2)

    [step] = projection_steps(
        events,
        {"inventory_levels": "inventory", "order_summary": "orders"},
        {("inventory_levels", "inventory.events", 3): 12, ("inventory_levels", "inventory.events", 1): 5},
        {"inventory_levels": batch},
        now=T0 + timedelta(hours=1),
    )

    assert (step.kind, step.type, step.at) == (PROJECTION, "inventory_levels", batch)
    assert step.detail == "applied all 2 of the order's, the last inventory.StockReleased at 3/10"


def test_a_read_model_behind_says_how_many_of_the_orders_records_it_has_applied() -> None:
    released = _stock_released(T0)
    events = [event_step("inventory.events", 3, offset, "inventory.StockReleased", released) for offset in (10, 11)]

    [step] = projection_steps(events, {"stock_reservations": "inventory"}, {}, {}, now=T0)

    assert (step.detail, step.at) == ("behind: applied 0 of the order's 2 records", T0)
