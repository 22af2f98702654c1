"""The operations routes of every long-running process: /livez, /readyz (and its old name /healthz), /metrics."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from infra.http import problems
from infra.observability.checks import Readiness
from infra.observability.metrics import exposition
from infra.resilience.breakers import breakers_in_this_process

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
    the queries down (they answer 503 themselves), not the commands with them. Either way the answer shows each
    circuit breaker's state (`open_breakers` names those not closed) and the failing dependencies the process works
    on without (`degraded`): neither makes it not-ready, as it still does useful work (an open gateway breaker
    declines payments fast; serve takes commands without PostgreSQL)."""
    readiness: Readiness = request.app.state.readiness
    unknown = sorted(set(exclude) - set(readiness.checks) - set(readiness.reported))
    if unknown:
        known = ", ".join([*readiness.checks, *readiness.reported])
        return problems.problem(400, "Unknown check", f"no check named {', '.join(unknown)}; the checks are {known}")
    if exclude:
        readiness = Readiness(
            {name: check for name, check in readiness.checks.items() if name not in exclude},
            readiness.timeout_s,
            {name: check for name, check in readiness.reported.items() if name not in exclude},
        )
    failures, degraded = await asyncio.gather(readiness.failures(), readiness.degraded())
    breakers = {name: breaker.state for name, breaker in sorted(breakers_in_this_process().items())}
    open_breakers = [name for name, state in breakers.items() if state != "closed"]
    if failures:
        detail = "; ".join(f"{name}: {reason}" for name, reason in failures.items())
        return problems.problem(
            503,
            "Not ready",
            detail,
            failing=sorted(failures),
            reasons=failures,
            degraded=degraded or None,
            open_breakers=open_breakers or None,
            breakers=breakers or None,
            retry_after=RETRY_AFTER_S,
        )
    checks = {name: "ok" for name in readiness.checks} | {name: "ok" for name in readiness.reported}
    body = {"status": "ready", "checks": checks | degraded, "breakers": breakers}
    if degraded or open_breakers:
        body |= {"degraded": degraded, "open_breakers": open_breakers}
    return JSONResponse(body)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)
