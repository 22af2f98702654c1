"""`POST /v1/sagas/{id}/retry|abort`: an operator's action on one instance, checked against its row, then sent."""

import logging
from typing import Annotated, Any, Protocol
from uuid import UUID

from fastapi import APIRouter, Body, HTTPException, Request, status
from pydantic import BaseModel, Field

from infra.security.principal import principal_of
from projections.saga_queries import saga_row
from sagas.fulfilment import refusal_for
from sagas.inbox import ABORT, RETRY

log = logging.getLogger(__name__)


class SagaOperator(Protocol):
    """Hands an operator's request to the instance's runner; the instance records what it made of it."""

    async def operate_saga(self, saga_id: UUID, action: str, by: str) -> None: ...


class OperatorRequestBody(BaseModel):
    # With authentication on, the token's holder is who asks, whatever this says.
    by: str = Field(
        "operator", min_length=1, max_length=200, description="Who asks, when auth is off: in the saga's history."
    )


router = APIRouter(prefix="/v1/sagas", tags=["sagas"])
Operator = Annotated[OperatorRequestBody | None, Body()]


@router.post("/{saga_id}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_saga(saga_id: UUID, request: Request, body: Operator = None) -> dict[str, Any]:
    """Resume a stuck instance: its stuck step is sent again. 409 when the instance is not stuck."""
    return await _operate(request, saga_id, RETRY, body)


@router.post("/{saga_id}/abort", status_code=status.HTTP_202_ACCEPTED)
async def abort_saga(saga_id: UUID, request: Request, body: Operator = None) -> dict[str, Any]:
    """Compensate an instance now. 409 once it is finished, compensating, or past the order's confirmation."""
    return await _operate(request, saga_id, ABORT, body)


async def _operate(request: Request, saga_id: UUID, action: str, body: OperatorRequestBody | None) -> dict[str, Any]:
    row = await saga_row(request, saga_id)
    refusal = refusal_for(row["status"], row["step"], action)
    if refusal:
        detail = {"title": f"Cannot {action} this saga now", "detail": refusal, "saga_status": row["status"]}
        raise HTTPException(status.HTTP_409_CONFLICT, detail=detail)
    operator: SagaOperator = request.app.state.saga_operator
    principal = principal_of(request.scope)
    by = principal.name if principal is not None else (body or OperatorRequestBody()).by
    # An operator's action is worth a line of its own: the audit trail outside the saga's history.
    log.info("%s asked to %s saga %s", by, action, saga_id, extra={"saga_id": str(saga_id), "by": by})
    await operator.operate_saga(saga_id, action, by)
    return {"saga_id": str(saga_id), "action": action, "accepted": True}
