"""The operations routes of every long-running process: /livez, /readyz (and its old name /healthz), /metrics."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from infra.http import problems
from infra.observability.checks import Readiness
from infra.observability.metrics import exposition

RETRY_AFTER_S = 5

router = APIRouter(tags=["operations"])


@router.get("/livez")
async def livez() -> dict[str, str]:
    """200 while the process's event loop answers; says nothing of its dependencies (see /readyz)."""
    return {"status": "alive"}


# Earlier releases answered /healthz as a liveness probe (200 while Kafka is down); probes that use it keep working.
router.add_api_route("/healthz", livez, methods=["GET"], include_in_schema=False)


@router.get("/readyz")
async def readyz(
    request: Request,
    exclude: Annotated[
        list[str],
        Query(description="A check to leave out, e.g. postgresql (as Kubernetes' own /readyz?exclude=etcd)."),
    ] = [],  # noqa: B006  FastAPI's way to declare a repeatable query parameter; it is never mutated
) -> JSONResponse:
    """200 when every dependency answers and the process has loaded its partitions; else 503 problem+json naming
    each failing one. Every check has a short timeout, so this answers within a few seconds whatever is down.
    A probe may leave checks out: serve's Kubernetes readiness leaves out PostgreSQL, whose outage must take only
    the queries down (they answer 503 themselves), not the commands with them."""
    readiness: Readiness = request.app.state.readiness
    unknown = sorted(set(exclude) - set(readiness.checks))
    if unknown:
        known = ", ".join(readiness.checks)
        return problems.problem(400, "Unknown check", f"no check named {', '.join(unknown)}; the checks are {known}")
    if exclude:
        kept = {name: check for name, check in readiness.checks.items() if name not in exclude}
        readiness = Readiness(kept, readiness.timeout_s)
    failures = await readiness.failures()
    if failures:
        detail = "; ".join(f"{name}: {reason}" for name, reason in failures.items())
        return problems.problem(
            503, "Not ready", detail, failing=sorted(failures), reasons=failures, retry_after=RETRY_AFTER_S
        )
    return JSONResponse({"status": "ready", "checks": {name: "ok" for name in readiness.checks}})


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)
