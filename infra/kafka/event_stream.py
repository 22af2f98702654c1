"""Streams a range of an events topic: chosen start and end per partition, committed records only, a batch at a time."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import stamina
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from infra.kafka.transient import transient

POLL_BATCH = 1000
POLL_S = 1.0
# One metadata or offsets request: a broker that answers at all answers in milliseconds; 30 s covers a leader
# election or a broker restart without letting a replay hang on a Kafka that is gone.
CALL_TIMEOUT_S = 30.0
_NEVER = 2**63


@dataclass(frozen=True)
class Window:
    """Where to start and stop: `since`/`until` are times (until excluded), `from_offset` an offset."""

    since: datetime | None = None
    until: datetime | None = None
    from_offset: int | None = None
    partition: int | None = None
    partitions: tuple[int, ...] | None = None  # only these partitions (a share of the topic)
    starts: dict[int, int] | None = None  # per partition: the first offset to read
    ends: dict[int, int] | None = None  # per partition: the offset to stop before (only these partitions)


def stream(bootstrap_servers: str, topic: str, window: Window, follow: bool = False) -> Iterator[Message]:
    """Yield the committed records in the window, partition by partition interleaved; stop at today's end unless
    `follow`. Memory stays flat: nothing is kept once yielded."""
    for batch in batches(bootstrap_servers, topic, window, follow):
        yield from batch


def batches(bootstrap_servers: str, topic: str, window: Window, follow: bool = False) -> Iterator[list[Message]]:
    """The records of `stream`, a consumer poll's worth (up to POLL_BATCH) at a time: callers with per-event
    work this light pay for a generator step per batch rather than per record."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"streamkeep-replay-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            # Bigger fetches: a replay reads whole partitions, throughput matters more than latency.
            "fetch.min.bytes": 1,
            "queued.max.messages.kbytes": 65536,
        }
    )
    try:
        starts, ends = _bounds(consumer, topic, window, follow)
        live = {p for p, start in starts.items() if follow or start < ends[p]}
        if not live:
            return
        until_ms = int(window.until.timestamp() * 1000) if window.until else None
        consumer.assign([TopicPartition(topic, p, starts[p]) for p in sorted(live)])
        while live:
            kept = _keep(consumer.consume(POLL_BATCH, POLL_S), live, ends, until_ms, follow)
            if kept:
                yield kept
    finally:
        consumer.close()


def _keep(
    messages: list[Message], live: set[int], ends: dict[int, int], until_ms: int | None, follow: bool
) -> list[Message]:
    """The records still inside the window; a partition leaves `live` at its end, its `until` or (not
    following) its EOF."""
    kept = []
    for message in messages:
        partition, error = message.partition(), message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                raise KafkaException(error)
            if not follow:
                live.discard(partition)
        elif partition in live and (message.offset() >= ends.get(partition, _NEVER) or _after(message, until_ms)):
            live.discard(partition)
        elif partition in live:
            kept.append(message)
    return kept


def _after(message: Message, until_ms: int | None) -> bool:
    # Following past today's end, only the records' own times tell when `until` has come.
    return until_ms is not None and message.timestamp()[1] >= until_ms


def _bounds(consumer: Consumer, topic: str, window: Window, follow: bool) -> tuple[dict[int, int], dict[int, int]]:
    """Start and end offset per partition; following, a partition has an end only when `until` fixes one."""
    metadata = consumer.list_topics(topic, timeout=CALL_TIMEOUT_S).topics[topic]
    if metadata.error is not None:
        raise KafkaException(metadata.error)
    partitions = sorted(metadata.partitions if window.ends is None else window.ends)
    if window.partition is not None:
        if window.partition not in partitions:
            raise ValueError(f"{topic} has no partition {window.partition} (it has {len(partitions)})")
        partitions = [window.partition]
    if window.partitions is not None:
        partitions = [p for p in partitions if p in window.partitions]
    since = _offsets_at(consumer, topic, partitions, window.since) if window.since else {}
    until = _offsets_at(consumer, topic, partitions, window.until) if window.until else {}
    starts, ends = {}, {}
    for p in partitions:
        low, high = watermarks(consumer, TopicPartition(topic, p))
        start = max(low, window.from_offset or 0, (window.starts or {}).get(p, 0))
        if window.since is not None:
            at = since[p]
            start = max(start, at if at is not None else high)
        starts[p] = start
        end = until.get(p) if window.ends is None else window.ends[p]
        if end is not None:
            ends[p] = end
        elif not follow:
            ends[p] = high
    return starts, ends


def _offsets_at(consumer: Consumer, topic: str, partitions: list[int], at: datetime) -> dict[int, int | None]:
    """Kafka's offsets-for-times: the first offset whose timestamp is at or after `at` (None: no such record)."""
    wanted = [TopicPartition(topic, p, int(at.timestamp() * 1000)) for p in partitions]
    found = consumer.offsets_for_times(wanted, timeout=CALL_TIMEOUT_S)
    return {tp.partition: tp.offset if tp.offset >= 0 else None for tp in found}


def offsets_between(starts: dict[int, int], ends: dict[int, int]) -> int:
    """How many offsets lie from each partition's start (0 when it has none) to its end: the events left."""
    return sum(max(0, end - starts.get(p, 0)) for p, end in ends.items())


def end_offsets(bootstrap_servers: str, topic: str) -> dict[int, int]:
    """Each partition's end offset now (the next offset Kafka will write)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap_servers, "group.id": "streamkeep-ends", "isolation.level": "read_committed"}
    )
    try:
        metadata = consumer.list_topics(topic, timeout=CALL_TIMEOUT_S).topics[topic]
        if metadata.error is not None:
            raise KafkaException(metadata.error)
        return {p: watermarks(consumer, TopicPartition(topic, p))[1] for p in metadata.partitions}
    finally:
        consumer.close()


def watermarks(consumer: Consumer, partition: TopicPartition, patience_s: float = 30.0) -> tuple[int, int]:
    """A partition's (low, high) watermarks; a topic created a moment ago may answer "not leader" for a while
    although the metadata already names its leader (seen with `bench` on a brand-new stack), so that, like any
    transient error, is asked again with backoff until `patience_s` has passed."""
    asking = stamina.retry(
        on=transient, attempts=None, timeout=patience_s, wait_initial=0.1, wait_max=2.0, wait_jitter=0.2
    )
    return asking(_watermarks)(consumer, partition, patience_s)


def _watermarks(consumer: Consumer, partition: TopicPartition, timeout_s: float) -> tuple[int, int]:
    low, high = consumer.get_watermark_offsets(partition, timeout=min(timeout_s, CALL_TIMEOUT_S))
    return int(low), int(high)
