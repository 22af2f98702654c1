"""`streamkeep replay`: print the stored events of a context, streamed, never buffered."""

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from infra.message_mapping import event_to_record
from infra.settings import load_settings
from infra.topics import CONTEXTS, events_topic

FORMATS = ("json", "table")


def replay(
    context: Annotated[str, typer.Option(help="Bounded context whose events to print.")] = "orders",
    aggregate: Annotated[str | None, typer.Option(help="Only this aggregate's events.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Only events of this type, e.g. OrderPlaced.")] = None,
    output: Annotated[str, typer.Option("--format", help="json (one line per event) or table.")] = "json",
) -> None:
    """Print stored events in the order they were recorded."""
    if context not in CONTEXTS:
        raise typer.BadParameter(f"unknown context {context!r}; known: {', '.join(CONTEXTS)}", param_hint="--context")
    if output not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    aggregate_id = _uuid(aggregate) if aggregate else None
    settings = load_settings()
    source = _kafka_events(settings, context) if settings.uses_kafka else _embedded_events(settings)
    selected = (
        e
        for e in source
        if (aggregate_id is None or e["aggregate_id"] == str(aggregate_id))
        and (type_ is None or e["type"] in (type_, f"{context}.{type_}"))
    )
    if output == "json":
        for event in selected:
            typer.echo(json.dumps(event, default=str))
    else:
        _print_table(selected)


def _uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a UUID", param_hint="--aggregate") from None


def _line(
    topic: str, partition: int, offset: int, timestamp: datetime, name: str, record: dict[str, Any]
) -> dict[str, Any]:
    data = {k: v for k, v in record.items() if k not in ("aggregate_id", "version", "occurred_at")}
    return {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "timestamp": timestamp.isoformat(),
        "type": name,
        "aggregate_id": str(record["aggregate_id"]),
        "version": record["version"],
        "data": data,
    }


def _embedded_events(settings: Any) -> Iterator[dict[str, Any]]:
    from commands.messages import Envelope
    from infra.embedded import EmbeddedBackend

    backend = EmbeddedBackend(settings.data_dir)
    for position, event in backend.events():
        unknown = UUID(int=0)
        name, record = event_to_record(event, Envelope(unknown, event.timestamp, unknown))
        record.pop("command_id"), record.pop("correlation_id")
        yield _line("orders.events", 0, position, event.timestamp, name, record)


def _kafka_events(settings: Any, context: str) -> Iterator[dict[str, Any]]:
    from infra.avro_codec import connect_codec
    from infra.kafka_reader import read_to_end

    codec = connect_codec(settings.schema_registry_url, settings.schemas_dir)
    for message in read_to_end(settings.kafka_bootstrap_servers, events_topic(context)):
        name, record = codec.decode(message.value())
        _, millis = message.timestamp()
        yield _line(
            message.topic(),
            message.partition(),
            message.offset(),
            datetime.fromtimestamp(millis / 1000).astimezone(),
            name,
            record,
        )


def _print_table(events: Iterator[dict[str, Any]]) -> None:
    table = Table("offset", "timestamp", "type", "aggregate", "version")
    for event in events:
        table.add_row(
            f"{event['partition']}/{event['offset']}",
            event["timestamp"],
            event["type"],
            event["aggregate_id"],
            str(event["version"]),
        )
    Console().print(table)
