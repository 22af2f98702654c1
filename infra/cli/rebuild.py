"""`streamkeep rebuild PROJECTION`: rebuild a read model from the first event, with a live progress bar."""

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from infra.observability.stream_metrics import REBUILD_EVENTS_APPLIED, REBUILD_EVENTS_TOTAL
from infra.runtime.gc_tuning import collect_rarely
from infra.settings import load_settings
from projections.catalogue import PROJECTIONS


def rebuild(
    projection: Annotated[str, typer.Argument(help=f"One of: {', '.join(PROJECTIONS)}.")],
    in_place: Annotated[
        bool, typer.Option("--in-place", help="Empty the live tables and rebuild them instead.")
    ] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Compare rebuilt and live rows before the swap.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")] = False,
    batch: Annotated[int, typer.Option(help="Events per transaction.", min=1)] = 5000,
    jobs: Annotated[
        int | None,
        typer.Option(
            help="Processes building the new tables, each a share of the partitions (default: one per core for "
            "100,000 events or more). Read models whose rows cross partitions are built by one.",
            min=1,
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve /metrics (streamkeep_rebuild_events_applied and _total) on this port while the rebuild runs.",
        ),
    ] = None,
) -> None:
    """Rebuild a read model beside the live one from the first event, then swap it in atomically."""
    from infra.cli.errors import CliError

    if projection not in PROJECTIONS:
        raise CliError(f"unknown projection {projection!r}; choose one of {', '.join(PROJECTIONS)}")
    if in_place and diff:
        raise CliError("--diff compares the rebuilt tables with the live ones: it needs a blue/green rebuild")
    settings = load_settings()
    if not settings.uses_kafka:
        raise CliError("rebuild needs the kafka backend (set KAFKA_BOOTSTRAP_SERVERS)")
    if metrics_port is not None:
        _serve_metrics(settings.metrics_host, metrics_port)
    from infra.read_side.rebuild import Rebuild, RebuildRefused
    from infra.registry.deploy import connect_codec

    codec = connect_codec(settings.schema_registry_url, settings.schemas_dir, settings.event_store)
    registry = (settings.schema_registry_url, settings.schemas_dir)
    job = Rebuild(
        settings.kafka_bootstrap_servers, settings.database_url, codec, PROJECTIONS[projection], batch, registry, jobs
    )
    bar = Progress(
        TextColumn(f"rebuild {projection}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>9,.0f} events/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=as_json,
    )
    task = bar.add_task("events", total=None, rate=0.0)

    def progress(done: int, total: int) -> None:
        elapsed = bar.tasks[task].elapsed or 0.0
        bar.update(task, completed=done, total=total, rate=done / elapsed if elapsed else 0.0)
        REBUILD_EVENTS_APPLIED.labels(projection).set(done)
        REBUILD_EVENTS_TOTAL.labels(projection).set(total)

    collect_rarely()
    try:
        with bar:
            result = asyncio.run(job.run(in_place, diff, progress))
    except RebuildRefused as error:
        raise CliError(str(error)) from None
    if as_json:
        typer.echo(json.dumps(result.as_json()))
        return
    rate = result.events / result.wall_s if result.wall_s else 0.0
    mode = f"{result.mode}, {result.processes} processes" if result.processes > 1 else result.mode
    typer.echo(f"{projection}: {result.events} events in {result.wall_s:.1f} s ({rate:,.0f} events/s), {mode}")
    if result.rows_differ is not None:
        typer.echo(f"rows that differ between live and rebuilt: {result.rows_differ}")
        for key in result.differing_keys or []:
            typer.echo(f"  {key}")


def _serve_metrics(host: str, port: int) -> None:
    """A rebuild is a command, not a service: prometheus-client's own listener (a daemon thread) is all it needs,
    for a scrape while it runs (a Kubernetes Job, say)."""
    from prometheus_client import start_http_server

    from infra.cli.errors import CliError

    try:
        start_http_server(port, addr=host)
    except OSError as error:
        raise CliError(f"cannot serve metrics on port {port}: {error.strerror or error}") from None
