"""Rebuilds a command processor's partition state from Kafka: aggregates from snapshots, answers from outcomes."""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from confluent_kafka import Message

from commands import idempotency
from commands.idempotency import IdempotencyLedger, Remembered
from infra.avro.codec import AvroCodec, UndecodableMessage
from infra.avro.message_mapping import record_to_event, record_to_outcome
from infra.kafka.reader import read_to_end
from infra.kafka.topics import events_topic, outcomes_topic, snapshots_topic
from infra.write_side.aggregate_store import AggregateStore
from infra.write_side.snapshot_codec import SnapshotCodec

log = logging.getLogger(__name__)


@dataclass
class PartitionState:
    """What one partition's single writer knows: its aggregates and the answers it owes to retries."""

    aggregates: AggregateStore
    ledger: IdempotencyLedger = field(default_factory=IdempotencyLedger)
    # Aggregates rebuilt from events no snapshot covered: their snapshots are owed to the topic.
    owed_snapshots: set[UUID] = field(default_factory=set)
    # The offset in the events partition up to which the aggregates are known (-1: none yet).
    events_offset: int = -1

    def get(self, aggregate_id: UUID) -> Any:
        return self.aggregates.get(aggregate_id)

    @classmethod
    def empty(cls, snapshots: SnapshotCodec) -> "PartitionState":
        return cls(AggregateStore(snapshots))


def load_partitions(
    bootstrap: str, codec: AvroCodec, snapshots: SnapshotCodec, context: str, partitions: list[int]
) -> dict[int, PartitionState]:
    """Read the partitions' snapshots, the events past what they cover, and the last 24 h of outcomes.

    Every transaction that appends an aggregate's events also writes its snapshot, naming the offset of its
    last event; so only events past the highest such offset need replaying: none, unless something else
    wrote to the topic (history from before snapshots is all replayed, then snapshotted).
    """
    states = {partition: PartitionState.empty(snapshots) for partition in partitions}
    if not partitions:
        return states

    for message in read_to_end(bootstrap, snapshots_topic(context), partitions, timeout_s=None):
        # Kept as bytes: an aggregate is decoded only when a command needs it.
        headers = message.headers() or []
        state = states[message.partition()]
        state.aggregates.load_snapshot(UUID(message.key().decode()), (headers, message.value()))
        state.events_offset = max(state.events_offset, snapshots.events_offset(headers))

    def apply_event(message: Message) -> None:
        state = states[message.partition()]
        state.events_offset = message.offset()
        try:
            event = record_to_event(*codec.decode(message.value()))
        except (UndecodableMessage, KeyError, TypeError, ValueError) as error:
            # Not an event of ours (an outside client wrote it): the projections dead-letter it; no aggregate has it.
            log.warning("skipping %s/%s@%s: %s", message.topic(), message.partition(), message.offset(), error)
            return
        current = state.aggregates.get(event.originator_id)
        # Only the next version applies: a snapshot may already hold an event a partial replay meets again.
        if event.originator_version == (current.version if current else 0) + 1:
            state.aggregates.put(event.mutate(current))
            state.owed_snapshots.add(event.originator_id)

    def remember_outcome(message: Message) -> None:
        outcome, key, request_hash = record_to_outcome(codec.decode(message.value())[1])
        if key is not None and request_hash is not None:
            at = datetime.fromtimestamp(message.timestamp()[1] / 1000, timezone.utc)
            states[message.partition()].ledger.remember_entry(key, Remembered(outcome, request_hash, at))

    since = datetime.now(timezone.utc) - idempotency.WINDOW
    past_snapshots = {partition: state.events_offset + 1 for partition, state in states.items()}
    events = read_to_end(bootstrap, events_topic(context), partitions, timeout_s=None, from_offsets=past_snapshots)
    for message in events:
        apply_event(message)
    for message in read_to_end(bootstrap, outcomes_topic(context), partitions, since, timeout_s=None):
        remember_outcome(message)
    log.info(
        "%s partitions %s loaded: %s aggregates, events replayed past snapshots in: %s, %s remembered answers",
        context,
        partitions,
        sum(len(s.aggregates) for s in states.values()),
        sorted(p for p, state in states.items() if state.owed_snapshots),
        sum(len(s.ledger) for s in states.values()),
    )
    return states
