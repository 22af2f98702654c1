"""Reads a topic's committed records from the beginning (or a time) to today's end, partition by partition."""

import uuid
from collections.abc import Iterator
from datetime import datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

READ_BATCH = 1000


def read_to_end(
    bootstrap_servers: str,
    topic: str,
    partitions: list[int] | None = None,
    since: datetime | None = None,
    timeout_s: float | None = 10.0,
    from_offsets: dict[int, int] | None = None,
) -> Iterator[Message]:
    """Yield every committed record that exists now (of the given partitions, from `since`), then stop.

    `from_offsets` starts each partition it names at that offset (and reads only those partitions).

    `timeout_s=None` waits as long as it takes: an open transaction of a killed writer holds back
    read_committed readers until Kafka aborts it, and a command processor must outwait that.
    """
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
        if from_offsets is not None:
            partitions = sorted(from_offsets)
        if partitions is None:
            metadata = consumer.list_topics(topic, timeout=timeout_s or 30.0).topics[topic]
            if metadata.error is not None:
                raise KafkaException(metadata.error)
            partitions = list(metadata.partitions)
        starts = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions]
        if since is not None:
            # Kafka finds the first offset at or after the time; a negative answer: nothing that recent.
            wanted = [TopicPartition(topic, p, int(since.timestamp() * 1000)) for p in partitions]
            starts = [tp for tp in consumer.offsets_for_times(wanted, timeout=30) if tp.offset >= 0]
        if from_offsets is not None:
            starts = [TopicPartition(topic, p, from_offsets[p]) for p in partitions]
        if not starts:
            return
        consumer.assign(starts)
        remaining = {tp.partition for tp in starts}
        while remaining:
            first = consumer.poll(timeout_s if timeout_s is not None else 5.0)
            if first is None:
                if timeout_s is None:
                    continue
                raise KafkaException(KafkaError(KafkaError._TIMED_OUT, f"no answer from Kafka reading {topic}"))
            # Then what is already fetched, many a call (consume waits for nothing with a timeout of 0): a loader
            # reads whole partitions, and one poll per record was half its time.
            for message in [first, *consumer.consume(READ_BATCH, 0)]:
                if message.error():
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        remaining.discard(message.partition())
                        continue
                    raise KafkaException(message.error())
                yield message
    finally:
        consumer.close()
