"""The baseline: the same HTTP command API on an eventsourcing Application with the library's PostgreSQL persistence."""

import argparse
import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from psycopg.conninfo import conninfo_to_dict

from commands.handlers import EXPECTED_VERSION, decide
from commands.http import include_command_routes
from commands.messages import Command, Envelope
from commands.outcomes import CONFLICT, Outcome
from infra.embedded.backend import OrderFulfilment
from infra.http import problems
from infra.http.body_limit import BodyLimit
from infra.runtime.gc_tuning import collect_rarely
from infra.settings import load_settings

# Blocking saves run on this many threads, each with its own pooled connection; the library's
# table lock serialises the inserts themselves, so more threads mostly add GIL contention.
THREADS = 8


class BaselineStore(OrderFulfilment):
    """The order store, in tables of its own (`bench_baseline_*`), beside the read models."""

    name = "bench_baseline"


def postgres_env(database_url: str) -> dict[str, str]:
    """eventsourcing.postgres settings from a libpq URL or key=value string."""
    parts = conninfo_to_dict(database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(parts.get("dbname", "")),
        "POSTGRES_HOST": str(parts.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(parts.get("port", "5432")),
        "POSTGRES_USER": str(parts.get("user", "")),
        "POSTGRES_PASSWORD": str(parts.get("password", "")),  # the library insists on the key, even when empty
        "POSTGRES_POOL_SIZE": str(THREADS),
    }


class BaselineCommandBus:
    """Load, decide, save on the caller's request, as an eventsourcing application does; no Kafka.

    Idempotency keys are not honoured here: the benchmark sends none.
    """

    def __init__(self, store: BaselineStore) -> None:
        self._store = store
        self._threads = ThreadPoolExecutor(THREADS, thread_name_prefix="baseline-save")

    def get(self, aggregate_id: UUID) -> Any:
        """The Aggregates port the handlers load from: straight from PostgreSQL."""
        return self._store.get_aggregate(aggregate_id)

    async def dispatch(self, command: Command, envelope: Envelope) -> Outcome:
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._decide_and_save, command, envelope)

    def _decide_and_save(self, command: Command, envelope: Envelope) -> Outcome:
        _, events, outcome = decide(command, envelope, self)
        if not events:
            return outcome
        try:
            recordings = self._store.save(*events)
        except IntegrityError as conflict:  # the unique (id, version) index settles racing writers
            return replace(outcome, status=CONFLICT, rule=EXPECTED_VERSION, message=str(conflict))
        return replace(outcome, consistency_token=f"postgres:{recordings[-1].notification.id}")

    def close(self) -> None:
        self._threads.shutdown()
        self._store.close()


def create_baseline_app(database_url: str) -> FastAPI:
    """The command routes and problem answers of `infra.api.create_app`, on the baseline bus."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bus = BaselineCommandBus(await asyncio.to_thread(BaselineStore, env=postgres_env(database_url)))
        app.state.command_bus = bus
        try:
            yield
        finally:
            bus.close()

    app = FastAPI(title="Streamkeep baseline (eventsourcing on PostgreSQL)", lifespan=lifespan)
    problems.install(app)
    app.add_middleware(BodyLimit)
    include_command_routes(app)

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        return JSONResponse({"status": "ready", "backend": "eventsourcing.postgres"})

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    app = create_baseline_app(load_settings().database_url)
    collect_rarely()  # as `serve` does: the ratio compares the persistence, not garbage-collector settings
    # The same log level as `streamkeep serve`, access log included: like for like.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False)


if __name__ == "__main__":
    main()
