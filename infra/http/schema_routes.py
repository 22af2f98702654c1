"""`GET /v1/schemas/...`: the registry's subjects, versions, schemas and diffs, read-only, as the CLI shows them."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from infra.avro.parsed_schema import MalformedSchema
from infra.registry.catalog import overview, parse_version, subject_detail, version_detail, versions_diff
from infra.registry.client import Registry, RegistryRefused, RegistryUnavailable, UnknownSubject
from infra.resilience.breakers import Breaker, CircuitOpen
from infra.settings import BreakerSettings

RETRY_AFTER_S = 5


def schemas_router(registry_url: str, schemas_dir: Path, breaker: BreakerSettings | None = None) -> APIRouter:
    """Routes bound to one registry; the client connects on the first request, not here. A registry that keeps
    failing opens a breaker: the routes then answer 503 at once instead of each waiting out the client's timeout."""
    router = APIRouter(prefix="/v1/schemas", tags=["schemas"])
    registry = Registry(registry_url)
    # Only a registry that does not answer counts: a 404 or a refusal is an answer.
    circuit = Breaker("schema-registry", breaker or BreakerSettings(), lambda e: isinstance(e, RegistryUnavailable))

    def _answer(read: Callable[[], Any]) -> Any:
        try:
            with circuit.calling():
                return _answered(read)
        except CircuitOpen as open_:
            detail = {
                "title": "Schema registry unavailable",
                "detail": f"the schema registry at {registry_url} keeps failing: {open_}",
                "retry_after": open_.retry_after_s,
            }
            raise HTTPException(503, detail) from None
        except RegistryUnavailable as error:
            detail = {"title": "Schema registry unavailable", "detail": str(error), "retry_after": RETRY_AFTER_S}
            raise HTTPException(503, detail) from None

    # Plain `def` routes: the registry client blocks, so FastAPI runs them in its thread pool.
    @router.get("", summary="Every subject with its latest version, schema id, compatibility and role")
    def list_subjects() -> list[dict[str, Any]]:
        return _answer(lambda: overview(registry))

    @router.get("/{subject}", summary="A subject's versions and compatibility level")
    def subject(subject: str) -> dict[str, Any]:
        return _answer(lambda: subject_detail(registry, subject))

    @router.get("/{subject}/versions/{version}", summary="One version: the schema, its id and references")
    def version(subject: str, version: str) -> dict[str, Any]:
        return _answer(lambda: version_detail(registry, subject, _registered(version)))

    @router.get("/{subject}/diff", summary="Field-level changes between two versions ('local': the .avsc file)")
    def diff(
        subject: str,
        old: str = Query(alias="from", examples=["1"]),
        new: str = Query(alias="to", examples=["latest"]),
    ) -> dict[str, Any]:
        return _answer(lambda: versions_diff(registry, subject, parse_version(old), parse_version(new), schemas_dir))

    return router


def _registered(version: str) -> int | str:
    wanted = parse_version(version)
    if wanted == "local":
        raise ValueError("the local schema is not in the registry; ask for a version number or 'latest'")
    return wanted


def _answered(read: Callable[[], Any]) -> Any:
    """The registry's answer, or its refusals as HTTP errors; RegistryUnavailable passes on, for the breaker."""
    try:
        return read()
    except UnknownSubject as error:
        raise HTTPException(404, {"title": "Unknown subject", "detail": str(error)}) from None
    except (ValueError, MalformedSchema) as error:
        raise HTTPException(422, {"title": "Invalid request", "detail": str(error)}) from None
    except RegistryRefused as error:
        detail = {"title": "Schema registry unavailable", "detail": str(error), "retry_after": RETRY_AFTER_S}
        raise HTTPException(503, detail) from None
