"""`streamkeep bench SCENARIO`: measure a scenario and print its figures as a table or one JSON object."""

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from infra.cli.errors import CliError
from infra.settings import load_settings


class TracingExporter(StrEnum):
    """Where the spans of a run with tracing on go."""

    discard = "discard"
    otlp = "otlp"


bench_app = typer.Typer(help="Measure Streamkeep under load against a baseline.", no_args_is_help=True)


@bench_app.command()
def commands(
    duration: Annotated[float, typer.Option(min=1, help="Seconds of load on each system.")] = 20.0,
    concurrency: Annotated[int, typer.Option(min=1, help="HTTP keep-alive connections.")] = 64,
    rate: Annotated[
        float | None, typer.Option(min=1, help="Open loop at this many commands/s (default: as fast as answered).")
    ] = None,
    clients: Annotated[int, typer.Option(min=1, max=8, help="Load-generator processes sharing the connections.")] = 1,
    baseline: Annotated[bool, typer.Option(help="Also measure eventsourcing on PostgreSQL.")] = True,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    ack_log: Annotated[
        Path | None, typer.Option(help="Write `<order_id> <version>` per acknowledged command to this file.")
    ] = None,
    tracing_pairs: Annotated[
        int,
        typer.Option(
            min=0,
            help="Instead of the baseline: tracing on against tracing off, in this many alternating pairs; the "
            "median pair is reported.",
        ),
    ] = 0,
    tracing_exporter: Annotated[
        TracingExporter,
        typer.Option(
            help="With --tracing-pairs: spans discarded by the processes' exporter (tracing's own cost), or "
            "exported over OTLP/HTTP to a sink that drops them (the export's cost too).",
        ),
    ] = TracingExporter.discard,
) -> None:
    """POST /v1/orders to `serve` + `worker --role commands` on Kafka, then to the baseline; rate and latency."""
    from bench.commands import CommandsOptions, run
    from bench.processes import BenchError

    if clients > concurrency:
        raise CliError(f"--clients ({clients}) cannot exceed --concurrency ({concurrency})")
    options = CommandsOptions(duration, concurrency, rate, clients, baseline, ack_log, tracing_pairs, tracing_exporter)
    try:
        result = run(load_settings(), options)
    except BenchError as error:
        raise CliError(str(error)) from error
    if json_:
        typer.echo(json.dumps(result.as_json()))
    else:
        result.print_table(Console())


Events = Annotated[int, typer.Option(min=1, help="Events the history must hold (written first when fewer).")]
Baseline = Annotated[bool, typer.Option(help="Also measure the baseline (PostgreSQL or Kafka client alone).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a line.")]


@bench_app.command()
def rebuild(
    events: Events = 1_000_000,
    baseline: Baseline = True,
    json_: Json = False,
    jobs: Annotated[int | None, typer.Option(min=1, help="Passed to rebuild --jobs (default: its own).")] = None,
) -> None:
    """`streamkeep rebuild order_summary` over N events: events/s, peak RSS; baseline: batched upserts alone."""
    from bench import read_side

    _print(_measured(read_side.rebuild, events, baseline, jobs), json_)


@bench_app.command()
def replay(events: Events = 1_000_000, baseline: Baseline = True, json_: Json = False) -> None:
    """`streamkeep replay --format json` over N events to a pipe: events/s, peak RSS; baseline: consume alone."""
    from bench import read_side

    _print(_measured(read_side.replay, events, baseline), json_)


def _measured(scenario, *options):  # type: ignore[no-untyped-def]
    from bench.processes import BenchError

    try:
        return scenario(load_settings(), *options)
    except BenchError as error:
        raise CliError(str(error)) from error


def _print(result, json_: bool) -> None:  # type: ignore[no-untyped-def]
    figures = result.as_json()
    if json_:
        typer.echo(json.dumps(figures))
        return
    ratio = f", {figures['ratio']}x the baseline ({figures['baseline_rate']:,.0f}/s)" if figures["ratio"] else ""
    typer.echo(
        f"{figures['scenario']}: {figures['count']:,} {figures['unit']} at {figures['rate']:,.0f}/s{ratio};"
        f" peak RSS {figures['peak_rss_mb']:.0f} MB; wall {figures['wall_s']:.1f} s"
    )


@bench_app.command()
def queries(
    orders: Annotated[
        int, typer.Option(min=1, help="Orders order_summary must hold (filled first when fewer).")
    ] = 1_000_000,
    rate: Annotated[float, typer.Option(min=1, help="GET requests per second (open loop).")] = 2000.0,
    duration: Annotated[float, typer.Option(min=1, help="Seconds of load.")] = 20.0,
    concurrency: Annotated[int, typer.Option(min=1, help="HTTP keep-alive connections.")] = 64,
    clients: Annotated[int, typer.Option(min=1, max=8, help="Load-generator processes.")] = 1,
    workers: Annotated[int, typer.Option(min=1, help="API processes (`serve --workers`).")] = 1,
    json_: Json = False,
) -> None:
    """GET /v1/orders/{id} at a fixed rate against `streamkeep serve` with N orders stored: latency percentiles."""
    from bench.queries import QueriesOptions, run

    result = _measured(run, QueriesOptions(orders, rate, duration, concurrency, clients, workers))
    if json_:
        typer.echo(json.dumps(result.as_json()))
    else:
        result.print_table(Console())


@bench_app.command()
def sagas(
    duration: Annotated[float, typer.Option(min=1, help="Seconds of placing orders on each system.")] = 20.0,
    concurrency: Annotated[
        int, typer.Option(min=1, help="Closed loop: sagas in flight; open loop: HTTP connections.")
    ] = 64,
    rate: Annotated[
        float | None, typer.Option(min=1, help="Open loop at this many orders/s (default: closed loop).")
    ] = None,
    orders: Annotated[int | None, typer.Option(min=1, help="Stop placing after this many orders.")] = None,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds an order may take to end; later ones are reported unfinished.")
    ] = 30.0,
    skus: Annotated[int, typer.Option(min=1, max=1000, help="SKUs the orders spread over (one line each).")] = 8,
    baseline: Annotated[bool, typer.Option(help="Also measure the fulfilment as a DBOS Transact workflow.")] = True,
    roles_apart: Annotated[
        bool,
        typer.Option(
            "--roles-apart/--one-worker",
            help="A worker process per role (commands, sagas, projections), or one worker with every role.",
        ),
    ] = True,
    json_: Json = False,
) -> None:
    """Orders fulfilled end to end (POST /v1/orders to `confirmed` in order_summary) by `serve` + `worker` on
    Kafka with the saga runner, then by DBOS Transact on PostgreSQL: sagas/s, placed -> confirmed latency."""
    from bench.sagas import SagasOptions, run

    result = _measured(run, SagasOptions(duration, concurrency, rate, orders, timeout, skus, baseline, roles_apart))
    if json_:
        typer.echo(json.dumps(result.as_json()))
    else:
        result.print_table(Console())


@bench_app.command()
def overload(
    capacity_duration: Annotated[
        float, typer.Option(min=1, help="Seconds of the closed loop that measures the capacity.")
    ] = 5.0,
    duration: Annotated[float, typer.Option(min=1, help="Seconds of the open loop past capacity.")] = 12.0,
    factor: Annotated[float, typer.Option(min=1, help="The open loop's rate, in times the capacity.")] = 2.0,
    concurrency: Annotated[int, typer.Option(min=1, help="The closed loop's HTTP connections.")] = 64,
    connections: Annotated[
        int, typer.Option(min=1, help="The open loop's HTTP connections (above the API's bound on commands).")
    ] = 512,
    max_in_flight: Annotated[
        int | None, typer.Option(min=1, help="STREAMKEEP_MAX_COMMANDS_IN_FLIGHT for the API (default: the setting).")
    ] = None,
    check: Annotated[
        bool, typer.Option(help="Then read orders.events: each ack once, no shed command's event.")
    ] = True,
    json_: Json = False,
) -> None:
    """POST /v1/orders at twice the measured capacity: accepted p99, how fast the excess is refused, nothing lost."""
    from bench.overload import OverloadOptions, run

    options = OverloadOptions(capacity_duration, duration, factor, concurrency, connections, max_in_flight, check)
    result = _measured(run, options)
    if json_:
        typer.echo(json.dumps(result.as_json()))
    else:
        result.print_table(Console())
