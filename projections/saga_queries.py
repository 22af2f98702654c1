"""GET routes over the saga_instances read model: one instance with its history, and pages of instances."""

import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, status

from projections import fulfilment_audit, saga_instances
from projections.paging import parse_cursor
from projections.ports import ReadModels
from projections.query_answers import AuditReport, SagaPage, SagaView, documented

router = APIRouter(prefix="/v1/sagas", tags=["sagas"])
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_LONGEST_S = 100 * 365 * 86400


def parse_duration(text: str) -> timedelta:
    """`30s`, `5m`, `2h`, `1d` or plain seconds; ValueError for anything else."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 30s, 5m, 2h or 1d")
    seconds = float(match[1]) * _UNIT_S[match[2]]
    if seconds > _LONGEST_S:
        raise ValueError(f"{text!r} is longer than any saga has run (at most {_LONGEST_S // 86400} days)")
    return timedelta(seconds=seconds)


def _read_models(request: Request) -> ReadModels:
    read_models: ReadModels = request.app.state.read_models
    return read_models


def _invalid(parameter: str, detail: str) -> HTTPException:
    problem = {"title": "Invalid request", "detail": f"{parameter}: {detail}"}
    return HTTPException(422, detail={**problem, "errors": [{"field": parameter, "message": detail}]})


async def saga_row(request: Request, saga_id: UUID) -> dict[str, Any]:
    """The instance's row, or 404 problem+json naming it."""
    row = await _read_models(request).saga_instance(saga_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail={"title": "Unknown saga", "detail": f"no saga {saga_id}"})
    return row


AUDITED = ("saga_instances", "order_summary", "inventory_levels", "stock_reservations", "payment_summary")


@router.get("/audit", response_model=None, responses=documented(AuditReport, "The violations found"))
async def audit_sagas(request: Request) -> dict[str, Any]:
    """The fulfilment's invariants across the read models, each violation one line. Meaningful once the read
    models have caught up with each other (`streamkeep projections` shows their lag)."""
    read_models = _read_models(request)
    rows = {name: await read_models.all_rows(name) for name in (*AUDITED, "shipment_summary")}
    return {
        "violations": fulfilment_audit.violations(*rows.values()),
        "rows": {name: len(found) for name, found in rows.items()},
    }


@router.get("/{saga_id}", response_model=None, responses=documented(SagaView, "The instance"))
async def get_saga(saga_id: UUID, request: Request) -> dict[str, Any]:
    """A saga instance (its id is its order's): status, step, open deadline, and its history, event by event."""
    return saga_instances.to_json(await saga_row(request, saga_id))


@router.get("", response_model=None, responses=documented(SagaPage, "A page of instances"))
async def list_sagas(
    request: Request,
    status_: Annotated[
        str | None,
        Query(alias="status", description=f"Only instances in this status: {', '.join(saga_instances.STATUSES)}."),
    ] = None,
    older_than: Annotated[
        str | None, Query(description="Only instances started longer ago than this: 30s, 5m, 2h, 1d or seconds.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=saga_instances.MAX_PAGE)] = 20,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    """Saga instances, newest first, a page at a time (without their histories)."""
    if status_ is not None and status_ not in saga_instances.STATUSES:
        raise _invalid("status", f"{status_!r} is no saga status; use one of {', '.join(saga_instances.STATUSES)}")
    try:
        age = parse_duration(older_than) if older_than is not None else None
    except ValueError as error:
        raise _invalid("older_than", str(error)) from None
    try:
        position = parse_cursor(cursor) if cursor else None
    except ValueError as error:
        raise _invalid("cursor", str(error)) from None
    started_before = datetime.now(timezone.utc) - age if age is not None else None
    # One row more than asked tells whether another page follows.
    rows = await _read_models(request).saga_instances(status_, started_before, limit + 1, position)
    page = rows[:limit]
    return {
        "items": [saga_instances.summary(row) for row in page],
        "next_cursor": saga_instances.cursor_after(page[-1]) if len(rows) > limit else None,
    }
