"""Reads a topic's committed records from the beginning to today's end, partition by partition."""

import uuid
from collections.abc import Iterator

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition


def read_to_end(bootstrap_servers: str, topic: str, timeout_s: float = 10.0) -> Iterator[Message]:
    """Yield every committed record of the topic that exists now, then stop."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"streamkeep-reader-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics[topic]
        if metadata.error is not None:
            raise KafkaException(metadata.error)
        partitions = list(metadata.partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        remaining = set(partitions)
        while remaining:
            message = consumer.poll(timeout_s)
            if message is None:
                raise KafkaException(KafkaError(KafkaError._TIMED_OUT, f"no answer from Kafka reading {topic}"))
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    remaining.discard(message.partition())
                    continue
                raise KafkaException(message.error())
            yield message
    finally:
        consumer.close()
