"""Sends commands to `<context>.commands` and waits, bounded, for their outcome on `<context>.outcomes`."""

import asyncio
import logging
import threading
import uuid
from uuid import UUID

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from commands.messages import Command, Envelope
from commands.outcomes import Outcome
from commands.ports import CommandBackendUnavailable
from infra.avro.codec import AvroCodec, UndecodableMessage
from infra.avro.message_mapping import command_to_record, record_to_outcome
from infra.kafka.event_stream import watermarks
from infra.kafka.topics import commands_topic, outcomes_topic
from infra.observability import tracing

log = logging.getLogger(__name__)
STARTUP_RETRY_S = 30.0


class KafkaCommandBus:
    """One producer for commands, one reader of outcomes that wakes the request waiting for each."""

    def __init__(self, bootstrap_servers: str, codec: AvroCodec, timeout_s: float, contexts: tuple[str, ...]) -> None:
        self._codec = codec
        self._timeout_s = timeout_s
        self._contexts = contexts
        # Identical retries of a keyed command share its id: every one of them waits for the same answer.
        self._waiting: dict[UUID, list[asyncio.Future[Outcome]]] = {}
        self._stop = threading.Event()
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 1,
                "message.timeout.ms": int(timeout_s * 1000),
                # Only failures are reported: nothing is done with a successful delivery, and a report per
                # command would wake the delivery thread and take the GIL once per command.
                "delivery.report.only.error": True,
                # librdkafka's own lines through our logging (served by the polling threads), not raw to stderr.
                "logger": log,
            }
        )
        self._outcomes = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": f"streamkeep-api-{uuid.uuid4()}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                # The broker answers a fetch as soon as an outcome is committed; this only bounds an idle wait.
                # At 10 ms an idle API cost the broker about 10% of a core in empty fetches (docs/benchmarks.md).
                "fetch.wait.max.ms": 500,
                "logger": log,
            }
        )
        self._threads: list[threading.Thread] = []

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._assign_outcomes_at_end()
        for target in (self._serve_deliveries, self._read_outcomes):
            thread = threading.Thread(target=target, name=target.__name__, daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._producer.flush(5)
        self._outcomes.close()

    async def dispatch(self, command: Command, envelope: Envelope) -> Outcome:
        waiter: asyncio.Future[Outcome] = self._loop.create_future()
        self._waiting.setdefault(envelope.command_id, []).append(waiter)
        try:
            name, record = command_to_record(command, envelope)
            topic, key = commands_topic(command.context), str(command.aggregate_id).encode()
            # The request's span is the command record's creation context: the record carries it, and no send span
            # of its own (one span fewer per command; the processor's span names the topic, partition and offset).
            headers = tracing.kafka_headers()
            try:
                self._producer.produce(
                    topic,
                    key=key,
                    value=self._codec.encode(name, record),
                    headers=headers or None,
                    on_delivery=self._delivered(waiter),
                )
            except (BufferError, KafkaException) as error:
                raise CommandBackendUnavailable(f"cannot send the command to Kafka: {error}") from error
            try:
                async with asyncio.timeout(self._timeout_s):
                    return await waiter
            except TimeoutError as error:
                raise CommandBackendUnavailable(
                    f"the {command.context} context did not answer within {self._timeout_s:g} s"
                ) from error
        finally:
            # A delivery failure reported after we stopped waiting has nobody to tell.
            waiter.cancel()
            waiters = self._waiting.get(envelope.command_id, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._waiting.pop(envelope.command_id, None)

    def _delivered(self, waiter: asyncio.Future[Outcome]):
        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                failure = CommandBackendUnavailable(f"Kafka did not take the command: {error.str()}")
                self._loop.call_soon_threadsafe(_fail, waiter, failure)

        return on_delivery

    def _assign_outcomes_at_end(self) -> None:
        # Start exactly at today's end, resolved now: an outcome written after this can never be missed.
        partitions = []
        for topic in map(outcomes_topic, self._contexts):
            metadata = self._outcomes.list_topics(topic, timeout=10)
            for partition in metadata.topics[topic].partitions:
                high = watermarks(self._outcomes, TopicPartition(topic, partition), STARTUP_RETRY_S)[1]
                partitions.append(TopicPartition(topic, partition, high))
        self._outcomes.assign(partitions)

    def _serve_deliveries(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    def _read_outcomes(self) -> None:
        while not self._stop.is_set():
            first = self._outcomes.poll(0.05)
            if first is None:
                continue
            # Only the first answer is waited for; the rest are whatever has already arrived.
            answers = []
            for message in [first, *self._outcomes.consume(499, 0)]:
                if message.error():
                    continue
                try:
                    outcome = record_to_outcome(self._codec.decode(message.value())[1])[0]
                except (UndecodableMessage, TypeError) as error:
                    log.warning("unreadable outcome at offset %s: %s", message.offset(), error)
                    continue
                # A copy: the event loop's thread may drop a waiter from this list meanwhile.
                answers += [(waiter, outcome) for waiter in list(self._waiting.get(outcome.command_id, ()))]
            if answers:
                # One wake-up of the event loop for the whole fetch, not one per answer.
                self._loop.call_soon_threadsafe(_resolve_all, answers)


def _resolve_all(answers: list[tuple[asyncio.Future[Outcome], Outcome]]) -> None:
    for waiter, outcome in answers:
        if not waiter.done():
            waiter.set_result(outcome)


def _fail(waiter: asyncio.Future[Outcome], error: Exception) -> None:
    if not waiter.done():
        waiter.set_exception(error)
