"""The consumer and producer of a consume-transform-produce loop: what makes its Kafka transactions safe."""

import uuid

from confluent_kafka import Consumer, KafkaException, Producer

SESSION_TIMEOUT_MS = 10_000
TRANSACTION_TIMEOUT_MS = 10_000
COMMIT_ATTEMPTS = 5


def transactional_consumer(bootstrap_servers: str, group_id: str) -> Consumer:
    """A group member that reads only committed records and leaves committing offsets to the transaction."""
    return Consumer(
        {
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


def transactional_producer(bootstrap_servers: str, group_id: str) -> Producer:
    """A producer with a new transactional id per process.

    After a rebalance, the consumer group generation carried by send_offsets_to_transaction fences a zombie
    (KIP-447), so the id need not be tied to a partition.
    """
    return Producer(
        {
            "bootstrap.servers": bootstrap_servers,
            "transactional.id": f"{group_id}-{uuid.uuid4()}",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            # A killed writer leaves its transaction open, which holds back every read_committed reader of
            # that partition (a loading command processor included) until the coordinator aborts it.
            "transaction.timeout.ms": TRANSACTION_TIMEOUT_MS,
        }
    )


def commit(producer: Producer) -> None:
    """Commit the open transaction; a retriable error leaves the outcome unknown, so only retrying is safe."""
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        try:
            producer.commit_transaction(30)
            return
        except KafkaException as error:
            if not error.args[0].retriable() or attempt == COMMIT_ATTEMPTS:
                raise
