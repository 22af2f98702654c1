"""The writer schemas of the events Kafka holds: every stored event's schema id, read from its wire header."""

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from infra.kafka_reader import read_to_end
from infra.topics import CONTEXTS, events_topic

_HEADER = struct.Struct(">bI")


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


def stored_events(bootstrap_servers: str, timeout_s: float = 10.0) -> Iterator[StoredEvent]:
    """Every committed event of every context's events topic that exists, oldest first per partition."""
    try:
        # log_level 0: librdkafka would print a line per failed connection; the one-line error says it all.
        admin = AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0})
        existing = admin.list_topics(timeout=timeout_s).topics
        for topic in (events_topic(c) for c in CONTEXTS if events_topic(c) in existing):
            known_poison = _dead_lettered(bootstrap_servers, topic, existing, timeout_s)
            for message in read_to_end(bootstrap_servers, topic, timeout_s=timeout_s):
                if (message.partition(), message.offset()) in known_poison:
                    continue  # not an event: the projections dead-lettered it, its letter says why
                value = message.value() or b""
                magic, schema_id = _HEADER.unpack_from(value) if len(value) >= _HEADER.size else (None, None)
                schema_id = schema_id if magic == 0 else None
                yield StoredEvent(topic, message.partition(), message.offset(), schema_id, value)
    except KafkaException as error:
        raise KafkaUnavailable(f"Kafka at {bootstrap_servers} does not answer ({error.args[0].str()})") from None


def _dead_lettered(bootstrap_servers: str, topic: str, existing: Any, timeout_s: float) -> set[tuple[int, int]]:
    """(partition, offset) of the records of `topic` that sit in its dead-letter topic."""
    letters = f"{topic}.dlq"
    if letters not in existing:
        return set()
    found = set()
    for message in read_to_end(bootstrap_servers, letters, timeout_s=timeout_s):
        headers = dict(message.headers() or ())
        if headers.get("dlq.topic") == topic.encode():
            found.add((int(headers["dlq.partition"]), int(headers["dlq.offset"])))
    return found
