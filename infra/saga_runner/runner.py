"""The saga runner: per batch, one Kafka transaction appends the instances' new events, sends the commands they
decided, and commits what was read, so a crash anywhere loses no step and sends no second effect."""

import logging
import threading
from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone
from uuid import UUID, uuid4

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from infra.avro.codec import AvroCodec
from infra.avro.message_mapping import command_to_record
from infra.avro.saga_mapping import saga_event_to_record
from infra.kafka.event_stream import watermarks
from infra.kafka.topics import commands_topic, saga_events_topic, saga_replies_topic
from infra.kafka.transactions import CALL_TIMEOUT_S, TransactionalLoop
from infra.observability import tracing
from infra.observability.kafka_statistics import loop_statistics
from infra.saga_runner.inbox import ORDER_EVENTS_TOPIC, Inbox
from infra.saga_runner.instances import Instances, load_instances
from infra.saga_runner.saga_metrics import SagaTally
from sagas.fulfilment import FulfilmentSaga
from sagas.handling import SagaDefinition, handle
from sagas.history import COMPENSATED, COMPLETED, RUNNING, STUCK, Recorded, StatusChanged
from sagas.inbox import Incoming, TimerFired
from sagas.policy import SagaPolicy

log = logging.getLogger(__name__)
GROUP_ID = "streamkeep-sagas"
# How often an idle runner looks for deadlines and resends that have come due.
TICK_S = 0.1


class SagaRunner(TransactionalLoop):
    """Consume-decide-produce for one saga type over the partitions this member owns.

    The group's range assignor gives one member the same partition numbers of every input topic, and all of
    them are keyed by saga id: an instance's order events, replies and operator commands reach one runner.
    """

    def __init__(
        self, bootstrap_servers: str, codec: AvroCodec, policy: SagaPolicy, saga: SagaDefinition = FulfilmentSaga
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._codec = codec
        self._policy = policy
        self._saga = saga
        self._inbox = Inbox(codec)
        self._instances: dict[int, Instances] = {}
        # The next offset to read of every assigned partition, sent with each transaction: a transaction that
        # only fires timers still carries the group generation, so a runner that lost its partitions is fenced.
        self._positions: dict[tuple[str, int], int] = {}
        self.ready = threading.Event()
        self._traces: dict[UUID, list[tuple[str, bytes]]] = {}  # tracing on: each live instance's last step
        self._tally = SagaTally(saga.saga_type)
        group = f"{GROUP_ID}-{saga.saga_type}"
        super().__init__(bootstrap_servers, group, *loop_statistics(group))

    def run(self, stop: threading.Event) -> None:
        self._producer.init_transactions(CALL_TIMEOUT_S)
        self._consumer.subscribe(
            self._inbox.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke
        )
        try:
            while not stop.is_set() and not self.retired.is_set():
                messages = self._next_batch(TICK_S)
                now = datetime.now(timezone.utc)
                due = [(p, saga_id) for p, instances in self._instances.items() for saga_id in instances.due(now)]
                if messages or due:
                    self._process(messages, due, now)
        finally:
            if not self.retired.is_set():
                self._consumer.close()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        starts, first_time = self._start_positions(consumer, partitions)
        consumer.assign(starts)
        self._positions.update({(tp.topic, tp.partition): tp.offset for tp in starts})
        if first_time:
            # Committed at once: a runner killed before its first batch must not find "the end" moved on.
            self._producer.begin_transaction()
            self._commit_with_consumed_offsets(first_time)
        self._instances.update(load_instances(self._bootstrap, self._codec, sorted({tp.partition for tp in starts})))
        self._count_instances()
        self.ready.set()

    def _start_positions(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> tuple[list[TopicPartition], list[TopicPartition]]:
        """Where each partition resumes: its committed offset; else, for order events, their end today (sagas
        fulfil the orders placed after they were deployed), and for the saga's own topics, their start. Also
        which of them had no committed offset."""
        starts, first_time = [], []
        for tp in consumer.committed(partitions, timeout=CALL_TIMEOUT_S):
            if tp.offset < 0:
                low, high = watermarks(consumer, TopicPartition(tp.topic, tp.partition), CALL_TIMEOUT_S)
                tp = TopicPartition(tp.topic, tp.partition, high if tp.topic == ORDER_EVENTS_TOPIC else low)
                first_time.append(tp)
            starts.append(tp)
        return starts, first_time

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._traces.clear()  # some of them are another runner's now; a timer here may start a trace of its own
        for tp in partitions:
            self._instances.pop(tp.partition, None)
            self._positions.pop((tp.topic, tp.partition), None)
        self._count_instances()

    def _count_instances(self) -> None:
        self._tally.instances(sum((instances.by_status for instances in self._instances.values()), Counter()))

    def _process(self, messages: list[Message], due: list[tuple[int, object]], now: datetime) -> None:
        self._producer.begin_transaction()
        try:
            for message in messages:
                self._positions[(message.topic(), message.partition())] = message.offset() + 1
                incoming = self._inbox.incoming(message, now)
                if incoming is None:
                    continue
                if tracing.enabled():
                    # The step is a child of whatever sent the message: the order's request, a command's decision.
                    with tracing.processing(
                        message, f"{GROUP_ID}-{self._saga.saga_type}", _step_name(self._saga, incoming)
                    ):
                        self._handle(message.partition(), incoming)
                else:
                    self._handle(message.partition(), incoming)
            for partition, saga_id in due:
                timer = Incoming(saga_id, uuid4(), now, TimerFired())  # type: ignore[arg-type]
                # A deadline or resend continues the trace of the instance's last step this runner handled.
                with tracing.step(_step_name(self._saga, timer), self._traces.get(saga_id)):
                    self._handle(partition, timer)
            self._commit_positions()
        except KafkaException as error:
            self._tally.aborted()
            if error.args[0].fatal():
                raise  # fenced by a newer generation: this process must stop writing
            log.warning("saga transaction aborted, rewinding: %s", error)
            self._abort()
            self._rewind()
        else:
            self._tally.committed()
        self._count_instances()

    def _handle(self, partition: int, incoming: Incoming) -> None:
        instances = self._instances.get(partition)
        if instances is None:
            return
        before = instances.get(incoming.saga_id)
        handled = handle(self._saga, before, incoming, self._policy)
        if handled.state is None or not handled.records:
            return
        self._tally.note(handled.records, before.status if before else "")
        if tracing.enabled():
            self._follow_trace(incoming.saga_id, handled.state.status)
        _log_turns(handled.records)
        key, trace = str(incoming.saga_id).encode(), tracing.kafka_headers()
        for record in handled.records:
            name, value = saga_event_to_record(record)
            self._producer.produce(
                saga_events_topic(),
                key=key,
                value=self._codec.encode(name, value),
                partition=partition,
                headers=trace or None,
            )
        for out in handled.outgoing:
            name, value = command_to_record(out.command, replace(out.envelope, reply_to=saga_replies_topic()))
            topic, command_key = commands_topic(out.command.context), str(out.command.aggregate_id).encode()
            with tracing.sending(topic, command_key) as headers:
                self._producer.produce(
                    topic, key=command_key, value=self._codec.encode(name, value), headers=headers or None
                )
        # Ahead of the commit: an aborted transaction reloads the partitions from Kafka (see _rewind).
        instances.put(handled.state)

    def _follow_trace(self, saga_id: UUID, status: str) -> None:
        """Remember the step's trace context for the instance's next timer; forget it once the instance ended.
        Memory only: after a restart or a rebalance a timer starts a trace of its own."""
        if status in (COMPLETED, COMPENSATED):
            self._traces.pop(saga_id, None)
        else:
            self._traces[saga_id] = tracing.kafka_headers()

    def _commit_positions(self) -> None:
        offsets = [TopicPartition(topic, partition, offset) for (topic, partition), offset in self._positions.items()]
        with self._watched():
            self._producer.send_offsets_to_transaction(
                offsets, self._consumer.consumer_group_metadata(), CALL_TIMEOUT_S
            )
        self._commit()

    def _rewind(self) -> None:
        """After an abort: forget what was not committed and go back to the last committed positions."""
        assignment = self._consumer.assignment()
        starts, _ = self._start_positions(self._consumer, assignment)
        self._positions = {(tp.topic, tp.partition): tp.offset for tp in starts}
        self._instances = load_instances(self._bootstrap, self._codec, sorted({tp.partition for tp in starts}))
        for tp in starts:
            self._consumer.seek(tp)


def _step_name(saga: SagaDefinition, incoming: Incoming) -> str:
    """A saga step's span name: the saga type and what it handles (`saga fulfilment Reply`), low in cardinality."""
    return f"saga {saga.saga_type} {type(incoming.body).__name__}"


def _log_turns(records: list[Recorded]) -> None:
    """One line when an instance starts compensating, is compensated or gets stuck: what an operator looks for (a
    completed saga is counted, not logged; the rest is in its history). Its id is the correlation id of everything
    it sends."""
    for record in records:
        event = record.event
        if isinstance(event, StatusChanged) and event.status not in (RUNNING, COMPLETED):
            ids = {"saga_id": str(record.saga_id), "correlation_id": str(record.saga_id)}
            level = logging.WARNING if event.status == STUCK else logging.INFO
            log.log(level, "saga %s %s at %s: %s", record.saga_id, event.status, event.step, event.reason, extra=ids)
