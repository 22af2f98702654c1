"""The consumer and producer of a consume-transform-produce loop: what makes its Kafka transactions safe."""

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import stamina
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from infra.kafka.transient import retriable

SESSION_TIMEOUT_MS = 10_000
TRANSACTION_TIMEOUT_MS = 10_000
COMMIT_ATTEMPTS = 5
# Every transactional call is bounded: librdkafka's default is to wait for ever, e.g. through a broker restart.
CALL_TIMEOUT_S = 30.0
# A transaction's records wait for its commit, which sends them at once whatever the linger (librdkafka's
# flush overrides linger.ms): a long linger makes a batch one produce request instead of one per few
# milliseconds of deciding, and the broker verifies every transactional produce with the coordinator (KIP-890).
# Measured: broker CPU per command -41%, commands/s +24% (medians of 3 pairs) (docs/benchmarks.md, session 4).
TRANSACTION_LINGER_MS = 100
# librdkafka waits retry.backoff.ms (100 ms by default) before retrying a transactional call the coordinator
# answered with CONCURRENT_TRANSACTIONS, which it does whenever a transaction starts while the markers of the one
# before are still being written: back to back batches met it on one commit in ten, each a 100 ms stall.
# Failing calls still back off exponentially from here up to retry.backoff.max.ms (1 s).
RETRY_BACKOFF_MS = 5
BATCH_SIZE = 500


def transactional_consumer(bootstrap_servers: str, group_id: str, settings: dict[str, Any] | None = None) -> Consumer:
    """A group member that reads only committed records and leaves committing offsets to the transaction."""
    return Consumer(
        {
            **(settings or {}),
            "bootstrap.servers": bootstrap_servers,
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            # A killed member's partitions move to a live one after this long, not librdkafka's 45 s.
            "session.timeout.ms": SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": SESSION_TIMEOUT_MS // 4,
        }
    )


def transactional_producer(bootstrap_servers: str, group_id: str, settings: dict[str, Any] | None = None) -> Producer:
    """A producer with a new transactional id per process.

    After a rebalance, the consumer group generation carried by send_offsets_to_transaction fences a zombie
    (KIP-447), so the id need not be tied to a partition.
    """
    return Producer(
        {
            **(settings or {}),
            "bootstrap.servers": bootstrap_servers,
            "transactional.id": f"{group_id}-{uuid.uuid4()}",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": TRANSACTION_LINGER_MS,
            "retry.backoff.ms": RETRY_BACKOFF_MS,
            # A killed writer leaves its transaction open, which holds back every read_committed reader of
            # that partition (a loading command processor included) until the coordinator aborts it.
            "transaction.timeout.ms": TRANSACTION_TIMEOUT_MS,
        }
    )


class TransactionalLoop:
    """A consume-transform-produce loop's clients, and a watch on the calls librdkafka may never return from.

    librdkafka's send_offsets_to_transaction can block for ever, past its timeout, when the group coordinator
    went away (librdkafka issues #5456 and #5511, seen here after a broker restart). The worker replaces a
    loop stuck longer than `CALL_TIMEOUT_S` plus a margin: `retire()` closes its consumer so the group moves
    its partitions, and the stuck producer, should it ever wake, finds itself fenced.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str,
        consumer_settings: dict[str, Any] | None = None,
        producer_settings: dict[str, Any] | None = None,
    ) -> None:
        """`*_settings`: more client settings, e.g. librdkafka's statistics and their callback."""
        self._consumer = transactional_consumer(bootstrap_servers, group_id, consumer_settings)
        self._producer = transactional_producer(bootstrap_servers, group_id, producer_settings)
        self._call_since: float | None = None
        self.retired = threading.Event()

    def stuck_for(self) -> float:
        since = self._call_since
        return 0.0 if since is None else time.monotonic() - since

    def retire(self) -> None:
        self.retired.set()
        try:
            self._consumer.close()
        except RuntimeError:
            pass  # already closed

    def _next_batch(self, poll_s: float, size: int = BATCH_SIZE) -> list[Message]:
        """The records for the next transaction, errors left out: up to `poll_s` for the first, then whatever else
        is already fetched. A batch never waits to fill up, so latency stays low when traffic is light (waiting
        a few milliseconds for more under load was measured: no better, docs/benchmarks.md)."""
        # Serves the producer's callbacks between transactions too: an idle producer's statistics would pile up.
        self._producer.poll(0)
        first = self._consumer.poll(poll_s)
        if first is None:
            return []
        return [message for message in [first, *self._consumer.consume(size - 1, 0)] if not message.error()]

    @contextmanager
    def _watched(self) -> Iterator[None]:
        self._call_since = time.monotonic()
        try:
            yield
        finally:
            self._call_since = None

    def _commit_with_consumed_offsets(self, offsets: list[TopicPartition] | None = None) -> None:
        """Add the consumed positions (or the `offsets` given) to the open transaction and commit it."""
        with self._watched():
            self._producer.send_offsets_to_transaction(
                offsets if offsets is not None else self._consumer.position(self._consumer.assignment()),
                self._consumer.consumer_group_metadata(),
                CALL_TIMEOUT_S,
            )
        self._commit()

    # Between attempts, 0.05 s doubling (under 1 s over the five): the transaction stays well inside
    # TRANSACTION_TIMEOUT_MS, and the jitter keeps the writers of a broker that came back from asking at once.
    @stamina.retry(
        on=retriable, attempts=COMMIT_ATTEMPTS, timeout=None, wait_initial=0.05, wait_max=0.5, wait_jitter=0.05
    )
    def _commit(self) -> None:
        """Commit the open transaction; a retriable error leaves the outcome unknown, so only retrying is safe.
        Any other error (abortable or fatal) goes to the caller at once, which aborts or gives the loop up."""
        with self._watched():
            self._producer.commit_transaction(CALL_TIMEOUT_S)

    def _abort(self) -> None:
        with self._watched():
            self._producer.abort_transaction(CALL_TIMEOUT_S)
