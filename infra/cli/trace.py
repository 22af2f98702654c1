"""`streamkeep trace ORDER_ID`: one order's whole story in time order, from the ids its records already carry."""

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any
from uuid import UUID

import typer

from infra.cli.errors import CliError
from infra.cli.order_story import Step, command_step, event_step, in_time_order, projection_steps, saga_step
from infra.kafka.topics import CONTEXTS, commands_topic, events_topic, saga_commands_topic, saga_events_topic
from infra.settings import load_settings

# Kafka finds the other contexts' records by time from the order's first one on; this much earlier covers records
# stamped by another host's clock, a little behind ours.
CLOCK_SLACK = timedelta(minutes=1)
REACH_TIMEOUT_S = 5.0

Reading = Callable[[str, int, int, str, dict[str, Any]], Step]


def trace(
    order_id: Annotated[str, typer.Argument(help="The order's id (its saga's id too).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table.")] = False,
) -> None:
    """One order's story in time order: its commands, the events of every context, the saga's steps, the read
    models that applied them (kafka backend)."""
    order = _order_id(order_id)
    settings = load_settings()
    if not settings.uses_kafka:
        raise CliError(
            "trace reads the correlation ids stored in Kafka: it needs the kafka backend (set "
            "KAFKA_BOOTSTRAP_SERVERS); on the embedded backend `streamkeep sagas show ID` shows the saga's timeline"
        )
    from infra.avro.codec import reading_codec

    _reach(settings.kafka_bootstrap_servers, settings.schema_registry_url)
    codec = reading_codec(settings.schema_registry_url, settings.schemas_dir)
    story = order_records(settings.kafka_bootstrap_servers, codec, order)
    if not story:
        raise CliError(f"no order {order}: no command, event or saga step in Kafka names it")
    story += _read_models(settings.database_url, story)
    _print(in_time_order(story), as_json)


def order_records(bootstrap: str, codec: Any, order_id: UUID) -> list[Step]:
    """The order's records: those keyed by its id (its own commands and events, its saga's), then those of the
    other contexts that carry it as correlation id (a stock item's events are keyed by SKU), from its first on."""
    key = str(order_id).encode()
    keyed = [
        (events_topic("orders"), event_step),
        (commands_topic("orders"), command_step),
        (saga_events_topic(), saga_step),
        (saga_commands_topic(), command_step),
    ]
    steps = _read_all(bootstrap, codec, keyed, key=key)
    if not steps:
        return []
    since = min(step.at for step in steps) - CLOCK_SLACK
    correlated = [
        (topic, reading)
        for context in CONTEXTS
        if context != "orders"
        for topic, reading in ((events_topic(context), event_step), (commands_topic(context), command_step))
    ]
    return steps + _read_all(bootstrap, codec, correlated, correlation=order_id, since=since)


def _read_all(bootstrap: str, codec: Any, topics: list[tuple[str, Reading]], **selection: Any) -> list[Step]:
    """The topics read side by side: each reader mostly waits on Kafka (a fetch, its end of partition), so a
    thread per topic takes about as long as the slowest rather than the sum (13 s to 3 s for ten topics). They
    share the codec: its caches only ever gain a parsed schema, at worst one fetched twice."""
    with ThreadPoolExecutor(max_workers=len(topics)) as pool:
        found = pool.map(lambda t: list(_read(bootstrap, codec, t[0], t[1], **selection)), topics)
        return [step for steps in found for step in steps]


def _read(
    bootstrap: str,
    codec: Any,
    topic: str,
    reading: Reading,
    key: bytes | None = None,
    correlation: UUID | None = None,
    since: datetime | None = None,
) -> Iterator[Step]:
    """The records of `topic` up to today's end (read_committed) with this key, or carrying this correlation id."""
    from infra.avro.codec import UndecodableMessage

    for batch in _batches(bootstrap, topic, since):
        for message in batch:
            if key is not None and message.key() != key:
                continue
            try:
                name, record = codec.decode(message.value())
            except UndecodableMessage as error:
                if key is not None:  # the order's own record, unreadable: say so rather than leave a gap unsaid
                    typer.echo(
                        f"streamkeep: skipping {topic} {message.partition()}/{message.offset()}: {error}", err=True
                    )
                continue  # elsewhere, another's garbage (the poison tests leave some)
            if correlation is not None and record.get("correlation_id") != correlation:
                continue
            yield reading(topic, message.partition(), message.offset(), name, record)


def _batches(bootstrap: str, topic: str, since: datetime | None) -> Iterator[list[Any]]:
    """The replay's reader; a topic not created yet (no saga was ever operated on) holds nothing of the order."""
    from confluent_kafka import KafkaError, KafkaException

    from infra.kafka.event_stream import Window, batches

    try:
        yield from batches(bootstrap, topic, Window(since=since))
    except KafkaException as error:
        if error.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise


def _reach(bootstrap: str, registry_url: str) -> None:
    """Fail in one line, within seconds, when Kafka or the registry does not answer (a reader would wait 30 s)."""
    import httpx
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    try:
        # log_level 0: librdkafka's own line per failed connect would bury ours.
        AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=REACH_TIMEOUT_S)
    except KafkaException as error:
        raise CliError(f"cannot reach Kafka at {bootstrap} ({error.args[0].str()}); is it running?") from None
    try:
        httpx.get(f"{registry_url.rstrip('/')}/subjects", timeout=REACH_TIMEOUT_S).raise_for_status()
    except httpx.HTTPError as error:
        raise CliError(f"cannot reach the schema registry at {registry_url} ({error}); is it running?") from None


def _read_models(database_url: str, story: list[Step]) -> list[Step]:
    """What PostgreSQL keeps of the read models' progress, as steps; without PostgreSQL, the story without them."""
    import psycopg

    from projections.catalogue import PROJECTIONS

    names = list(PROJECTIONS)
    try:
        with psycopg.connect(database_url, connect_timeout=int(REACH_TIMEOUT_S)) as conn:
            checkpoints = conn.execute(
                'SELECT projection, topic, partition, "offset" FROM projection_checkpoints WHERE projection = ANY(%s)',
                (names,),
            ).fetchall()
            batches = conn.execute(
                "SELECT projection, updated_at FROM projection_status WHERE projection = ANY(%s)", (names,)
            ).fetchall()
    except psycopg.Error as error:
        typer.echo(f"streamkeep: read models left out: cannot read PostgreSQL ({error})".splitlines()[0], err=True)
        return []
    return projection_steps(
        story,
        {name: module.CONTEXT for name, module in PROJECTIONS.items()},
        {(name, topic, partition): offset for name, topic, partition, offset in checkpoints},
        dict(batches),
        datetime.now(timezone.utc),
    )


def _print(story: list[Step], as_json: bool) -> None:
    if as_json:
        for step in story:
            typer.echo(json.dumps(step.as_json(), default=str))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table("time (UTC)", "topic", "kind", "type", "detail")
    for step in story:
        # Text, not markup: a detail's brackets (an order's lines) are data.
        cells = (f"{step.at:%Y-%m-%d %H:%M:%S.%f}"[:-3], step.topic, step.kind, _short_type(step), step.detail)
        table.add_row(*(Text(cell) for cell in cells))
    Console().print(table)


def _short_type(step: Step) -> str:
    # The topic column already names the context.
    return step.type.rsplit(".", 1)[-1]


def _order_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an order id (a UUID)", param_hint="ORDER_ID") from None
