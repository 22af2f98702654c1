"""Where spans go, as OTEL_TRACES_EXPORTER names it: otlp (over HTTP), console, discard, or any installed exporter."""

import logging
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

log = logging.getLogger(__name__)
# The group OpenTelemetry's exporter packages register under (zipkin, otlp_proto_grpc, ...).
EXPORTERS_GROUP = "opentelemetry_traces_exporter"


class DiscardingSpanExporter(SpanExporter):
    """Takes every span and keeps none: what tracing costs a process before any export or backend does."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class DiscardingSpanProcessor(SpanProcessor):
    """Where `discard`'s spans end: dropped as they end. The SDK's SimpleSpanProcessor would first mark the context
    as not to be instrumented (an attach and a detach per span) for an export call that sends nothing."""

    def on_end(self, span: ReadableSpan) -> None:
        pass


def processor_for(exporter: SpanExporter) -> SpanProcessor:
    """Batches for an exporter that sends somewhere: one request per batch, off the threads that make the spans.
    `discard` sends nothing, so there is nothing to batch or hand over: a batch's queue, lock and thread would be an
    exporter's cost, not tracing's (about 0.02 ms of CPU per command in each process, docs/benchmarks.md)."""
    if isinstance(exporter, DiscardingSpanExporter):
        return DiscardingSpanProcessor()
    return BatchSpanProcessor(exporter)


def exporters(setting: str) -> list[Any]:
    """The exporters a comma-separated OTEL_TRACES_EXPORTER names, in order; an unknown name is logged and skipped
    (tracing is not worth refusing to start over)."""
    found: list[Any] = []
    for name in (part.strip().lower() for part in setting.split(",")):
        if not name or name == "none":
            continue
        exporter = _exporter(name)
        if exporter is None:
            log.warning("OTEL_TRACES_EXPORTER names %r, which no installed package provides; it is skipped", name)
        else:
            found.append(exporter)
    return found


def _exporter(name: str) -> Any:
    if name == "otlp":  # OTLP over HTTP/protobuf: the SDK's default protocol, and the one installed
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name == "discard":
        return DiscardingSpanExporter()
    for entry_point in entry_points(group=EXPORTERS_GROUP, name=name):
        return entry_point.load()()
    return None
