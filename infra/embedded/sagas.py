"""The sagas of the embedded backend: the same definitions, run in process, their events in the same SQLite log.

A saga instance's events are stored beside the aggregates' (so the read models see them in one order), each
under its instance's stream and version: SQLite's unique (id, version) lets only one writer append a version. Order
events reach the saga by reading the log past the last one handled; a message handled twice (after a restart
before that position was saved) is known by its id and changes nothing. Commands are sent after their
`CommandSent` is stored; a restart sends every unanswered one again, and the idempotency ledger answers a resend
as it answered the first.
"""

import heapq
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import DomainEvent

from commands.messages import Command, Envelope
from commands.outcomes import Outcome
from domain.orders import Order
from infra.avro.saga_mapping import record_to_saga_event, saga_event_to_record
from infra.kafka.topics import saga_replies_topic
from sagas.fulfilment import FulfilmentSaga
from sagas.handling import SagaDefinition, envelope_for, handle
from sagas.history import Recorded
from sagas.inbox import Incoming, OperatorRequest, Reply, TimerFired
from sagas.policy import SagaPolicy
from sagas.state import SagaState, evolve

log = logging.getLogger(__name__)
REPLY_TO = saga_replies_topic()  # what the saga's commands carry, as on Kafka: their answers come back here
PAGE = 500


@dataclass(frozen=True)
class SagaRecorded(DomainEvent):
    """One saga event in the embedded log: the record as the Avro mapping makes it, under its subject name."""

    name: str
    record: dict[str, Any]


def stream_id(saga_id: UUID) -> UUID:
    """The instance's stream in the log: the saga id is the order's, and the order has a stream of its own."""
    return uuid5(saga_id, "saga stream")


def stored(recorded: Recorded) -> SagaRecorded:
    name, record = saga_event_to_record(recorded)
    return SagaRecorded(
        originator_id=stream_id(recorded.saga_id),
        originator_version=recorded.version,
        timestamp=recorded.at,
        name=name,
        record=record,
    )


def recorded_from(event: SagaRecorded) -> Recorded:
    return record_to_saga_event(event.name, event.record)


@dataclass(frozen=True)
class SentReply:
    """An answer the command side owes a saga: queued by the backend, handled by the next pump."""

    outcome: Outcome
    command: Command
    envelope: Envelope


class EmbeddedSagas:
    """Drives every instance in process; the backend calls `pump` under its lock after each command and tick."""

    def __init__(
        self,
        app: Any,
        data_dir: Path,
        decide_and_save: Callable[[Command, Envelope], Outcome],
        policy: SagaPolicy,
        saga: SagaDefinition = FulfilmentSaga,
    ) -> None:
        self._app = app
        self._decide_and_save = decide_and_save
        self._policy = policy
        self._saga = saga
        self.replies: list[SentReply] = []
        self._instances: dict[UUID, SagaState] = {}
        self._due: list[tuple[datetime, UUID]] = []
        self._db = sqlite3.connect(data_dir / "sagas.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("CREATE TABLE IF NOT EXISTS tracking (name TEXT PRIMARY KEY, position INTEGER NOT NULL)")
        found = self._db.execute("SELECT position FROM tracking WHERE name = ?", (saga.saga_type,)).fetchone()
        self._position = int(found[0]) if found else self._log_end()  # a new store starts with what comes next
        self._load()

    def _log_end(self) -> int:
        return self._app.recorder.max_notification_id() or 0

    def _load(self) -> None:
        """Every instance folded from its events in the log; then what was owed when the last process stopped."""
        for event in self._log(0):
            if isinstance(event, SagaRecorded):
                record = recorded_from(event)
                self._instances[record.saga_id] = evolve(
                    self._instances.get(record.saga_id) or SagaState(record.saga_id), record
                )
        for state in self._instances.values():
            self._schedule(state)
        for state in list(self._instances.values()):
            for step, sent in state.pending.items():
                envelope = replace(envelope_for(state, sent, None), reply_to=REPLY_TO)
                self._send(self._saga.command_for(state, step), envelope)

    def _log(self, after: int) -> Any:
        while notifications := self._app.recorder.select_notifications(after, PAGE, inclusive_of_start=False):
            for notification in notifications:
                yield self._app.mapper.to_domain_event(notification)
            after = notifications[-1].id

    def pump(self) -> None:
        """Handle what is new in the log, the answers owed, and the deadlines due, until nothing is left."""
        while True:
            worked = self._order_events() + self._answers() + self._timers()
            if not worked:
                return

    def operate(self, saga_id: UUID, action: str, by: str) -> None:
        self._on(Incoming(saga_id, uuid4(), _now(), OperatorRequest(action, by)))
        self.pump()

    def next_due(self) -> datetime | None:
        while self._due and self._instances[self._due[0][1]].next_due() != self._due[0][0]:
            heapq.heappop(self._due)
        return self._due[0][0] if self._due else None

    def _order_events(self) -> int:
        """One page of the log past the last event handled; returns how many entries it read."""
        page = self._app.recorder.select_notifications(self._position, PAGE, inclusive_of_start=False)
        for notification in page:
            event = self._app.mapper.to_domain_event(notification)
            if isinstance(event, (Order.Placed, Order.Cancelled)):
                message_id = uuid5(event.originator_id, f"event {event.originator_version}")
                self._on(Incoming(event.originator_id, message_id, _now(), event))
            self._position = notification.id
        if page:
            self._db.execute("INSERT OR REPLACE INTO tracking VALUES (?, ?)", (self._saga.saga_type, self._position))
        return len(page)

    def _answers(self) -> int:
        answers, self.replies = self.replies, []
        for answer in answers:
            reply = Reply(
                answer.outcome.command_id,
                type(answer.command).__name__,
                answer.outcome.status,
                answer.outcome.rule,
                answer.outcome.message,
                str(getattr(answer.command, "reason", "")),
            )
            self._on(Incoming(answer.envelope.correlation_id, answer.outcome.command_id, _now(), reply))
        return len(answers)

    def _timers(self) -> int:
        now, fired = _now(), 0
        while (due := self.next_due()) is not None and due <= now:
            _, saga_id = heapq.heappop(self._due)
            self._on(Incoming(saga_id, uuid4(), now, TimerFired()))
            fired += 1
        return fired

    def _on(self, incoming: Incoming) -> None:
        handled = handle(self._saga, self._instances.get(incoming.saga_id), incoming, self._policy)
        if handled.state is None or not handled.records:
            return
        self._app.save(*(stored(record) for record in handled.records))
        self._instances[handled.state.saga_id] = handled.state
        self._schedule(handled.state)
        for out in handled.outgoing:
            self._send(out.command, replace(out.envelope, reply_to=REPLY_TO))

    def _send(self, command: Command, envelope: Envelope) -> None:
        self._decide_and_save(command, envelope)  # the answer comes back through `replies`

    def _schedule(self, state: SagaState) -> None:
        if (due := state.next_due()) is not None:
            heapq.heappush(self._due, (due, state.saga_id))


def _now() -> datetime:
    return datetime.now(timezone.utc)
