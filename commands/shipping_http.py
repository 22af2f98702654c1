"""HTTP routes of the shipping context: schedule, dispatch and cancel a shipment."""

from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from commands.http_support import IdempotencyKey, IfMatch, Int32, answered, envelope_for, new_aggregate_id, send
from commands.messages import CancelShipment, DispatchShipment, ScheduleShipment
from domain.values import ShipmentLine

router = APIRouter(prefix="/v1/shipments", tags=["shipping"])


class ShipmentLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    sku: str = Field(min_length=1, max_length=64, examples=["SKU-1"])
    quantity: Int32 = Field(examples=[2])


class ScheduleShipmentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"order_id": "0b9d6c9e-2f4a-4d8e-9a51-3c1e7f2a6b10", "lines": [{"sku": "SKU-1", "quantity": 2}]}
            ]
        },
    )

    shipment_id: UUID | None = Field(default=None, description="Chosen by the caller for safe retries.")
    order_id: UUID
    lines: list[ShipmentLineIn]


class DispatchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"carrier": "DHL", "tracking_code": "JJD000390007"}]}
    )

    carrier: str = Field(min_length=1, max_length=100)
    tracking_code: str = Field(min_length=1, max_length=100)


class CancelShipmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "order cancelled"}]})

    reason: str = Field(min_length=1, max_length=500)


class ShipmentChanged(BaseModel):
    shipment_id: UUID
    version: int
    consistency_token: str


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ShipmentChanged)
async def schedule_shipment(
    body: ScheduleShipmentIn,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> ShipmentChanged:
    """Schedule a shipment of an order's goods."""
    envelope = envelope_for("POST /v1/shipments", body, if_match, idempotency_key)
    lines = [ShipmentLine(line.sku, line.quantity) for line in body.lines]
    command = ScheduleShipment(new_aggregate_id(envelope, body.shipment_id), body.order_id, lines)
    outcome = await send(request, command, envelope)
    response.headers["Location"] = f"/v1/shipments/{command.shipment_id}"
    return ShipmentChanged(shipment_id=command.shipment_id, **answered(outcome))


@router.post("/{shipment_id}/dispatch", response_model=ShipmentChanged)
async def dispatch_shipment(
    shipment_id: UUID,
    body: DispatchIn,
    request: Request,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> ShipmentChanged:
    """The parcel left with a carrier."""
    envelope = envelope_for(f"POST /v1/shipments/{shipment_id}/dispatch", body, if_match, idempotency_key)
    outcome = await send(request, DispatchShipment(shipment_id, body.carrier, body.tracking_code), envelope)
    return ShipmentChanged(shipment_id=shipment_id, **answered(outcome))


@router.post("/{shipment_id}/cancel", response_model=ShipmentChanged)
async def cancel_shipment(
    shipment_id: UUID,
    body: CancelShipmentIn,
    request: Request,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> ShipmentChanged:
    """Call off a shipment that has not left yet."""
    envelope = envelope_for(f"POST /v1/shipments/{shipment_id}/cancel", body, if_match, idempotency_key)
    outcome = await send(request, CancelShipment(shipment_id, body.reason), envelope)
    return ShipmentChanged(shipment_id=shipment_id, **answered(outcome))
