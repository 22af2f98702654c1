"""Builds the HTTP application for a backend: routers, problem+json errors, and what runs beside it."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from commands.http import include_command_routes
from infra.http import operations, problems
from infra.http.authentication import Authentication
from infra.http.body_limit import BodyLimit
from infra.http.openapi_problems import document_problems
from infra.http.openapi_security import document_security
from infra.http.rate_limits import RateLimits, check_storage, policies_of
from infra.http.rebuild_routes import router as rebuild_router
from infra.http.request_metrics import RequestMetrics
from infra.http.saga_routes import router as saga_action_router
from infra.http.schema_routes import schemas_router
from infra.http.shedding import CommandShedding
from infra.observability import metrics, tracing
from infra.observability.checks import Readiness, kafka_backend_checks, loaded, postgres_answers, store_answers
from infra.observability.command_outcomes import CountedCommandBus
from infra.security.authenticator import authenticator_for
from infra.settings import Settings
from projections.queries import router as query_router
from projections.saga_queries import router as saga_query_router


def create_app(settings: Settings, roles: tuple[str, ...] = (), codec: Any = None) -> FastAPI:
    """The API; with roles (kafka backend), the stream processors run in the same process. A codec whose
    schemas are registered already may be given; without one, the kafka backend registers them at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.uses_kafka:
            async with _kafka_backend(app, settings, roles, codec):
                yield
        else:
            backend = _embedded_backend(app, settings)
            deadlines = asyncio.ensure_future(backend.run_deadlines())
            try:
                yield
            finally:
                deadlines.cancel()

    metrics.prepare_this_process()
    app = FastAPI(
        title="Streamkeep",
        version="0.1.0",
        description="Event-sourced order fulfilment: commands in, events to Kafka, read models out.",
        lifespan=lifespan,
        telemetry=tracing.fastapi_telemetry(),
    )
    app.state.settings = settings
    problems.install(app)
    app.add_middleware(BodyLimit)
    # Inside authentication (the principal is the rate limits' key), outside the routes; a client over its rate is
    # refused before it can take one of the slots for commands in flight.
    app.add_middleware(CommandShedding, max_in_flight=settings.max_commands_in_flight)
    check_storage(settings)
    policies = policies_of(settings)
    app.add_middleware(RateLimits, policies=policies, storage_uri=settings.rate_limit_storage)
    # Inside the metrics, so a 401 or 403 is counted and timed like any answer; outside the rest, so nothing else
    # runs for a caller we do not admit.
    app.add_middleware(Authentication, authenticator=authenticator_for(settings.auth))
    app.add_middleware(RequestMetrics)  # added last, so outermost: it times and counts the body limit's 413s too
    # Routes are tried in order, each nested router adding its own checks: the GETs, the most frequent requests,
    # come first and every context's router hangs straight off the app (GET -30%, POST -7% CPU in-process).
    app.include_router(query_router)
    app.include_router(saga_query_router)
    include_command_routes(app)
    app.include_router(saga_action_router)
    app.include_router(rebuild_router)
    app.include_router(schemas_router(settings.schema_registry_url, settings.schemas_dir, settings.breakers))
    app.include_router(operations.router)
    document_security(app)
    document_problems(app)
    return app


def app_from_environment() -> FastAPI:
    """The API as configured by the environment: what each process of `serve --workers N` runs."""
    from infra.observability.logs import configure_logging, set_role
    from infra.observability.retries import instrument_retries
    from infra.runtime.gc_tuning import collect_rarely
    from infra.settings import load_settings, log_format

    # A spawned process starts with logging as Python leaves it; the parent's set-up is not inherited.
    configure_logging(log_format())
    instrument_retries()
    set_role("api")
    tracing.configure_tracing("api")
    api = create_app(load_settings())
    collect_rarely()
    return api


def _embedded_backend(app: FastAPI, settings: Settings) -> Any:
    from infra.embedded.backend import EmbeddedBackend

    backend = EmbeddedBackend(settings.data_dir, settings.saga_policy, settings.sagas, settings.breakers)
    app.state.command_bus = CountedCommandBus(backend)
    app.state.payment_gateway = backend
    app.state.read_models = backend.read_models
    app.state.saga_operator = backend
    probe = store_answers(lambda: backend.read_models.position("order_summary"))
    app.state.readiness = Readiness({"embedded-store": probe})
    return backend


@asynccontextmanager
async def _kafka_backend(app: FastAPI, settings: Settings, roles: tuple[str, ...], codec: Any) -> AsyncIterator[Any]:
    from infra.bootstrap import connect_kafka_backend
    from infra.worker import COMMAND_CONTEXTS, Worker
    from infra.write_side.command_bus import KafkaCommandBus
    from infra.write_side.gateway_topic import KafkaGatewayScript
    from infra.write_side.saga_operator import KafkaSagaOperator

    codec, read_models = await connect_kafka_backend(settings, codec)
    bus = KafkaCommandBus(settings.kafka_bootstrap_servers, codec, settings.command_timeout_s, COMMAND_CONTEXTS)
    bus.start(asyncio.get_running_loop())
    worker = None
    if roles:
        worker = Worker(
            settings.kafka_bootstrap_servers, codec, read_models, roles, settings.saga_policy, settings.breakers
        )
    if worker:
        await worker.start()
    gateway = KafkaGatewayScript(settings.kafka_bootstrap_servers, codec, settings.command_timeout_s)
    operator = KafkaSagaOperator(settings.kafka_bootstrap_servers, codec, settings.command_timeout_s)
    app.state.command_bus = CountedCommandBus(bus)
    app.state.payment_gateway = gateway
    app.state.saga_operator = operator
    app.state.read_models = read_models
    app.state.worker = worker
    # The API alone needs no PostgreSQL to take commands: with it down, serve is reported degraded (its queries
    # answer 503) but stays ready, so a load balancer keeps sending it commands. With the stream processors in the
    # process (run), the projections cannot work without it: not ready.
    checks = kafka_backend_checks(settings, postgres=worker is not None)
    reported = {} if worker else {"postgresql": postgres_answers(settings.database_url)}
    if worker:
        checks["partitions"] = loaded(lambda: worker.ready, "the stream processors are still loading their partitions")
    app.state.readiness = Readiness(checks, reported=reported)
    try:
        yield
    finally:
        if worker:
            await worker.stop()
        await asyncio.to_thread(bus.close)
        await asyncio.to_thread(gateway.close)
        await asyncio.to_thread(operator.close)
        await read_models.close()
