"""`streamkeep schemas list|show|diff|check|register`: inspect the registry and gate schema changes."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from infra.avro.parsed_schema import MalformedSchema
from infra.cli.errors import CliError
from infra.registry.catalog import overview, parse_version, version_detail, versions_diff
from infra.registry.check import run_check
from infra.registry.client import Registry, RegistryRefused, RegistryUnavailable, UnknownSubject
from infra.registry.deploy import SchemasRefused, deploy_schemas
from infra.registry.history import KafkaUnavailable
from infra.registry.levels import LevelsError
from infra.settings import Settings, load_settings

schemas_app = typer.Typer(help="Inspect the Avro schema registry and check schema changes.", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Full = Annotated[bool, typer.Option("--full", help="Decode every stored event, not a sample of each schema id.")]
SubjectPrefix = Annotated[
    str,
    typer.Option(
        "--subject-prefix",
        help="Use the registry subjects named PREFIX + record name (a staging or test namespace), not the live ones.",
    ),
]
SchemasDir = Annotated[
    Path | None, typer.Option("--schemas-dir", help="Folder of .avsc files (default: the repository's schemas/).")
]


@contextmanager
def _one_line_errors() -> Iterator[None]:
    try:
        yield
    except (RegistryUnavailable, UnknownSubject, RegistryRefused, KafkaUnavailable, LevelsError) as error:
        raise CliError(str(error)) from None
    except (MalformedSchema, FileNotFoundError, ValueError) as error:
        raise CliError(str(error)) from None


def _console() -> Console:
    # Piped output (CI logs, `| less`) gets full subject names rather than an 80-column cut.
    console = Console()
    return console if console.is_terminal else Console(width=200)


def _settings() -> tuple[Settings, Registry]:
    settings = load_settings()
    return settings, Registry(settings.schema_registry_url)


@schemas_app.command("list")
def list_subjects(json_: Json = False) -> None:
    """Every subject: latest version, schema id, compatibility level, and the type and topic it belongs to."""
    with _one_line_errors():
        rows = overview(_settings()[1])
    if json_:
        typer.echo(json.dumps(rows))
        return
    table = Table("subject", "version", "schema id", "compatibility", "kind", "type", "topic")
    for row in rows:
        table.add_row(
            row["subject"],
            str(row["version"]),
            str(row["schema_id"]),
            row["compatibility"],
            row["kind"],
            row["type"],
            row["topic"],
        )
    _console().print(table)


@schemas_app.command()
def show(
    subject: Annotated[str, typer.Argument(help="Subject, e.g. orders.OrderPlaced.")],
    version: Annotated[str, typer.Option(help="Version number or 'latest'.")] = "latest",
    json_: Json = False,
) -> None:
    """One version of a subject: the schema pretty-printed, with its id and references."""
    with _one_line_errors():
        wanted = parse_version(version)
        if wanted == "local":
            raise CliError("show reads the registry; the local schema is in the schemas folder")
        detail = version_detail(_settings()[1], subject, wanted)
    if json_:
        typer.echo(json.dumps(detail))
        return
    console = _console()
    references = ", ".join(f"{r['name']} ({r['subject']} v{r['version']})" for r in detail["references"]) or "none"
    console.print(f"[bold]{subject}[/bold] version {detail['version']}, schema id {detail['schema_id']}")
    console.print(f"references: {references}")
    console.print(Syntax(json.dumps(detail["schema"], indent=2), "json"))


@schemas_app.command()
def diff(
    subject: Annotated[str, typer.Argument(help="Subject, e.g. orders.OrderPlaced.")],
    old: Annotated[str, typer.Argument(help="Older version: a number, 'latest' or 'local' (the .avsc file).")],
    new: Annotated[str, typer.Argument(help="Newer version: a number, 'latest' or 'local'.")],
    schemas_dir: SchemasDir = None,
    json_: Json = False,
) -> None:
    """Field by field, what changed between two versions: added, removed, type, default, aliases."""
    with _one_line_errors():
        settings, registry = _settings()
        result = versions_diff(
            registry, subject, parse_version(old), parse_version(new), schemas_dir or settings.schemas_dir
        )
    if json_:
        typer.echo(json.dumps(result))
        return
    title = f"{subject}: version {result['from']} → {result['to']}"
    if not result["changes"]:
        _console().print(f"{title}: no field changes")
        return
    table = Table("field", "change", "before", "after", title=title)
    for change in result["changes"]:
        table.add_row(change["field"] or "(record)", change["change"], change["before"], change["after"])
    _console().print(table)


@schemas_app.command()
def check(
    schemas_dir: SchemasDir = None,
    full: Full = False,
    subject_prefix: SubjectPrefix = "",
    json_: Json = False,
) -> None:
    """Every local .avsc against the registry's versions (per the subject's level) and the events Kafka holds.

    Exit 0 when all pass; exit 1 with one line per failure."""
    with _one_line_errors():
        settings, registry = _settings()
        report = run_check(registry, schemas_dir or settings.schemas_dir, settings.event_store, full, subject_prefix)
    if json_:
        typer.echo(json.dumps(report.as_dict()))
    elif report.passed:
        typer.echo(_summary(report.as_dict()))
    for failure in [] if json_ else report.failures:
        typer.echo(str(failure))
    if not report.passed:
        raise typer.Exit(1)


def _summary(report: dict[str, Any]) -> str:
    history = (
        "stored events not checked (no Kafka configured)"
        if report["stored_events"] is None
        else f"{report['stored_events']} stored events of {len(report['writer_schemas'])} writer schemas"
    )
    return (
        f"{report['local_schemas']} local schemas compatible with {report['registry_versions']} registry versions"
        f" and {history}"
    )


@schemas_app.command()
def register(schemas_dir: SchemasDir = None, subject_prefix: SubjectPrefix = "", json_: Json = False) -> None:
    """Check every local schema as `check` does, then set each subject's level and register them all, as
    `serve` and `worker` do at start-up.

    All or nothing: when any schema is refused (by the check or by the registry), none is registered;
    exit 1 with one line per refusal."""
    with _one_line_errors():
        settings, registry = _settings()
        try:
            rows = deploy_schemas(registry, schemas_dir or settings.schemas_dir, settings.event_store, subject_prefix)
        except SchemasRefused as refused:
            for failure in refused.failures:
                typer.echo(str(failure))
            raise typer.Exit(1) from None
    if json_:
        typer.echo(json.dumps(rows))
        return
    table = Table("subject", "schema id", "compatibility")
    for row in rows:
        table.add_row(row["subject"], str(row["schema_id"]), row["compatibility"])
    _console().print(table)
