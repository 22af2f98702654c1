"""Given-when-then on the order-fulfilment saga: every path, decided without Kafka, a clock or random ids."""

from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4, uuid5

import pytest

from commands.messages import (
    CancelShipment,
    CapturePayment,
    ConfirmOrder,
    RejectOrder,
    ReleaseStock,
    ReserveStock,
    VoidPayment,
)
from domain.orders import Order
from domain.values import OrderLine
from sagas import fulfilment
from sagas.fulfilment import FulfilmentSaga
from sagas.handling import Handled, handle, replayed
from sagas.history import COMPENSATED, COMPENSATING, COMPLETED, RUNNING, STUCK, CommandSent, StatusChanged
from sagas.inbox import ABORT, RETRY, Incoming, OperatorRequest, Reply, TimerFired
from sagas.policy import SagaPolicy

AT = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)
POLICY = SagaPolicy(payment_timeout_s=30, reply_timeout_s=5, max_attempts=3)
LINES = [OrderLine("SKU-1", 2, 1250), OrderLine("SKU-2", 1, 500), OrderLine("SKU-1", 1, 1250)]


class Fulfilment:
    """One instance driven message by message, remembering every record and command it produced."""

    def __init__(self, lines: list[OrderLine] = LINES, policy: SagaPolicy = POLICY) -> None:
        self.policy = policy
        self.order = Order.place(order_id=uuid4(), customer_id=uuid4(), currency="EUR", lines=lines, at=AT)
        self.placed, *_ = self.order.collect_events()
        self.saga_id: UUID = self.order.id
        self.state = None
        self.records: list = []
        self.now = AT
        self.last: Handled | None = None

    def when(self, body: object, after_s: float = 0.1, message_id: UUID | None = None) -> list:
        """Deliver a message `after_s` later than the last; returns the commands it sent."""
        self.now += timedelta(seconds=after_s)
        incoming = Incoming(self.saga_id, message_id or uuid4(), self.now, body)
        self.last = handle(FulfilmentSaga, self.state, incoming, self.policy)
        self.state = self.last.state
        self.records += self.last.records
        return [out.command for out in self.last.outgoing]

    def placed_order(self) -> list:
        return self.when(self.placed, message_id=uuid5(self.saga_id, "placed"))

    def answer(self, step: str, status: str = "accepted", message: str = "", after_s: float = 0.1) -> list:
        sent = self.state.pending[step]
        return self.when(Reply(sent.command_id, sent.command_type, status, message=message), after_s)

    def gateway(self, command_type: str, detail: str = "", after_s: float = 0.1) -> list:
        request = self.state.answers["request-payment"].command_id
        answer_id = uuid5(request, "gateway-answer")
        return self.when(Reply(answer_id, command_type, "accepted", detail=detail), after_s)

    def reserve_all(self) -> list:
        self.placed_order()
        self.answer("reserve-stock:SKU-1")
        return self.answer("reserve-stock:SKU-2")

    def authorised(self) -> list:
        self.reserve_all()
        self.answer("request-payment")
        return self.gateway("AuthorisePayment")

    def confirmed(self) -> list:
        self.authorised()
        self.answer("schedule-shipment")
        return self.answer("confirm-order")

    @property
    def status(self) -> tuple[str, str]:
        return self.state.status, self.state.step

    def kinds(self, commands: list) -> list[str]:
        return [type(c).__name__ for c in commands]


def test_a_placed_order_reserves_each_sku_once_with_its_lines_added_up() -> None:
    saga = Fulfilment()

    sent = saga.placed_order()

    assert sent == [ReserveStock("SKU-1", saga.saga_id, 3), ReserveStock("SKU-2", saga.saga_id, 1)]
    assert saga.status == (RUNNING, "reserving-stock")
    assert saga.state.started.order_id == saga.saga_id


def test_the_happy_path_reserves_pays_ships_confirms_then_commits_and_captures() -> None:
    saga = Fulfilment()
    saga.placed_order()
    saga.answer("reserve-stock:SKU-1")

    after_stock = saga.answer("reserve-stock:SKU-2")
    assert saga.kinds(after_stock) == ["RequestPayment"]
    assert after_stock[0].amount_cents == 3 * 1250 + 500 and after_stock[0].currency == "EUR"
    assert saga.state.deadlines["payment-authorised"] == saga.now + timedelta(seconds=30)

    assert saga.answer("request-payment") == []
    after_payment = saga.gateway("AuthorisePayment")
    assert saga.kinds(after_payment) == ["ScheduleShipment"]
    assert "payment-authorised" not in saga.state.deadlines

    after_shipment = saga.answer("schedule-shipment")
    assert after_shipment == [ConfirmOrder(saga.saga_id)]

    after_confirmation = saga.answer("confirm-order")
    assert saga.kinds(after_confirmation) == ["CommitStock", "CommitStock", "CapturePayment"]
    assert saga.status == (RUNNING, "completing")

    saga.answer("commit-stock:SKU-1")
    saga.answer("capture-payment")
    assert saga.state.status == RUNNING
    saga.answer("commit-stock:SKU-2")
    assert saga.status == (COMPLETED, "done")


def test_out_of_stock_releases_what_was_reserved_and_rejects_naming_the_sku_without_asking_for_payment() -> None:
    saga = Fulfilment()
    saga.placed_order()
    saga.answer("reserve-stock:SKU-1")

    sent = saga.answer("reserve-stock:SKU-2", "rejected", "only 0 of SKU-2 available")

    assert sent == [
        ReleaseStock("SKU-1", saga.saga_id),
        RejectOrder(saga.saga_id, "out of stock: SKU-2 (only 0 of SKU-2 available)"),
    ]
    assert saga.state.status == COMPENSATING
    saga.answer("release-stock:SKU-1")
    saga.answer("reject-order")
    assert saga.status == (COMPENSATED, "done")
    assert not any(isinstance(r.event, CommandSent) and r.event.command_type == "RequestPayment" for r in saga.records)


def test_a_reservation_still_unanswered_when_another_fails_is_released_after_it() -> None:
    saga = Fulfilment()
    saga.placed_order()

    sent = saga.answer("reserve-stock:SKU-2", "rejected", "only 0 of SKU-2 available")

    assert ReleaseStock("SKU-1", saga.saga_id) in sent
    assert ReleaseStock("SKU-2", saga.saga_id) not in sent
    saga.answer("reserve-stock:SKU-1")  # held after all: its release is already queued behind it
    saga.answer("release-stock:SKU-1")
    saga.answer("reject-order")
    assert saga.state.status == COMPENSATED


def test_a_declined_payment_releases_the_stock_and_rejects_with_the_gateways_reason() -> None:
    saga = Fulfilment()
    saga.reserve_all()
    saga.answer("request-payment")

    sent = saga.gateway("DeclinePayment", detail="insufficient funds")

    assert sent == [
        ReleaseStock("SKU-1", saga.saga_id),
        ReleaseStock("SKU-2", saga.saga_id),
        RejectOrder(saga.saga_id, "payment declined (insufficient funds)"),
    ]
    assert "payment-authorised" not in saga.state.deadlines
    for step in ("release-stock:SKU-1", "release-stock:SKU-2", "reject-order"):
        saga.answer(step)
    assert saga.status == (COMPENSATED, "done")


def test_no_authorisation_before_the_deadline_compensates_and_a_late_one_is_voided() -> None:
    saga = Fulfilment()
    saga.reserve_all()
    saga.answer("request-payment")

    assert saga.when(TimerFired(), after_s=10) == []  # nothing due yet
    sent = saga.when(TimerFired(), after_s=25)

    assert saga.kinds(sent) == ["ReleaseStock", "ReleaseStock", "RejectOrder"]
    assert sent[-1].reason == "payment not authorised within 30 s"
    assert "payment-authorised" not in saga.state.deadlines
    for step in ("release-stock:SKU-1", "release-stock:SKU-2", "reject-order"):
        saga.answer(step)
    assert saga.state.status == COMPENSATED

    late = saga.gateway("AuthorisePayment", after_s=60)
    assert late == [VoidPayment(fulfilment.payment_id_for(saga.saga_id))]
    assert saga.state.status == COMPENSATING
    saga.answer("void-payment")
    assert saga.status == (COMPENSATED, "done")


def test_an_authorisation_handled_after_the_deadline_passed_is_late_even_before_the_timer_fires() -> None:
    saga = Fulfilment()
    saga.reserve_all()
    saga.answer("request-payment")

    sent = saga.gateway("AuthorisePayment", after_s=31)

    assert "VoidPayment" in saga.kinds(sent) and "ScheduleShipment" not in saga.kinds(sent)
    assert saga.state.reason == "payment not authorised within 30 s"


@pytest.mark.parametrize(
    ("reach", "undo"),
    [
        ("reserving", ["ReleaseStock", "ReleaseStock"]),
        ("paying", ["ReleaseStock", "ReleaseStock"]),
        ("shipping", ["ReleaseStock", "ReleaseStock", "VoidPayment"]),
        ("confirming", ["ReleaseStock", "ReleaseStock", "VoidPayment", "CancelShipment"]),
    ],
)
def test_a_customer_cancel_mid_flight_undoes_what_was_done_in_reverse_and_rejects_nothing(
    reach: str, undo: list[str]
) -> None:
    saga = Fulfilment()
    saga.placed_order()
    if reach != "reserving":
        saga.answer("reserve-stock:SKU-1")
        saga.answer("reserve-stock:SKU-2")
    if reach in ("shipping", "confirming"):
        saga.answer("request-payment")
        saga.gateway("AuthorisePayment")
    if reach == "confirming":
        saga.answer("schedule-shipment")

    sent = saga.when(Order.Cancelled(originator_id=saga.saga_id, originator_version=2, timestamp=saga.now, reason="x"))

    assert saga.kinds(sent) == undo
    assert saga.state.status == COMPENSATING
    if reach == "confirming":
        saga.answer("confirm-order", "rejected", "an order that is cancelled cannot be confirmed")
    while saga.state.pending:  # a shipment scheduled meanwhile is cancelled in turn
        saga.answer(next(iter(saga.state.pending)))
    assert saga.status == (COMPENSATED, "done")
    assert saga.state.reason == "cancelled by the customer (x)"


def test_a_shipment_scheduled_after_compensation_began_is_cancelled() -> None:
    saga = Fulfilment()
    saga.authorised()
    cancelled = Order.Cancelled(originator_id=saga.saga_id, originator_version=2, timestamp=saga.now, reason="x")
    saga.when(cancelled)
    for step in [s for s in saga.state.pending if s != "schedule-shipment"]:
        saga.answer(step)
    assert saga.state.status == COMPENSATING  # still waiting to hear whether the shipment exists

    sent = saga.answer("schedule-shipment")

    assert sent == [CancelShipment(fulfilment.shipment_id_for(saga.saga_id), "cancelled by the customer (x)")]
    saga.answer("cancel-shipment")
    assert saga.state.status == COMPENSATED


def test_a_shipment_that_cannot_be_scheduled_voids_the_payment_and_releases_the_stock() -> None:
    saga = Fulfilment()
    saga.authorised()

    sent = saga.answer("schedule-shipment", "rejected", "a shipment has at most 100 lines")

    assert saga.kinds(sent) == ["ReleaseStock", "ReleaseStock", "VoidPayment", "RejectOrder"]
    assert sent[-1].reason == "shipment could not be scheduled (a shipment has at most 100 lines)"


def test_a_command_without_an_answer_is_sent_again_with_the_same_id_and_a_growing_wait() -> None:
    saga = Fulfilment()
    saga.placed_order()
    first = saga.state.pending["reserve-stock:SKU-1"]

    saga.when(TimerFired(), after_s=(first.retry_at - saga.now).total_seconds())

    again = saga.state.pending["reserve-stock:SKU-1"]
    assert again.command_id == first.command_id and again.attempt == 2
    first_wait, second_wait = first.retry_at - AT, again.retry_at - saga.now
    assert timedelta(seconds=2.5) <= first_wait <= timedelta(seconds=5.1)
    assert timedelta(seconds=5) <= second_wait <= timedelta(seconds=10)
    assert saga.last.outgoing[0].envelope.idempotency_key == f"saga {first.command_id}"


def test_a_forward_step_that_never_answers_is_given_up_and_the_saga_compensates() -> None:
    saga = Fulfilment(policy=SagaPolicy(payment_timeout_s=600, reply_timeout_s=5, max_attempts=3))
    saga.reserve_all()
    for _ in range(POLICY.max_attempts):
        saga.when(TimerFired(), after_s=(saga.state.pending["request-payment"].retry_at - saga.now).total_seconds())

    assert saga.state.status == COMPENSATING
    assert saga.state.reason == "no answer to request-payment after 3 attempts"
    assert "request-payment" not in saga.state.pending


def test_a_compensation_that_keeps_failing_leaves_the_instance_stuck_and_a_retry_resumes_it() -> None:
    saga = Fulfilment()
    saga.placed_order()
    saga.answer("reserve-stock:SKU-2", "rejected", "only 0 of SKU-2 available")
    saga.answer("reserve-stock:SKU-1")
    saga.answer("reject-order")
    while saga.state.status != STUCK:
        saga.when(TimerFired(), after_s=(saga.state.next_due() - saga.now).total_seconds())

    assert saga.status == (STUCK, "release-stock:SKU-1")
    assert saga.state.next_due() is None  # parked until an operator looks
    stuck_id = saga.state.pending["release-stock:SKU-1"].command_id

    resent = saga.when(OperatorRequest(RETRY, "ops@example"))

    assert resent == [ReleaseStock("SKU-1", saga.saga_id)]
    assert saga.last.outgoing[0].envelope.command_id == stuck_id
    assert saga.state.status == COMPENSATING
    saga.answer("release-stock:SKU-1")
    assert saga.state.status == COMPENSATED


def test_a_step_refused_after_the_confirmation_is_stuck_and_its_retry_is_a_new_command() -> None:
    saga = Fulfilment()
    saga.confirmed()
    refused_id = saga.state.pending["capture-payment"].command_id
    saga.answer("capture-payment", "rejected", "a payment that is voided cannot be captured")
    assert saga.status == (STUCK, "capture-payment")

    commits = {step: sent.command_id for step, sent in saga.state.pending.items()}

    resent = saga.when(OperatorRequest(RETRY, "ops"))

    # The unanswered commits go again as the same commands; the refused capture as a new one.
    assert resent[-1] == CapturePayment(fulfilment.payment_id_for(saga.saga_id))
    assert {s: saga.state.pending[s].command_id for s in commits} == commits
    assert saga.state.pending["capture-payment"].command_id != refused_id
    assert saga.state.status == RUNNING
    saga.answer("commit-stock:SKU-1")
    saga.answer("commit-stock:SKU-2")
    saga.answer("capture-payment")
    assert saga.state.status == COMPLETED


def test_an_abort_compensates_now_and_is_recorded_with_who_asked() -> None:
    saga = Fulfilment()
    saga.reserve_all()

    sent = saga.when(OperatorRequest(ABORT, "ops@example"))

    assert saga.kinds(sent) == ["ReleaseStock", "ReleaseStock", "RejectOrder"]
    assert saga.state.reason == "aborted by ops@example"


@pytest.mark.parametrize(
    ("action", "stage", "why"),
    [
        (RETRY, "running", "only a stuck instance can be retried; this one is running"),
        (ABORT, "confirming", "the order is confirmed (or being confirmed): refund the payment instead"),
        (ABORT, "completed", "the instance is already completed"),
    ],
)
def test_operator_actions_that_cannot_be_taken_are_refused_and_recorded(action: str, stage: str, why: str) -> None:
    saga = Fulfilment()
    if stage == "running":
        saga.placed_order()
    else:
        saga.authorised()
        saga.answer("schedule-shipment")
    if stage == "completed":
        saga.answer("confirm-order")
        for step in list(saga.state.pending):
            saga.answer(step)
    before = saga.status

    assert fulfilment.refusal_of(saga.state, action) == why
    assert saga.when(OperatorRequest(action, "ops")) == []
    assert saga.status == before
    assert saga.records[-1].event.accepted is False and saga.records[-1].event.reason == why


@pytest.mark.parametrize(
    ("status", "step", "action", "why"),
    [
        (STUCK, "confirm-order", RETRY, ""),
        (COMPENSATED, "done", RETRY, "only a stuck instance can be retried; this one is compensated"),
        (RUNNING, "requesting-payment", ABORT, ""),
        (RUNNING, "scheduling-shipment", ABORT, ""),
        (RUNNING, "confirming-order", ABORT, "the order is confirmed (or being confirmed): refund the payment instead"),
        (RUNNING, "completing", ABORT, "the order is confirmed (or being confirmed): refund the payment instead"),
        (STUCK, "confirm-order", ABORT, "the order is confirmed (or being confirmed): refund the payment instead"),
        (STUCK, "commit-stock:SKU-1", ABORT, "the order is confirmed (or being confirmed): refund the payment instead"),
        (STUCK, "capture-payment", ABORT, "the order is confirmed (or being confirmed): refund the payment instead"),
        (STUCK, "cancel-shipment", ABORT, "the instance is already compensating; retry it if it is stuck"),
        (COMPENSATING, "compensating", ABORT, "the instance is already compensating; retry it if it is stuck"),
        (COMPLETED, "done", ABORT, "the instance is already completed"),
        (RUNNING, "reserving-stock", "pause", "unknown action 'pause'; use retry or abort"),
    ],
)
def test_whether_an_operator_action_can_be_taken_follows_from_the_status_and_step_alone(
    status: str, step: str, action: str, why: str
) -> None:
    assert fulfilment.refusal_for(status, step, action) == why


def test_the_status_and_step_say_the_pivot_is_passed_exactly_when_the_confirmation_is_sent_or_accepted() -> None:
    """Along the happy path, a stuck confirmation and a stuck capture, after every message: what the read model
    can tell of the pivot is what the instance's full state says."""
    paths = [Fulfilment(), Fulfilment(), Fulfilment()]
    paths[0].confirmed()
    for step in list(paths[0].state.pending):
        paths[0].answer(step)
    paths[1].authorised()
    paths[1].answer("schedule-shipment")
    for _ in range(POLICY.max_attempts):
        paths[1].when(TimerFired(), after_s=200)
    paths[2].confirmed()
    paths[2].answer("capture-payment", status="rejected", message="gateway refused")
    for saga in paths:
        # The state each message left: the records of one decision share its moment.
        ends = [
            n
            for n in range(1, len(saga.records) + 1)
            if n == len(saga.records) or saga.records[n].at != saga.records[n - 1].at
        ]
        for state in (replayed(saga.records[:n]) for n in ends):
            if state.status in (COMPLETED, COMPENSATED):
                continue  # refused for being finished, before the pivot is asked about
            confirmation = "confirm-order" in state.pending or state.accepted("confirm-order")
            assert fulfilment.past_the_pivot(state.status, state.step) == confirmation, state.step
    assert paths[1].status == (STUCK, "confirm-order")
    assert paths[2].status == (STUCK, "capture-payment")


def test_a_redelivered_message_changes_nothing() -> None:
    saga = Fulfilment()
    saga.placed_order()
    sent = saga.state.pending["reserve-stock:SKU-1"]
    reply = Reply(sent.command_id, sent.command_type, "accepted")
    saga.when(reply, message_id=sent.command_id)
    version = saga.state.version

    assert saga.when(reply, message_id=sent.command_id) == []
    assert saga.placed_order() == []
    assert saga.state.version == version


def test_an_answer_to_a_command_the_instance_did_not_send_is_ignored() -> None:
    saga = Fulfilment()
    saga.placed_order()

    assert saga.when(Reply(uuid4(), "ReserveStock", "accepted")) == []
    assert saga.last.records == []


def test_the_state_folded_from_the_records_is_the_state_the_decisions_left() -> None:
    saga = Fulfilment()
    saga.confirmed()

    assert replayed(saga.records) == saga.state
    assert [r.version for r in saga.records] == list(range(1, len(saga.records) + 1))


def test_command_ids_derive_from_the_saga_and_the_step_and_commands_carry_the_saga_as_correlation() -> None:
    saga = Fulfilment()
    saga.placed_order()

    out = saga.last.outgoing[0]
    assert out.envelope.command_id == fulfilment.command_id_for(saga.saga_id, "reserve-stock:SKU-1")
    assert out.envelope.correlation_id == saga.saga_id
    assert out.envelope.causation_id == uuid5(saga.saga_id, "placed")


def test_every_status_change_names_a_step() -> None:
    saga = Fulfilment()
    saga.confirmed()

    changes = [r.event for r in saga.records if isinstance(r.event, StatusChanged)]
    assert [c.step for c in changes] == [
        "reserving-stock",
        "requesting-payment",
        "scheduling-shipment",
        "confirming-order",
        "completing",
    ]
