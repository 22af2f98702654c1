"""The dependency checks behind /readyz: each must answer within a short timeout, and a failure names its dependency."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from infra.settings import Settings

CHECK_TIMEOUT_S = 2.0
Check = Callable[[], Awaitable[None]]  # returns when the dependency answers, raises saying why it does not


class NotReady(Exception):
    """A check's own reason, shown as it is (no exception type in front)."""


@dataclass(frozen=True)
class Readiness:
    """The named checks of one process, run together, so /readyz answers within one timeout. `reported` checks are
    run and shown the same way, but a failing one leaves the process ready: it still does useful work without
    that dependency (serve takes commands with PostgreSQL down)."""

    checks: dict[str, Check]
    timeout_s: float = CHECK_TIMEOUT_S
    reported: dict[str, Check] = field(default_factory=dict)

    async def failures(self) -> dict[str, str]:
        """Each failing dependency with its reason; empty when all answer."""
        return await self._reasons(self.checks)

    async def degraded(self) -> dict[str, str]:
        """Each failing `reported` dependency with its reason."""
        return await self._reasons(self.reported)

    async def _reasons(self, checks: dict[str, Check]) -> dict[str, str]:
        names = list(checks)
        reasons = await asyncio.gather(*(self._reason(checks[name]) for name in names))
        return {name: reason for name, reason in zip(names, reasons, strict=True) if reason is not None}

    async def _reason(self, check: Check) -> str | None:
        try:
            async with asyncio.timeout(self.timeout_s):
                await check()
        except TimeoutError:
            return f"no answer within {self.timeout_s:g} s"
        except NotReady as error:
            return str(error)
        except Exception as error:  # whatever the client raised, the dependency did not answer
            text = str(error).strip().splitlines()
            return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
        return None


def kafka_answers(bootstrap_servers: str) -> Check:
    """Kafka answers a metadata request (one admin client per process, made at the first check)."""
    from confluent_kafka.admin import AdminClient

    clients: list[Any] = []

    async def check() -> None:
        if not clients:
            # librdkafka's own lines go through our logging, not raw to stderr.
            config = {"bootstrap.servers": bootstrap_servers, "logger": logging.getLogger("confluent_kafka.readiness")}
            clients.append(AdminClient(config))
        # librdkafka's own timeout ends the thread even when our wait gives up first.
        await asyncio.to_thread(clients[0].list_topics, timeout=CHECK_TIMEOUT_S * 0.9)

    return check


def registry_answers(registry_url: str) -> Check:
    """The schema registry lists its subjects."""

    async def check() -> None:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_S) as client:
            answer = await client.get(f"{registry_url}/subjects")
        if answer.status_code >= 500:
            raise NotReady(f"the schema registry answered {answer.status_code}")

    return check


def postgres_answers(database_url: str) -> Check:
    """PostgreSQL takes a new connection and a query (not the pool's: a pooled connection may be stale or busy)."""

    async def check() -> None:
        connect_timeout = max(1, int(CHECK_TIMEOUT_S))
        async with await psycopg.AsyncConnection.connect(database_url, connect_timeout=connect_timeout) as conn:
            await conn.execute("SELECT 1")

    return check


def store_answers(probe: Callable[[], object]) -> Check:
    """A store this process holds in itself (the embedded backend's SQLite) answers a cheap query."""

    async def check() -> None:
        probe()

    return check


def kafka_backend_checks(settings: Settings, postgres: bool = True) -> dict[str, Check]:
    """What a kafka-backend process depends on: Kafka, the registry (schemas of records not seen yet) and, when it
    reads or writes read models, PostgreSQL."""
    checks = {
        "kafka": kafka_answers(settings.kafka_bootstrap_servers),
        "schema-registry": registry_answers(settings.schema_registry_url),
    }
    if postgres:
        checks["postgresql"] = postgres_answers(settings.database_url)
    return checks


def loaded(ready: Callable[[], bool], what: str) -> Check:
    """A process's own state: e.g. a worker's partitions assigned and loaded."""

    async def check() -> None:
        if not ready():
            raise NotReady(what)

    return check
