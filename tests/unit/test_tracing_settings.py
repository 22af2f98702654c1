"""Tracing is on only when the standard OTEL_* settings name somewhere to export, and a record's headers carry it."""

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import get_current_span

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
