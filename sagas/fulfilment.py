"""The order-fulfilment saga: reserve the stock, take the payment, schedule the shipment, confirm; else undo.

Confirming the order is the point of no return: the customer can cancel until then, and cannot after it. So the
order is confirmed before the stock is committed and the payment captured, and every step after the confirmation
is one that cannot be refused by a rule. Before it, any refusal, decline, timeout or cancel compensates in
reverse: the shipment is cancelled, the payment voided, the stock released, and the order rejected (unless the
customer cancelled it). An authorisation that comes after the saga gave up on it is voided when it comes.
"""

from collections.abc import Callable
from datetime import datetime
from uuid import UUID, uuid5

from commands.messages import (
    CancelShipment,
    CapturePayment,
    Command,
    CommitStock,
    ConfirmOrder,
    RejectOrder,
    ReleaseStock,
    RequestPayment,
    ReserveStock,
    ScheduleShipment,
    VoidPayment,
)
from commands.outcomes import ACCEPTED
from domain.orders import Order
from domain.values import OrderLine, ShipmentLine
from sagas.history import (
    COMPENSATED,
    COMPENSATING,
    COMPLETED,
    FINISHED,
    RUNNING,
    STUCK,
    CommandSent,
    CommandUnanswered,
    DeadlineCleared,
    DeadlineReached,
    DeadlineSet,
    EventObserved,
    FulfilmentStarted,
    OperatorActed,
    Recorded,
    ReplyReceived,
    SagaEvent,
    StatusChanged,
)
from sagas.inbox import ABORT, RETRY, Incoming, OperatorRequest, Reply, TimerFired
from sagas.policy import SagaPolicy
from sagas.state import SagaState, evolve

SAGA_TYPE = "fulfilment"

# The steps an instance is in, as `GET /v1/sagas/{id}` shows them.
RESERVING = "reserving-stock"
PAYING = "requesting-payment"
SHIPPING = "scheduling-shipment"
CONFIRMING = "confirming-order"
COMPLETING = "completing"
UNDOING = "compensating"
DONE = "done"

PAYMENT_DEADLINE = "payment-authorised"

# The commands, one step each; a step with a SKU is one per SKU of the order.
RESERVE = "reserve-stock"
REQUEST_PAYMENT = "request-payment"
PAYMENT_ANSWER = "payment-answer"  # the gateway's answer, sent by the gateway adapter on our behalf
SCHEDULE_SHIPMENT = "schedule-shipment"
CONFIRM_ORDER = "confirm-order"
COMMIT = "commit-stock"
CAPTURE_PAYMENT = "capture-payment"
RELEASE = "release-stock"
VOID_PAYMENT = "void-payment"
CANCEL_SHIPMENT = "cancel-shipment"
REJECT_ORDER = "reject-order"

AUTHORISED = "AuthorisePayment"
GATEWAY_ANSWERS = frozenset({AUTHORISED, "DeclinePayment"})
ORDER_CANCELLED = "OrderCancelled"
# Before the confirmation a step that never answers is given up on and the saga compensates; from it on, and in
# compensation, it is retried until an operator looks.
PRE_PIVOT = frozenset({RESERVE, REQUEST_PAYMENT, SCHEDULE_SHIPMENT})
COMPENSATIONS = frozenset({RELEASE, VOID_PAYMENT, CANCEL_SHIPMENT, REJECT_ORDER})
# The confirmation and the steps after it: an instance stuck on one of them is past the point of no return.
PIVOT_AND_AFTER = frozenset({CONFIRM_ORDER, COMMIT, CAPTURE_PAYMENT})
# What compensation waits for besides its own commands: their answers decide what is left to undo.
AWAITED_IN_COMPENSATION = frozenset({SCHEDULE_SHIPMENT, CONFIRM_ORDER})

# The fields of each record this saga reads (besides a record's ids, version and time), by record name: the order's
# events and the command outcomes that reach it, the operators' requests, and its own events, which rebuild an
# instance after a restart. `streamkeep schemas check` names this saga when a local schema loses one;
# tests/unit/test_consumer_reads.py keeps the list true to what `start`, `decide` and `evolve` read.
READS: dict[str, tuple[str, ...]] = {
    "orders.OrderPlaced": ("customer_id", "currency_code", "lines.sku", "lines.quantity", "lines.unit_price_cents"),
    "orders.OrderCancelled": ("reason",),
    "streamkeep.CommandOutcome": ("command_id", "status", "rule", "message"),
    "fulfilment.RetrySaga": ("by",),
    "fulfilment.AbortSaga": ("by",),
    "fulfilment.FulfilmentStarted": ("order_id", "currency", "lines.sku", "lines.quantity", "lines.unit_price_cents"),
    "fulfilment.CommandSent": ("step", "command_id", "attempt", "retry_at"),
    "fulfilment.ReplyReceived": ("step", "command_type", "status"),
    "fulfilment.CommandUnanswered": ("step",),
    "fulfilment.EventObserved": ("event_type",),
    "fulfilment.DeadlineSet": ("name", "due"),
    "fulfilment.DeadlineReached": ("name",),
    "fulfilment.DeadlineCleared": ("name",),
    "fulfilment.StatusChanged": ("status", "step", "reason"),
    "fulfilment.OperatorActed": ("action", "accepted"),
}


def step_for(action: str, sku: str | None = None) -> str:
    return f"{action}:{sku}" if sku is not None else action


def action_of(step: str) -> str:
    return step.partition(":")[0]


def payment_id_for(saga_id: UUID) -> UUID:
    return uuid5(saga_id, "payment")


def shipment_id_for(saga_id: UUID) -> UUID:
    return uuid5(saga_id, "shipment")


def command_id_for(saga_id: UUID, step: str, round_: int = 0) -> UUID:
    """The same step is the same command, so a resend is answered once; an operator's retry starts a round."""
    return uuid5(saga_id, f"command {step}" if not round_ else f"command {step} round {round_}")


def starts(body: object) -> bool:
    return isinstance(body, Order.Placed)


def start(state: SagaState, incoming: Incoming, policy: SagaPolicy) -> list[SagaEvent]:
    placed: Order.Placed = incoming.body
    draft = _Draft(state, incoming.at, policy)
    lines = tuple(OrderLine.from_dict(line) for line in placed.lines)
    draft.add(FulfilmentStarted(placed.originator_id, placed.customer_id, placed.currency_code, lines))
    draft.add(StatusChanged(RUNNING, RESERVING))
    for sku in quantities(draft.state):
        draft.send(step_for(RESERVE, sku))
    return draft.events


def decide(state: SagaState, incoming: Incoming, policy: SagaPolicy) -> list[SagaEvent]:
    """What the instance records on one message; the commands to send are its `CommandSent` events."""
    draft = _Draft(state, incoming.at, policy)
    body = incoming.body
    if isinstance(body, Reply):
        _fire_payment_deadline(draft)  # an answer that comes after the deadline is a late one, however ordered
        _on_reply(draft, body)
    elif isinstance(body, Order.Cancelled):
        _on_cancelled(draft, body.reason)
    elif isinstance(body, TimerFired):
        _on_timer(draft)
    elif isinstance(body, OperatorRequest):
        _on_operator(draft, body)
    return draft.events


def command_for(state: SagaState, step: str) -> Command:
    """The command a step sends, made again from the instance's state whenever it is (re)sent."""
    order = state.started
    assert order is not None, "an instance's first event says what it fulfils"
    action, _, sku = step.partition(":")
    payment_id, shipment_id = payment_id_for(state.saga_id), shipment_id_for(state.saga_id)
    make: dict[str, Callable[[], Command]] = {
        RESERVE: lambda: ReserveStock(sku, order.order_id, quantities(state)[sku]),
        RELEASE: lambda: ReleaseStock(sku, order.order_id),
        COMMIT: lambda: CommitStock(sku, order.order_id),
        REQUEST_PAYMENT: lambda: RequestPayment(payment_id, order.order_id, total_cents(state), order.currency),
        VOID_PAYMENT: lambda: VoidPayment(payment_id),
        CAPTURE_PAYMENT: lambda: CapturePayment(payment_id),
        SCHEDULE_SHIPMENT: lambda: ScheduleShipment(
            shipment_id, order.order_id, [ShipmentLine(s, q) for s, q in quantities(state).items()]
        ),
        CANCEL_SHIPMENT: lambda: CancelShipment(shipment_id, state.reason or "order not fulfilled"),
        CONFIRM_ORDER: lambda: ConfirmOrder(order.order_id),
        REJECT_ORDER: lambda: RejectOrder(order.order_id, state.reason or "order not fulfilled"),
    }
    return make[action]()


def quantities(state: SagaState) -> dict[str, int]:
    """One reservation per SKU and order: lines of the same SKU add up."""
    totals: dict[str, int] = {}
    for line in state.started.lines if state.started else ():
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return totals


def total_cents(state: SagaState) -> int:
    return sum(line.total_cents for line in state.started.lines) if state.started else 0


def past_the_pivot(status: str, step: str) -> bool:
    """The order is confirmed, or its confirmation is on its way: nothing can be undone by the saga any more.

    Said from the status and step alone (what the read model shows too): the confirmation is sent on entering
    `confirming-order` and `completing` follows its acceptance; an instance stuck on it or after it says so."""
    return step in (CONFIRMING, COMPLETING) or (status == STUCK and action_of(step) in PIVOT_AND_AFTER)


def payment_authorised(state: SagaState) -> bool:
    answer = state.answers.get(PAYMENT_ANSWER)
    return answer is not None and answer.status == ACCEPTED and answer.command_type == AUTHORISED


class _Draft:
    """The events of one decision, with the state they lead to, so each rule sees what the last one did."""

    def __init__(self, state: SagaState, now: datetime, policy: SagaPolicy) -> None:
        self.state, self.now, self.policy = state, now, policy
        self.events: list[SagaEvent] = []

    def add(self, event: SagaEvent) -> None:
        self.events.append(event)
        self.state = evolve(self.state, Recorded(self.state.saga_id, self.state.version + 1, self.now, None, event))

    def send(self, step: str, attempt: int = 1, command_id: UUID | None = None) -> None:
        command_id = command_id or command_id_for(self.state.saga_id, step, self.state.operator_retries)
        jitter = uuid5(command_id, f"attempt {attempt}").int / 2**128  # spread per instance, the same on replay
        retry_at = self.policy.retry_at(self.now, attempt, jitter)
        kind = type(command_for(self.state, step)).__name__
        self.add(CommandSent(step, command_id, kind, attempt, retry_at))


def _on_reply(draft: _Draft, reply: Reply) -> None:
    state = draft.state
    step = state.steps.get(reply.command_id)
    if step is None and reply.command_type in GATEWAY_ANSWERS and PAYMENT_ANSWER not in state.answers:
        step = PAYMENT_ANSWER
    if step is None or (step != PAYMENT_ANSWER and step not in state.pending):
        return  # not ours, or a step already answered: the first answer counts
    draft.add(
        ReplyReceived(step, reply.command_id, reply.command_type, reply.status, reply.rule, reply.message, reply.detail)
    )
    if state.status == RUNNING:
        _forward(draft, step, reply)
    elif state.status in (COMPENSATING, COMPENSATED):
        _while_compensating(draft, step, reply)


def _forward(draft: _Draft, step: str, reply: Reply) -> None:
    accepted, action = reply.status == ACCEPTED, action_of(step)
    if action == RESERVE:
        if not accepted:
            return _compensate(draft, f"out of stock: {step.partition(':')[2]} ({reply.message})")
        if not any(action_of(pending) == RESERVE for pending in draft.state.pending):
            draft.add(StatusChanged(RUNNING, PAYING))
            draft.send(REQUEST_PAYMENT)
            draft.add(DeadlineSet(PAYMENT_DEADLINE, draft.policy.payment_due(draft.now)))
    elif action == REQUEST_PAYMENT:
        if not accepted:
            _compensate(draft, f"payment could not be requested ({reply.message})")
    elif action == PAYMENT_ANSWER:
        if not accepted:
            return  # the payment no longer takes an answer: nothing changed
        draft.add(DeadlineCleared(PAYMENT_DEADLINE))
        if reply.command_type != AUTHORISED:
            return _compensate(draft, f"payment declined ({reply.detail or 'by the gateway'})")
        draft.add(StatusChanged(RUNNING, SHIPPING))
        draft.send(SCHEDULE_SHIPMENT)
    elif action == SCHEDULE_SHIPMENT:
        if not accepted:
            return _compensate(draft, f"shipment could not be scheduled ({reply.message})")
        draft.add(StatusChanged(RUNNING, CONFIRMING))
        draft.send(CONFIRM_ORDER)
    elif action == CONFIRM_ORDER:
        if not accepted:
            return _compensate(draft, f"order could not be confirmed ({reply.message})")
        draft.add(StatusChanged(RUNNING, COMPLETING))
        for sku in quantities(draft.state):
            draft.send(step_for(COMMIT, sku))
        draft.send(CAPTURE_PAYMENT)
    elif not accepted:  # committing or capturing after the confirmation: no rule should refuse it
        draft.add(StatusChanged(STUCK, step, f"{step} refused after the order was confirmed ({reply.message})"))
    elif not draft.state.pending:
        draft.add(StatusChanged(COMPLETED, DONE))


def _while_compensating(draft: _Draft, step: str, reply: Reply) -> None:
    accepted, action = reply.status == ACCEPTED, action_of(step)
    owed = None
    if action == PAYMENT_ANSWER and accepted and reply.command_type == AUTHORISED:
        owed = VOID_PAYMENT  # authorised after the saga stopped waiting: never left dangling
    elif action == SCHEDULE_SHIPMENT and accepted:
        owed = CANCEL_SHIPMENT
    elif action == CANCEL_SHIPMENT and not accepted:
        draft.add(StatusChanged(STUCK, step, f"shipment could not be cancelled ({reply.message})"))
        return
    # Release, void and reject refused mean there was nothing left to undo: the stock was not held, the payment
    # not authorised, the order no longer placed (the customer cancelled it).
    if owed is not None:
        if draft.state.status == COMPENSATED:
            draft.add(StatusChanged(COMPENSATING, UNDOING, f"{owed} after a late answer to {step}"))
        draft.send(owed)
    _finish_compensation(draft)


def _compensate(draft: _Draft, reason: str) -> None:
    state = draft.state
    draft.add(StatusChanged(COMPENSATING, UNDOING, reason))
    if PAYMENT_DEADLINE in state.deadlines:
        draft.add(DeadlineCleared(PAYMENT_DEADLINE))
    for sku in quantities(state):
        answer = state.answers.get(step_for(RESERVE, sku))
        if answer is None or answer.status == ACCEPTED:  # held, or perhaps about to be: released after it
            draft.send(step_for(RELEASE, sku))
    if payment_authorised(state):
        draft.send(VOID_PAYMENT)
    if state.accepted(SCHEDULE_SHIPMENT):
        draft.send(CANCEL_SHIPMENT)
    if ORDER_CANCELLED not in state.observed:
        draft.send(REJECT_ORDER)
    _finish_compensation(draft)


def _finish_compensation(draft: _Draft) -> None:
    state = draft.state
    if state.status != COMPENSATING:
        return
    waiting = [s for s in state.pending if action_of(s) in COMPENSATIONS or action_of(s) in AWAITED_IN_COMPENSATION]
    if not waiting:
        draft.add(StatusChanged(COMPENSATED, DONE))


def _on_cancelled(draft: _Draft, reason: str) -> None:
    draft.add(EventObserved(ORDER_CANCELLED, reason))
    if draft.state.status == RUNNING and draft.state.step != COMPLETING:
        _compensate(draft, f"cancelled by the customer ({reason})")


def _fire_payment_deadline(draft: _Draft) -> None:
    due = draft.state.deadlines.get(PAYMENT_DEADLINE)
    if due is not None and due <= draft.now:
        draft.add(DeadlineReached(PAYMENT_DEADLINE))
        if draft.state.status == RUNNING:
            _compensate(draft, f"payment not authorised within {draft.policy.payment_timeout_s:g} s")


def _on_timer(draft: _Draft) -> None:
    if draft.state.status == STUCK:
        return
    _fire_payment_deadline(draft)
    for step, sent in list(draft.state.pending.items()):
        if sent.retry_at > draft.now or step not in draft.state.pending or draft.state.status == STUCK:
            continue
        if sent.attempt < draft.policy.max_attempts:
            draft.send(step, sent.attempt + 1, sent.command_id)
        elif action_of(step) in PRE_PIVOT:
            draft.add(CommandUnanswered(step, sent.attempt))
            if draft.state.status == RUNNING:
                _compensate(draft, f"no answer to {step} after {sent.attempt} attempts")
            else:
                _finish_compensation(draft)
        else:
            draft.add(StatusChanged(STUCK, step, f"no answer to {step} after {sent.attempt} attempts"))


def _on_operator(draft: _Draft, request: OperatorRequest) -> None:
    refusal = refusal_of(draft.state, request.action)
    if refusal:
        draft.add(OperatorActed(request.action, request.by, accepted=False, reason=refusal))
    elif request.action == RETRY:
        _resume(draft, request.by)
    else:
        draft.add(OperatorActed(ABORT, request.by))
        _compensate(draft, f"aborted by {request.by}")


def refusal_of(state: SagaState, action: str) -> str:
    """Why an operator's action cannot be taken now ('' when it can): the API answers 409 with it."""
    return refusal_for(state.status, state.step, action)


def refusal_for(status: str, step: str, action: str) -> str:
    """The same rule from an instance's status and step alone, so a caller holding only those (the API, from the
    read model) refuses what the instance itself would."""
    if action == RETRY:
        return "" if status == STUCK else f"only a stuck instance can be retried; this one is {status}"
    if action != ABORT:
        return f"unknown action {action!r}; use retry or abort"
    if status in FINISHED:
        return f"the instance is already {status}"
    if status == COMPENSATING or (status == STUCK and action_of(step) in COMPENSATIONS):
        return "the instance is already compensating; retry it if it is stuck"
    if past_the_pivot(status, step):
        return "the order is confirmed (or being confirmed): refund the payment instead"
    return ""


def _resume(draft: _Draft, by: str) -> None:
    """A stuck step is sent again: anew if a rule refused it (a new round's command id), else the same command."""
    stuck_step = draft.state.step
    draft.add(OperatorActed(RETRY, by))
    compensating = action_of(stuck_step) in COMPENSATIONS
    draft.add(StatusChanged(COMPENSATING if compensating else RUNNING, UNDOING if compensating else COMPLETING))
    for step, sent in list(draft.state.pending.items()):
        draft.send(step, 1, sent.command_id)
    if stuck_step not in draft.state.pending:
        draft.send(stuck_step)


class FulfilmentSaga:
    """The definition the runners drive: what starts an instance, how it decides, what its steps send."""

    saga_type = SAGA_TYPE
    starts = staticmethod(starts)
    start = staticmethod(start)
    decide = staticmethod(decide)
    command_for = staticmethod(command_for)
    refusal_of = staticmethod(refusal_of)
