"""Which Kafka errors are worth another try: the predicates our stamina retries are given as `on=`."""

from confluent_kafka import KafkaError, KafkaException

# A broker not reached yet or a leader not elected yet: what a stack starting (or a topic just created) answers
# for a while. confluent-kafka raises these from metadata and offset calls with retriable() false (librdkafka
# sets that flag only on the errors of its newer calls, the transactional ones among them), so they are named.
NOT_THERE_YET = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
    }
)


def retriable(error: BaseException) -> bool:
    """librdkafka's own verdict, and nothing more: the only safe test for a transactional call, whose other errors
    say abort (txn_requires_abort) or give up (fatal)."""
    return isinstance(error, KafkaException) and _kafka_error(error).retriable()


def transient(error: BaseException) -> bool:
    """A read of metadata or offsets that may answer if asked again: librdkafka says retriable, or the broker or
    leader is not there yet."""
    return retriable(error) or (isinstance(error, KafkaException) and _kafka_error(error).code() in NOT_THERE_YET)


def _kafka_error(error: KafkaException) -> KafkaError:
    first = error.args[0] if error.args else None
    # A KafkaException made from a plain message (our own, or a test's) carries no KafkaError: not retriable.
    return first if isinstance(first, KafkaError) else KafkaError(KafkaError._FAIL)
