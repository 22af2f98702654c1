"""The single writer per partition: consume commands, decide, append events and outcomes in one Kafka transaction."""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from commands import idempotency
from commands.handlers import decide
from commands.messages import Command, Envelope
from commands.outcomes import Outcome
from infra.avro.codec import AvroCodec, UndecodableMessage
from infra.avro.message_mapping import OUTCOME, event_to_record, outcome_to_record, record_to_command
from infra.kafka.event_headers import event_headers, reply_headers
from infra.kafka.topics import GATEWAY_TOPIC, commands_topic, events_topic, outcomes_topic, snapshots_topic
from infra.kafka.transactions import CALL_TIMEOUT_S, TransactionalLoop
from infra.observability import tracing
from infra.observability.kafka_statistics import loop_statistics
from infra.observability.stream_metrics import (
    COMMAND_BATCH_SIZE,
    COMMAND_PARTITION_LOAD,
    COMMAND_TRANSACTION_ABORTS,
    COMMAND_TRANSACTION_DURATION,
    COMMANDS_DECIDED,
)
from infra.write_side.gateway_topic import gateway_requests
from infra.write_side.partition_loader import PartitionState, load_partitions
from infra.write_side.snapshot_codec import SnapshotCodec
from projections.consistency import command_token

log = logging.getLogger(__name__)
GROUP_ID = "streamkeep-commands"
PRUNE_EVERY = timedelta(minutes=1)


@dataclass
class Decision:
    """What one command came to; a replay re-sends an answer already given instead of deciding again."""

    outcome: Outcome
    events: list[Any]
    envelope: Envelope
    partition: int
    command_offset: int
    replay: bool = False
    command_type: str = ""
    detail: str = ""  # the command's reason, if it has one: what a saga tells its history
    trace: list[tuple[str, bytes]] = field(default_factory=list)  # the decision's span, for what it produces


class CommandProcessor(TransactionalLoop):
    """Consume-decide-produce loop for one context; Kafka transactions make each batch all-or-nothing."""

    def __init__(self, bootstrap_servers: str, codec: AvroCodec, context: str = "orders") -> None:
        self._bootstrap = bootstrap_servers
        self._codec = codec
        self._context = context
        self._states: dict[int, PartitionState] = {}
        self._snapshots = SnapshotCodec()
        self._last_pruned = datetime.now(timezone.utc)
        self.ready = threading.Event()  # set once partitions are assigned and loaded
        # One group per context: a member joining for one context does not revoke another's partitions.
        self._group = f"{GROUP_ID}-{context}"
        super().__init__(bootstrap_servers, self._group, *loop_statistics(self._group))

    def run(self, stop: threading.Event) -> None:
        self._producer.init_transactions(CALL_TIMEOUT_S)
        self._consumer.subscribe(
            [commands_topic(self._context)],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        try:
            while not stop.is_set() and not self.retired.is_set():
                # A lone command is decided at once, so latency stays low when traffic is light.
                commands = self._next_batch(0.1)
                if commands:
                    self._process(commands)
        finally:
            if not self.retired.is_set():
                self._consumer.close()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._states.update(self._load_partitions([tp.partition for tp in partitions]))
        self._write_owed_snapshots()
        self.ready.set()

    def _write_owed_snapshots(self) -> None:
        """Aggregates rebuilt from events no snapshot covered (e.g. history from before snapshots) get one now."""
        owed = {p: state for p, state in self._states.items() if state.owed_snapshots}
        if not owed:
            return
        self._producer.begin_transaction()
        for partition, state in owed.items():
            for aggregate_id in state.owed_snapshots:
                self._produce_snapshot(partition, state.aggregates.get(aggregate_id), state.events_offset)
        self._commit()
        for state in owed.values():
            state.owed_snapshots.clear()
        log.info("%s: wrote the owed snapshots of partitions %s", self._context, sorted(owed))

    def _produce_snapshot(self, partition: int, aggregate: Any, events_offset: int) -> None:
        headers, value = self._snapshots.encode(aggregate, events_offset)
        # Saved for this process once produced: an abort reloads the partition from Kafka anyway.
        self._states[partition].aggregates.saved(aggregate.id, (headers, value))
        self._producer.produce(
            snapshots_topic(self._context),
            key=str(aggregate.id).encode(),
            value=value,
            headers=headers,
            partition=partition,
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._states.pop(tp.partition, None)

    def _load_partitions(self, partitions: list[int]) -> dict[int, PartitionState]:
        started = time.perf_counter()
        states = load_partitions(self._bootstrap, self._codec, self._snapshots, self._context, partitions)
        if partitions:
            COMMAND_PARTITION_LOAD.labels(self._context).observe(time.perf_counter() - started)
        return states

    def _process(self, messages: list[Message]) -> None:
        self._forget_expired_answers()
        started = time.perf_counter()
        self._producer.begin_transaction()
        try:
            decisions = [d for d in map(self._decide, messages) if d is not None]
            self._append(decisions)
            self._commit_with_consumed_offsets()
            for state in self._states.values():
                state.aggregates.trim()
        except KafkaException as error:
            if error.args[0].fatal():
                raise  # e.g. fenced by a newer generation: this process must stop writing
            log.warning("transaction aborted, rewinding: %s", error, extra={"context": self._context})
            COMMAND_TRANSACTION_ABORTS.labels(self._context).inc()
            self._abort()
            self._rewind()
            return
        self._count(decisions, len(messages), time.perf_counter() - started)

    def _count(self, decisions: list[Decision], batch_size: int, duration_s: float) -> None:
        """Counted once committed: an aborted batch is decided again, and would count twice."""
        COMMAND_BATCH_SIZE.labels(self._context).observe(batch_size)
        COMMAND_TRANSACTION_DURATION.labels(self._context).observe(duration_s)
        for decision in decisions:
            if not decision.replay:
                COMMANDS_DECIDED.labels(self._context, decision.command_type, decision.outcome.status).inc()

    def _decide(self, message: Message) -> Decision | None:
        if not tracing.enabled():
            return self._decide_message(message)
        started_ns = time.time_ns()
        try:
            decision = self._decide_message(message)
        except BaseException as error:
            tracing.decided(message, self._group, started_ns, None, 0, error)
            raise
        if decision is None:  # undecodable: passed over, and still a step of its trace
            tracing.decided(message, self._group, started_ns, None, 0)
        else:
            # The decision's span is the events' creation context: they carry it, and no span of their own
            # (a send span per command cost more than the decision's own; docs/benchmarks.md).
            decision.trace = tracing.decided(
                message, self._group, started_ns, decision.outcome.status, len(decision.events)
            )
        return decision

    def _decide_message(self, message: Message) -> Decision | None:
        state = self._states[message.partition()]
        try:
            command, envelope = record_to_command(*self._codec.decode(message.value()))
        except (UndecodableMessage, ValueError, KeyError) as error:
            # Nobody can be waiting for an answer to bytes we cannot read: log it and pass over it.
            at = {"context": self._context, "topic": message.topic(), "partition": message.partition()}
            log.error("skipping undecodable command: %s", error, extra={**at, "offset": message.offset()})
            return None
        said = (type(command).__name__, str(getattr(command, "reason", "")))
        if (answer := state.ledger.answer_for(envelope)) is not None:
            return Decision(answer, [], envelope, message.partition(), message.offset(), True, *said)
        decision = self._decide_anew(state, command, envelope, message.partition(), message.offset())
        decision.command_type, decision.detail = said
        # Remembered before the batch commits, so a retry later in the same batch gets this answer too.
        state.ledger.remember(envelope, decision.outcome, datetime.now(timezone.utc))
        return decision

    def _decide_anew(
        self, state: PartitionState, command: Command, envelope: Envelope, partition: int, command_offset: int
    ) -> Decision:
        aggregate, events, outcome = decide(command, envelope, state)
        if events:
            # Ahead of the commit: an aborted batch reloads the partition from Kafka (see _rewind).
            state.aggregates.put(aggregate)
        return Decision(outcome, events, envelope, partition, command_offset)

    def _append(self, decisions: list[Decision]) -> None:
        """Produce events, snapshots and outcomes in one pass: nothing waits for a delivery inside the transaction.

        The consistency token names the command's own offset, which every event carries in a header, so it is
        known before anything is produced. Snapshots name the events offset this partition had reached at the end
        of the previous batch: a lower bound, which is all the loader needs (it skips versions it already has).
        """
        for decision in decisions:
            self._produce_events(decision, decision.trace)
        # The aggregates as this batch leaves them, in the same transaction as their events.
        changed = {(d.partition, d.outcome.aggregate_id) for d in decisions if d.events}
        for partition, aggregate_id in changed:
            state = self._states[partition]
            self._produce_snapshot(partition, state.aggregates.get(aggregate_id), state.events_offset)
        now = datetime.now(timezone.utc)
        for decision in sorted(decisions, key=lambda d: d.replay):  # first answers before the replays of them
            state = self._states[decision.partition]
            if decision.replay:
                outcome, first_answer_to = state.ledger.answer_for(decision.envelope) or decision.outcome, None
            else:
                outcome, first_answer_to = decision.outcome, decision.envelope
                if decision.events:
                    token = command_token(commands_topic(self._context), decision.partition, decision.command_offset)
                    outcome = replace(outcome, consistency_token=token)
                state.ledger.remember(decision.envelope, outcome, now)
            value = self._codec.encode(OUTCOME, outcome_to_record(outcome, first_answer_to))
            # Always on the context's outcomes too: the partition's idempotency ledger is reloaded from there. No
            # trace context on it: its readers are the API, waiting inside the request's own span, and that reload.
            self._producer.produce(
                outcomes_topic(self._context),
                key=str(outcome.aggregate_id).encode(),
                value=value,
                partition=decision.partition,
            )
            if decision.envelope.reply_to:
                # Keyed by the saga (the correlation), so it reaches the partition that owns the instance.
                self._producer.produce(
                    decision.envelope.reply_to,
                    key=str(decision.envelope.correlation_id).encode(),
                    value=value,
                    headers=reply_headers(decision.command_type, decision.detail) + decision.trace,
                )

    def _produce_events(self, decision: Decision, trace: list[tuple[str, bytes]]) -> None:
        """A decision's events (each carrying the trace context given, if any) and the gateway requests among
        them."""
        topic, state = events_topic(self._context), self._states[decision.partition]
        for event in decision.events:
            name, record = event_to_record(event, decision.envelope)
            self._producer.produce(
                topic,
                key=str(event.originator_id).encode(),
                value=self._codec.encode(name, record),
                partition=decision.partition,
                headers=event_headers(name, decision.command_offset) + trace,
                on_delivery=_reached(state),
            )
        for name, record in gateway_requests(decision.events, decision.envelope):
            self._producer.produce(
                GATEWAY_TOPIC, value=self._codec.encode(name, record), partition=0, headers=trace or None
            )

    def _forget_expired_answers(self) -> None:
        now = datetime.now(timezone.utc)
        if now - self._last_pruned > PRUNE_EVERY:
            for state in self._states.values():
                state.ledger.forget_before(now - idempotency.WINDOW)
            self._last_pruned = now

    def _rewind(self) -> None:
        """After an abort: forget uncommitted state and go back to the last committed command."""
        assignment = self._consumer.assignment()
        self._states.update(self._load_partitions([tp.partition for tp in assignment]))
        self._write_owed_snapshots()
        for tp in self._consumer.committed(assignment, timeout=30):
            self._consumer.seek(
                TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING)
            )


def _reached(state: PartitionState) -> Callable[[KafkaError | None, Message], None]:
    """Moves the partition's known events offset as deliveries are confirmed (commit_transaction waits for them).
    Bound to this state object: after an abort the partition is reloaded into a new one, which late reports of
    the aborted batch cannot touch."""

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        if error is None:
            state.events_offset = max(state.events_offset, message.offset())

    return on_delivery
