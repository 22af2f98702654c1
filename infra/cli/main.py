"""The `streamkeep` command line: run the platform or its halves, and mount every command group."""

import asyncio
import logging
import os
import signal
import sys
from dataclasses import replace
from typing import Annotated

import typer

from infra.cli.errors import CliError
from infra.observability.logs import configure_logging, set_role
from infra.observability.retries import instrument_retries
from infra.observability.tracing import configure_tracing
from infra.registry.client import RegistryUnavailable
from infra.registry.deploy import SchemasRefused
from infra.runtime.gc_tuning import collect_rarely
from infra.settings import SettingsError, load_settings, log_format

app = typer.Typer(help="Streamkeep: event-sourced CQRS on Kafka.", no_args_is_help=True, pretty_exceptions_enable=False)
_state = {"debug": False}
log = logging.getLogger("streamkeep.auth")


@app.callback()
def _options(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    _state["debug"] = debug
    # Every logger of every library, in STREAMKEEP_LOG_FORMAT (JSON lines unless stderr is a terminal).
    configure_logging(log_format(), level=logging.DEBUG if debug else logging.INFO)
    instrument_retries()


Host = Annotated[str, typer.Option(help="Interface to listen on.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]
NoAuth = Annotated[
    bool, typer.Option("--no-auth", help="Serve without authentication: anyone who reaches the port may do anything.")
]


@app.command()
def run(host: Host = "127.0.0.1", port: Port = 8000, no_auth: NoAuth = False) -> None:
    """The whole platform in one process: HTTP API, command processors, sagas and projections."""
    import uvicorn

    from infra.api import create_app

    set_role("run")
    configure_tracing("run")
    settings = load_settings()
    # On the loopback interface only this machine's users reach it: a trial needs no tokens.
    settings = _check_auth(settings, no_auth, required=not _loopback(host), where=f"run on {host}")
    codec = _registered_codec(settings) if settings.uses_kafka else None
    platform = create_app(settings, roles=_default_roles(settings) if settings.uses_kafka else (), codec=codec)
    collect_rarely()
    # No access log: one line per request costs more than the request's own work at load (the request counts are
    # in /metrics). log_config=None: uvicorn's lines go through our logging.
    uvicorn.run(platform, host=host, port=port, log_level="info", access_log=False, log_config=None)


@app.command()
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="API processes sharing the port (it keeps no state: one per spare core).")
    ] = 1,
    no_auth: NoAuth = False,
) -> None:
    """The HTTP API only (kafka backend); run `streamkeep worker` beside it."""
    import uvicorn

    set_role("api")
    configure_tracing("api")
    settings = load_settings()
    if not settings.uses_kafka:
        raise CliError(
            "serve needs the kafka backend (set KAFKA_BOOTSTRAP_SERVERS); use `streamkeep run` for the embedded one"
        )
    settings = _check_auth(settings, no_auth, required=True, where="serve")
    codec = _registered_codec(settings)
    if workers > 1:
        _serve_processes(host, port, workers)
        return
    from infra.api import create_app

    api = create_app(settings, codec=codec)
    collect_rarely()
    uvicorn.run(api, host=host, port=port, log_level="info", access_log=False, log_config=None)


def _check_auth(settings, no_auth: bool, required: bool, where: str):  # type: ignore[no-untyped-def]
    """Secure by default: refuse to start an API nobody configured tokens for, unless told in as many words."""
    from infra.security.auth_settings import NO_AUTH

    if no_auth:
        os.environ[NO_AUTH] = "true"  # for every process `serve --workers` spawns: they read the environment
        settings = replace(settings, auth=replace(settings.auth, no_auth=True))
    if no_auth or settings.auth.no_auth:
        log.warning("authentication is off (%s): anyone who reaches the API may send any command", NO_AUTH)
    elif settings.auth.configured:
        log.info(
            "authentication on: %d API token(s), JWTs %s",
            len(settings.auth.api_tokens),
            "checked" if settings.auth.jwt.configured else "not accepted",
        )
    elif required:
        raise CliError(
            f"{where} refuses to start without authentication: set STREAMKEEP_API_TOKENS (`streamkeep tokens issue`) "
            "or STREAMKEEP_JWT_SECRET/_PUBLIC_KEY/_JWKS, or pass --no-auth to serve without it"
        )
    else:
        log.info("no authentication: the API answers anyone who reaches it on this machine")
    return settings


def _loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")


def _serve_processes(host: str, port: int, workers: int) -> None:
    """N API processes on one port. Each builds its own app (its own producer, outcome reader and pool);
    registering again at its start-up finds every schema in place. They count their metrics in one folder for this
    run, so a scrape answered by any of them sums all N."""
    import uvicorn

    from infra.observability.metrics import drop_shared, share_between_processes

    shared = share_between_processes()
    try:
        uvicorn.run(
            "infra.api:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=False,
            log_config=None,
        )
    finally:
        drop_shared(shared)


def _registered_codec(settings):  # type: ignore[no-untyped-def]
    """The schemas registered as `streamkeep schemas register` does it, before the server starts, so that a
    refusal is reported in one line per schema rather than as a failed start-up's traceback."""
    from infra.registry.deploy import connect_codec

    return connect_codec(settings.schema_registry_url, settings.schemas_dir, settings.event_store)


@app.command()
def worker(
    role: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated roles: commands, sagas, projections (default: all; no sagas when "
            "STREAMKEEP_SAGAS=off)."
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve /livez, /readyz and /metrics on this port (default: STREAMKEEP_METRICS_PORT; unset: none).",
        ),
    ] = None,
) -> None:
    """The stream processors only (kafka backend); several workers share the partitions."""
    from infra.worker import ROLES

    settings = load_settings()
    roles = _default_roles(settings) if role is None else tuple(r.strip() for r in role.split(",") if r.strip())
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise CliError(f"unknown role {', '.join(unknown) or '(none)'}; choose from {', '.join(ROLES)}")
    if not settings.uses_kafka:
        raise CliError("worker needs the kafka backend (set KAFKA_BOOTSTRAP_SERVERS)")
    set_role(f"worker:{','.join(roles)}")
    configure_tracing(f"worker:{','.join(roles)}")
    collect_rarely()
    asyncio.run(_run_worker(settings, roles, metrics_port or settings.metrics_port))


def _default_roles(settings):  # type: ignore[no-untyped-def]
    from infra.worker import ROLES

    return tuple(r for r in ROLES if settings.sagas or r != "sagas")


async def _run_worker(settings, roles: tuple[str, ...], metrics_port: int | None) -> None:  # type: ignore[no-untyped-def]
    from infra.bootstrap import connect_kafka_backend
    from infra.worker import Worker

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    started: list[Worker] = []
    # The listener comes first: /livez answers, and /readyz says why not ready, while topics, schemas and the
    # partitions are still being set up.
    listener = await _operations_listener(settings, roles, metrics_port, started)
    try:
        codec, read_models = await connect_kafka_backend(settings)
        processors = Worker(
            settings.kafka_bootstrap_servers, codec, read_models, roles, settings.saga_policy, settings.breakers
        )
        await processors.start()
        started.append(processors)
        logging.getLogger(__name__).info("worker running: %s", ", ".join(roles))
        await stopping.wait()
        await processors.stop()
        await read_models.close()
    finally:
        if listener is not None:
            await listener.stop()


async def _operations_listener(settings, roles: tuple[str, ...], port: int | None, started: list):  # type: ignore[no-untyped-def]
    """The worker's /livez, /readyz and /metrics on `port`, or None without one."""
    from infra.http.operations_listener import ListenerFailed, OperationsListener
    from infra.observability.checks import Readiness, kafka_backend_checks, loaded

    if port is None:
        return None
    # Only the projections write to PostgreSQL; the other roles never touch it after start-up.
    checks = kafka_backend_checks(settings, postgres="projections" in roles)
    checks["partitions"] = loaded(
        lambda: bool(started) and started[0].ready, "the stream processors are starting or loading their partitions"
    )
    listener = OperationsListener(Readiness(checks), settings.metrics_host, port)
    try:
        await listener.start()
    except ListenerFailed as error:
        raise CliError(str(error)) from None
    return listener


def _mount_subcommands() -> None:
    from importlib.metadata import entry_points

    from infra.cli.local_infra import infra_app
    from infra.cli.projections import projections
    from infra.cli.rebuild import rebuild
    from infra.cli.replay import replay
    from infra.cli.sagas import sagas_app
    from infra.cli.schemas import schemas_app
    from infra.cli.tokens import tokens_app
    from infra.cli.trace import trace

    app.add_typer(infra_app, name="infra", help="Local Kafka, schema registry and PostgreSQL, without Docker.")
    app.command()(replay)
    app.command()(projections)
    app.command()(rebuild)
    app.command()(trace)
    # Groups that live outside infra (`bench`) come in through the "streamkeep.cli" entry points of the installed
    # package, so infra never imports them.
    for group in entry_points(group="streamkeep.cli"):
        app.add_typer(group.load(), name=group.name)
    app.add_typer(schemas_app, name="schemas", help="Inspect the Avro schema registry and check schema changes.")
    app.add_typer(sagas_app, name="sagas", help="Saga instances: list, show a timeline, retry a stuck one, abort one.")
    app.add_typer(tokens_app, name="tokens", help="API tokens: issue one for a role.")


def main() -> None:
    _mount_subcommands()
    try:
        app()
    except (CliError, SchemasRefused, SettingsError, RegistryUnavailable) as error:
        _fail(str(error))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        if _state["debug"]:
            raise
        _fail(f"{type(error).__name__}: {error} (run with --debug for the traceback)")


def _fail(message: str) -> None:
    for line in message.splitlines():  # several problems (e.g. refused schemas): one line each
        typer.echo(f"streamkeep: {line}", err=True)
    sys.exit(1)
