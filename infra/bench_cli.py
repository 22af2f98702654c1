"""`streamkeep bench SCENARIO`: measure a scenario and print its figures as a table or one JSON object."""

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from infra.cli import CliError
from infra.settings import load_settings

bench_app = typer.Typer(
    help="Measure Streamkeep under load, beside a baseline run in the same session.", no_args_is_help=True
)


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
) -> None:
    """POST /v1/orders to `serve` + `worker --role commands` on Kafka, then to the baseline; rate and latency."""
    from bench.commands import CommandsOptions, run
    from bench.processes import BenchError

    if clients > concurrency:
        raise CliError(f"--clients ({clients}) cannot exceed --concurrency ({concurrency})")
    options = CommandsOptions(duration, concurrency, rate, clients, baseline, ack_log)
    try:
        result = run(load_settings(), options)
    except BenchError as error:
        raise CliError(str(error)) from error
    if json_:
        typer.echo(json.dumps(result.as_json()))
    else:
        result.print_table(Console())
