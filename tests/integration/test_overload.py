"""Overload: an open loop of commands at twice the measured capacity. The API keeps answering, accepted commands
keep p99 <= 1 s, the excess is refused at once with 503, every acknowledged command is in Kafka once and no
refused one left an event."""

import pytest

from bench.check_acks import check_acks
from bench.overload import OverloadOptions, measure
from bench.report import percentile
from infra.settings import load_settings

pytestmark = pytest.mark.kafka

# About 30-60 s in all: start-up, 2 s of warm-up, 3 s to measure the capacity, 10 s at twice it, the ack check. It
# leaves some 15,000 orders in orders.events, about 1,000 acknowledged a second.
OPTIONS = OverloadOptions(capacity_s=3.0, duration_s=10.0, factor=2.0)


def test_twice_the_capacity_is_shed_at_once_and_what_is_accepted_stays_fast(infra_env, tmp_path, monkeypatch):
    run = measure(infra_env, OPTIONS, tmp_path)

    load, figures = run.overload, run.figures()
    accepted_ms = sorted(load.latencies_ms)
    accepted_p50, accepted_p99 = percentile(accepted_ms, 0.50), percentile(accepted_ms, 0.99)
    print(
        f"capacity {figures['capacity_rate']}/s (closed loop, {OPTIONS.concurrency} connections); "
        f"offered {figures['offered_rate']}/s for {OPTIONS.duration_s:g} s; "
        f"accepted {figures['accepted']} ({len(accepted_ms) / load.elapsed_s:.0f}/s), p50 {accepted_p50:.0f} ms, "
        f"p99 {accepted_p99:.0f} ms; shed {figures['shed']}, p50 {figures['shed_p50_ms']} ms, "
        f"p99 {figures['shed_p99_ms']} ms (the API's own <= {figures['shed_api_p99_ms_at_most']} ms); "
        f"slowest answer {figures['slowest_answer_ms']} ms; "
        f"statuses {dict(load.statuses)}"
    )

    # The API kept answering: every request sent got an answer, none slower than the command side's own timeout.
    assert figures["unanswered"] == 0, load.statuses
    assert figures["slowest_answer_ms"] < 5_000
    assert figures["unsent"] <= 0.02 * figures["offered_rate"] * OPTIONS.duration_s, "the load generator fell behind"
    # It was overloaded, and the excess was refused, only by shedding (no command timed out waiting in a queue).
    assert figures["shed"] > 0
    assert set(load.statuses) <= {"201", "503", "unsent:behind-schedule"}
    assert load.statuses["503"] == figures["shed"] == figures["shed_counted"], "each shed is counted in /metrics"
    # What was accepted stayed fast, and throughput did not collapse. On two shared cores the load generator and the
    # refusals take CPU from the commands, and the machine's speed drifts between the two loops: 0.47-1.27 of the
    # capacity was accepted in the runs docs/architecture.md reports.
    assert accepted_p99 <= 1_000
    assert len(accepted_ms) / load.elapsed_s >= 0.25 * figures["capacity_rate"]
    # The excess was refused at once: the API spent at most 50 ms on 99% of the refusals (its own histogram), and
    # the client had them within the bound the accepted commands keep. The client's figure runs from the scheduled
    # send, so the machine's own lag under this load is in it: 156-781 ms at p99 on two shared cores.
    assert figures["shed_api_p99_ms_at_most"] <= 50
    assert figures["shed_p99_ms"] <= 1_000

    for key, value in {**infra_env, "STREAMKEEP_BACKEND": "kafka"}.items():
        monkeypatch.setenv(key, value)
    check = check_acks(load_settings(), set(load.acks), refused=frozenset(order_id for order_id, _ in load.shed))
    print(f"{check.checked} acknowledged checked in orders.events; {len(load.shed)} refused checked for none")
    assert (check.missing, check.duplicated, check.refused_with_events) == ([], [], [])
