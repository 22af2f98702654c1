"""Start, stop and inspect the whole local stack (Kafka, Apicurio Registry, PostgreSQL)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from infra.local import kafka, postgres, registry
from infra.local import process as p
from infra.local.process import InfraError, Settings

__all__ = ["InfraError", "ServiceStatus", "up", "down", "status"]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # running | starting | stopped | external
    url: str
    pid: int | None


def _external_db(s: Settings) -> str | None:
    """A DATABASE_URL pointing elsewhere means "don't start PostgreSQL".

    Our own URL does not count: after `eval "$(streamkeep infra up)"` the shell holds
    it, and a later `up` (e.g. after `down`) must still start the local cluster.
    """
    value = os.environ.get("DATABASE_URL", "").strip()
    if value and value != postgres.url(s):
        return value
    return None


def _check_prerequisites(s: Settings, external_db: str | None) -> None:
    """Fail with one clear line before anything is started, not half-way through."""
    if not (kafka.is_up(s) and registry.is_up(s)):
        p.require_java("Kafka" if not kafka.is_up(s) else "Apicurio Registry")
        needs_download = (not kafka.is_up(s) and not (kafka.libs_dir(s) / ".complete").exists()) or (
            not registry.is_up(s) and not (registry.app_dir(s) / registry.RUNNER).exists()
        )
        if needs_download:
            p.require_mvn("Kafka and Apicurio Registry")
    if external_db is None and not postgres.is_up(s):
        postgres.bindir()


def up() -> dict[str, str]:
    """Start whatever is missing, wait until all is ready, return the env vars to export."""
    s = Settings.from_env()
    external_db = _external_db(s)
    _check_prerequisites(s, external_db)

    # PostgreSQL boots while Kafka does; the registry needs a ready Kafka for its journal.
    kafka_pid = kafka.start(s)
    pg_started = False
    if external_db is None:
        pg_started = not postgres.is_up(s)
        postgres.start(s)
    else:
        p.say("DATABASE_URL is set: using that PostgreSQL, not starting one")
    kafka.wait_ready(s, kafka_pid)
    registry_pid = registry.start(s)
    if external_db is None:
        postgres.wait_ready(s, pg_started)
    registry.wait_ready(s, registry_pid)
    p.say("all services ready")

    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.url(s),
        "SCHEMA_REGISTRY_URL": registry.url(s),
        "DATABASE_URL": external_db or postgres.url(s),
        "STREAMKEEP_BACKEND": "kafka",
    }


def down(purge: bool = False) -> None:
    """Stop what we started (by pid file), in reverse dependency order; optionally delete data."""
    s = Settings.from_env()
    registry.stop(s)  # first: it is a Kafka client
    kafka.stop(s)
    postgres.stop(s)
    for name, is_up in (("Kafka", kafka.is_up), ("Apicurio Registry", registry.is_up), ("PostgreSQL", postgres.is_up)):
        if is_up(s):
            p.say(f"{name} still answers on its port but was not started by streamkeep; left alone")
    if purge:
        p.say(f"deleting data: {kafka.data_dir(s)}, {postgres.data_dir(s).parent} (downloads are kept)")
        kafka.purge(s)
        registry.purge(s)
        postgres.purge(s)


def _hide_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def status() -> list[ServiceStatus]:
    s = Settings.from_env()
    rows = []
    for name, mod in (("kafka", kafka), ("registry", registry)):
        pid = mod.running_pid(s)
        state = "running" if mod.is_up(s) else ("starting" if pid else "stopped")
        rows.append(ServiceStatus(name, state, mod.url(s), pid))
    external_db = _external_db(s)
    if external_db is not None:
        rows.append(ServiceStatus("postgres", "external", _hide_password(external_db), None))
    else:
        pid = postgres.running_pid(s)
        state = "running" if postgres.is_up(s) else ("starting" if pid else "stopped")
        rows.append(ServiceStatus("postgres", state, postgres.url(s), pid))
    return rows
