"""Rebuilds a command processor's partition state from Kafka: aggregates from snapshots, answers from outcomes."""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from confluent_kafka import Message

from commands import idempotency
from commands.idempotency import IdempotencyLedger, Remembered
from infra.avro_codec import AvroCodec
from infra.kafka_reader import read_to_end
from infra.message_mapping import record_to_event, record_to_outcome
from infra.snapshot_codec import SnapshotCodec
from infra.topics import events_topic, outcomes_topic, snapshots_topic

log = logging.getLogger(__name__)


@dataclass
class PartitionState:
    """What one partition's single writer knows: its aggregates and the answers it owes to retries."""

    aggregates: dict[UUID, Any] = field(default_factory=dict)
    ledger: IdempotencyLedger = field(default_factory=IdempotencyLedger)
    # Rebuilt from events because no snapshot was found: every aggregate's snapshot is owed to the topic.
    unsnapshotted: bool = False

    def get(self, aggregate_id: UUID) -> Any:
        return self.aggregates.get(aggregate_id)


def load_partitions(
    bootstrap: str, codec: AvroCodec, snapshots: SnapshotCodec, context: str, partitions: list[int]
) -> dict[int, PartitionState]:
    """Read the partitions' snapshots (events from the start where there are none) and the last 24 h of outcomes.

    Every transaction that appends an aggregate's events also writes its snapshot, so a partition with
    snapshots has one for every aggregate; one without (history from before snapshots) is replayed.
    """
    states = {partition: PartitionState() for partition in partitions}
    if not partitions:
        return states

    for message in read_to_end(bootstrap, snapshots_topic(context), partitions, timeout_s=None):
        aggregate = snapshots.decode(message.key(), message.headers() or [], message.value())
        states[message.partition()].aggregates[aggregate.id] = aggregate
    unsnapshotted = [partition for partition, state in states.items() if not state.aggregates]

    def apply_event(message: Message) -> None:
        event = record_to_event(*codec.decode(message.value()))
        aggregates = states[message.partition()].aggregates
        aggregates[event.originator_id] = event.mutate(aggregates.get(event.originator_id))

    def remember_outcome(message: Message) -> None:
        outcome, key, request_hash = record_to_outcome(codec.decode(message.value())[1])
        if key is not None and request_hash is not None:
            at = datetime.fromtimestamp(message.timestamp()[1] / 1000, timezone.utc)
            states[message.partition()].ledger.remember_entry(key, Remembered(outcome, request_hash, at))

    since = datetime.now(timezone.utc) - idempotency.WINDOW
    for message in read_to_end(bootstrap, events_topic(context), unsnapshotted, timeout_s=None):
        apply_event(message)
        states[message.partition()].unsnapshotted = True
    for message in read_to_end(bootstrap, outcomes_topic(context), partitions, since, timeout_s=None):
        remember_outcome(message)
    log.info(
        "%s partitions %s loaded: %s aggregates, replayed from events (no snapshots): %s, %s remembered answers",
        context,
        partitions,
        sum(len(s.aggregates) for s in states.values()),
        sorted(p for p, state in states.items() if state.unsnapshotted),
        sum(len(s.ledger) for s in states.values()),
    )
    return states
