"""Rebuilds a command processor's partition state from Kafka: aggregates from events, answers from outcomes."""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from confluent_kafka import Message

from commands import idempotency
from commands.idempotency import IdempotencyLedger, Remembered
from infra.avro_codec import AvroCodec, UndecodableMessage
from infra.kafka_reader import read_to_end
from infra.message_mapping import record_to_event, record_to_outcome
from infra.topics import events_topic, outcomes_topic

log = logging.getLogger(__name__)


@dataclass
class PartitionState:
    """What one partition's single writer knows: its aggregates and the answers it owes to retries."""

    aggregates: dict[UUID, Any] = field(default_factory=dict)
    ledger: IdempotencyLedger = field(default_factory=IdempotencyLedger)

    def get(self, aggregate_id: UUID) -> Any:
        return self.aggregates.get(aggregate_id)


def load_partitions(bootstrap: str, codec: AvroCodec, context: str, partitions: list[int]) -> dict[int, PartitionState]:
    """Read the partitions' committed events from the start and the last 24 h of outcomes."""
    states = {partition: PartitionState() for partition in partitions}
    if not partitions:
        return states

    def apply_event(message: Message) -> None:
        try:
            event = record_to_event(*codec.decode(message.value()))
        except (UndecodableMessage, KeyError, TypeError, ValueError) as error:
            # Not an event of ours (an outside client wrote it): the projections dead-letter it; no aggregate has it.
            log.warning("skipping %s/%s@%s: %s", message.topic(), message.partition(), message.offset(), error)
            return
        aggregates = states[message.partition()].aggregates
        aggregates[event.originator_id] = event.mutate(aggregates.get(event.originator_id))

    def remember_outcome(message: Message) -> None:
        outcome, key, request_hash = record_to_outcome(codec.decode(message.value())[1])
        if key is not None and request_hash is not None:
            at = datetime.fromtimestamp(message.timestamp()[1] / 1000, timezone.utc)
            states[message.partition()].ledger.remember_entry(key, Remembered(outcome, request_hash, at))

    since = datetime.now(timezone.utc) - idempotency.WINDOW
    for message in read_to_end(bootstrap, events_topic(context), partitions, timeout_s=None):
        apply_event(message)
    for message in read_to_end(bootstrap, outcomes_topic(context), partitions, since, timeout_s=None):
        remember_outcome(message)
    log.info(
        "%s partitions %s loaded: %s aggregates, %s remembered answers",
        context,
        partitions,
        sum(len(s.aggregates) for s in states.values()),
        sum(len(s.ledger) for s in states.values()),
    )
    return states
