"""`streamkeep sagas list|show|retry|abort|audit`: saga instances through the running platform's HTTP API.

They ask the API (`STREAMKEEP_API_URL`) rather than a store, so they work the same on either backend.
"""

import getpass
import json
from typing import Annotated, Any
from uuid import UUID

import httpx
import typer
from rich.console import Console
from rich.table import Table

from infra.cli.errors import CliError
from infra.settings import load_settings

sagas_app = typer.Typer(no_args_is_help=True)
PAGE = 100  # the most the API gives in one page
TIMEOUT_S = 30.0

SagaId = Annotated[str, typer.Argument(help="The saga's id (its order's id).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@sagas_app.command("list")
def list_sagas(
    status: Annotated[
        str | None, typer.Option(help="Only instances in this status: running, compensating, completed, ...")
    ] = None,
    older_than: Annotated[
        str | None, typer.Option("--older-than", help="Only instances started longer ago: 30s, 5m, 2h, 1d.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many instances at most, newest first.", min=1)] = 20,
    as_json: AsJson = False,
) -> None:
    """Saga instances, newest first: status, step, open deadline, when they started."""
    items: list[dict[str, Any]] = []
    cursor = None
    while len(items) < limit:
        params = {"status": status, "older_than": older_than, "limit": min(PAGE, limit - len(items)), "cursor": cursor}
        page = _get("/v1/sagas", {k: v for k, v in params.items() if v is not None})
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    if as_json:
        typer.echo(json.dumps(items))
        return
    table = Table("saga", "status", "step", "deadline", "started", "reason")
    for item in items:
        deadline = item["deadline"]
        due = f"{deadline['name']} {_moment(deadline['due'])}" if deadline else ""
        table.add_row(item["saga_id"], item["status"], item["step"], due, _moment(item["started_at"]), item["reason"])
    _console().print(table)


@sagas_app.command("show")
def show_saga(saga_id: SagaId, as_json: AsJson = False) -> None:
    """One instance: where it stands, and its history as a timeline (each command sent, each answer)."""
    saga = _get(f"/v1/sagas/{_saga_id(saga_id)}", {}, unknown=saga_id)
    if as_json:
        typer.echo(json.dumps(saga))
        return
    console = _console()
    deadline = saga["deadline"]
    console.print(f"saga {saga['saga_id']} ({saga['saga_type']})")
    console.print(
        f"  status   {saga['status']}, step {saga['step']}" + (f": {saga['reason']}" if saga["reason"] else "")
    )
    console.print(f"  deadline {deadline['name']} due {deadline['due']}" if deadline else "  deadline none open")
    console.print(f"  started  {saga['started_at']}, updated {saga['updated_at']}, version {saga['version']}")
    table = Table("time", "version", "event", "step", "command / answer", "cause")
    table.columns[2].no_wrap = True
    for entry in saga["history"]:
        cause = entry["cause_id"][:8] if entry["cause_id"] else "timer"
        step = entry.get("step", "") if entry["type"] != "StatusChanged" else ""
        table.add_row(_moment(entry["at"]), str(entry["version"]), entry["type"], step, _said(entry), cause)
    console.print(table)


@sagas_app.command("retry")
def retry_saga(
    saga_id: SagaId, by: Annotated[str | None, typer.Option(help="Who asks (default: you).")] = None
) -> None:
    """Resume a stuck instance: its stuck step is sent again."""
    _act(saga_id, "retry", by)


@sagas_app.command("abort")
def abort_saga(
    saga_id: SagaId, by: Annotated[str | None, typer.Option(help="Who asks (default: you).")] = None
) -> None:
    """Compensate an instance now (refused once its order is confirmed or being confirmed)."""
    _act(saga_id, "abort", by)


@sagas_app.command("audit")
def audit_sagas() -> None:
    """Check the fulfilment's invariants across the read models: one line per violation, exit 1 if any."""
    report = _get("/v1/sagas/audit", {})
    for violation in report["violations"]:
        typer.echo(violation)
    if report["violations"]:
        raise typer.Exit(1)
    counted = ", ".join(f"{n} {name}" for name, n in report["rows"].items())
    typer.echo(f"no violations ({counted})")


def _act(saga_id: str, action: str, by: str | None) -> None:
    who = by or _login()
    _request("POST", f"/v1/sagas/{_saga_id(saga_id)}/{action}", unknown=saga_id, json={"by": who})
    typer.echo(f"{action} of saga {saga_id} sent (by {who}); `streamkeep sagas show {saga_id}` shows what came of it")


def _get(path: str, params: dict[str, Any], unknown: str | None = None) -> Any:
    return _request("GET", path, unknown=unknown, params=params)


def _request(method: str, path: str, unknown: str | None = None, **kwargs: Any) -> Any:
    """The API's JSON answer; any problem it answers with, or its silence, as one line for the user."""
    settings = load_settings()
    base = settings.api_url
    if settings.api_token:  # STREAMKEEP_TOKEN: an admin's, for retry and abort
        kwargs["headers"] = {"Authorization": f"Bearer {settings.api_token}"}
    try:
        answer = httpx.request(method, f"{base}{path}", timeout=TIMEOUT_S, **kwargs)
    except httpx.HTTPError as error:
        raise CliError(
            f"cannot reach the Streamkeep API at {base} ({error or type(error).__name__}); "
            "is `streamkeep run` (or `serve`) running? STREAMKEEP_API_URL says where it is"
        ) from None
    if answer.status_code == 404 and unknown is not None:
        raise CliError(f"no saga {unknown}")
    if answer.status_code in (401, 403):
        raise CliError(f"{_problem(answer)} (STREAMKEEP_TOKEN is the token this command sends)")
    if answer.is_error:
        raise CliError(_problem(answer))
    return answer.json()


def _problem(answer: httpx.Response) -> str:
    try:
        problem = answer.json()
        return str(problem.get("detail") or problem.get("title"))
    except ValueError:
        return f"the API answered {answer.status_code}: {answer.text[:200]}"


def _saga_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise CliError(f"{text!r} is not a saga id (a saga's id is its order's UUID)") from None


def _said(entry: dict[str, Any]) -> str:
    """What an event says, in a few words: the command sent, the answer got, the status reached, ..."""
    kind = entry["type"]
    if kind == "CommandSent":
        return f"{entry['command_type']} sent (attempt {entry['attempt']})"
    if kind == "ReplyReceived":
        why = ", ".join(part for part in (entry["rule"], entry["message"], entry["detail"]) if part)
        return f"{entry['command_type']}: {entry['status']}" + (f" ({why})" if why else "")
    if kind == "CommandUnanswered":
        return f"no answer after {entry['attempts']} attempts"
    if kind == "StatusChanged":
        return f"{entry['status']}, {entry['step']}" + (f": {entry['reason']}" if entry["reason"] else "")
    if kind == "DeadlineSet":
        return f"{entry['name']} due {_moment(entry['due'])}"
    if kind in ("DeadlineReached", "DeadlineCleared"):
        return f"{entry['name']} {'passed' if kind == 'DeadlineReached' else 'cleared'}"
    if kind == "EventObserved":
        return entry["event_type"] + (f": {entry['detail']}" if entry["detail"] else "")
    if kind == "OperatorActed":
        verdict = "accepted" if entry["accepted"] else f"refused: {entry['reason']}"
        return f"{entry['action']} by {entry['by']}, {verdict}"
    if kind == "FulfilmentStarted":
        return f"order {entry['order_id']}, {_count(len(entry['lines']), 'line')}, {entry['currency']}"
    return ""


def _moment(text: str) -> str:
    """An ISO time as a timeline shows it: date and time to the millisecond, UTC."""
    return text.replace("T", " ")[:23]


def _console() -> Console:
    console = Console()
    # Piped or captured output has no width of its own: wide enough that a timeline's rows stay one line each.
    return console if console.is_terminal else Console(width=200)


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in this environment (a container, say)
        return "operator"


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"
