"""Tracing is on only when the standard OTEL_* settings name somewhere to export, and a record's headers carry it."""

import time

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, StatusCode, get_current_span

from infra.observability import tracing


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_TRACES_EXPORTER": "none"}, False),
    ],
)
def test_tracing_is_wanted_only_when_an_exporter_or_endpoint_is_named(environ: dict[str, str], on: bool) -> None:
    assert tracing.wanted(environ) is on


def test_off_a_record_gets_no_headers_and_a_span_is_nothing() -> None:
    assert not tracing.enabled()
    assert tracing.kafka_headers() == []
    with tracing.sending("orders.commands", b"k") as headers:
        assert headers == []


def test_the_context_in_a_records_headers_is_the_span_that_wrote_them(monkeypatch: pytest.MonkeyPatch) -> None:
    tracer = TracerProvider().get_tracer("test")
    monkeypatch.setitem(tracing._state, "tracer", tracer)
    with tracer.start_as_current_span("send") as span:
        headers = tracing.kafka_headers()
    assert [name for name, _ in headers] == ["traceparent"]

    carried = get_current_span(tracing.context_of(headers)).get_span_context()
    assert (carried.trace_id, carried.span_id) == (span.get_span_context().trace_id, span.get_span_context().span_id)
    assert tracing.context_of([("event_type", b"orders.OrderPlaced")]) is None
    assert tracing.context_of({"traceparent": headers[0][1]}) is not None  # Faust's records give a mapping


class _Message:
    """The few accessors of a confluent-kafka message that a processing span reads."""

    def __init__(self, headers: list[tuple[str, bytes]]) -> None:
        self._headers = headers

    def topic(self) -> str:
        return "orders.commands"

    def partition(self) -> int:
        return 2

    def offset(self) -> int:
        return 41

    def key(self) -> bytes:
        return b"order-1"

    def headers(self) -> list[tuple[str, bytes]]:
        return self._headers


def _recording(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    monkeypatch.setitem(tracing._state, "tracer", provider.get_tracer("test"))
    return exported


def _requested() -> tuple[Span, list[tuple[str, bytes]]]:
    """A request's span, and the headers of a record it produced."""
    with tracing._state["tracer"].start_as_current_span("request") as request:
        return request, tracing.kafka_headers()


def test_a_processing_span_is_current_inside_a_child_of_its_record_and_ended_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exported = _recording(monkeypatch)
    request, headers = _requested()
    with tracing.processing(_Message(headers), "streamkeep-commands-orders") as span:
        assert get_current_span() is span
    assert get_current_span() is not span

    [_, processed] = exported.get_finished_spans()
    assert processed.name == "process orders.commands"
    assert processed.parent.span_id == request.get_span_context().span_id
    assert processed.attributes["messaging.kafka.offset"] == 41
    assert processed.attributes["messaging.destination.partition.id"] == "2"


def test_an_exception_inside_a_span_marks_it_failed_ends_it_and_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    exported = _recording(monkeypatch)
    with pytest.raises(ValueError, match="bad record"), tracing.processing(_Message([]), "g"):
        raise ValueError("bad record")

    [failed] = exported.get_finished_spans()
    assert failed.status.status_code is StatusCode.ERROR
    assert "ValueError: bad record" in failed.status.description
    assert [event.name for event in failed.events] == ["exception"]
    assert get_current_span().get_span_context().is_valid is False


def test_a_decision_span_is_made_after_the_fact_from_its_start_and_its_headers_carry_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exported = _recording(monkeypatch)
    request, headers = _requested()
    started_ns = time.time_ns() - 5_000_000

    carried = tracing.decided(_Message(headers), "streamkeep-commands-orders", started_ns, "accepted", 2)

    [_, decision] = exported.get_finished_spans()
    assert decision.parent.span_id == request.get_span_context().span_id
    assert decision.start_time == started_ns and decision.end_time >= started_ns + 5_000_000
    assert decision.attributes["streamkeep.command.outcome"] == "accepted"
    assert decision.attributes["streamkeep.command.events"] == 2
    assert decision.attributes["messaging.consumer.group.name"] == "streamkeep-commands-orders"
    assert get_current_span(tracing.context_of(carried)).get_span_context().span_id == decision.context.span_id
    assert get_current_span().get_span_context().is_valid is False  # nothing was left current


def test_a_decision_that_failed_gives_a_failed_span_without_an_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    exported = _recording(monkeypatch)
    tracing.decided(_Message([]), "g", time.time_ns(), None, 0, ValueError("bad record"))

    [failed] = exported.get_finished_spans()
    assert failed.status.status_code is StatusCode.ERROR
    assert [event.name for event in failed.events] == ["exception"]
    assert "streamkeep.command.outcome" not in failed.attributes
