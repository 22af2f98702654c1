"""GET-only query routes that read nothing but the read models."""

from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, status

from projections import order_summary
from projections.ports import ReadModels

router = APIRouter(prefix="/v1", tags=["queries"])


def _read_models(request: Request) -> ReadModels:
    read_models: ReadModels = request.app.state.read_models
    return read_models


@router.get("/orders/{order_id}")
async def get_order(order_id: UUID, request: Request) -> dict[str, Any]:
    """An order as the order_summary read model holds it."""
    row = await _read_models(request).order_summary(order_id)
    if row is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail={"title": "Unknown order", "detail": f"no order {order_id}"}
        )
    return order_summary.to_json(row)
