"""The writer schemas of the events Kafka holds: every stored event's schema id, read from its wire header."""

import struct
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from infra.kafka.event_stream import watermarks
from infra.kafka.topics import CONTEXTS, SAGA_TYPES, events_topic, saga_events_topic

_HEADER = struct.Struct(">bI")
BATCH = 1000  # records per consume() call: a call per record costs more than reading its header


class KafkaUnavailable(Exception):
    """Kafka does not answer, so the stored history cannot be read."""


@dataclass(frozen=True)
class StoredEvent:
    topic: str
    partition: int
    offset: int
    schema_id: int | None  # None: not in the Confluent wire format
    value: bytes

    @property
    def where(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"


def stored_events(
    bootstrap_servers: str, timeout_s: float = 10.0, topics: list[str] | None = None
) -> Iterator[StoredEvent]:
    """Every committed event of every context's and saga's events topic that exists (or of `topics`), oldest first per
    partition. One consumer reads them all, and the dead-letter topics, skipping partitions that hold nothing."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"streamkeep-schemas-check-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "log_level": 0,  # librdkafka would print a line per failed connection; the one-line error says it all
        }
    )
    try:
        existing = consumer.list_topics(timeout=timeout_s).topics
        every = [*(events_topic(c) for c in CONTEXTS), *(saga_events_topic(s) for s in SAGA_TYPES)]
        wanted = [t for t in topics or every if t in existing]
        poison = _dead_lettered(consumer, wanted, existing, timeout_s)
        for message in _read_to_end(consumer, wanted, existing, timeout_s):
            if (message.topic(), message.partition(), message.offset()) in poison:
                continue  # not an event: the projections dead-lettered it, its letter says why
            value = message.value() or b""
            magic, schema_id = _HEADER.unpack_from(value) if len(value) >= _HEADER.size else (None, None)
            schema_id = schema_id if magic == 0 else None
            yield StoredEvent(message.topic(), message.partition(), message.offset(), schema_id, value)
    except KafkaException as error:
        raise KafkaUnavailable(f"Kafka at {bootstrap_servers} does not answer ({error.args[0].str()})") from None
    finally:
        consumer.close()


def _read_to_end(consumer: Consumer, topics: list[str], existing: Any, timeout_s: float) -> Iterator[Message]:
    """Every committed record of the topics' partitions that hold any, in batches, up to today's end."""
    starts = []
    for topic in topics:
        for partition in existing[topic].partitions:
            low, high = watermarks(consumer, TopicPartition(topic, partition), timeout_s)
            if high > low:
                starts.append(TopicPartition(topic, partition, low))
    remaining = {(tp.topic, tp.partition) for tp in starts}
    consumer.assign(starts)
    quiet_since = time.monotonic()
    while remaining:
        # consume() waits for a full batch or its timeout, so a short one: the last batch is rarely full.
        batch = consumer.consume(BATCH, timeout=0.1)
        if batch:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > timeout_s:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, f"no answer from Kafka reading {topics}"))
        for message in batch:
            if message.error() is None:
                yield message
            elif message.error().code() == KafkaError._PARTITION_EOF:
                remaining.discard((message.topic(), message.partition()))
            else:
                raise KafkaException(message.error())
    consumer.unassign()


def _dead_lettered(consumer: Consumer, topics: list[str], existing: Any, timeout_s: float) -> set[tuple[str, int, int]]:
    """(topic, partition, offset) of the records of `topics` that sit in their dead-letter topics."""
    letters = [f"{topic}.dlq" for topic in topics if f"{topic}.dlq" in existing]
    found = set()
    for message in _read_to_end(consumer, letters, existing, timeout_s):
        headers = dict(message.headers() or ())
        if headers.get("dlq.topic", b"").decode() in topics:
            found.add((headers["dlq.topic"].decode(), int(headers["dlq.partition"]), int(headers["dlq.offset"])))
    return found
