"""One order, one trace: from the HTTP request through the command processor, the saga's steps and the commands
they send, to the projection batches, across processes, with W3C trace context in the Kafka records' headers."""

from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, TopicPartition

from infra.kafka.topics import commands_topic
from tests.e2e.sagas_platform import place, script, settled, stocked
from tests.integration import own_services
from tests.integration.otlp_receiver import ReceivedSpan, Spans, otlp_receiver
from tests.platform import StreamkeepProcess, free_port, wait_for, wait_ready

pytestmark = [pytest.mark.kafka, pytest.mark.sagas]
ROLES = ("commands", "sagas", "projections")
SPAN_KIND_PRODUCER, SPAN_KIND_CONSUMER = 4, 5  # OTLP's enum
PAYMENT_TIMEOUT_S = 3
KEY = "messaging.kafka.message.key"


@pytest.fixture(scope="module")
def traced_platform(
    infra_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict, Spans]]:
    """`serve` and a worker per role on a Kafka and PostgreSQL of their own (no other member of a group takes a
    partition and its step untraced), each exporting its spans over OTLP/HTTP to a receiver in this test."""
    tmp_path = tmp_path_factory.mktemp("traced-platform")
    receiver_port = free_port()
    with (
        otlp_receiver(receiver_port) as spans,
        own_services.own_kafka(tmp_path) as kafka,
        own_services.own_postgres(tmp_path) as postgres,
    ):
        from infra.local import kafka as local_kafka
        from infra.local import postgres as local_postgres

        env = {
            **infra_env,
            "STREAMKEEP_BACKEND": "kafka",
            "STREAMKEEP_SAGAS": "on",
            "KAFKA_BOOTSTRAP_SERVERS": local_kafka.url(kafka),
            "DATABASE_URL": local_postgres.url(postgres),
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver_port}",
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms: spans reach the receiver soon after they end
            "STREAMKEEP_PAYMENT_TIMEOUT_S": str(PAYMENT_TIMEOUT_S),
        }
        api_port, ports = free_port(), {role: free_port() for role in ROLES}
        processes = [
            StreamkeepProcess(
                ["worker", "--role", role, "--metrics-port", str(ports[role])], env, tmp_path / f"{role}.log"
            ).start()
            for role in ROLES
        ]
        processes.append(StreamkeepProcess(["serve", "--port", str(api_port)], env, tmp_path / "api.log").start())
        try:
            for port in [api_port, *ports.values()]:
                wait_ready(f"http://127.0.0.1:{port}", timeout_s=120)
            yield {"base_url": f"http://127.0.0.1:{api_port}", "env": env}, spans
        finally:
            for process in reversed(processes):
                process.stop()


def test_one_order_is_one_trace_from_the_http_request_to_the_last_projection_batch(
    traced_platform: tuple[dict, Spans],
) -> None:
    platform, spans = traced_platform
    sku = stocked(platform)
    order_id = place(platform, {sku: 2})
    settled(platform, order_id, "confirmed")

    request = wait_for(lambda: _one(spans.all(), "POST /v1/orders", role="api"), 30, "the request's span")
    wanted = {
        ("worker:commands", "process orders.commands"),
        ("worker:sagas", "saga fulfilment Placed"),
        ("worker:sagas", "send inventory.commands"),
        ("worker:commands", "process inventory.commands"),
        ("worker:sagas", "send payments.commands"),
        ("worker:commands", "payment gateway answer"),
        ("worker:sagas", "send shipping.commands"),
        ("worker:commands", "process orders.commands"),
        ("worker:projections", "process orders.events"),
        ("worker:projections", "process fulfilment.events"),
    }

    def whole_trace() -> list[ReceivedSpan] | None:
        trace = [s for s in spans.all() if s.trace_id == request.trace_id]
        have = {(s.role, s.name) for s in trace}
        return trace if wanted <= have and _confirmation_projected(trace) else None

    wait_for(whole_trace, 60, "every step of the order in one trace")

    # One tree: every span but the request's has its parent in the trace, and the links cross processes. Each
    # process exports on its own schedule, so a child may reach the receiver before its parent: wait for the
    # tree to close, and name the spans still dangling if it does not.
    def closed_tree() -> list[ReceivedSpan] | None:
        trace = [s for s in spans.all() if s.trace_id == request.trace_id]
        ids = {s.span_id for s in trace}
        dangling.clear()
        dangling.extend(s for s in trace if s.parent_id and s.parent_id not in ids)
        return None if dangling else trace

    dangling: list[ReceivedSpan] = []
    try:
        trace = wait_for(closed_tree, 30, "every span's parent to reach the receiver")
    except AssertionError:
        pytest.fail(f"spans whose parent never arrived: {dangling}")
    by_id = {s.span_id: s for s in trace}
    assert [s.name for s in trace if not s.parent_id] == ["POST /v1/orders"]
    crossings = {(by_id[s.parent_id].role, s.role) for s in trace if s.parent_id and by_id[s.parent_id].role != s.role}
    assert {
        ("api", "worker:commands"),
        ("worker:commands", "worker:sagas"),
        ("worker:sagas", "worker:commands"),
        ("worker:commands", "worker:projections"),
        ("worker:sagas", "worker:projections"),
    } <= crossings, crossings

    # OTel's messaging conventions on the Kafka spans. The request's span is the command record's creation context,
    # and the decision's span its events': no send span of their own.
    decided = next(s for s in trace if s.name == "process orders.commands" and s.parent_id == request.span_id)
    assert decided.kind == SPAN_KIND_CONSUMER
    assert decided.attributes["messaging.system"] == "kafka"
    assert decided.attributes["messaging.destination.name"] == "orders.commands"
    assert decided.attributes["messaging.operation.type"] == "process"
    assert decided.attributes[KEY] == order_id
    assert decided.attributes["streamkeep.command.outcome"] == "accepted"
    assert decided.attributes["streamkeep.command.events"] == 1
    assert not [s for s in trace if s.role == "api" and s.name.startswith("send ")]
    placed = next(s for s in trace if s.name == "saga fulfilment Placed")
    assert placed.parent_id == decided.span_id, "the saga's first step continues from the OrderPlaced event"

    # The context travels in the records: any OTel-instrumented consumer of orders.commands continues the trace.
    traceparent = _header(platform["env"]["KAFKA_BOOTSTRAP_SERVERS"], commands_topic("orders"), order_id)
    assert traceparent is not None and traceparent.split("-")[1] == request.trace_id


def test_a_payment_deadline_fires_in_the_orders_trace_and_its_compensation_follows_it(
    traced_platform: tuple[dict, Spans],
) -> None:
    platform, spans = traced_platform
    sku = stocked(platform)
    script(platform, {"outcome": "timeout"})
    order_id = place(platform, {sku: 1})
    settled(platform, order_id, "rejected")

    def request_trace() -> list[ReceivedSpan] | None:
        placed = [s for s in spans.all() if s.name == "process orders.commands" and s.attributes.get(KEY) == order_id]
        if not placed:
            return None
        trace = [s for s in spans.all() if s.trace_id == placed[0].trace_id]
        fired = [s for s in trace if s.name == "saga fulfilment TimerFired"]
        released = [
            s for s in trace if s.name == "send inventory.commands" and s.parent_id in {f.span_id for f in fired}
        ]
        rejected = [s for s in trace if s.name == "send orders.commands" and s.parent_id in {f.span_id for f in fired}]
        return trace if fired and released and rejected else None

    # The deadline's step is in the order's trace, and the commands it sends (release the stock, reject the
    # order) are its children.
    trace = wait_for(request_trace, 60, "the deadline and its compensation in the order's trace")
    by_id = {s.span_id: s for s in trace}
    fired = next(s for s in trace if s.name == "saga fulfilment TimerFired")
    assert by_id[fired.parent_id].role == "worker:sagas"  # the step before it: the payment request sent


def _one(spans: list[ReceivedSpan], name: str, role: str) -> ReceivedSpan | None:
    found = [s for s in spans if s.name == name and s.role == role]
    assert len(found) <= 1, found
    return found[0] if found else None


def _confirmation_projected(trace: list[ReceivedSpan]) -> bool:
    """The confirmation's own events projected: the last projection batch of the story is in the trace."""
    by_id = {s.span_id: s for s in trace}
    confirmations = {s.span_id for s in trace if s.name == "process orders.commands" and _under_saga(s, by_id)}
    return any(s.name == "process orders.events" and s.parent_id in confirmations for s in trace)


def _under_saga(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> bool:
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        if span.role == "worker:sagas":
            return True
    return False


def _header(bootstrap: str, topic: str, key: str) -> str | None:
    """The `traceparent` of the first record keyed `key` in `topic` (read_committed, to today's end)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "trace-test", "isolation.level": "read_committed"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        left = {p for p, end in ends.items() if end > 0}
        while left:
            message = consumer.poll(10)
            assert message is not None, "the command records were not read back in time"
            if message.error():
                continue
            if message.offset() + 1 >= ends[message.partition()]:
                left.discard(message.partition())
            if message.key() == key.encode():
                return dict(message.headers() or []).get("traceparent", b"").decode() or None
        return None
    finally:
        consumer.close()
