"""HTTP routes of the inventory context: restock a SKU, reserve, release and commit an order's stock."""

from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from commands.http_support import IdempotencyKey, IfMatch, Int64, Sku, answered, envelope_for, send
from commands.messages import CommitStock, ReleaseStock, ReserveStock, RestockItem

router = APIRouter(prefix="/v1/inventory", tags=["inventory"])
ORDER_EXAMPLE = "0b9d6c9e-2f4a-4d8e-9a51-3c1e7f2a6b10"


class RestockIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"quantity": 25}]})

    quantity: Int64


class ReserveIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"order_id": ORDER_EXAMPLE, "quantity": 2}]}
    )

    order_id: UUID
    quantity: Int64 = Field(strict=True)


class ForOrder(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"order_id": ORDER_EXAMPLE}]})

    order_id: UUID


class StockChanged(BaseModel):
    sku: str
    version: int
    consistency_token: str


@router.post("/{sku}/restock", response_model=StockChanged)
async def restock_item(
    sku: Sku, body: RestockIn, request: Request, if_match: IfMatch = None, idempotency_key: IdempotencyKey = None
) -> StockChanged:
    """Stock of a SKU arrived; the first restock makes the SKU known to the inventory."""
    envelope = envelope_for(f"POST /v1/inventory/{sku}/restock", body, if_match, idempotency_key)
    outcome = await send(request, RestockItem(sku, body.quantity), envelope)
    return StockChanged(sku=sku, **answered(outcome))


@router.post("/{sku}/reserve", response_model=StockChanged)
async def reserve_stock(
    sku: Sku, body: ReserveIn, request: Request, if_match: IfMatch = None, idempotency_key: IdempotencyKey = None
) -> StockChanged:
    """Set stock aside for an order: all of it or none; reserving again for the same order changes nothing."""
    envelope = envelope_for(f"POST /v1/inventory/{sku}/reserve", body, if_match, idempotency_key)
    outcome = await send(request, ReserveStock(sku, body.order_id, body.quantity), envelope)
    return StockChanged(sku=sku, **answered(outcome))


@router.post("/{sku}/release", response_model=StockChanged)
async def release_stock(
    sku: Sku, body: ForOrder, request: Request, if_match: IfMatch = None, idempotency_key: IdempotencyKey = None
) -> StockChanged:
    """Give an order's reservation back to available stock."""
    envelope = envelope_for(f"POST /v1/inventory/{sku}/release", body, if_match, idempotency_key)
    outcome = await send(request, ReleaseStock(sku, body.order_id), envelope)
    return StockChanged(sku=sku, **answered(outcome))


@router.post("/{sku}/commit", response_model=StockChanged)
async def commit_stock(
    sku: Sku, body: ForOrder, request: Request, if_match: IfMatch = None, idempotency_key: IdempotencyKey = None
) -> StockChanged:
    """An order's reserved stock leaves the warehouse."""
    envelope = envelope_for(f"POST /v1/inventory/{sku}/commit", body, if_match, idempotency_key)
    outcome = await send(request, CommitStock(sku, body.order_id), envelope)
    return StockChanged(sku=sku, **answered(outcome))
