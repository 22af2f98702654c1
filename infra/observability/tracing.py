"""OpenTelemetry tracing, off unless the standard OTEL_* variables ask for it; W3C trace context in Kafka headers."""

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

# OTel's semantic conventions for messaging (Kafka); the names are the conventions', spelt out once here.
SYSTEM = "messaging.system"
DESTINATION = "messaging.destination.name"
PARTITION = "messaging.destination.partition.id"
OPERATION_TYPE = "messaging.operation.type"
OPERATION_NAME = "messaging.operation.name"
OFFSET = "messaging.kafka.offset"
MESSAGE_KEY = "messaging.kafka.message.key"
CONSUMER_GROUP = "messaging.consumer.group.name"
BATCH_COUNT = "messaging.batch.message_count"
# Ours, on a command processor's span: what the decision came to.
OUTCOME = "streamkeep.command.outcome"
EVENTS = "streamkeep.command.events"

_state: dict[str, Any] = {"tracer": None}


def wanted(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """On when an exporter or an OTLP endpoint is named, and the SDK is not disabled: a process that exports
    nowhere pays nothing, not even for spans that would be dropped."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure_tracing(role: str) -> bool:
    """A tracer provider for this process when tracing is wanted; `service.name` is OTEL_SERVICE_NAME or
    `streamkeep-<role>`. Returns whether tracing is on."""
    if _state["tracer"] is not None or not wanted():
        return enabled()
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    from infra.observability.span_exporters import exporters, processor_for

    service = os.environ.get("OTEL_SERVICE_NAME") or f"streamkeep-{role.split(':')[0]}"
    # Resource.create reads OTEL_RESOURCE_ATTRIBUTES too; the exporters read their own OTEL_EXPORTER_* settings.
    provider = TracerProvider(resource=Resource.create({"service.name": service, "streamkeep.role": role}))
    for exporter in exporters(os.environ.get("OTEL_TRACES_EXPORTER", "otlp")):
        provider.add_span_processor(processor_for(exporter))
    trace.set_tracer_provider(provider)
    _state["tracer"] = trace.get_tracer("streamkeep")
    return True


def enabled() -> bool:
    return _state["tracer"] is not None


def fastapi_telemetry() -> dict[str, Any]:
    """FastAPI's own OpenTelemetry support, which turns itself on whenever a tracer provider is set: off. The server
    span is ours (`serving`); with FastAPI's, `bench commands` made 0.68-0.78 of the rate without tracing against
    0.84-0.85 with ours, in alternating pairs; /metrics and our log lines have its metrics and logs."""
    return {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


UNTRACED_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/metrics"})  # probes and scrapes: noise in a trace


def serving(scope: dict[str, Any]) -> AbstractContextManager[Span]:
    """The HTTP server span of one request, current while the app handles it, child of the caller's `traceparent`
    if it sent one. Named `METHOD /route/{template}` once the router has matched (see `served`).

    Ours rather than opentelemetry-instrumentation-fastapi's: that middleware matched every route a second time and
    set a dozen attributes per request, a sixth of the API's CPU in `bench commands` with tracing on
    (docs/benchmarks.md); these few attributes are the HTTP conventions' required ones."""
    method = scope["method"]
    carrier = [(name.decode(), value) for name, value in scope["headers"] if name in (b"traceparent", b"tracestate")]
    parent = context_of(carrier) if carrier else None
    attributes = {"http.request.method": method, "url.path": scope["path"], "url.scheme": scope.get("scheme", "http")}
    span = _state["tracer"].start_span(method, context=parent, kind=SpanKind.SERVER, attributes=attributes)
    return _Current(span, record_exception=False)  # a 5xx marks it failed (`served`); the log has the traceback


def served(span: Span, method: str, route: str | None, status: int) -> None:
    """What the request came to: its route template (the span's name) and status; a 5xx marks the span failed."""
    attributes: dict[str, Any] = {"http.response.status_code": status}
    if route is not None:
        span.update_name(f"{method} {route}")
        attributes["http.route"] = route
    span.set_attributes(attributes)  # one write: each takes the span's lock and checks every value again
    if status >= 500:
        span.set_status(StatusCode.ERROR)


def kafka_headers(span: Span | None = None) -> list[tuple[str, bytes]]:
    """`traceparent` (and `tracestate`) of the span given, or of the current one: empty when tracing is off."""
    if not enabled():
        return []
    carrier: dict[str, str] = {}
    context = trace.set_span_in_context(span) if span is not None else None
    propagate.inject(carrier, context=context)
    return [(name, value.encode()) for name, value in carrier.items()]


def context_of(headers: Iterable[tuple[str, Any]] | Mapping[str, Any] | None) -> Context | None:
    """The trace context a record's headers carry (any W3C-propagating producer's), or None."""
    carrier = {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    for name, value in pairs:
        if name in ("traceparent", "tracestate") and value:
            carrier[name] = value.decode() if isinstance(value, bytes | bytearray) else str(value)
    return propagate.extract(carrier) if carrier else None


@contextmanager
def sending(topic: str, key: bytes | None = None) -> Iterator[list[tuple[str, bytes]]]:
    """A PRODUCER span around producing one record; yields the headers that carry it (none when off)."""
    if not enabled():
        yield []
        return
    attributes = {SYSTEM: "kafka", DESTINATION: topic, OPERATION_TYPE: "send", OPERATION_NAME: "send"}
    if key is not None:
        attributes[MESSAGE_KEY] = key.decode(errors="replace")
    with _state["tracer"].start_as_current_span(f"send {topic}", kind=SpanKind.PRODUCER, attributes=attributes):
        yield kafka_headers()


def processing(message: Any, group: str, name: str | None = None) -> AbstractContextManager[Span | None]:
    """A CONSUMER span for handling one confluent-kafka message, child of the context its headers carry."""
    if not enabled():
        return _nothing()
    return _Current(_consuming(message, name, _consumed(message, group)))


def decided(
    message: Any, group: str, started_ns: int, outcome: str | None, events: int, error: BaseException | None = None
) -> list[tuple[str, bytes]]:
    """The CONSUMER span of one command, made once the command is decided (or failed), from `started_ns` to now, as
    a child of the context its record carries; returns the headers that carry it on to what the decision produces.

    Made after the fact rather than around the decision: its attributes are written once, and nothing is made
    current for a decision that logs nothing and calls nothing traced (docs/benchmarks.md has what it saves)."""
    attributes = _consumed(message, group)
    if outcome is not None:
        attributes[OUTCOME] = outcome
        attributes[EVENTS] = events
    span = _consuming(message, None, attributes, started_ns)
    if error is not None:
        _failed(span, error, record_exception=True)
    span.end()
    return kafka_headers(span)


def _consuming(message: Any, name: str | None, attributes: dict[str, Any], start_time: int | None = None) -> Span:
    """A CONSUMER span started for one record, child of the context its headers carry."""
    return _state["tracer"].start_span(
        name or f"process {message.topic()}",
        context=context_of(message.headers()),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
        start_time=start_time,
    )


def _consumed(message: Any, group: str) -> dict[str, Any]:
    """The messaging conventions' attributes of one consumed record."""
    attributes = {
        SYSTEM: "kafka",
        DESTINATION: message.topic(),
        PARTITION: str(message.partition()),
        OFFSET: message.offset(),
        OPERATION_TYPE: "process",
        OPERATION_NAME: "process",
        CONSUMER_GROUP: group,
    }
    if (key := message.key()) is not None:
        attributes[MESSAGE_KEY] = key.decode(errors="replace")
    return attributes


class _Current:
    """`span` current inside the block and ended after it; an exception marks it failed. What the SDK's
    start_as_current_span does, in one context manager instead of three nested ones, and a class rather than a
    generator (0.7 us less a span): 12-20% less time per command on the traced path, timed alone
    (docs/benchmarks.md)."""

    __slots__ = ("_record_exception", "_span", "_token")

    def __init__(self, span: Span, record_exception: bool = True) -> None:
        self._span, self._record_exception = span, record_exception

    def __enter__(self) -> Span:
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        try:
            if error is not None:
                _failed(self._span, error, self._record_exception)
        finally:
            otel_context.detach(self._token)
            self._span.end()


def _failed(span: Span, error: BaseException, record_exception: bool) -> None:
    if record_exception:
        span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))


def flush() -> None:
    """Export what is buffered (before a process exits on purpose)."""
    provider = trace.get_tracer_provider()
    if enabled() and hasattr(provider, "force_flush"):
        provider.force_flush(5000)


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def record_batch(topic: str, group: str, headers: Iterable[Any], started_ns: int, count: int) -> None:
    """After a projection batch: one CONSUMER span per trace the batch's records carry, each a child of the span
    that produced its record, spanning the batch's work; a batch holds many traces, and each gets its step."""
    if not enabled():
        return
    parents = {}
    for record_headers in headers:
        context = context_of(record_headers)
        if context is not None:
            span_context = trace.get_current_span(context).get_span_context()
            parents.setdefault((span_context.trace_id, span_context.span_id), context)
    attributes = {
        SYSTEM: "kafka",
        DESTINATION: topic,
        OPERATION_TYPE: "process",
        OPERATION_NAME: "process",
        CONSUMER_GROUP: group,
        BATCH_COUNT: count,
    }
    for context in parents.values():
        span = _state["tracer"].start_span(
            f"process {topic}", context=context, kind=SpanKind.CONSUMER, attributes=attributes, start_time=started_ns
        )
        span.end()


def step(name: str, parent_headers: list[tuple[str, bytes]] | None) -> Any:
    """An INTERNAL span for work no record brought (a saga's timer), under the context remembered for it if any."""
    if not enabled():
        return _nothing()
    context = context_of(parent_headers) if parent_headers else None
    return _state["tracer"].start_as_current_span(name, context=context)
