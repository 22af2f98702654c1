"""OTEL_TRACES_EXPORTER's names resolve to exporters: ours, the SDK's, any installed one; unknown names are skipped."""

import logging

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExportResult,
)

from infra.observability.span_exporters import (
    DiscardingSpanExporter,
    DiscardingSpanProcessor,
    exporters,
    processor_for,
)


def test_each_name_gives_its_exporter_in_order() -> None:
    found = exporters("discard, console,otlp")
    assert [type(e) for e in found] == [DiscardingSpanExporter, ConsoleSpanExporter, OTLPSpanExporter]


def test_an_installed_exporter_is_found_by_its_entry_point_name() -> None:
    assert [type(e) for e in exporters("otlp_proto_http")] == [OTLPSpanExporter]


def test_none_and_unknown_names_give_nothing_and_an_unknown_one_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert exporters("none") == []
        assert exporters("jaeger-of-the-past") == []
    assert "jaeger-of-the-past" in caplog.text


def test_the_discarding_exporter_accepts_every_span_and_keeps_none() -> None:
    exporter = DiscardingSpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("test").start_as_current_span("decide"):
        pass
    assert exporter.export([]) is SpanExportResult.SUCCESS
    assert not vars(exporter)  # nothing held: no list of spans growing


def test_discard_needs_no_batch_and_an_exporter_that_sends_gets_one() -> None:
    assert type(processor_for(DiscardingSpanExporter())) is DiscardingSpanProcessor
    batch = processor_for(ConsoleSpanExporter())
    assert type(batch) is BatchSpanProcessor
    batch.shutdown()


def test_discards_spans_are_made_and_ended_then_dropped() -> None:
    provider = TracerProvider()
    provider.add_span_processor(processor_for(DiscardingSpanExporter()))
    with provider.get_tracer("test").start_as_current_span("decide") as span:
        assert span.is_recording()  # tracing is really on: every span is made, as with any exporter
    assert span.end_time is not None
    assert not vars(processor_for(DiscardingSpanExporter()))  # and nothing holds them
