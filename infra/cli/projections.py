"""`streamkeep projections`: each read model's checkpoint, lag, events/s, last error and dead letters."""

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.settings import load_settings


def projections(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of objects.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds over which events/s is measured.", min=0)] = 1.0,
) -> None:
    """Show how each projection stands (kafka backend: checkpoints in PostgreSQL, lag against Kafka)."""
    from infra.cli.errors import CliError

    settings = load_settings()
    if not settings.uses_kafka:
        raise CliError("projections needs the kafka backend (set KAFKA_BOOTSTRAP_SERVERS)")
    from infra.read_side.status import kafka_reports

    reports = kafka_reports(settings.kafka_bootstrap_servers, settings.database_url, interval)
    if as_json:
        typer.echo(json.dumps([report.as_json() for report in reports]))
        return
    table = Table("projection", "checkpoint", "lag", "events/s", "dead letters", "last error")
    for report in reports:
        checkpoint = " ".join(f"{k.rsplit('/', 1)[1]}:{v}" for k, v in report.checkpoint.items()) or "-"
        table.add_row(
            report.name,
            checkpoint,
            str(report.lag),
            f"{report.events_per_s:g}",
            str(report.dead_letters),
            report.last_error or "",
        )
    Console().print(table)
