"""Each retry policy: which failures it tries again, which it lets through at once, and where it stops.

stamina's test mode takes the backoff away (and caps an unbounded policy's attempts), so nothing here sleeps,
except the two checks of a deadline, which wait a fraction of a second for it to pass."""

import asyncio
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
import stamina
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from prometheus_client import REGISTRY
from psycopg import errors

from infra.kafka.event_stream import watermarks
from infra.kafka.topics import _wait_for_leaders
from infra.kafka.transactions import COMMIT_ATTEMPTS, TransactionalLoop
from infra.kafka.transient import retriable, transient
from infra.observability.retries import instrument_retries
from infra.read_side.projection_runner import _until_taken
from infra.read_side.rebuild import SWAP_ATTEMPTS, Rebuild
from infra.registry.client import RegistryRefused, RegistryUnavailable
from infra.registry.deploy import give_level


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    # cap: a bounded policy keeps its own attempts; an unbounded one gets 10.
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


def kafka_error(code: int, **flags: bool) -> KafkaException:
    return KafkaException(KafkaError(code, "as librdkafka says it", **flags))


def failing(*errors_then_answer: Any):
    """A call that raises the given errors in turn, then returns the last item; counts its calls."""
    answers = list(errors_then_answer)

    def call(*_: Any, **__: Any) -> Any:
        call.calls += 1  # type: ignore[attr-defined]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    call.calls = 0  # type: ignore[attr-defined]
    return call


# --- which Kafka errors are transient --------------------------------------------------------------------------


def test_a_transactional_call_is_tried_again_only_when_librdkafka_says_retriable():
    assert retriable(kafka_error(KafkaError._TIMED_OUT, retriable=True))
    assert not retriable(kafka_error(KafkaError._STATE, txn_requires_abort=True))
    assert not retriable(kafka_error(KafkaError._FENCED, fatal=True))
    # The same code without librdkafka's flag: not for a transactional call to guess.
    assert not retriable(kafka_error(KafkaError._TIMED_OUT))


def test_a_metadata_or_offsets_read_is_tried_again_while_the_broker_or_leader_is_not_there_yet():
    for code in (KafkaError._TRANSPORT, KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE):
        assert transient(kafka_error(code))
    assert transient(kafka_error(KafkaError.UNKNOWN, retriable=True))


def test_what_asking_again_cannot_change_is_not_transient():
    assert not transient(kafka_error(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    assert not transient(kafka_error(KafkaError._UNKNOWN_PARTITION))
    assert not transient(KafkaException("a message of ours, no KafkaError"))
    assert not transient(ValueError("no such partition"))


# --- committing a Kafka transaction ---------------------------------------------------------------------------


def loop_committing_with(commit: Any) -> TransactionalLoop:
    """A loop with only what `_commit` touches: no clients, so no broker."""
    loop = TransactionalLoop.__new__(TransactionalLoop)
    loop._producer = SimpleNamespace(commit_transaction=commit)  # type: ignore[assignment]
    loop._call_since = None
    return loop


def test_a_commit_answered_retriable_is_tried_again_until_it_commits():
    commit = failing(kafka_error(KafkaError._TIMED_OUT, retriable=True), None)
    loop_committing_with(commit)._commit()
    assert commit.calls == 2


def test_a_commit_that_stays_retriable_is_given_up_after_the_attempts_allowed():
    commit = failing(kafka_error(KafkaError._TIMED_OUT, retriable=True))
    with pytest.raises(KafkaException):
        loop_committing_with(commit)._commit()
    assert commit.calls == COMMIT_ATTEMPTS


@pytest.mark.parametrize("flags", [{"txn_requires_abort": True}, {"fatal": True}])
def test_a_commit_that_must_abort_or_give_up_goes_to_the_caller_at_once(flags):
    commit = failing(kafka_error(KafkaError._FENCED, **flags))
    with pytest.raises(KafkaException):
        loop_committing_with(commit)._commit()
    assert commit.calls == 1


def test_every_retry_is_counted_by_operation():
    instrument_retries()
    labels = {"operation": "kafka.transactions.TransactionalLoop._commit"}
    before = REGISTRY.get_sample_value("streamkeep_retries_total", labels) or 0.0
    loop_committing_with(failing(kafka_error(KafkaError._TIMED_OUT, retriable=True), None))._commit()
    assert REGISTRY.get_sample_value("streamkeep_retries_total", labels) == before + 1


# --- a partition's watermarks ---------------------------------------------------------------------------------


def consumer_answering(get_watermark_offsets: Any) -> Any:
    return SimpleNamespace(get_watermark_offsets=get_watermark_offsets)


def test_watermarks_are_asked_again_while_the_partition_has_no_leader():
    ask = failing(kafka_error(KafkaError.NOT_LEADER_FOR_PARTITION), (0, 42))
    assert watermarks(consumer_answering(ask), TopicPartition("orders.events", 0)) == (0, 42)
    assert ask.calls == 2


def test_watermarks_of_an_unknown_partition_are_not_asked_again():
    ask = failing(kafka_error(KafkaError._UNKNOWN_PARTITION))
    with pytest.raises(KafkaException):
        watermarks(consumer_answering(ask), TopicPartition("orders.events", 9))
    assert ask.calls == 1


def test_watermarks_are_given_up_at_the_patience_given():
    ask = failing(kafka_error(KafkaError._TRANSPORT))
    started = time.monotonic()
    with stamina.set_testing(False), pytest.raises(KafkaException):
        watermarks(consumer_answering(ask), TopicPartition("orders.events", 0), patience_s=0.3)
    # The last backoff may start just before the deadline: up to wait_max (2 s) later, never much more.
    assert 0.3 <= time.monotonic() - started < 2.5
    assert ask.calls >= 2


# --- topics getting their leaders -----------------------------------------------------------------------------


def metadata(leader: int) -> Any:
    partition = SimpleNamespace(leader=leader)
    return SimpleNamespace(topics={"orders.events": SimpleNamespace(partitions={0: partition})})


def test_topics_are_asked_about_again_until_each_has_a_leader():
    ask = failing(metadata(-1), kafka_error(KafkaError._TRANSPORT), metadata(0))
    _wait_for_leaders(SimpleNamespace(list_topics=ask), ["orders.events"], 30.0)
    assert ask.calls == 3


def test_topics_still_without_a_leader_at_the_deadline_are_named():
    admin = SimpleNamespace(list_topics=lambda timeout: metadata(-1))
    with stamina.set_testing(False), pytest.raises(TimeoutError, match=r"without a leader after 0.3 s: orders.events"):
        _wait_for_leaders(admin, ["orders.events"], 0.3)


def test_a_refused_metadata_request_is_not_asked_again():
    ask = failing(kafka_error(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    with pytest.raises(KafkaException):
        _wait_for_leaders(SimpleNamespace(list_topics=ask), ["orders.events"], 30.0)
    assert ask.calls == 1


# --- a subject's compatibility level --------------------------------------------------------------------------


class RacingRegistry:
    """give_level's two calls, with another process setting the level first: every set is refused with
    `refusal`, and a read after it finds the other process's level."""

    def __init__(self, refusal: Exception, others_level: str | None = None) -> None:
        self.refusal, self.others_level, self.level, self.sets = refusal, others_level, None, 0

    def own_compatibility(self, subject: str) -> str | None:
        return self.level

    def set_compatibility(self, subject: str, level: str) -> None:
        self.sets += 1
        self.level = self.others_level
        raise self.refusal


def test_a_level_another_process_set_first_is_read_again_and_kept():
    registry = RacingRegistry(RegistryRefused("already exists"), others_level="BACKWARD")
    give_level(registry, "orders.OrderPlaced", "BACKWARD")  # type: ignore[arg-type]
    assert registry.sets == 1


def test_a_level_refused_every_time_is_given_up_after_three_tries():
    registry = RacingRegistry(RegistryRefused("already exists"), others_level="FULL")
    with pytest.raises(RegistryRefused):
        give_level(registry, "orders.OrderPlaced", "BACKWARD")  # type: ignore[arg-type]
    assert registry.sets == 3


def test_a_registry_that_does_not_answer_is_reported_not_retried_here():
    registry = RacingRegistry(RegistryUnavailable("connection refused"))
    with pytest.raises(RegistryUnavailable):
        give_level(registry, "orders.OrderPlaced", "BACKWARD")  # type: ignore[arg-type]
    assert registry.sets == 1


# --- the rebuild's swap ---------------------------------------------------------------------------------------


class Connection:
    def __init__(self) -> None:
        self.rollbacks = 0

    async def rollback(self) -> None:
        self.rollbacks += 1


def rebuild_swapping(swap: Any) -> Rebuild:
    rebuild = Rebuild.__new__(Rebuild)

    async def _swap(conn: Any, diff: bool, result: Any) -> Any:
        return swap()

    rebuild._swap = _swap  # type: ignore[method-assign]
    return rebuild


def test_a_swap_postgresql_cancelled_to_break_a_deadlock_is_rolled_back_and_run_again():
    swap, conn = failing(errors.DeadlockDetected("deadlock detected"), 7), Connection()
    assert asyncio.run(rebuild_swapping(swap)._swap_retrying(conn, False, None)) == 7
    assert (swap.calls, conn.rollbacks) == (2, 1)


def test_a_swap_that_keeps_deadlocking_ends_the_rebuild_after_the_attempts_allowed():
    swap, conn = failing(errors.DeadlockDetected("deadlock detected")), Connection()
    with pytest.raises(errors.DeadlockDetected):
        asyncio.run(rebuild_swapping(swap)._swap_retrying(conn, False, None))
    assert swap.calls == SWAP_ATTEMPTS


def test_a_swap_that_lost_its_connection_is_not_run_again_on_it():
    swap, conn = failing(psycopg.OperationalError("server closed the connection unexpectedly")), Connection()
    with pytest.raises(psycopg.OperationalError):
        asyncio.run(rebuild_swapping(swap)._swap_retrying(conn, False, None))
    assert (swap.calls, conn.rollbacks) == (1, 0)


# --- a projection batch ---------------------------------------------------------------------------------------


def batch_applying(*answers: Any) -> Any:
    take = failing(*answers)

    async def apply() -> Any:
        return take()

    apply.take = take  # type: ignore[attr-defined]
    return apply


def test_a_batch_postgresql_did_not_take_is_applied_again(caplog):
    apply = batch_applying(psycopg.OperationalError("connection refused"), {"order_summary": "applied"})
    assert asyncio.run(_until_taken(apply, "orders.events")) == {"order_summary": "applied"}
    assert apply.take.calls == 2
    assert "PostgreSQL did not take a batch" in caplog.text


def test_a_batch_is_tried_again_for_as_long_as_postgresql_stays_away():
    # Unbounded in production; test mode's cap of 10 stands in for "for ever".
    apply = batch_applying(psycopg.OperationalError("connection refused"))
    with pytest.raises(psycopg.OperationalError):
        asyncio.run(_until_taken(apply, "orders.events"))
    assert apply.take.calls == 10


def test_a_batch_failing_for_a_reason_of_its_own_is_not_applied_again():
    apply = batch_applying(ValueError("a bug, not an outage"))
    with pytest.raises(ValueError):
        asyncio.run(_until_taken(apply, "orders.events"))
    assert apply.take.calls == 1
