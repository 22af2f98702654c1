"""The saga_instances projection's pure apply: given an instance's recorded events, then its row and history."""

import json
from datetime import datetime, timedelta, timezone
from functools import reduce
from uuid import UUID, uuid4

from domain.orders import Order
from domain.values import OrderLine
from projections import saga_instances
from projections.catalogue import PROJECTIONS
from projections.paging import parse_cursor
from sagas import history
from sagas.history import Recorded

AT = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)
DUE = AT + timedelta(seconds=30)


class Instance:
    """One instance's stream: each event stamped with the next version, a second later than the last."""

    def __init__(self) -> None:
        self.saga_id = uuid4()
        self.records: list[Recorded] = []

    def then(self, event: history.SagaEvent, cause_id: UUID | None = None) -> Recorded:
        version = len(self.records) + 1
        record = Recorded(self.saga_id, version, AT + timedelta(seconds=version - 1), cause_id, event)
        self.records.append(record)
        return record

    def started(self) -> "Instance":
        lines = (OrderLine("SKU-1", 2, 1250),)
        self.then(history.FulfilmentStarted(self.saga_id, uuid4(), "EUR", lines), cause_id=uuid4())
        self.then(history.StatusChanged("running", "reserving-stock"))
        return self

    def row(self) -> dict | None:
        return reduce(saga_instances.apply, self.records, None)


def test_a_started_instance_is_running_with_its_order_and_when_it_began() -> None:
    instance = Instance().started()

    row = instance.row()

    assert (row["saga_id"], row["order_id"], row["saga_type"]) == (instance.saga_id, instance.saga_id, "fulfilment")
    assert (row["status"], row["step"], row["reason"], row["version"]) == ("running", "reserving-stock", None, 2)
    assert (row["started_at"], row["updated_at"]) == (AT, AT + timedelta(seconds=1))
    assert saga_instances.key(instance.records[0]) == instance.saga_id


def test_the_history_shows_each_command_sent_and_the_answer_it_got_with_time_and_cause() -> None:
    instance = Instance().started()
    command_id, reply_id = uuid4(), uuid4()
    instance.then(history.CommandSent("reserve-stock:SKU-1", command_id, "ReserveStock", 1, DUE))
    instance.then(
        history.ReplyReceived(
            "reserve-stock:SKU-1", command_id, "ReserveStock", "rejected", "stock-available", "0 left"
        ),
        cause_id=reply_id,
    )

    sent, answered = instance.row()["history"][-2:]

    assert sent == {
        "version": 3,
        "at": (AT + timedelta(seconds=2)).isoformat(),
        "type": "CommandSent",
        "cause_id": None,
        "step": "reserve-stock:SKU-1",
        "command_id": str(command_id),
        "command_type": "ReserveStock",
        "attempt": 1,
        "retry_at": DUE.isoformat(),
    }
    assert (answered["type"], answered["cause_id"], answered["command_id"]) == (
        "ReplyReceived",
        str(reply_id),
        sent["command_id"],
    )
    assert (answered["status"], answered["rule"], answered["message"]) == ("rejected", "stock-available", "0 left")


def test_the_history_is_plain_json_and_the_first_entry_carries_the_orders_lines() -> None:
    row = Instance().started().row()

    assert json.loads(json.dumps(row["history"])) == row["history"]
    assert row["history"][0]["lines"] == [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250}]
    assert [entry["version"] for entry in row["history"]] == [1, 2]


def test_an_open_deadline_is_shown_until_it_is_reached_or_cleared() -> None:
    instance = Instance().started()
    instance.then(history.DeadlineSet("payment-authorised", DUE))
    waiting = instance.row()
    instance.then(history.DeadlineReached("payment-authorised"))

    assert (waiting["deadline_name"], waiting["deadline_due"]) == ("payment-authorised", DUE)
    assert saga_instances.summary(waiting)["deadline"] == {"name": "payment-authorised", "due": DUE.isoformat()}
    assert (instance.row()["deadline_name"], instance.row()["deadline_due"]) == (None, None)
    assert saga_instances.summary(instance.row())["deadline"] is None


def test_a_compensated_instance_keeps_the_reason_it_began_compensating_for() -> None:
    instance = Instance().started()
    instance.then(history.StatusChanged("compensating", "compensating", "aborted by ops@example"))
    instance.then(history.OperatorActed("abort", "ops@example"))
    instance.then(history.StatusChanged("compensated", "done"))

    row = instance.row()

    assert (row["status"], row["step"], row["reason"]) == ("compensated", "done", "aborted by ops@example")
    assert row["history"][-2] | {"at": None} == {
        "version": 4,
        "at": None,
        "type": "OperatorActed",
        "cause_id": None,
        "action": "abort",
        "by": "ops@example",
        "accepted": True,
        "reason": "",
    }


def test_an_event_the_row_already_holds_changes_nothing() -> None:
    instance = Instance().started()
    row = instance.row()

    assert saga_instances.apply(row, instance.records[-1]) is row
    assert saga_instances.apply(row, instance.records[0]) is row


def test_applying_does_not_change_the_row_it_was_given() -> None:
    instance = Instance().started()
    row = instance.row()
    before = {**row, "history": list(row["history"])}

    saga_instances.apply(row, instance.then(history.StatusChanged("stuck", "confirm-order", "no answer")))

    assert row == before


def test_a_domain_event_is_no_concern_of_saga_instances_and_a_saga_event_none_of_the_other_models() -> None:
    [placed] = Order.place(
        order_id=uuid4(), customer_id=uuid4(), currency="EUR", lines=[OrderLine("SKU-1", 1, 100)], at=AT
    ).collect_events()
    recorded = Instance().started().records[0]

    assert saga_instances.key(placed) is None and saga_instances.apply(None, placed) is None
    for projection in (p for p in PROJECTIONS.values() if p is not saga_instances):
        assert projection.key(recorded) is None, projection.NAME
        assert projection.apply(None, recorded) is None, projection.NAME


def test_the_statuses_a_list_filters_on_are_the_sagas_own() -> None:
    assert saga_instances.STATUSES == history.STATUSES


def test_a_cursor_names_the_instance_it_was_made_from() -> None:
    row = Instance().started().row()

    assert parse_cursor(saga_instances.cursor_after(row)) == (AT, row["saga_id"])


def test_a_row_has_every_column_and_its_history_is_a_json_column() -> None:
    row = Instance().started().row()

    assert set(row) == set(saga_instances.COLUMNS)
    assert saga_instances.JSON_COLUMNS == {"history"}
    assert set(saga_instances.LISTED_COLUMNS) == set(saga_instances.COLUMNS) - {"history"}
