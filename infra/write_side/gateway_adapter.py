"""The simulated payment gateway at work: answers each payment request, in topic order, with a command."""

import logging
import threading
from datetime import datetime, timedelta, timezone

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition

from commands.gateway import answer_command, answer_envelope, authorisation_code_for
from commands.messages import Envelope
from domain.gateway import FAILED, GatewayAnswer, GatewayScript
from infra.avro.codec import AvroCodec, UndecodableMessage
from infra.avro.message_mapping import command_to_record
from infra.kafka.reader import read_to_end
from infra.kafka.topics import GATEWAY_TOPIC, commands_topic
from infra.kafka.transactions import CALL_TIMEOUT_S, TransactionalLoop
from infra.observability import tracing
from infra.resilience.breakers import Breaker
from infra.resilience.payment_gateway import asked_through
from infra.write_side.gateway_topic import REQUESTED, SCRIPTED

log = logging.getLogger(__name__)
GROUP_ID = "streamkeep-gateway"


class GatewayAdapter(TransactionalLoop):
    """Consumes payments.gateway (one partition, so one adapter at a time) in a consume-produce transaction.

    The script it follows is a fold of the topic up to its committed offset: a restarted adapter reads the
    topic again to that offset and gives the same answers a crashed one would have given next. Each request takes
    the script's next answer whether or not the circuit breaker lets it reach the gateway, so that fold does not
    depend on the breaker (in memory, closed again after a restart).
    """

    def __init__(self, bootstrap_servers: str, codec: AvroCodec, breaker: Breaker) -> None:
        self._bootstrap = bootstrap_servers
        self._codec = codec
        self._breaker = breaker
        self._script = GatewayScript()
        super().__init__(bootstrap_servers, GROUP_ID)

    def run(self, stop: threading.Event) -> None:
        self._producer.init_transactions(CALL_TIMEOUT_S)
        self._consumer.subscribe([GATEWAY_TOPIC], on_assign=self._on_assign)
        try:
            while not stop.is_set() and not self.retired.is_set():
                batch = self._next_batch(0.1)
                if not batch:
                    continue
                late = self._first_late(batch)
                if late is None:
                    self._answer(batch)
                    continue
                # A scripted late answer: what comes before it is answered now; the adapter waits for its
                # moment (the request's time plus the delay, so a restart waits no longer) and reads on from it.
                index, wait_s = late
                if index:
                    self._answer(batch[:index], next_offset=batch[index].offset())
                self._consumer.seek(TopicPartition(GATEWAY_TOPIC, 0, batch[index].offset()))
                stop.wait(wait_s)
        finally:
            if not self.retired.is_set():
                self._consumer.close()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        committed = consumer.committed(partitions, timeout=30)
        self._script = self._replay_to(committed[0].offset if committed and committed[0].offset >= 0 else 0)

    def _replay_to(self, offset: int) -> GatewayScript:
        """The script as it stood after every record before `offset`: what the last adapter left."""
        script = GatewayScript()
        if offset > 0:
            records = read_to_end(self._bootstrap, GATEWAY_TOPIC, [0], timeout_s=None)
            for message in records:
                if message.offset() >= offset:
                    records.close()
                    break
                self._follow(script, message, answering=False)
        return script

    def _first_late(self, batch: list[Message]) -> tuple[int, float] | None:
        """The first request in the batch whose scripted answer is not due yet, and how long until it is."""
        script = GatewayScript(self._script.pending)
        now = datetime.now(timezone.utc)
        for index, message in enumerate(batch):
            try:
                name, record = self._codec.decode(message.value())
            except UndecodableMessage:
                continue
            if name == SCRIPTED:
                script.script(GatewayAnswer.from_dict(answer) for answer in record["answers"])
            elif name == REQUESTED:
                due = record["requested_at"] + timedelta(seconds=script.next_delay_s())
                if due > now:
                    return index, (due - now).total_seconds()
                script.next_answer("")
        return None

    def _answer(self, batch: list[Message], next_offset: int | None = None) -> None:
        self._producer.begin_transaction()
        try:
            for message in batch:
                self._follow(self._script, message, answering=True)
            offsets = None if next_offset is None else [TopicPartition(GATEWAY_TOPIC, 0, next_offset)]
            self._commit_with_consumed_offsets(offsets)
        except KafkaException as error:
            if error.args[0].fatal():
                raise
            log.warning("gateway transaction aborted, rewinding: %s", error)
            self._abort()
            assignment = self._consumer.assignment()
            committed = self._consumer.committed(assignment, timeout=30)
            offset = committed[0].offset if committed and committed[0].offset >= 0 else 0
            self._script = self._replay_to(offset)
            self._consumer.seek(TopicPartition(GATEWAY_TOPIC, 0, offset if offset > 0 else OFFSET_BEGINNING))

    def _follow(self, script: GatewayScript, message: Message, answering: bool) -> None:
        try:
            name, record = self._codec.decode(message.value())
        except UndecodableMessage as error:
            log.error("skipping an unreadable gateway record at offset %s: %s", message.offset(), error)
            return
        if name == SCRIPTED:
            script.script(GatewayAnswer.from_dict(answer) for answer in record["answers"])
        elif name == REQUESTED:
            answer = script.next_answer(authorisation_code_for(record["payment_id"]))
            if answering:
                answer = asked_through(self._breaker, answer)
                # The answer continues the payment request's trace (the gateway as a step of its own).
                with tracing.processing(message, GROUP_ID, "payment gateway answer"):
                    self._send_answer(record, answer)

    def _send_answer(self, request: dict, answer: GatewayAnswer) -> None:
        command = answer_command(request["payment_id"], answer)
        if command is None:
            log.info("gateway: payment %s timed out (scripted)", request["payment_id"])
            return
        if answer.outcome == FAILED:
            log.warning("gateway: payment %s declined, gateway unavailable: %s", request["payment_id"], answer.reason)
        requested = Envelope(
            request["command_id"], request["requested_at"], request["correlation_id"], reply_to=request.get("reply_to")
        )
        name, record = command_to_record(command, answer_envelope(requested, datetime.now(timezone.utc)))
        topic, key = commands_topic(command.context), str(command.aggregate_id).encode()
        with tracing.sending(topic, key) as headers:
            self._producer.produce(topic, key=key, value=self._codec.encode(name, record), headers=headers or None)
