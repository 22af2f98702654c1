"""Turns what a saga runner consumes into messages for one instance: order events, replies, operator commands."""

import logging
from datetime import datetime
from uuid import UUID, uuid5

from confluent_kafka import Message

from domain.orders import Order
from infra.avro.codec import AvroCodec, UndecodableMessage
from infra.avro.message_mapping import record_to_event, record_to_outcome
from infra.avro.saga_mapping import OPERATOR_COMMANDS
from infra.kafka.event_headers import COMMAND_TYPE, DETAIL, EVENT_TYPE, header
from infra.kafka.topics import events_topic, saga_commands_topic, saga_replies_topic
from sagas.inbox import Incoming, OperatorRequest, Reply

log = logging.getLogger(__name__)
ORDER_EVENTS_TOPIC = events_topic("orders")
# The order events a fulfilment listens to; the rest of orders.events is passed over unread.
ORDER_EVENTS = {b"orders.OrderPlaced", b"orders.OrderCancelled"}


class Inbox:
    """Reads one consumed record as a message for an instance, or None when it is not for any."""

    def __init__(self, codec: AvroCodec) -> None:
        self._codec = codec
        self._read = {
            ORDER_EVENTS_TOPIC: self._order_event,
            saga_replies_topic(): self._reply,
            saga_commands_topic(): self._operator_command,
        }

    @property
    def topics(self) -> list[str]:
        return list(self._read)

    def incoming(self, message: Message, at: datetime) -> Incoming | None:
        try:
            return self._read[message.topic()](message, at)
        except (UndecodableMessage, KeyError, TypeError, ValueError) as error:
            # Nothing of ours wrote it, so no instance waits for it: log it and pass over it.
            at = {"topic": message.topic(), "partition": message.partition(), "offset": message.offset()}
            log.error("saga runner: skipping %s/%s@%s: %s", *at.values(), error, extra=at)
            return None

    def _order_event(self, message: Message, at: datetime) -> Incoming | None:
        if header(message.headers(), EVENT_TYPE) not in ORDER_EVENTS:
            return None
        event = record_to_event(*self._codec.decode(message.value()))
        if not isinstance(event, (Order.Placed, Order.Cancelled)):
            return None
        message_id = uuid5(event.originator_id, f"event {event.originator_version}")
        return Incoming(event.originator_id, message_id, at, event)

    def _reply(self, message: Message, at: datetime) -> Incoming:
        """An outcome the command side sent back; its command id is its message id, so a replayed answer is
        the same message."""
        outcome = record_to_outcome(self._codec.decode(message.value())[1])[0]
        body = Reply(
            outcome.command_id,
            (header(message.headers(), COMMAND_TYPE) or b"").decode(),
            outcome.status,
            outcome.rule,
            outcome.message,
            (header(message.headers(), DETAIL) or b"").decode(),
        )
        return Incoming(UUID(message.key().decode()), outcome.command_id, at, body)

    def _operator_command(self, message: Message, at: datetime) -> Incoming | None:
        name, record = self._codec.decode(message.value())
        action = OPERATOR_COMMANDS.get(name)
        if action is None:
            return None
        return Incoming(record["saga_id"], record["command_id"], at, OperatorRequest(action, record["by"]))
