"""`streamkeep replay`: print the stored events of a context, or fold them through a projection, streamed."""

import io
import json
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Annotated, Any
from uuid import UUID

import typer

from infra.avro.message_mapping import EVENT_NAMES, EVENT_TYPES, event_to_record, matches_type
from infra.avro.saga_mapping import SAGA_EVENT_TYPES, record_to_projected, saga_event_to_record
from infra.kafka.topics import CONTEXTS, SAGA_TYPES, events_topic
from infra.runtime.gc_tuning import collect_rarely
from infra.settings import load_settings
from projections.catalogue import PROJECTIONS
from sagas.history import Recorded

FORMATS = ("json", "table", "avro-json")
# A saga's own events topic (`fulfilment.events`) replays like a context's: its instances are its aggregates.
REPLAYED = (*CONTEXTS, *SAGA_TYPES)
# What a line names apart from the event's data: a domain event's envelope, or a saga instance's.
_EVENT_ENVELOPE = ("aggregate_id", "version", "occurred_at")
_SAGA_ENVELOPE = ("saga_id", "version", "at")
_TABLE_ROW = "{:>12}  {:<32}  {:<28}  {:<36}  {:>7}"


def replay(
    context: Annotated[
        str | None,
        typer.Option(
            help="Bounded context (or saga type: fulfilment) whose events to print; default orders, or the "
            "context of the --into projection."
        ),
    ] = None,
    aggregate: Annotated[str | None, typer.Option(help="Only this aggregate's events (in version order).")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Only events of this type, e.g. OrderPlaced.")] = None,
    since: Annotated[str | None, typer.Option(help="From this ISO time on (UTC when no offset is given).")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this ISO time, excluded.")] = None,
    from_offset: Annotated[int | None, typer.Option(help="From this offset of every partition.", min=0)] = None,
    partition: Annotated[int | None, typer.Option(help="Only this partition.", min=0)] = None,
    output: Annotated[str, typer.Option("--format", help="json (one line per event), table or avro-json.")] = "json",
    follow: Annotated[bool, typer.Option("--follow", help="Keep printing new events as they come.")] = False,
    into: Annotated[
        str | None,
        typer.Option(help="Re-deliver the events to this projection's apply and print the rows it makes (no writes)."),
    ] = None,
) -> None:
    """Print stored events in the order they were recorded, without holding them in memory."""
    if context is not None and context not in REPLAYED:
        raise typer.BadParameter(f"unknown context {context!r}; known: {', '.join(REPLAYED)}", param_hint="--context")
    if output not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    if into is not None and into not in PROJECTIONS:
        raise typer.BadParameter(f"unknown projection {into!r}; known: {', '.join(PROJECTIONS)}", param_hint="--into")
    read_by = PROJECTIONS[into].CONTEXT if into is not None else None
    if context is not None and read_by is not None and context != read_by:
        raise typer.BadParameter(
            f"{into} is built from the {read_by} events, not from {context}", param_hint="--context"
        )
    context = context or read_by or "orders"
    aggregate_id = _uuid(aggregate) if aggregate else None
    start, end = _time(since, "--since"), _time(until, "--until")
    settings = load_settings()
    if output == "avro-json" and not settings.uses_kafka:
        raise typer.BadParameter("avro-json reads the registry's schemas: kafka backend only", param_hint="--format")
    if settings.uses_kafka:
        from infra.kafka.event_stream import Window
        from infra.registry.deploy import connect_codec

        codec = connect_codec(settings.schema_registry_url, settings.schemas_dir, settings.event_store)
        window = Window(since=start, until=end, from_offset=from_offset, partition=partition)
        source = _kafka_events(settings.kafka_bootstrap_servers, codec, context, window, follow, aggregate_id, type_)
    else:
        codec = None
        source = _embedded_events(settings, context, start, end, from_offset, aggregate_id, type_)
    out = sys.stdout
    if follow:
        # Each event as it comes, also into a pipe or a file (which would otherwise hold a block back).
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if settings.uses_kafka and output == "json" and into is None and context in CONTEXTS:
        _json_lines(settings, codec, events_topic(context), window, follow, aggregate_id, type_)
    elif into is not None:
        _fold_into(PROJECTIONS[into], source, out)
    elif output == "json":
        for line, _ in source:
            out.write(json.dumps(line, default=str) + "\n")
    elif output == "avro-json":
        _write_avro_json(codec, source, out)
    else:
        out.write(_TABLE_ROW.format("part/offset", "timestamp", "type", "aggregate", "version") + "\n")
        for line, _ in source:
            row = (f"{line['partition']}/{line['offset']}", line["timestamp"], line["type"], line["aggregate_id"])
            out.write(_TABLE_ROW.format(*row, line["version"]) + "\n")
    out.flush()


def _json_lines(
    settings: Any, codec: Any, topic: str, window: Any, follow: bool, aggregate_id: UUID | None, type_: str | None
) -> None:
    """The JSON-lines fast path; a whole topic's worth is shared out among processes, one per core."""
    from infra.replay.fanout import jobs_for, replay_shares
    from infra.replay.json_lines import write_json_lines

    bootstrap = settings.kafka_bootstrap_servers
    whole_topic = not follow and aggregate_id is None and window.partition is None
    shares = jobs_for(bootstrap, topic) if whole_topic else []
    if len(shares) > 1:
        registry = settings.schema_registry_url
        replay_shares(shares, bootstrap, registry, settings.schemas_dir, topic, window, sys.stdout, type_)
        return
    key = str(aggregate_id).encode() if aggregate_id else None
    if not follow:  # a tail that may run for days collects as usual
        collect_rarely()
    write_json_lines(bootstrap, codec, topic, window, sys.stdout, _warn, follow, key, type_)


def _uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a UUID", param_hint="--aggregate") from None


def _time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO time such as 2026-11-22T09:30:00Z", param_hint=option
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _warn(message: str) -> None:
    typer.echo(f"streamkeep: {message}", err=True)


def _line(topic: str, partition: int, offset: int, at: datetime, name: str, record: dict[str, Any]) -> dict[str, Any]:
    envelope = _SAGA_ENVELOPE if name in SAGA_EVENT_TYPES else _EVENT_ENVELOPE
    data = {k: v for k, v in record.items() if k not in envelope}
    return {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "timestamp": at.isoformat(),
        "type": name,
        "aggregate_id": str(record[envelope[0]]),
        "version": record["version"],
        "data": data,
    }


Lines = Iterator[tuple[dict[str, Any], dict[str, Any]]]


def _kafka_events(
    bootstrap: str,
    codec: Any,
    context: str,
    window: Any,
    follow: bool,
    aggregate_id: UUID | None,
    type_: str | None,
) -> Lines:
    """(line, record) per selected event; the key and the event_type header filter before any decoding."""
    from infra.avro.codec import UndecodableMessage
    from infra.kafka.event_stream import stream

    key = str(aggregate_id).encode() if aggregate_id else None
    for message in stream(bootstrap, events_topic(context), window, follow):
        if key is not None and message.key() != key:
            continue
        header = dict(message.headers() or ()).get("event_type")
        if header is not None and not matches_type(header.decode(), type_):
            continue
        try:
            name, record = codec.decode(message.value())
        except UndecodableMessage as error:
            _warn(f"skipping {message.partition()}/{message.offset()}: {error}")
            continue
        if not matches_type(name, type_):
            continue
        if name not in EVENT_TYPES and name not in SAGA_EVENT_TYPES:
            _warn(f"skipping {message.partition()}/{message.offset()}: {name} is no event of ours")
            continue
        at = datetime.fromtimestamp(message.timestamp()[1] / 1000, timezone.utc)
        yield _line(message.topic(), message.partition(), message.offset(), at, name, record), record


def _embedded_events(
    settings: Any,
    context: str,
    since: datetime | None,
    until: datetime | None,
    from_offset: int | None,
    aggregate_id: UUID | None,
    type_: str | None,
) -> Lines:
    from commands.messages import Envelope
    from infra.embedded.backend import EmbeddedBackend

    backend = EmbeddedBackend(settings.data_dir, sagas=False)  # reading only: no saga takes a step here
    unknown = UUID(int=0)
    for position, event in backend.events():
        if type(event) in EVENT_NAMES:
            name, record = event_to_record(event, Envelope(unknown, event.timestamp, unknown))
            record.pop("command_id"), record.pop("correlation_id")
            stream, at = event.originator_id, event.timestamp
        elif isinstance(event, Recorded):  # a saga instance's own event
            name, record = saga_event_to_record(event)
            stream, at = event.saga_id, event.at
        else:
            continue
        selected = (
            name.startswith(f"{context}.")
            and matches_type(name, type_)
            and (aggregate_id is None or stream == aggregate_id)
            and (from_offset is None or position >= from_offset)
            and (since is None or at >= since)
            and (until is None or at < until)
        )
        if selected:
            yield _line(events_topic(context), 0, position, at, name, record), record


def _write_avro_json(codec: Any, source: Lines, out: Any) -> None:
    """Each event's value in Avro's JSON encoding, one per line, as Confluent's avro console consumer prints."""
    from fastavro.json_write import json_writer

    for line, record in source:
        buffer = io.StringIO()
        json_writer(buffer, codec.schema(line["type"]), [record])
        out.write(buffer.getvalue().rstrip("\n") + "\n")


def _fold_into(projection: Any, source: Lines, out: Any) -> None:
    """Apply the events with the projection's own apply, from no rows, and print the rows it ends with."""
    rows: dict[Any, dict[str, Any]] = {}
    for line, record in source:
        event = record_to_projected(line["type"], record)
        key = projection.key(event)
        if key is not None and (row := projection.apply(rows.get(key), event)) is not None:
            rows[key] = row
    for row in rows.values():
        out.write(json.dumps(projection.to_json(row), default=str) + "\n")
