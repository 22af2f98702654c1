"""`streamkeep infra up|down|status`: local Kafka, schema registry and PostgreSQL without Docker."""

from __future__ import annotations

import shlex
import sys

import typer
from rich.console import Console
from rich.table import Table

from infra.local import launcher
from infra.local.launcher import InfraError

infra_app = typer.Typer(
    help="Run Kafka (KRaft), Apicurio Registry and PostgreSQL locally, without Docker.",
    no_args_is_help=True,
)


def _fail(exc: InfraError) -> None:
    print(str(exc), file=sys.stderr)
    raise typer.Exit(1)


@infra_app.command()
def up() -> None:
    """Start what is missing and print `export` lines: eval "$(streamkeep infra up)"."""
    try:
        env = launcher.up()
    except InfraError as exc:
        _fail(exc)
    # stdout carries only these lines, so the output can be eval'd by a shell.
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")


@infra_app.command()
def down(
    purge: bool = typer.Option(False, "--purge", help="Also delete Kafka and PostgreSQL data (keeps downloads)."),
) -> None:
    """Stop the services that `up` started."""
    try:
        launcher.down(purge=purge)
    except InfraError as exc:
        _fail(exc)


@infra_app.command()
def status() -> None:
    """Show each service's state, URL and pid."""
    try:
        rows = launcher.status()
    except InfraError as exc:
        _fail(exc)
    table = Table(title="streamkeep local infrastructure")
    table.add_column("service")
    table.add_column("state")
    table.add_column("url", overflow="fold")  # fold, never truncate: people copy these
    table.add_column("pid")
    colours = {"running": "green", "external": "cyan", "starting": "yellow", "stopped": "red"}
    for row in rows:
        colour = colours.get(row.state, "white")
        table.add_row(row.name, f"[{colour}]{row.state}[/{colour}]", row.url, str(row.pid) if row.pid else "-")
    Console().print(table)
