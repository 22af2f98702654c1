"""The stream processors' metrics from what they see: librdkafka's statistics, and a saga runner's records."""

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from uuid import uuid4

from prometheus_client import REGISTRY

from infra.observability.kafka_statistics import KafkaStatistics
from infra.saga_runner.instances import Instances
from infra.saga_runner.saga_metrics import SagaTally
from sagas import history
from sagas.history import Recorded
from sagas.state import SagaState

AT = datetime(2026, 12, 5, 9, 0, tzinfo=timezone.utc)


def _partition(**offsets: int | str) -> dict:
    return {"fetch_state": "active", "consumer_lag": -1, "consumer_lag_stored": -1, "next_offset": -1001, **offsets}


def _stats(partitions: dict[str, dict], txn_state: str = "") -> str:
    stats = {
        "type": "consumer",
        "msg_cnt": 3,
        "brokers": {
            "127.0.0.1:9092/1": {"nodeid": 1, "rtt": {"avg": 2500}},
            "GroupCoordinator": {"nodeid": -1, "rtt": {"avg": 9999}},
        },
        "topics": {"orders.commands": {"partitions": {"-1": _partition(fetch_state="none"), **partitions}}},
    }
    if txn_state:
        stats["eos"] = {"txn_state": txn_state}
    return json.dumps(stats)


def _lag(group: str, partition: str) -> float | None:
    labels = {"group": group, "topic": "orders.commands", "partition": partition}
    return REGISTRY.get_sample_value("streamkeep_consumer_lag", labels)


def test_lag_is_taken_from_the_stored_offset_then_the_committed_one_then_the_fetch_position() -> None:
    group = f"g-{uuid4()}"
    KafkaStatistics("c", group)(
        _stats(
            {
                "0": _partition(consumer_lag_stored=0, consumer_lag=7),
                "1": _partition(consumer_lag=4),
                "2": _partition(ls_offset=10, next_offset=8, fetchq_cnt=2),
                "3": _partition(fetch_state="stopped", consumer_lag=5),
            }
        )
    )
    assert [_lag(group, p) for p in "0123"] == [0, 4, 4, None]
    assert _lag(group, "-1") is None


def test_a_partition_no_longer_reported_is_dropped_from_the_lag() -> None:
    group = f"g-{uuid4()}"
    statistics = KafkaStatistics("c", group)
    statistics(_stats({"0": _partition(consumer_lag=1), "1": _partition(consumer_lag=2)}))
    statistics(_stats({"1": _partition(consumer_lag=0)}))
    assert (_lag(group, "0"), _lag(group, "1")) == (None, 0)


def test_broker_round_trip_is_in_seconds_and_queue_depth_is_the_clients_message_count() -> None:
    client = f"c-{uuid4()}"
    KafkaStatistics(client)(_stats({}))
    assert REGISTRY.get_sample_value("streamkeep_kafka_broker_rtt_seconds", {"client": client, "broker": "1"}) == 0.0025
    assert REGISTRY.get_sample_value("streamkeep_kafka_broker_rtt_seconds", {"client": client, "broker": "-1"}) is None
    assert REGISTRY.get_sample_value("streamkeep_kafka_queue_messages", {"client": client}) == 3


def test_the_transaction_state_shows_one_state_at_a_time() -> None:
    client = f"p-{uuid4()}"
    statistics = KafkaStatistics(client)
    statistics(_stats({}, "InTransaction"))
    statistics(_stats({}, "Ready"))
    state = {
        s: REGISTRY.get_sample_value("streamkeep_kafka_transaction_state", {"client": client, "state": s})
        for s in ("InTransaction", "Ready")
    }
    assert state == {"InTransaction": 0, "Ready": 1}


def test_statistics_it_cannot_read_do_not_stop_the_loop() -> None:
    KafkaStatistics("c", "g")("not json")


def _saga(name: str, saga_type: str) -> float:
    return REGISTRY.get_sample_value(name, {"saga_type": saga_type}) or 0.0


def _recorded(event: history.SagaEvent, at: datetime = AT) -> Recorded:
    return Recorded(uuid4(), 1, at, None, event)


def test_a_saga_batch_counts_once_it_commits_and_not_when_it_aborts() -> None:
    saga_type = f"s-{uuid4()}"
    tally = SagaTally(saga_type)
    records = [_recorded(history.DeadlineReached("payment")), _recorded(history.StatusChanged("compensating", "undo"))]
    tally.note(records, "running")
    tally.aborted()
    assert _saga("streamkeep_saga_deadlines_fired_total", saga_type) == 0
    tally.note(records, "running")
    tally.committed()
    assert _saga("streamkeep_saga_deadlines_fired_total", saga_type) == 1
    assert _saga("streamkeep_saga_compensations_total", saga_type) == 1


def test_an_instance_already_compensating_does_not_begin_compensating_again() -> None:
    saga_type = f"s-{uuid4()}"
    tally = SagaTally(saga_type)
    tally.note([_recorded(history.StatusChanged("compensating", "undo", "late answer"))], "compensating")
    tally.note([_recorded(history.StatusChanged("stuck", "void-payment"))], "compensating")
    tally.committed()
    assert _saga("streamkeep_saga_compensations_total", saga_type) == 0
    assert _saga("streamkeep_saga_stuck_total", saga_type) == 1


def test_a_steps_latency_runs_from_its_last_send_to_its_answer() -> None:
    saga_type, command_id = f"s-{uuid4()}", uuid4()
    tally = SagaTally(saga_type)
    sent = history.CommandSent("request-payment", command_id, "RequestPayment", 1, AT)
    tally.note([_recorded(sent), _recorded(sent, AT + timedelta(seconds=5))], "running")
    answer = history.ReplyReceived("request-payment", command_id, "RequestPayment", "accepted")
    tally.note([_recorded(answer, AT + timedelta(seconds=5.25))], "running")
    tally.committed()
    labels = {"saga_type": saga_type, "command_type": "RequestPayment"}
    assert REGISTRY.get_sample_value("streamkeep_saga_step_duration_seconds_count", labels) == 1
    assert REGISTRY.get_sample_value("streamkeep_saga_step_duration_seconds_sum", labels) == 0.25


def test_instances_by_status_follow_each_change_of_an_instance() -> None:
    saga_type, saga_id = f"s-{uuid4()}", uuid4()
    instances = Instances()
    instances.put(SagaState(saga_id, status="running"))
    instances.put(SagaState(uuid4(), status="running"))
    instances.put(SagaState(saga_id, status="completed"))
    SagaTally(saga_type).instances(Counter(instances.by_status))
    counts = {
        s: REGISTRY.get_sample_value("streamkeep_saga_instances", {"saga_type": saga_type, "status": s})
        for s in history.STATUSES
    }
    assert counts == {"running": 1, "compensating": 0, "completed": 1, "compensated": 0, "stuck": 0}
